package summary

import (
	"reflect"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestPhasesFailover: a failover is a boundary. A kill that never heals
// used to be one "during" phase to the end, the outage and the steady
// state on the new primary blended in one set of figures.
func TestPhasesFailover(t *testing.T) {
	t.Parallel()
	// 20 s: 1 ms commits, but 500 ms in the outage (seconds 4 and 5)
	// and 3 ms on the new primary.
	st := statsOf(20, 100, 1000)
	copy(st.PerSecond[4:], statsOf(2, 100, 500_000).PerSecond)
	copy(st.PerSecond[6:], statsOf(14, 100, 3000).PerSecond)
	type want struct {
		name, kind string
		start, end float64
	}
	promoted := func(first, done float64, sync *float64) *result.Failover {
		return &result.Failover{OldPrimary: "primary", InjectedMs: fp(4000), FaultMs: fp(4000), FirstWriteMs: fp(first),
			PromoteDoneMs: fp(done), SyncRestoredMs: sync, NewPrimary: "replica1"}
	}
	for _, tc := range []struct {
		name   string
		faults []result.Fault
		f      *result.Failover
		want   []want
	}{
		{
			name:   "kill, promote: before, outage, after failover",
			faults: []result.Fault{killAt(0, 4000, "primary")},
			f:      promoted(6000, 5900, nil),
			want: []want{{"before", result.PhaseBefore, 0, 4000}, {"outage: kill primary", result.PhaseOutage, 4000, 6000},
				{"after failover", result.PhaseAfterFailover, 6000, 20000}},
		},
		{
			name:   "synchronous again after the first write: a recovery between",
			faults: []result.Fault{killAt(0, 4000, "primary")},
			f:      promoted(6000, 5900, fp(8000)),
			want: []want{{"before", result.PhaseBefore, 0, 4000}, {"outage: kill primary", result.PhaseOutage, 4000, 6000},
				{"recovery: kill primary", result.PhaseRecovery, 6000, 8000}, {"after failover", result.PhaseAfterFailover, 8000, 20000}},
		},
		{
			name:   "writes never resumed: the outage to the end",
			faults: []result.Fault{killAt(0, 4000, "primary")},
			f:      &result.Failover{OldPrimary: "primary", InjectedMs: fp(4000), PromoteDoneMs: fp(5000)},
			want:   []want{{"before", result.PhaseBefore, 0, 4000}, {"outage: kill primary", result.PhaseOutage, 4000, 20000}},
		},
		{
			name:   "no promotion: the fault as before",
			faults: []result.Fault{killAt(0, 4000, "primary")},
			f:      &result.Failover{OldPrimary: "primary", InjectedMs: fp(4000), FirstWriteMs: fp(9000)},
			want:   []want{{"before", result.PhaseBefore, 0, 4000}, {"during: kill primary", result.PhaseDuring, 4000, 20000}},
		},
		{
			name: "a later fault ends the steady state; after it heals, after",
			faults: []result.Fault{killAt(0, 4000, "primary"),
				{Index: 1, Name: "pause replica2", Outcome: result.OutcomeInjected, InjectedMs: fp(12000), HealedMs: fp(15000)}},
			f: promoted(6000, 5900, nil),
			want: []want{{"before", result.PhaseBefore, 0, 4000}, {"outage: kill primary", result.PhaseOutage, 4000, 6000},
				{"after failover", result.PhaseAfterFailover, 6000, 12000}, {"during: pause replica2", result.PhaseDuring, 12000, 15000},
				{"after", result.PhaseAfter, 15000, 20000}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Phases(fired(tc.faults), tc.f, nil, st, nil, nil, 20*time.Second, nil)
			if len(got) != len(tc.want) {
				t.Fatalf("phases %+v, want %+v", got, tc.want)
			}
			for i, w := range tc.want {
				if g := got[i]; g.Name != w.name || g.Kind != w.kind || g.StartMs != w.start || g.EndMs != w.end {
					t.Errorf("phase %d = %q %s %v..%v; want %+v", i, g.Name, g.Kind, g.StartMs, g.EndMs, w)
				}
			}
			// The figures after the failover are its own, not a blend
			// with the outage.
			for _, g := range got {
				if g.Kind == result.PhaseAfterFailover && (g.P99CommitMs < 2.99 || g.P99CommitMs > 3.01 || g.TPS != 100) {
					t.Errorf("after failover: p99 %v tps %v, want 3 ms and 100", g.P99CommitMs, g.TPS)
				}
			}
		})
	}
}

// TestPhaseLag: each phase has each replica's lag: bytes from the valid
// samples in it, visibility from the heartbeats acknowledged in it; lost
// heartbeats counted, never a latency.
func TestPhaseLag(t *testing.T) {
	t.Parallel()
	st := statsOf(10, 100, 1000)
	streaming := func(ms float64, r string, replay float64) result.ReplicationPoint {
		return result.ReplicationPoint{Ms: ms, Replica: r, State: "streaming", ReplayBytes: replay, UnflushedBytes: replay / 10}
	}
	repl := []result.ReplicationPoint{
		streaming(1000, "replica1", 100), streaming(2000, "replica1", 300), streaming(3000, "replica1", 200),
		streaming(1000, "replica2", 1000),
		// Not streaming: never summed into a maximum.
		{Ms: 2500, Replica: "replica2", State: "catchup", ReplayBytes: 1 << 30, UnflushedBytes: 1},
		streaming(6000, "replica1", 50_000), streaming(7000, "replica1", 70_000), streaming(8000, "replica1", 60_000),
	}
	vis := func(ms float64, r string, v float64) result.VisibilityPoint {
		return result.VisibilityPoint{Ms: ms, Replica: r, VisibilityMs: fp(v), State: result.HeartbeatVisible}
	}
	series := []result.VisibilityPoint{
		vis(1000, "replica1", 2), vis(1100, "replica1", 4), vis(1200, "replica1", 3),
		vis(1000, "replica2", 9),
		{Ms: 3900, Replica: "replica1", State: result.HeartbeatLost},
		{Ms: 4500, Replica: "replica1", State: result.HeartbeatNotAcked},
		vis(6000, "replica1", 40), vis(6100, "replica1", 20),
	}
	f := &result.Failover{OldPrimary: "primary", InjectedMs: fp(4000), FirstWriteMs: fp(5000), PromoteDoneMs: fp(4900)}
	got := Phases(fired([]result.Fault{killAt(0, 4000, "primary")}), f, []string{"replica1", "replica2"}, st, repl, series, 10*time.Second, nil)
	if len(got) != 3 {
		t.Fatalf("phases %+v", got)
	}
	before, outage, after := got[0], got[1], got[2]
	if len(before.Replicas) != 2 {
		t.Fatalf("before: replicas %+v", before.Replicas)
	}
	r1, r2 := before.Replicas[0], before.Replicas[1]
	if r1.Replica != "replica1" || r1.ReplicationSamples != 3 || r1.P50ReplayLagBytes != 200 || r1.MaxReplayLagBytes != 300 ||
		r1.VisibilitySamples != 3 || r1.P50VisibilityMs != 3 || r1.P99VisibilityMs != 4 || r1.MaxVisibilityMs != 4 || r1.HeartbeatsLost != 1 {
		t.Errorf("before, replica1 %+v", r1)
	}
	if r2.Replica != "replica2" || r2.ReplicationSamples != 1 || r2.MaxReplayLagBytes != 1000 || r2.MaxVisibilityMs != 9 {
		t.Errorf("before, replica2 %+v (the catch-up sample must not count)", r2)
	}
	if before.MaxReplayLagBytes != 1000 || before.MaxVisibilityMs != 9 || before.MaxUnflushedBytes != 100 {
		t.Errorf("before: worst lag %v vis %v unflushed %v", before.MaxReplayLagBytes, before.MaxVisibilityMs, before.MaxUnflushedBytes)
	}
	if len(outage.Replicas) != 0 || outage.MaxVisibilityMs != 0 {
		t.Errorf("outage: no heartbeat acknowledged, no sample: %+v", outage)
	}
	if len(after.Replicas) != 1 {
		t.Fatalf("after failover: replicas %+v, want replica1 only", after.Replicas)
	}
	if a := after.Replicas[0]; a.P50ReplayLagBytes != 60_000 || a.MaxReplayLagBytes != 70_000 || a.P50VisibilityMs != 20 || a.MaxVisibilityMs != 40 {
		t.Errorf("after failover, replica1 %+v", a)
	}
}

// TestLagsVisibility: the summary's visibility figures are the series'
// own latencies. Heartbeats lost, unseen or not acknowledged are counted
// apart, never a latency; the summary used to read a second set of
// latencies, and the series a sampled age, two definitions of one figure.
func TestLagsVisibility(t *testing.T) {
	t.Parallel()
	vis := []result.VisibilityPoint{
		{Ms: 100, Replica: "replica1", Heartbeat: 1, VisibilityMs: fp(5), State: result.HeartbeatVisible},
		{Ms: 200, Replica: "replica1", Heartbeat: 2, State: result.HeartbeatLost},
		{Ms: 300, Replica: "replica1", Heartbeat: 3, State: result.HeartbeatNotAcked},
		{Ms: 400, Replica: "replica1", Heartbeat: 4, VisibilityMs: fp(7), State: result.HeartbeatVisible},
		{Ms: 500, Replica: "replica1", Heartbeat: 5, VisibilityMs: fp(6), State: result.HeartbeatVisible},
		{Ms: 600, Replica: "replica1", Heartbeat: 6, State: result.HeartbeatUnseen},
		{Ms: 100, Replica: "replica2", Heartbeat: 1, VisibilityMs: fp(50), State: result.HeartbeatVisible},
	}
	got := Lags([]string{"replica1"}, nil, nil, vis)
	if l := got[0]; l.VisibilitySamples != 3 || l.P50VisibilityMs != 6 || l.P99VisibilityMs != 7 || l.MaxVisibilityMs != 7 ||
		l.HeartbeatsLost != 1 || l.HeartbeatsUnseen != 1 {
		t.Errorf("replica1 %+v", l)
	}
}

// TestPhasesCapacity: a closed-loop burst is a phase of its own, cut out
// of the steady phase it lies in, whose figures leave it out: blended,
// a burst at the cluster's ceiling made the paced workload's throughput
// and latency before the fault look like neither.
func TestPhasesCapacity(t *testing.T) {
	t.Parallel()
	// 20 s at 100 TPS and 1 ms; seconds 3 and 4 a closed loop at
	// 5000 TPS and 0.3 ms.
	st := statsOf(20, 100, 1000)
	copy(st.PerSecond[3:], statsOf(2, 5000, 300).PerSecond)
	st.Acked[3], st.Acked[4] = 5000, 5000
	promoted := &result.Failover{OldPrimary: "primary", InjectedMs: fp(8000), FaultMs: fp(8000), FirstWriteMs: fp(10000),
		PromoteDoneMs: fp(9900), NewPrimary: "replica1"}
	span := func(a, b float64) result.Span { return result.Span{StartMs: a, EndMs: b} }
	type want struct {
		kind       string
		start, end float64
		excluded   []result.Span
		tps        float64
	}
	for _, tc := range []struct {
		name     string
		faults   []result.Fault
		f        *result.Failover
		capacity []result.Span
		want     []want
	}{
		{
			name:     "no fault: the whole run without the burst, then the burst",
			capacity: []result.Span{span(3000, 5000)},
			want: []want{{result.PhaseWhole, 0, 20000, []result.Span{span(3000, 5000)}, 100},
				{result.PhaseCapacity, 3000, 5000, nil, 5000}},
		},
		{
			name:     "before the kill: cut out of before",
			faults:   []result.Fault{killAt(0, 8000, "primary")},
			f:        promoted,
			capacity: []result.Span{span(3000, 5000)},
			want: []want{{result.PhaseBefore, 0, 8000, []result.Span{span(3000, 5000)}, 100},
				{result.PhaseCapacity, 3000, 5000, nil, 5000},
				{result.PhaseOutage, 8000, 10000, nil, 100}, {result.PhaseAfterFailover, 10000, 20000, nil, 100}},
		},
		{
			name:     "across the kill: only the part before it is capacity",
			faults:   []result.Fault{killAt(0, 4000, "primary")},
			f:        &result.Failover{OldPrimary: "primary", InjectedMs: fp(4000), FaultMs: fp(4000), FirstWriteMs: fp(6000), PromoteDoneMs: fp(5900)},
			capacity: []result.Span{span(3000, 5000)},
			want: []want{{result.PhaseBefore, 0, 4000, []result.Span{span(3000, 4000)}, 100},
				{result.PhaseCapacity, 3000, 4000, nil, 5000},
				{result.PhaseOutage, 4000, 6000, nil, 2550}, {result.PhaseAfterFailover, 6000, 20000, nil, 100}},
		},
		{
			name:     "after the failover: cut out of it",
			faults:   []result.Fault{killAt(0, 1000, "primary")},
			f:        &result.Failover{OldPrimary: "primary", InjectedMs: fp(1000), FaultMs: fp(1000), FirstWriteMs: fp(2000), PromoteDoneMs: fp(1900)},
			capacity: []result.Span{span(3000, 5000)},
			want: []want{{result.PhaseBefore, 0, 1000, nil, 100}, {result.PhaseOutage, 1000, 2000, nil, 100},
				{result.PhaseAfterFailover, 2000, 20000, []result.Span{span(3000, 5000)}, 100},
				{result.PhaseCapacity, 3000, 5000, nil, 5000}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Phases(fired(tc.faults), tc.f, nil, st, nil, nil, 20*time.Second, tc.capacity)
			if len(got) != len(tc.want) {
				t.Fatalf("phases %+v, want %+v", got, tc.want)
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Kind != w.kind || g.StartMs != w.start || g.EndMs != w.end || !reflect.DeepEqual(g.Excluded, w.excluded) || g.TPS != w.tps {
					t.Errorf("phase %d = %s %v..%v excluding %v, %v TPS; want %+v", i, g.Kind, g.StartMs, g.EndMs, g.Excluded, g.TPS, w)
				}
				if len(w.excluded) > 0 && (g.P99CommitMs < 0.99 || g.P99CommitMs > 1.01) {
					t.Errorf("phase %d: p99 %v ms, want 1 ms: the closed loop's commits left out", i, g.P99CommitMs)
				}
			}
		})
	}
}
