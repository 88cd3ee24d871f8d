package local

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// newBackend is localtest.Backend, which this package's own tests cannot
// import (localtest imports local).
func newBackend(t *testing.T) *Backend {
	t.Helper()
	testgate.Integration(t)
	b, err := New(Options{})
	if errors.Is(err, ErrNoPostgres) {
		testgate.Missing(t, testgate.RequirePG, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	return b
}

func TestUpStreamingKillDown(t *testing.T) {
	b := newBackend(t)
	ctx := context.Background()
	logs := t.TempDir()
	shmBefore, _ := filepath.Glob("/dev/shm/PostgreSQL.*")
	start := time.Now()
	c, err := b.Up(ctx, cluster.Spec{
		ID:               "t",
		Replicas:         []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2"}},
		SyncStandbyNames: "FIRST 1 (replica1)",
		LogDir:           logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	lc := c.(*Cluster)
	t.Logf("bring-up %.0f ms (template %.0f ms)", lc.BringUpMs, b.tmplMs)
	conn, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE state='streaming'").Scan(&n); err != nil || n != 2 {
		t.Fatalf("streaming replicas = %d, %v", n, err)
	}
	var sync string
	if err := conn.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication WHERE application_name='replica1'").Scan(&sync); err != nil || sync != "sync" {
		t.Fatalf("replica1 sync_state = %q, %v", sync, err)
	}
	conn.Close(ctx)
	// A sync commit works (the standby names match).
	app, err := pgx.Connect(ctx, c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if _, err := app.Exec(cctx, "CREATE TABLE t (i int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatalf("sync commit: %v", err)
	}
	cancel()
	app.Close(ctx)

	pgid := lc.nodes[0].proc.pgid
	if err := lc.Kill(ctx, "primary"); err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin)); err == nil {
		t.Fatal("killed primary still accepts connections")
	}
	_ = pgid
	dir := lc.dir
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("data dir %s left behind", dir)
	}
	if _, err := os.Stat(filepath.Join(logs, "replica1.log")); err != nil {
		t.Fatalf("replica log not kept: %v", err)
	}
	// Nothing left in /dev/shm by the killed node or the teardown (other
	// servers on the machine may add theirs meanwhile: compare names).
	shmAfter, _ := filepath.Glob("/dev/shm/PostgreSQL.*")
	had := map[string]bool{}
	for _, f := range shmBefore {
		had[f] = true
	}
	for _, f := range shmAfter {
		if !had[f] {
			if st, err := os.Stat(f); err == nil && st.ModTime().After(start) {
				t.Errorf("shared memory left behind: %s", f)
			}
		}
	}
}

// TestFreePort: the ports given lie below the kernel's ephemeral range
// (where no outgoing connection takes them), are free, and differ.
func TestFreePort(t *testing.T) {
	lo := ephemeralLow()
	below := lo-minPort >= 1000 // else the kernel's choice, anywhere
	seen := map[int]bool{}
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if below && (p < minPort || p >= lo) {
			t.Fatalf("port %d outside [%d, %d)", p, minPort, lo)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Fatalf("port %d given as free: %v", p, err)
		}
		l.Close()
		seen[p] = true
	}
	if len(seen) < 15 {
		t.Errorf("20 ports asked for, %d distinct: %v", len(seen), seen)
	}
}
