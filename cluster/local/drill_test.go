package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

func TestRestoreCommandQuoting(t *testing.T) {
	t.Parallel()
	got := RestoreCommand(`/tmp/a b'c%d\e`)
	want := `cp '/tmp/a b'\\''c%%d\\e'/%f %p`
	if got != want {
		t.Errorf("RestoreCommand:\ngot  %s\nwant %s", got, want)
	}
}

// TestDrillServers: a dump of the orders restored into an empty drill
// server holds its rows; a standby fed by the archive alone replays what
// is archived; RemoveServer removes one, Down the one left running, and
// nothing of either is left.
func TestDrillServers(t *testing.T) {
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.Up(ctx, cluster.Spec{ID: "drills", LogDir: t.TempDir(), ArchiveDir: filepath.Join(t.TempDir(), "archive")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Down(context.Background())
	lc := c.(*Cluster)
	conn, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE orders (id bigint PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	if err := lc.BaseBackup(ctx, "primary", "sb"); err != nil {
		t.Fatal(err)
	}
	size, err := lc.Dump(ctx, "primary", "", "d")
	if err != nil || size == 0 {
		t.Fatalf("dump: %d bytes, %v", size, err)
	}
	// After the backup: a standby fed by the archive must find it there.
	if _, err := conn.Exec(ctx, "INSERT INTO orders SELECT generate_series(1001, 1500)"); err != nil {
		t.Fatal(err)
	}
	var seg string
	if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_current_wal_lsn())").Scan(&seg); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_switch_wal()"); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.StartServer(ctx, cluster.ServerSpec{Name: "restore", Backup: ""}); err != nil {
		t.Fatal(err)
	}
	if err := lc.Restore(ctx, "restore", "d"); err != nil {
		t.Fatal(err)
	}
	count := func(name string) int64 {
		t.Helper()
		cn, err := pgx.Connect(ctx, c.ConnString(name, cluster.Admin))
		if err != nil {
			t.Fatal(err)
		}
		defer cn.Close(context.Background())
		var n int64
		if err := cn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("restore"); n != 1000 {
		t.Errorf("the restore holds %d orders, want the dump's 1000", n)
	}
	if _, err := lc.StartServer(ctx, cluster.ServerSpec{Name: "sb", Backup: "sb", Standby: true}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); count("sb") != 1500; {
		if time.Now().After(deadline) {
			t.Fatalf("the archive-only standby has %d orders after 30s, want 1500 (segment %s archived)", count("sb"), seg)
		}
		time.Sleep(100 * time.Millisecond)
	}
	dirs := map[string]int{}
	for _, name := range []string{"restore", "sb"} {
		n := lc.drillServer(name)
		dirs[n.dataDir] = n.proc.pgid
	}
	if err := lc.RemoveServer(ctx, "restore"); err != nil {
		t.Fatal(err)
	}
	if lc.drillServer("restore") != nil || c.ConnString("restore", cluster.Admin) != "" {
		t.Error("a removed drill server is still known")
	}
	if err := c.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	for dir, pgid := range dirs {
		if groupAlive(pgid) {
			t.Errorf("%s: processes of group %d still alive", dir, pgid)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", dir, err)
		}
	}
	if _, err := lc.StartServer(ctx, cluster.ServerSpec{Name: "late"}); err == nil {
		t.Error("a drill server started on a cluster that is down")
	}
}
