package failover_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/audit"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// all returns every event of kind, in order.
func (l *eventLog) all(kind string) []result.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []result.Event
	for _, e := range l.evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// waitEvents waits until there are n events of kind, or d has passed.
func (l *eventLog) waitEvents(t *testing.T, kind string, n int, d time.Duration) []result.Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs := l.all(kind)
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s events after %v, want %d:\n%s", len(evs), kind, d, n, l)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func msSince(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// TestCascadingFailover stalls the primary (SIGSTOP: its health probe
// hangs until its timeout), then kills the replica promoted in its place:
// the controller must promote the last replica, the failing probes must
// count from when they started, the demoted replica must be watched for a
// split brain when it comes back, and the audit must judge against the last
// replica. When that one dies too, no primary is left, and the controller
// and the audit say so.
func TestCascadingFailover(t *testing.T) {
	c := localtest.Cluster3(t, "cascade")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pauser, killer, stopper := c.(cluster.Pauser), c.(cluster.Killer), c.(cluster.Stopper)

	const seed = 13
	app, err := pgx.Connect(ctx, c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	firstID, err := workload.Prepare(ctx, app, seed, 200)
	app.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A long detect_after, so that a probe stamped when it gave up (its
	// timeout, detect_after/2, later) is told apart on a loaded machine.
	const detectAfter = time.Second
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	evs := &eventLog{}
	start := time.Now()
	ctl := failover.New(c, roles, failover.Config{
		DetectAfter: detectAfter, Repoint: true, Slots: true,
		Sync: map[string]bool{"replica1": true}, Start: start, Emit: evs.emit,
		SyncAfter: func(survivors []string) string { return "FIRST 1 (" + strings.Join(survivors, ", ") + ")" },
	})
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	go ctl.Run(bg)

	nodes := c.Nodes()
	index := map[string]int{}
	for i, n := range nodes {
		index[fmt.Sprintf("%s:%d", n.Host, n.Port)] = i
	}
	led := workload.NewLedger(firstID)
	wdone := make(chan error, 1)
	go func() {
		_, err := workload.Run(ctx, workload.Config{
			DSN: appDSN(t, c), Writers: 4, Rate: func(time.Duration) float64 { return 200 }, Poisson: true,
			Seed: seed, Ledger: led, Start: start, Duration: 9 * time.Second, Grace: time.Second,
			WriteTimeout: time.Second,
			NodeOf: func(addr string) int {
				if i, ok := index[addr]; ok {
					return i
				}
				return -1
			},
		}, nil)
		wdone <- err
	}()

	// First failure: the primary stalls.
	time.Sleep(1500 * time.Millisecond)
	pausedFrom := msSince(start)
	if err := pauser.Pause(ctx, "primary"); err != nil {
		t.Fatal(err)
	}
	pausedTo := msSince(start)
	t.Cleanup(func() { _ = pauser.Resume(context.Background(), "primary") })
	tl := ctl.FailedOver()
	if !tl.Promoted || tl.OldPrimary != "primary" {
		t.Fatalf("first failover: promoted %v from %q: %v\n%s", tl.Promoted, tl.OldPrimary, tl.Err, evs)
	}
	first, last := tl.NewPrimary, "replica2"
	if first == "replica2" {
		last = "replica1"
	}
	t.Logf("first failover: primary → %s", first)

	// Second failure: the promoted node dies, once it took writes.
	time.Sleep(time.Second)
	killedFrom := msSince(start)
	if err := killer.Kill(ctx, first); err != nil {
		t.Fatal(err)
	}
	killedTo := msSince(start)
	evs.waitEvents(t, result.EventPromoteDone, 2, 30*time.Second)
	if roles.Primary() != last {
		t.Fatalf("roles say primary %q after the second failover, want %s\n%s", roles.Primary(), last, evs)
	}

	// The demoted node comes back as a writable primary: a split brain the
	// controller must see, although it is not the first old primary.
	restarted := msSince(start)
	if err := stopper.Start(ctx, first); err != nil {
		t.Fatal(err)
	}
	started := msSince(start)
	sb := evs.waitEvents(t, result.EventSplitBrain, 1, 15*time.Second)
	if werr := <-wdone; werr != nil {
		t.Fatalf("workload: %v", werr)
	}
	t.Logf("events:\n%s", evs)

	t.Run("two failovers in the timeline", func(t *testing.T) {
		// A snapshot while Run goes on.
		tl := ctl.FailedOver()
		if len(tl.Failovers) != 2 {
			t.Fatalf("%d failovers, want 2: %+v", len(tl.Failovers), tl.Failovers)
		}
		a, b := tl.Failovers[0], tl.Failovers[1]
		if a.OldPrimary != "primary" || a.NewPrimary != first || a.Err != nil || tl.NewPrimary != first {
			t.Errorf("first failover %+v, headline new primary %q", a, tl.NewPrimary)
		}
		if b.OldPrimary != first || b.NewPrimary != last || !b.Promoted || b.Err != nil {
			t.Errorf("second failover %+v, want %s → %s", b, first, last)
		}
		if !(a.PromoteDone < b.FirstFailure && b.FirstFailure <= b.Detected && b.Detected < b.PromoteStart && b.PromoteStart < b.PromoteDone) {
			t.Errorf("second failover out of order: %+v (first promoted at %v)", b, a.PromoteDone)
		}
		t.Logf("first: detected %.0f ms after the stall, promoted in %.1f ms; second: detected %.0f ms after the kill, promoted in %.1f ms",
			msOf(a.Detected)-pausedFrom, msOf(a.PromoteDone-a.PromoteStart), msOf(b.Detected)-killedFrom, msOf(b.PromoteDone-b.PromoteStart))
	})

	t.Run("a failing probe counts from when it started", func(t *testing.T) {
		pf := evs.all(result.EventProbeFailed)
		if len(pf) == 0 || pf[0].Node != "primary" {
			t.Fatalf("probe_failed events %+v", pf)
		}
		// The probe that hung on the stalled primary started about when
		// the stall did; it gave up detect_after/2 later.
		if got := pf[0].Ms; got < pausedFrom-50 || got > pausedTo+200 {
			t.Errorf("probe_failed at %.1f ms, want when the stall began (%.1f..%.1f ms), not when the probe gave up", got, pausedFrom, pausedTo)
		}
		d := evs.all(result.EventDetected)
		if got := d[0].Ms - pausedFrom; got < float64(detectAfter.Milliseconds())-50 || got > float64(detectAfter.Milliseconds())+300 {
			t.Errorf("detected %.1f ms after the stall, want about detect_after (%v)", got, detectAfter)
		}
		if d[1].Node != first || d[1].Ms-killedTo > float64(detectAfter.Milliseconds())+300 {
			t.Errorf("second detection %+v, want %s about %v after the kill at %.1f ms", d[1], first, detectAfter, killedTo)
		}
	})

	t.Run("every demoted primary is watched", func(t *testing.T) {
		// Its watch starts at its demotion, so the split brain is seen
		// as soon as it answers, whatever the controller does meanwhile.
		if sb[0].Node != first || sb[0].Ms < restarted || sb[0].Ms > started+1000 {
			t.Errorf("split_brain %+v, want %s soon after its restart (%.1f..%.1f ms)", sb[0], first, restarted, started)
		}
	})

	t.Run("the audit judges against the last primary", func(t *testing.T) {
		a, err := audit.Run(ctx, c, roles, led, audit.Config{Timeout: 10 * time.Second, NodeNames: []string{"primary", "replica1", "replica2"}})
		if err != nil {
			t.Fatal(err)
		}
		var lostByNode int64
		for _, n := range a.LostByNode {
			lostByNode += n
		}
		acked := int64(led.Count(workload.Acked))
		if a.FinalPrimary != last || a.Acked != acked || a.Lost != lostByNode || a.Nodes[0].Missing != a.Lost {
			t.Errorf("audit: final primary %q (want %s), acked %d (ledger %d), lost %d, by node %v, missing on %s %d",
				a.FinalPrimary, last, a.Acked, acked, a.Lost, a.LostByNode, a.Nodes[0].Node, a.Nodes[0].Missing)
		}
		t.Logf("audit on %s: %d acked, %d lost %v", a.FinalPrimary, a.Acked, a.Lost, a.LostByNode)
	})

	t.Run("no primary left", func(t *testing.T) {
		if err := killer.Kill(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := killer.Kill(ctx, last); err != nil {
			t.Fatal(err)
		}
		np := evs.waitEvents(t, result.EventNoPrimary, 1, 30*time.Second)
		if np[0].Node != last || !strings.Contains(np[0].Detail, "no primary left") {
			t.Errorf("no_primary event %+v", np[0])
		}
		if n := len(evs.all(result.EventPromoteDone)); n != 2 {
			t.Errorf("%d promotions, want 2", n)
		}
		_, err := audit.Run(ctx, c, roles, led, audit.Config{Timeout: time.Second})
		if !errors.Is(err, audit.ErrNoPrimary) || !strings.Contains(err.Error(), "no primary at the end: nodes primary, replica1, replica2 down") {
			t.Errorf("audit error %v, want no primary at the end with every node down", err)
		}
		t.Logf("audit: %v", err)
	})
	stopBG()
	if tl := ctl.Wait(); len(tl.Failovers) != 3 || tl.Failovers[2].Promoted || tl.Failovers[2].Err == nil {
		t.Errorf("timeline after the last failure: %+v", tl.Failovers)
	}
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
