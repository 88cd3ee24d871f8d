package probe_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/probe"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestHeartbeatsLostInAFailover runs the sampler on a real cluster
// through what a failover does to heartbeats:
//
//   - a row already holds the id of the third attempt (a heartbeat that
//     committed without its ack): that attempt fails, the next ones do not
//     (a reused id blocked every later heartbeat);
//   - replica2 stops streaming, the primary acknowledges heartbeats it
//     never gets, then replica2 is promoted: those heartbeats are lost,
//     counted as such, and no latency the length of the cut is charged to
//     the first heartbeat on the new primary.
func TestHeartbeatsLostInAFailover(t *testing.T) {
	c := localtest.Cluster3(t, "probe-lost")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cs := cluster.NewConns(c, "probe-test", 5*time.Second)
	defer cs.Close()
	exec := func(node, sql string) {
		t.Helper()
		conn, err := cs.Get(ctx, node)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %s: %v", node, sql, err)
		}
	}

	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	s := probe.New(c, roles, probe.Config{Start: time.Now(), LagInterval: 50 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond})
	if err := s.Init(ctx); err != nil {
		t.Fatal(err)
	}
	exec("primary", "INSERT INTO pgbench_ha_heartbeat (seq, node, tli) VALUES (3, 'primary', 'x')")
	run, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); s.Run(run) }()
	defer func() { stop(); wg.Wait() }()

	time.Sleep(time.Second)
	// Cut replica2 off: it receives nothing from here on.
	exec("replica2", "ALTER SYSTEM SET primary_conninfo = ''")
	exec("replica2", "SELECT pg_reload_conf()")
	waitFor(t, "replica2 gone from pg_stat_replication", func() bool {
		conn, err := cs.Get(ctx, "primary")
		if err != nil {
			return false
		}
		var n int
		err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'replica2'").Scan(&n)
		return err == nil && n == 0
	})
	cut := time.Now()
	time.Sleep(time.Second)
	exec("replica2", "SELECT pg_promote()")
	roles.Promote("replica2")
	cutMs := float64(time.Since(cut).Milliseconds())
	time.Sleep(time.Second)
	stop()
	wg.Wait()

	acked, lost := s.Heartbeats()
	if acked < 30 || lost < 5 {
		t.Errorf("heartbeats acknowledged %d, lost %d: want about 60 and 20", acked, lost)
	}
	for _, f := range s.Floor() {
		if f > cutMs/2 {
			t.Errorf("a visibility of %.0f ms on the new primary: the heartbeats lost in the %.0f ms cut were charged to a later one", f, cutMs)
		}
	}
	_, vis := s.Series()
	type key struct {
		replica string
		id      int64
	}
	points := map[key]result.VisibilityPoint{}
	for _, p := range vis {
		k := key{p.Replica, p.Heartbeat}
		if _, dup := points[k]; dup || p.Heartbeat == 0 {
			t.Errorf("heartbeat %d twice on %s, or without an id", p.Heartbeat, p.Replica)
		}
		points[k] = p
	}
	for _, r := range []string{"replica1", "replica2"} {
		if p := points[key{r, 3}]; p.State != result.HeartbeatNotAcked || p.VisibilityMs != nil {
			t.Errorf("%s heartbeat 3 (its id taken): %+v, want not acknowledged", r, p)
		}
		if p := points[key{r, 4}]; p.State != result.HeartbeatVisible || p.VisibilityMs == nil || *p.VisibilityMs > 1000 {
			t.Errorf("%s heartbeat 4: %+v, want visible soon after its ack", r, p)
		}
	}
	// replica2 was cut off: the heartbeats of the cut are not latencies
	// on it.
	unseen := 0
	for k, p := range points {
		if k.replica == "replica2" && p.State == result.HeartbeatUnseen {
			unseen++
		}
		if p.VisibilityMs != nil && *p.VisibilityMs > cutMs/2 {
			t.Errorf("%s heartbeat %d: visibility %.0f ms across the cut", k.replica, k.id, *p.VisibilityMs)
		}
	}
	if unseen < 5 {
		t.Errorf("replica2: %d heartbeats unseen, want those of the cut", unseen)
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
