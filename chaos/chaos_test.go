package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// fixture is one 3-node cluster with link proxies, shared by the fault
// subtests, and the harness's direct connections to its primary.
type fixture struct {
	c     cluster.Cluster
	nw    cluster.Networker
	roles *cluster.Roles
	admin *pgx.Conn // primary, superuser, direct
	app   *pgx.Conn // primary, app, direct, synchronous_commit on
}

// upChaos starts primary, replica1 (sync) and replica2 (async), both with
// slots, every link through a proxy, with the three client groups.
func upChaos(t *testing.T, ctx context.Context) *fixture {
	t.Helper()
	b := localtest.Backend(t)
	uctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, err := b.Up(uctx, cluster.Spec{
		ID:               "chaos",
		Replicas:         []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2", Slot: "replica2"}},
		SyncStandbyNames: "FIRST 1 (replica1)",
		LogDir:           t.TempDir(),
		Network:          true,
		Clients:          scenario.ClientNames,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	nw, ok := c.(cluster.Networker)
	if !ok {
		t.Fatal("the cluster is not a Networker")
	}
	fx := &fixture{
		c:     c,
		nw:    nw,
		roles: cluster.NewRoles("primary", []string{"replica1", "replica2"}),
		admin: mustConnect(t, ctx, c.ConnString("primary", cluster.Admin)),
		app:   mustConnect(t, ctx, c.ConnString("primary", cluster.App)),
	}
	mustExec(t, ctx, fx.app, "CREATE TABLE chaos_t (id bigserial PRIMARY KEY, pad text)")
	return fx
}

func mustConnect(t *testing.T, ctx context.Context, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("connect: %s", cluster.Redact(err.Error()))
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// parseLSN turns "16/B374D848" into a byte position.
func parseLSN(t *testing.T, s string) uint64 {
	t.Helper()
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("bad LSN %q", s)
	}
	return h<<32 | l
}

func fmtLSN(l uint64) string { return fmt.Sprintf("%X/%X", l>>32, l&0xFFFFFFFF) }

func queryLSN(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) uint64 {
	t.Helper()
	var s string
	if err := conn.QueryRow(ctx, sql, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return parseLSN(t, s)
}

// primaryLSN is the primary's current WAL position.
func (fx *fixture) primaryLSN(t *testing.T, ctx context.Context) uint64 {
	t.Helper()
	return queryLSN(t, ctx, fx.admin, "SELECT pg_current_wal_lsn()::text")
}

// reportedReplay is the replay LSN standby last reported to the primary
// (pg_stat_replication), for a standby that cannot be asked itself.
func (fx *fixture) reportedReplay(t *testing.T, ctx context.Context, standby string) uint64 {
	t.Helper()
	return queryLSN(t, ctx, fx.admin,
		"SELECT coalesce(max(replay_lsn), '0/0')::text FROM pg_stat_replication WHERE application_name = $1", standby)
}

// replay asks a standby directly for its replay LSN.
func (fx *fixture) replay(t *testing.T, ctx context.Context, standby string) uint64 {
	t.Helper()
	conn := mustConnect(t, ctx, fx.c.ConnString(standby, cluster.Admin))
	defer conn.Close(ctx)
	return queryLSN(t, ctx, conn, "SELECT pg_last_wal_replay_lsn()::text")
}

// waitReplay waits until standby, asked directly, has replayed target.
func (fx *fixture) waitReplay(t *testing.T, ctx context.Context, standby string, target uint64, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	conn := mustConnect(t, ctx, fx.c.ConnString(standby, cluster.Admin))
	defer conn.Close(ctx)
	for {
		if queryLSN(t, ctx, conn, "SELECT pg_last_wal_replay_lsn()::text") >= target {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s has not replayed %s %v after the heal", standby, fmtLSN(target), d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitStreaming waits until the primary lists standby as streaming.
func (fx *fixture) waitStreaming(t *testing.T, ctx context.Context, standby string, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		var n int
		if err := fx.admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
			standby).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("%s not streaming %v after the heal", standby, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settle waits until both standbys stream and have replayed everything,
// so each subtest starts from a healthy cluster.
func (fx *fixture) settle(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, r := range []string{"replica1", "replica2"} {
		fx.waitStreaming(t, ctx, r, 15*time.Second)
	}
	target := fx.primaryLSN(t, ctx)
	for _, r := range []string{"replica1", "replica2"} {
		fx.waitReplay(t, ctx, r, target, 15*time.Second)
	}
}

// writer inserts rows on the primary every 10 ms until stopped, with
// synchronous_commit = local so a cut sync standby does not stop it.
type writer struct {
	stop chan struct{}
	done chan struct{}
	n    int
	err  error
}

func (fx *fixture) startWriter(t *testing.T, ctx context.Context, connString string) *writer {
	t.Helper()
	conn := mustConnect(t, ctx, connString)
	mustExec(t, ctx, conn, "SET synchronous_commit = local")
	w := &writer{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if _, err := conn.Exec(ctx, "INSERT INTO chaos_t (pad) VALUES (repeat('w', 200))"); err != nil {
				w.err = err
				return
			}
			w.n++
		}
	}()
	t.Cleanup(w.end)
	return w
}

func (w *writer) end() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// finish stops the writer and fails the test if a write failed.
func (w *writer) finish(t *testing.T) int {
	t.Helper()
	w.end()
	if w.err != nil {
		t.Fatalf("writer: %v", w.err)
	}
	return w.n
}

// eventLog collects a timeline's events.
type eventLog struct {
	mu  sync.Mutex
	evs []eventRec
}

type eventRec struct {
	kind, node, detail string
	ms                 float64
}

func (l *eventLog) emit(e result.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, eventRec{kind: e.Kind, node: e.Node, detail: e.Detail, ms: e.Ms})
	l.mu.Unlock()
}

func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.evs {
		out = append(out, e.kind)
	}
	return out
}

// recorded reports whether an event of kind on node with detail was
// emitted.
func (l *eventLog) recorded(kind, node, detail string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.evs {
		if e.kind == kind && e.node == node && e.detail == detail {
			return true
		}
	}
	return false
}

func (l *eventLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, e := range l.evs {
		fmt.Fprintf(&b, "  %8.1f ms %-5s %-20s %s\n", e.ms, e.kind, e.node, e.detail)
	}
	return b.String()
}

// run is one timeline being run in the background.
type run struct {
	tl     *chaos.Timeline
	faults []scenario.Fault
	log    *eventLog
	done   chan struct{}
	start  time.Time
}

// msDur is a record's offset in ms as a duration.
func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// fired lists the records of the faults that were injected.
func (r *run) fired() []result.Fault {
	var out []result.Fault
	for _, f := range r.tl.Faults() {
		if f.InjectedMs != nil {
			out = append(out, f)
		}
	}
	return out
}

// fire runs a timeline of faults from now and returns once every fault
// was injected. Its cleanup stops the timeline and heals what is left,
// so a failed subtest does not leave the shared cluster faulted.
func (fx *fixture) fire(t *testing.T, ctx context.Context, faults ...scenario.Fault) *run {
	t.Helper()
	r := &run{faults: faults, log: &eventLog{}, done: make(chan struct{}), start: time.Now()}
	r.tl = chaos.New(fx.c, fx.roles, faults, r.start, r.log.emit)
	rctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(r.done)
		r.tl.Run(rctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
		if err := r.tl.HealAll(context.Background()); err != nil {
			t.Errorf("heal all: %v", err)
		}
	})
	for deadline := time.Now().Add(30 * time.Second); len(r.fired()) < len(faults); {
		if time.Now().After(deadline) {
			t.Fatalf("faults not injected 30s after the start:\n%s", r.log)
		}
		time.Sleep(2 * time.Millisecond)
	}
	for _, f := range r.fired() {
		if f.Outcome == result.OutcomeFailed {
			t.Fatalf("inject %s: %v", f.Name, f.Error)
		}
	}
	return r
}

// wait waits until Run returned: every fault with for: healed.
func (r *run) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		t.Fatalf("timeline still running %v after its start:\n%s", d, r.log)
	}
}

// during fails the test unless the first fault's for: has not yet run
// out: what was measured until now was measured under the fault.
func (r *run) during(t *testing.T) {
	t.Helper()
	f := r.fired()[0]
	due := msDur(*f.InjectedMs + f.ForMs)
	if now := time.Since(r.start); now >= due {
		t.Fatalf("measured until %v, after the heal was due at %v: the machine is too slow for this test",
			now.Round(time.Millisecond), due.Round(time.Millisecond))
	}
}

// check asserts the timeline's record: a fault event per fault (and a
// fault_effective event for a kind that can tell it took effect), a heal
// event per healed fault (and a healed event for a kind that can tell the
// heal took effect), and the fault records with HealedMs set for those.
func (r *run) check(t *testing.T, healed ...bool) {
	t.Helper()
	var want []string
	for i := range healed {
		want = append(want, result.EventFault)
		if _, ok := r.faults[i].Spec.(fault.Effecter); ok {
			want = append(want, result.EventEffective)
		}
	}
	for i, h := range healed {
		if h {
			want = append(want, result.EventHeal)
			if _, ok := r.faults[i].Spec.(fault.HealWaiter); ok {
				want = append(want, result.EventHealed)
			}
		}
	}
	got := r.log.kinds()
	gotSorted := append([]string(nil), got...)
	sort.Strings(gotSorted)
	sort.Strings(want)
	if strings.Join(gotSorted, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v:\n%s", got, want, r.log)
	}
	fired := r.fired()
	if len(fired) != len(healed) {
		t.Fatalf("%d faults fired, want %d", len(fired), len(healed))
	}
	for i, f := range fired {
		if f.Outcome == result.OutcomeFailed {
			t.Errorf("%s: %v", f.Name, f.Error)
		}
		if (f.HealedMs != nil) != healed[i] {
			t.Errorf("%s: HealedMs %v, want healed: %v", f.Name, f.HealedMs, healed[i])
		}
		if f.HealedMs != nil && *f.HealedMs < *f.InjectedMs {
			t.Errorf("%s: healed at %v ms, before its injection at %v ms", f.Name, *f.HealedMs, *f.InjectedMs)
		}
		if f.Node != "" && !r.log.recorded("fault", f.Node, f.Name) {
			t.Errorf("no fault event on %s for %q:\n%s", f.Node, f.Name, r.log)
		}
	}
}

// refused asserts nothing listens on node's own port.
func (fx *fixture) refused(t *testing.T, node string) {
	t.Helper()
	for _, n := range fx.c.Nodes() {
		if n.Name != node {
			continue
		}
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(n.Host, strconv.Itoa(n.Port)), time.Second)
		if err == nil {
			conn.Close()
			t.Fatalf("%s's port %d accepts connections", node, n.Port)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("%s's port %d: %v, want connection refused", node, n.Port, err)
		}
		return
	}
	t.Fatalf("no node %s", node)
}

// answers asks node a question within d through connString and returns
// the error, nil when it answered.
func answers(ctx context.Context, connString string, d time.Duration) error {
	qctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	conn, err := pgx.Connect(qctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(qctx, "SELECT 1").Scan(&one)
}

// frozen runs a writer on the primary for window and asserts that each
// standby's replay LSN, by replay (fx.replay asks the standby itself,
// fx.reportedReplay the primary), did not move while the primary's did.
// It returns the replay LSNs before and after, and the primary's LSN
// after.
func (fx *fixture) frozen(t *testing.T, ctx context.Context, replay func(*testing.T, context.Context, string) uint64, standbys []string,
	window time.Duration) (before, after map[string]uint64, primary uint64) {
	t.Helper()
	w := fx.startWriter(t, ctx, fx.c.ConnString("primary", cluster.App))
	time.Sleep(200 * time.Millisecond) // what was already past the cut lands
	before, after = map[string]uint64{}, map[string]uint64{}
	for _, s := range standbys {
		before[s] = replay(t, ctx, s)
	}
	p0 := fx.primaryLSN(t, ctx)
	time.Sleep(window)
	for _, s := range standbys {
		after[s] = replay(t, ctx, s)
	}
	primary = fx.primaryLSN(t, ctx)
	n := w.finish(t)
	if primary <= p0 {
		t.Fatalf("the primary's LSN did not advance (%s) over %d writes", fmtLSN(p0), n)
	}
	for _, s := range standbys {
		if after[s] != before[s] {
			t.Errorf("%s replayed %s -> %s", s, fmtLSN(before[s]), fmtLSN(after[s]))
		}
	}
	var stayed []string
	for _, s := range standbys {
		stayed = append(stayed, s+" at "+fmtLSN(before[s]))
	}
	t.Logf("%d writes: the primary went %s -> %s (+%d bytes), replay stayed: %s",
		n, fmtLSN(p0), fmtLSN(primary), primary-p0, strings.Join(stayed, ", "))
	return before, after, primary
}

// medianCommit is the median of n single-row autocommit inserts on conn;
// each must commit within 5 s.
func medianCommit(t *testing.T, ctx context.Context, conn *pgx.Conn, n int) time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		start := time.Now()
		_, err := conn.Exec(cctx, "INSERT INTO chaos_t (pad) VALUES ('c')")
		ds[i] = time.Since(start)
		cancel()
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2]
}

func dur(d time.Duration) scenario.Duration { return scenario.Duration(d) }

func TestFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	fx := upChaos(t, ctx)
	nw := fx.nw

	t.Run("pause of the sync standby blocks commits until resumed", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Pause{Target: "replica1"}, For: dur(1200 * time.Millisecond)})
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		defer ccancel()
		begin := time.Now()
		if _, err := fx.app.Exec(cctx, "INSERT INTO chaos_t (pad) VALUES ('sync')"); err != nil {
			t.Fatalf("commit: %v", err)
		}
		took, end := time.Since(begin), time.Since(r.start)
		r.wait(t, 5*time.Second)
		t.Logf("sync commit during the pause took %v (pause from %v, for 1.2s)", took.Round(time.Millisecond), begin.Sub(r.start).Round(time.Millisecond))
		if took < 500*time.Millisecond {
			t.Errorf("sync commit with the sync standby paused took %v, want > 500ms", took)
		}
		if h := r.fired()[0].HealedMs; h != nil {
			if resumed := msDur(*h); end < resumed-50*time.Millisecond {
				t.Errorf("the commit returned at %v, before the resume at %v", end, resumed)
			}
		}
		r.check(t, true)
	})

	t.Run("pause of an async standby", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Pause{Target: "replica2"}, For: dur(1500 * time.Millisecond)})
		begin := time.Now()
		err := answers(ctx, fx.c.ConnString("replica2", cluster.Admin), 300*time.Millisecond)
		t.Logf("query to paused replica2: %v after %v", err, time.Since(begin).Round(time.Millisecond))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("query to paused replica2 with a 300ms timeout: %v, want a timeout", err)
		}
		_, _, primary := fx.frozen(t, ctx, fx.reportedReplay, []string{"replica2"}, 700*time.Millisecond)
		r.during(t)
		r.wait(t, 5*time.Second)
		if err := answers(ctx, fx.c.ConnString("replica2", cluster.Admin), 2*time.Second); err != nil {
			t.Fatalf("replica2 after the resume: %v", err)
		}
		t.Logf("replica2 caught up %v after the resume", fx.waitReplay(t, ctx, "replica2", primary, 5*time.Second).Round(time.Millisecond))
		r.check(t, true)
	})

	t.Run("isolate an async standby", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Isolate{Target: "replica2"}, For: dur(2 * time.Second)})
		_, _, primary := fx.frozen(t, ctx, fx.replay, []string{"replica2"}, time.Second)
		r.during(t)
		r.wait(t, 5*time.Second)
		t.Logf("replica2 caught up %v after the heal", fx.waitReplay(t, ctx, "replica2", primary, 5*time.Second).Round(time.Millisecond))
		r.check(t, true)
	})

	t.Run("isolate the primary with the writers", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Isolate{Target: "primary", With: []string{scenario.ClientWriters}},
			For: dur(2500 * time.Millisecond)})
		w := mustConnect(t, ctx, nw.ClientConnString(scenario.ClientWriters, "primary", cluster.App))
		mustExec(t, ctx, w, "SET synchronous_commit = local")
		mustExec(t, ctx, w, "INSERT INTO chaos_t (pad) VALUES ('writers')")
		begin := time.Now()
		err := answers(ctx, nw.ClientConnString(scenario.ClientController, "primary", cluster.Admin)+" connect_timeout=1", 5*time.Second)
		took := time.Since(begin)
		t.Logf("controller -> primary: %v after %v", err, took.Round(time.Millisecond))
		if err == nil {
			t.Error("the controller reached the isolated primary")
		} else if took < 900*time.Millisecond {
			t.Errorf("the controller failed after %v, want the 1s connect timeout", took)
		}
		r.during(t)
		r.wait(t, 5*time.Second)
		if err := answers(ctx, nw.ClientConnString(scenario.ClientController, "primary", cluster.Admin), 2*time.Second); err != nil {
			t.Errorf("controller -> primary after the heal: %v", err)
		}
		r.check(t, true)
	})

	t.Run("partition sides", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{
			Spec: fault.Partition{Sides: [][]string{{"primary", scenario.ClientWriters}, {"replica1", "replica2", scenario.ClientController}}},
			For:  dur(2 * time.Second)})
		_, _, primary := fx.frozen(t, ctx, fx.replay, []string{"replica1", "replica2"}, time.Second)
		r.during(t)
		w := mustConnect(t, ctx, nw.ClientConnString(scenario.ClientWriters, "primary", cluster.App))
		mustExec(t, ctx, w, "SET synchronous_commit = local")
		mustExec(t, ctx, w, "INSERT INTO chaos_t (pad) VALUES ('writers')")
		r.wait(t, 5*time.Second)
		for _, rep := range []string{"replica1", "replica2"} {
			t.Logf("%s caught up %v after the heal", rep, fx.waitReplay(t, ctx, rep, primary, 5*time.Second).Round(time.Millisecond))
		}
		r.check(t, true)
	})

	t.Run("one-way partition from the primary to a standby", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Partition{From: []string{"primary"}, To: []string{"replica2"}},
			For: dur(2 * time.Second)})
		_, _, primary := fx.frozen(t, ctx, fx.replay, []string{"replica2"}, time.Second)
		r.during(t)
		r.wait(t, 5*time.Second)
		t.Logf("replica2 caught up %v after the heal", fx.waitReplay(t, ctx, "replica2", primary, 5*time.Second).Round(time.Millisecond))
		r.check(t, true)
	})

	t.Run("latency on the sync standby's link", func(t *testing.T) {
		fx.settle(t, ctx)
		base := medianCommit(t, ctx, fx.app, 20)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Latency{From: []string{"replica1"}, To: []string{"primary"},
			Latency: 20 * time.Millisecond}})
		r.wait(t, 5*time.Second) // no for: Run returns once it is injected
		slow := medianCommit(t, ctx, fx.app, 20)
		if err := r.tl.HealAll(ctx); err != nil {
			t.Fatal(err)
		}
		after := medianCommit(t, ctx, fx.app, 20)
		t.Logf("median sync commit: %v before, %v with 20ms each way on replica1 -> primary, %v after the heal",
			base.Round(10*time.Microsecond), slow.Round(10*time.Microsecond), after.Round(10*time.Microsecond))
		if slow < 35*time.Millisecond {
			t.Errorf("median sync commit with 20ms each way = %v, want >= 35ms (a round trip)", slow)
		}
		if after > 15*time.Millisecond {
			t.Errorf("median sync commit after the heal = %v, want a few ms", after)
		}
		r.check(t, true)
	})

	t.Run("bandwidth on an async standby's WAL", func(t *testing.T) {
		fx.settle(t, ctx)
		mustExec(t, ctx, fx.app, "CREATE TABLE chaos_big (id int, pad text)")
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Bandwidth{From: []string{"replica2"}, To: []string{"primary"},
			RateKBps: 64, Direction: fault.DirectionDownstream}})
		r.wait(t, 5*time.Second)
		p0 := fx.primaryLSN(t, ctx)
		mustExec(t, ctx, fx.app, "INSERT INTO chaos_big SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 2000) g")
		primary := fx.primaryLSN(t, ctx)
		time.Sleep(500 * time.Millisecond)
		lag := map[string]int64{}
		rows, err := fx.admin.Query(ctx, "SELECT application_name, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name string
			var l int64
			if err := rows.Scan(&name, &l); err != nil {
				t.Fatal(err)
			}
			lag[name] = l
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		t.Logf("burst of %d bytes of WAL at 64 KB/s to replica2: replay lag 500ms after, replica1 %d bytes, replica2 %d bytes",
			primary-p0, lag["replica1"], lag["replica2"])
		if lag["replica2"] < 1<<20 {
			t.Errorf("replica2's replay lag = %d bytes, want > 1 MB behind a 64 KB/s link", lag["replica2"])
		}
		if lag["replica2"] < 8*lag["replica1"]+(512<<10) {
			t.Errorf("replica2's replay lag %d bytes is not well beyond replica1's %d", lag["replica2"], lag["replica1"])
		}
		if err := r.tl.HealAll(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("replica2 caught up %v after the heal", fx.waitReplay(t, ctx, "replica2", primary, 10*time.Second).Round(time.Millisecond))
		r.check(t, true)
	})

	t.Run("reset of a node's links breaks an open connection", func(t *testing.T) {
		fx.settle(t, ctx)
		cs := nw.ClientConnString(scenario.ClientReaders, "replica2", cluster.App)
		rd := mustConnect(t, ctx, cs)
		mustExec(t, ctx, rd, "SELECT 1")
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Reset{Target: "replica2"}, For: dur(time.Second)})
		qctx, qcancel := context.WithTimeout(ctx, 3*time.Second)
		begin := time.Now()
		_, err := rd.Exec(qctx, "SELECT 1")
		qcancel()
		took := time.Since(begin)
		t.Logf("query on the open readers -> replica2 connection: %v after %v", err, took.Round(time.Millisecond))
		if err == nil {
			t.Error("a query went through a reset link")
		} else if took > time.Second {
			t.Errorf("the query failed after %v, want at once", took)
		}
		r.wait(t, 5*time.Second)
		if err := answers(ctx, cs, 2*time.Second); err != nil {
			t.Errorf("readers -> replica2 after the heal: %v", err)
		}
		r.check(t, true)
	})

	t.Run("kill a standby, started again after for", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Kill{Target: "replica2"}, For: dur(1500 * time.Millisecond)})
		fx.refused(t, "replica2")
		if !fx.roles.IsDown("replica2") {
			t.Error("roles do not mark killed replica2 down")
		}
		if got := fx.roles.Replicas(); len(got) != 1 || got[0] != "replica1" {
			t.Errorf("roles.Replicas() = %v with replica2 killed, want [replica1]", got)
		}
		r.wait(t, 30*time.Second)
		if fx.roles.IsDown("replica2") {
			t.Error("roles still mark replica2 down after the heal")
		}
		t.Logf("replica2 streaming %v after it was started again", fx.waitStreaming(t, ctx, "replica2", 10*time.Second).Round(time.Millisecond))
		r.check(t, true)
	})

	for _, mode := range []string{fault.StopFast, fault.StopImmediate} {
		t.Run("stop a standby "+mode+", started again after for", func(t *testing.T) {
			fx.settle(t, ctx)
			r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Stop{Target: "replica2", Mode: mode}, For: dur(time.Second)})
			fx.refused(t, "replica2")
			if !fx.roles.IsDown("replica2") {
				t.Error("roles do not mark stopped replica2 down")
			}
			r.wait(t, 30*time.Second)
			if fx.roles.IsDown("replica2") {
				t.Error("roles still mark replica2 down after the heal")
			}
			t.Logf("replica2 streaming %v after it was started again", fx.waitStreaming(t, ctx, "replica2", 10*time.Second).Round(time.Millisecond))
			r.check(t, true)
		})
	}

	t.Run("restart a standby", func(t *testing.T) {
		fx.settle(t, ctx)
		r := fx.fire(t, ctx, scenario.Fault{Spec: fault.Restart{Target: "replica2"}})
		r.wait(t, 30*time.Second)
		if err := answers(ctx, fx.c.ConnString("replica2", cluster.Admin), 2*time.Second); err != nil {
			t.Fatalf("replica2 right after the restart: %v", err)
		}
		if fx.roles.IsDown("replica2") {
			t.Error("roles mark restarted replica2 down")
		}
		t.Logf("replica2 streaming %v after the restart returned", fx.waitStreaming(t, ctx, "replica2", 10*time.Second).Round(time.Millisecond))
		r.check(t, false)
	})

	// Last: replica2 stays down.
	t.Run("HealAll removes toxics and resumes, a kill without for stays", func(t *testing.T) {
		fx.settle(t, ctx)
		// Lines as a scenario file gives them.
		r := fx.fire(t, ctx,
			scenario.Fault{Spec: fault.Latency{From: []string{"replica1"}, To: []string{"primary"},
				Latency: 20 * time.Millisecond}, Line: 1},
			scenario.Fault{Spec: fault.Pause{Target: "replica1"}, Line: 2},
			scenario.Fault{Spec: fault.Kill{Target: "replica2"}, Line: 3},
		)
		r.wait(t, 5*time.Second)
		if err := answers(ctx, fx.c.ConnString("replica1", cluster.Admin), 300*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("query to paused replica1: %v, want a timeout", err)
		}
		fx.refused(t, "replica2")
		begin := time.Now()
		if err := r.tl.HealAll(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("HealAll took %v", time.Since(begin).Round(time.Millisecond))
		after := medianCommit(t, ctx, fx.app, 20)
		t.Logf("median sync commit after HealAll: %v", after.Round(10*time.Microsecond))
		if after > 15*time.Millisecond {
			t.Errorf("median sync commit after HealAll = %v, want a few ms (latency removed, replica1 resumed)", after)
		}
		fx.refused(t, "replica2")
		if !fx.roles.IsDown("replica2") {
			t.Error("roles do not mark replica2 down after HealAll")
		}
		r.check(t, true, true, false)
	})
}
