package failover_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// appDSN is the multi-host connection string the workload writes with.
func appDSN(t *testing.T, c cluster.Cluster) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(cfg.Password)
	return fmt.Sprintf("%s user=%s password='%s' dbname=%s sslmode=disable", cluster.MultiHost(c.Nodes()), cfg.User, pw, cfg.Database)
}

type eventLog struct {
	mu  sync.Mutex
	evs []result.Event
}

func (l *eventLog) emit(e result.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

// first returns the first event of kind, or false.
func (l *eventLog) first(kind string) (result.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if e.Kind == kind {
			return e, true
		}
	}
	return result.Event{}, false
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.evs {
		fmt.Fprintf(&b, "  %9.1f ms %-13s %-8s %s\n", e.Ms, e.Kind, e.Node, e.Detail)
	}
	return b.String()
}

// receivedLSN is what the controller ranks a replica by: the most WAL it
// received or replayed.
func receivedLSN(ctx context.Context, t *testing.T, conn *pgx.Conn) (lsn string, behind func(other string) int) {
	t.Helper()
	err := conn.QueryRow(ctx, `SELECT greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text`).Scan(&lsn)
	if err != nil {
		t.Fatal(err)
	}
	return lsn, func(other string) int {
		var cmp int
		if err := conn.QueryRow(ctx, "SELECT sign(pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn))::int", lsn, other).Scan(&cmp); err != nil {
			t.Fatal(err)
		}
		return cmp
	}
}

// waitStreaming waits until every other node but the old primary streams
// from primary, up to d after since.
func waitStreaming(ctx context.Context, t *testing.T, c cluster.Cluster, primary string, since time.Time, d time.Duration) error {
	if primary == "" {
		return errors.New("nothing was promoted")
	}
	conn, err := pgx.Connect(ctx, c.ConnString(primary, cluster.Admin))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var want []string
	for _, n := range c.Nodes() {
		if n.Name != "primary" && n.Name != primary {
			want = append(want, n.Name)
		}
	}
	for {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND application_name = ANY($1)", want).Scan(&n)
		if err == nil && n == len(want) {
			t.Logf("%v streaming from %s %v after the promotion", want, primary, time.Since(since).Round(time.Millisecond))
			return nil
		}
		if time.Since(since) > d {
			return fmt.Errorf("%v not streaming from %s %v after the promotion (%d streaming, %v)", want, primary, d, n, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestKillPrimaryPromote kills the primary while the workload writes; the
// controller must promote the most advanced replica, which then takes the
// writes, and repoint the other replica to it.
func TestKillPrimaryPromote(t *testing.T) {
	c := localtest.Cluster3(t, "failover")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const seed = 11
	app, err := pgx.Connect(ctx, c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	firstID, err := workload.Prepare(ctx, app, seed, 500)
	app.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Admin connections to the replicas, open before the fault.
	reps := map[string]*pgx.Conn{}
	for _, r := range []string{"replica1", "replica2"} {
		conn, err := pgx.Connect(ctx, c.ConnString(r, cluster.Admin))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		reps[r] = conn
	}

	const detectAfter = 300 * time.Millisecond
	faultAt := 1500 * time.Millisecond
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
	faults := chaos.New(c, roles, []scenario.Fault{{At: scenario.Duration(faultAt), Spec: fault.Kill{Target: "primary"}}}, start, evs.emit)
	go faults.Run(bg)

	nodes := c.Nodes()
	index := map[string]int{}
	for i, n := range nodes {
		index[fmt.Sprintf("%s:%d", n.Host, n.Port)] = i
	}
	led := workload.NewLedger(firstID)
	type wres struct {
		st  *workload.Stats
		err error
	}
	wdone := make(chan wres, 1)
	go func() {
		st, err := workload.Run(ctx, workload.Config{
			DSN: appDSN(t, c), Writers: 4, Rate: func(time.Duration) float64 { return 300 }, Poisson: true,
			Seed: seed, Ledger: led, Start: start, Duration: 4 * time.Second, Grace: time.Second,
			NodeOf: func(addr string) int {
				if i, ok := index[addr]; ok {
					return i
				}
				return -1
			},
		}, nil)
		wdone <- wres{st, err}
	}()

	// Once the primary is dead, and before the controller may act, read
	// how far each replica got: the controller must pick the furthest.
	for faults.Faults()[0].InjectedMs == nil {
		if time.Since(start) > faultAt+10*time.Second {
			t.Fatal("the kill never fired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if f := faults.Faults()[0]; f.Outcome == result.OutcomeFailed {
		t.Fatalf("kill: %v", f.Error)
	}
	time.Sleep(100 * time.Millisecond) // let the walreceivers notice and flush
	if _, ok := evs.first("detected"); ok {
		t.Fatalf("detected before DetectAfter had passed:\n%s", evs)
	}
	lsn1, cmp1 := receivedLSN(ctx, t, reps["replica1"])
	lsn2, _ := receivedLSN(ctx, t, reps["replica2"])
	want, other := "replica1", "replica2" // the sync replica wins a tie
	if cmp1(lsn2) < 0 {
		want, other = "replica2", "replica1"
	}
	t.Logf("after the kill: replica1 at %s, replica2 at %s; expecting %s to be promoted", lsn1, lsn2, want)

	tl := ctl.FailedOver()
	// Right after the controller is done, while the writers still write:
	// how long until the repointed replica streams from the new primary.
	streamErr := waitStreaming(ctx, t, c, tl.NewPrimary, start.Add(tl.PromoteDone), 10*time.Second)
	w := <-wdone
	if w.err != nil {
		t.Fatalf("workload: %v", w.err)
	}
	t.Logf("events:\n%s", evs)
	if tl.Err != nil {
		t.Fatalf("failover: %v", tl.Err)
	}
	if !tl.Promoted || tl.OldPrimary != "primary" || tl.NewPrimary != want {
		t.Fatalf("timeline: promoted %v, old %q, new %q; want primary → %s", tl.Promoted, tl.OldPrimary, tl.NewPrimary, want)
	}
	if !reflect.DeepEqual(tl.Repointed, []string{other}) {
		t.Errorf("repointed %q, want [%s]", tl.Repointed, other)
	}
	if roles.Primary() != want || !reflect.DeepEqual(roles.Replicas(), []string{other}) || !roles.IsDown("primary") {
		t.Errorf("roles after failover: primary %q, replicas %q, old primary down %v", roles.Primary(), roles.Replicas(), roles.IsDown("primary"))
	}

	t.Run("events in order", func(t *testing.T) {
		var ms []float64
		for _, kind := range []string{"fault", "probe_failed", "detected", "promote_start", "promote_done"} {
			e, ok := evs.first(kind)
			if !ok {
				t.Fatalf("no %s event:\n%s", kind, evs)
			}
			ms = append(ms, e.Ms)
		}
		fault, probeFailed, detected, pStart, pDone := ms[0], ms[1], ms[2], ms[3], ms[4]
		if !(fault < detected && detected < pStart && pStart < pDone) {
			t.Errorf("want fault < detected < promote_start < promote_done, got %.1f, %.1f, %.1f, %.1f", fault, detected, pStart, pDone)
		}
		// A failing probe counts from when it started: one that was
		// under way when the kill landed may have started a little before.
		if probeFailed < fault-50 {
			t.Errorf("probe failed at %.1f ms, before the fault at %.1f ms", probeFailed, fault)
		}
		if got := detected - probeFailed; got < float64(detectAfter.Milliseconds()) {
			t.Errorf("detected %.1f ms after the first failed probe, before detect_after %v", got, detectAfter)
		}
		if got := detected - fault; got > float64(detectAfter.Milliseconds())+2000 {
			t.Errorf("detected %.1f ms after the fault, want about %v", got, detectAfter)
		}
		if e, _ := evs.first("promote_start"); e.Node != want {
			t.Errorf("promote_start names %q, want %q", e.Node, want)
		}
		if e, ok := evs.first("repoint"); !ok || e.Node != other || e.Ms < pDone {
			t.Errorf("repoint event %+v (found %v), want %s after promote_done", e, ok, other)
		}
		if e, ok := evs.first("error"); ok {
			t.Errorf("error event: %+v", e)
		}
		// The timeline agrees with the events.
		for _, p := range []struct {
			name string
			d    time.Duration
			ev   float64
		}{{"Detected", tl.Detected, detected}, {"PromoteStart", tl.PromoteStart, pStart}, {"PromoteDone", tl.PromoteDone, pDone}} {
			if got := float64(p.d.Microseconds()) / 1000; got != p.ev {
				t.Errorf("timeline %s = %.3f ms, event says %.3f ms", p.name, got, p.ev)
			}
		}
	})

	t.Run("writers moved to the new primary", func(t *testing.T) {
		fault := time.Duration(*faults.Faults()[0].InjectedMs * float64(time.Millisecond))
		at, node, ok := led.FirstAckAfter(fault, index[fmt.Sprintf("%s:%d", nodes[0].Host, nodes[0].Port)])
		if !ok {
			t.Fatalf("no write acknowledged after the fault (acked %d, failed %d, unknown %d)",
				led.Count(workload.Acked), led.Count(workload.Failed), led.Count(workload.Unknown))
		}
		if nodes[node].Name != want {
			t.Errorf("first ack after the fault came from %s, want %s", nodes[node].Name, want)
		}
		if at < tl.PromoteDone-50*time.Millisecond {
			t.Errorf("first ack after the fault at %v, before promotion finished at %v", at, tl.PromoteDone)
		}
	})

	t.Run("the new primary is synchronous again", func(t *testing.T) {
		e, ok := evs.first(result.EventSyncRestored)
		if !ok {
			t.Fatalf("no sync_restored event:\n%s", evs)
		}
		if r, _ := evs.first("repoint"); e.Ms < r.Ms || e.Node != want || tl.SyncRestored <= tl.PromoteDone {
			t.Errorf("sync_restored %+v (timeline %v), want on %s after the repoint at %.1f ms", e, tl.SyncRestored, want, r.Ms)
		}
		conn, err := pgx.Connect(ctx, c.ConnString(want, cluster.Admin))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var names, state string
		if err := conn.QueryRow(ctx, "SHOW synchronous_standby_names").Scan(&names); err != nil || names != "FIRST 1 ("+other+")" {
			t.Errorf("synchronous_standby_names on %s = %q, %v; want FIRST 1 (%s)", want, names, err, other)
		}
		if err := conn.QueryRow(ctx, "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", other).Scan(&state); err != nil || state != "sync" {
			t.Errorf("%s's sync_state on %s = %q, %v; want sync", other, want, state, err)
		}
	})

	t.Run("new primary accepts writes", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, c.ConnString(want, cluster.App))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || inRecovery {
			t.Fatalf("%s in recovery = %v, %v", want, inRecovery, err)
		}
		o := workload.OrderFor(seed, 1_000_000)
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(wctx, workload.InsertSQL, o.ID, o.CustomerID, o.SKU, o.Qty, o.AmountCents); err != nil {
			t.Fatalf("insert on %s: %v", want, err)
		}
	})

	t.Run("the other replica streams from the new primary", func(t *testing.T) {
		if streamErr != nil {
			t.Fatal(streamErr)
		}
		conn, err := pgx.Connect(ctx, c.ConnString(want, cluster.Admin))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		deadline := time.Now().Add(10 * time.Second)
		// And it replays what the new primary writes.
		var ok bool
		for time.Now().Before(deadline) {
			if err := reps[other].QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM orders WHERE id = 1000000)").Scan(&ok); err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !ok {
			t.Errorf("%s does not show the row written on %s", other, want)
		}
		var slot bool
		if err := conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1", other).Scan(&slot); err != nil || !slot {
			t.Errorf("slot %s on %s: active %v, %v", other, want, slot, err)
		}
	})
}
