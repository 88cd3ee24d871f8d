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

// TestCopiedStandbys checks the standbys Up makes from copies of the
// template rather than base backups: each is a standby of the primary (the
// same system identifier, in recovery), streams through its slot when it
// has one (and holds no slot of its own), replays the setup (its roles and
// passwords) and what the primary writes after the start, and follows a
// primary whose primary-only settings a standby must match.
func TestCopiedStandbys(t *testing.T) {
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.Up(ctx, cluster.Spec{
		ID:       "copied",
		Replicas: []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2"}},
		// A standby must have max_connections at least the primary's, or
		// its replay pauses at the primary's first parameter record.
		Settings:         map[string]map[string]string{"primary": {"max_connections": "120"}},
		SyncStandbyNames: "FIRST 1 (replica1)",
		LogDir:           t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	lc := c.(*Cluster)
	conns := map[string]*pgx.Conn{}
	for _, n := range []string{"primary", "replica1", "replica2"} {
		conn, err := pgx.Connect(ctx, c.ConnString(n, cluster.Admin))
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		defer conn.Close(context.Background())
		conns[n] = conn
	}
	p := conns["primary"]
	var sysID int64
	if err := p.QueryRow(ctx, "SELECT system_identifier FROM pg_control_system()").Scan(&sysID); err != nil {
		t.Fatal(err)
	}

	// The primary's slot is in use by replica1, and replica1 streams
	// through it.
	var active bool
	var pid int
	if err := p.QueryRow(ctx, "SELECT active, coalesce(active_pid, 0) FROM pg_replication_slots WHERE slot_name = 'replica1'").Scan(&active, &pid); err != nil {
		t.Fatalf("slot replica1 on the primary: %v", err)
	}
	var sender string
	if err := p.QueryRow(ctx, "SELECT application_name FROM pg_stat_replication WHERE pid = $1", pid).Scan(&sender); err != nil || !active || sender != "replica1" {
		t.Errorf("slot replica1: active %v, used by %q (%v); want replica1's walsender", active, sender, err)
	}

	for _, r := range []string{"replica1", "replica2"} {
		conn := conns[r]
		var id int64
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT system_identifier, pg_is_in_recovery() FROM pg_control_system()").Scan(&id, &inRecovery); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if id != sysID || !inRecovery {
			t.Errorf("%s: system identifier %d (primary %d), in recovery %v; want the primary's, in recovery", r, id, sysID, inRecovery)
		}
		var slots int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots").Scan(&slots); err != nil || slots != 0 {
			t.Errorf("%s: %d replication slots (%v), want none", r, slots, err)
		}
		n, err := lc.node(r)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := os.ReadDir(filepath.Join(n.dataDir, "pg_replslot"))
		if err != nil || len(entries) != 0 {
			t.Errorf("%s: pg_replslot holds %d entries (%v), want none", r, len(entries), err)
		}
		var maxConns string
		if err := conn.QueryRow(ctx, "SHOW max_connections").Scan(&maxConns); err != nil || maxConns != "120" {
			t.Errorf("%s: max_connections %q (%v), want the primary's 120", r, maxConns, err)
		}
	}

	// What the primary writes after the start reaches both standbys, and
	// the app role (made by the setup SQL) logs in on them.
	app, err := pgx.Connect(ctx, c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	if _, err := app.Exec(ctx, "CREATE TABLE copied (i int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Exec(ctx, "INSERT INTO copied SELECT generate_series(1, 1000)"); err != nil {
		t.Fatal(err)
	}
	var target string
	if err := p.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"replica1", "replica2"} {
		conn := conns[r]
		deadline := time.Now().Add(30 * time.Second)
		for {
			var caught, paused bool
			err := conn.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn, pg_is_wal_replay_paused()", target).Scan(&caught, &paused)
			if err != nil {
				t.Fatalf("%s: %v", r, err)
			}
			if caught {
				break
			}
			if paused || time.Now().After(deadline) {
				t.Fatalf("%s: replay not at %s after 30s (paused: %v); see %s", r, target, paused, lc.LogPath(r))
			}
			time.Sleep(5 * time.Millisecond)
		}
		ra, err := pgx.Connect(ctx, c.ConnString(r, cluster.App))
		if err != nil {
			t.Fatalf("%s: app role: %v", r, err)
		}
		var n int
		err = ra.QueryRow(ctx, "SELECT count(*) FROM copied").Scan(&n)
		ra.Close(context.Background())
		if err != nil || n != 1000 {
			t.Errorf("%s: %d rows (%v), want 1000", r, n, err)
		}
	}

	// replica1's slot follows what it receives.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var ok bool
		err := p.QueryRow(ctx, "SELECT coalesce(restart_lsn >= $1::pg_lsn, false) FROM pg_replication_slots WHERE slot_name = 'replica1'", target).Scan(&ok)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot replica1: restart_lsn not at %s after 10s", target)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
