package failover_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// askLeader asks src once, bounded as the observer bounds it.
func askLeader(t *testing.T, src failover.LeaderSource) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	h, err := src.Leader(ctx)
	if err != nil {
		t.Fatalf("Leader: %v", err)
	}
	return h
}

// waitLeader polls src until it names want, for at most 10 s.
func waitLeader(t *testing.T, src failover.LeaderSource, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := askLeader(t, src)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Leader = %q after 10 s, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitEvent waits for the first event of kind, for at most 10 s.
func waitEvent(t *testing.T, log *eventLog, kind string) result.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if e, ok := log.first(kind); ok {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s event within 10 s:\n%s", kind, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWritableNode: with no manager's store to read, the leader is the
// node that answers as a primary. The test kills the primary and promotes
// the replica by SQL, as an outside manager would; the source follows,
// and an observer on it records the failover and moves the roles. The
// old primary started again beside the promoted one is a split brain in
// which the higher timeline leads.
func TestWritableNode(t *testing.T) {
	c := localtest.Cluster2(t, "writable")
	ctx := context.Background()
	src := failover.NewWritableNode(c)
	defer src.Close()
	if got := askLeader(t, src); got != "primary" {
		t.Fatalf("Leader of a healthy cluster = %q, want primary", got)
	}

	roles := cluster.NewRoles("primary", []string{"replica1"})
	obsSrc := failover.NewWritableNode(c)
	defer obsSrc.Close()
	var log eventLog
	obs := failover.NewObserver(c, roles, obsSrc, failover.Config{ProbeInterval: 10 * time.Millisecond, Start: time.Now(), Emit: log.emit})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); obs.Run(rctx) }()
	defer func() { stop(); <-done }()
	time.Sleep(100 * time.Millisecond)
	if _, ok := log.first(result.EventDetected); ok {
		t.Fatalf("a failover detected on a healthy cluster:\n%s", log.String())
	}

	killer, ok := c.(cluster.Killer)
	if !ok {
		t.Fatal("the local cluster cannot kill")
	}
	if err := killer.Kill(ctx, "primary"); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, src, "")
	waitEvent(t, &log, result.EventDetected)

	r1 := connect(t, c, "replica1")
	if _, err := r1.Exec(ctx, "SELECT pg_promote()"); err != nil {
		t.Fatal(err)
	}
	if got := askLeader(t, src); got != "replica1" {
		t.Fatalf("Leader after replica1's promotion = %q, want replica1", got)
	}
	waitEvent(t, &log, result.EventPromoteDone)

	if e, _ := log.first(result.EventDetected); e.Node != "primary" || e.Detail != "no node answers as primary (primary no longer does)" {
		t.Errorf("detected = %+v, want primary, worded as no node answering as primary", e)
	}
	if e, _ := log.first(result.EventPromoteStart); e.Node != "replica1" || e.Detail != "replica1 answers as primary" {
		t.Errorf("promote_start = %+v, want replica1 answering as primary", e)
	}
	if e, _ := log.first(result.EventPromoteDone); e.Node != "replica1" || !strings.HasSuffix(e.Detail, "after it answered as primary") {
		t.Errorf("promote_done = %+v, want replica1", e)
	}
	if p := roles.Primary(); p != "replica1" {
		t.Errorf("roles name %q primary, want replica1", p)
	}
	if _, ok := log.first(result.EventError); ok {
		t.Errorf("the observer reported an error:\n%s", log.String())
	}

	// The old primary comes back writable on its old timeline: replica1,
	// on the next one, still leads; the observer sees the split brain.
	starter, ok := c.(cluster.Stopper)
	if !ok {
		t.Fatal("the local cluster cannot start a node")
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := starter.Start(sctx, "primary"); err != nil {
		t.Fatal(err)
	}
	if got := askLeader(t, src); got != "replica1" {
		t.Errorf("Leader with primary (timeline 1) and replica1 (timeline 2) writable = %q, want replica1", got)
	}
	waitEvent(t, &log, result.EventSplitBrain)
	stop()
	<-done

	tl := obs.Wait()
	if !tl.Promoted || tl.OldPrimary != "primary" || tl.NewPrimary != "replica1" || tl.Detected == 0 || tl.PromoteDone < tl.Detected {
		t.Errorf("timeline %+v", tl.Failover)
	}
	if p := roles.Primary(); p != "replica1" {
		t.Errorf("after the split brain the roles name %q primary, want replica1", p)
	}
	t.Logf("events:\n%s", log.String())
}
