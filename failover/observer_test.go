package failover_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// leaderKey is a leader lock the test holds and moves, as a manager
// would in its store.
type leaderKey struct {
	mu     sync.Mutex
	holder string
}

func (k *leaderKey) Leader(context.Context) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.holder, nil
}

func (k *leaderKey) set(h string) {
	k.mu.Lock()
	k.holder = h
	k.mu.Unlock()
}

// TestObserverRecordsAManagersFailover: the test does what a manager
// does (the primary dies, its leader key expires, replica1 takes it and is
// promoted, replica2 follows it) and the observer, which acts on nothing,
// records it as the controller would: probe_failed, detected, promote_start,
// promote_done, repoint, in order, and the roles name replica1 primary.
func TestObserverRecordsAManagersFailover(t *testing.T) {
	c := localtest.Cluster3(t, "observer")
	ctx := context.Background()
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	key := &leaderKey{holder: "primary"}
	var log eventLog
	start := time.Now()
	obs := failover.NewObserver(c, roles, key, failover.Config{ProbeInterval: 10 * time.Millisecond, Start: start, Emit: log.emit})
	var m failover.Manager = obs
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); m.Run(rctx) }()
	defer func() { stop(); <-done }()

	time.Sleep(200 * time.Millisecond)
	if _, ok := log.first(result.EventProbeFailed); ok {
		t.Fatalf("a probe failed on a healthy primary:\n%s", log.String())
	}
	killer, ok := c.(cluster.Killer)
	if !ok {
		t.Fatal("the local cluster cannot kill")
	}
	if err := killer.Kill(ctx, "primary"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the key's ttl running out
	key.set("")
	time.Sleep(100 * time.Millisecond)
	key.set("replica1")
	r1 := connect(t, c, "replica1")
	if _, err := r1.Exec(ctx, "SELECT pg_promote()"); err != nil {
		t.Fatal(err)
	}
	// replica2 follows replica1, as the manager makes it, on its slot.
	if _, err := r1.Exec(ctx, "SELECT pg_create_physical_replication_slot('replica2', true)"); err != nil {
		t.Fatal(err)
	}
	r2 := connect(t, c, "replica2")
	info := c.PrimaryConnInfo("replica2", "replica1")
	if _, err := r2.Exec(ctx, "ALTER SYSTEM SET primary_conninfo = '"+strings.ReplaceAll(info, "'", "''")+"'"); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, ok := log.first(result.EventRepoint); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no repoint seen within 20s:\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	<-done
	want := []string{result.EventProbeFailed, result.EventDetected, result.EventPromoteStart, result.EventPromoteDone, result.EventRepoint}
	var at []float64
	for _, k := range want {
		e, ok := log.first(k)
		if !ok {
			t.Fatalf("no %s event:\n%s", k, log.String())
		}
		at = append(at, e.Ms)
	}
	for i := 1; i < len(at); i++ {
		if at[i] < at[i-1] {
			t.Errorf("%s at %.1f ms before %s at %.1f ms:\n%s", want[i], at[i], want[i-1], at[i-1], log.String())
		}
	}
	if e, _ := log.first(result.EventDetected); e.Node != "primary" || !strings.Contains(e.Detail, "expired") {
		t.Errorf("detected = %+v, want primary's key expired", e)
	}
	if e, _ := log.first(result.EventPromoteDone); e.Node != "replica1" {
		t.Errorf("promote_done on %q, want replica1", e.Node)
	}
	if e, _ := log.first(result.EventRepoint); e.Node != "replica2" {
		t.Errorf("repoint of %q, want replica2", e.Node)
	}
	if p := roles.Primary(); p != "replica1" {
		t.Errorf("roles name %q primary, want replica1", p)
	}
	tl := obs.Wait()
	if !tl.Promoted || tl.OldPrimary != "primary" || tl.NewPrimary != "replica1" || tl.FirstFailure == 0 || tl.FirstFailure > tl.Detected {
		t.Errorf("timeline %+v", tl.Failover)
	}
}

func connect(t *testing.T, c cluster.Cluster, node string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), c.ConnString(node, cluster.Admin))
	if err != nil {
		t.Fatal(cluster.Redact(err.Error()))
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
