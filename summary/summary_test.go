package summary

import (
	"slices"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

func ms(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }

func fp(x float64) *float64 { return &x }

func ip(i int) *int { return &i }

// ack is one ledger entry: the node index that acknowledged it and when.
type ack struct {
	node int
	atMs float64
	o    workload.Outcome
}

func ledgerOf(acks ...ack) *workload.Ledger {
	l := workload.NewLedger(1)
	for i, a := range acks {
		o := a.o
		if o == 0 {
			o = workload.Acked
		}
		l.Begin(int64(i+1), 0, -1, 0)
		l.Finish(int64(i+1), o, a.node, ms(a.atMs))
	}
	return l
}

// statsOf is a workload of secs seconds with perSec acks each, every
// commit taking latMs.
func statsOf(secs int, perSec int64, latUs int64) *workload.Stats {
	st := &workload.Stats{Latency: hdrhistogram.New(1, 120_000_000, 3), SchedLag: hdrhistogram.New(1, 120_000_000, 3)}
	for i := 0; i < secs; i++ {
		h := hdrhistogram.New(1, 120_000_000, 3)
		for j := int64(0); j < perSec; j++ {
			_ = h.RecordValue(latUs)
			_ = st.Latency.RecordValue(latUs)
		}
		st.PerSecond = append(st.PerSecond, h)
		st.Acked = append(st.Acked, perSec)
		st.Failed = append(st.Failed, 0)
		st.Unknown = append(st.Unknown, 0)
	}
	return st
}

func killAt(idx int, atMs float64, target string) result.Fault {
	return result.Fault{Index: idx, Kind: "kill", Name: "kill " + target, Node: target, Targets: []string{target},
		AtMs: atMs, Outcome: result.OutcomeInjected, InjectedMs: fp(atMs)}
}

var nodes = []string{"primary", "replica1", "replica2"}

// TestAudited: of the writes the old primary acknowledged after the fault
// (ids 3, 4, 5), the one the final primary lacks (4) is counted lost.
func TestAudited(t *testing.T) {
	t.Parallel()
	in := Input{Nodes: nodes, OldPrimary: "primary", FailoverMode: "patroni",
		Ledger:   ledgerOf(ack{0, 900, 0}, ack{0, 990, 0}, ack{0, 1100, 0}, ack{0, 1200, 0}, ack{0, 1300, 0}, ack{1, 2000, 0}),
		Inserted: []workload.Inserted{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 5}, {ID: 6}}}
	f, _ := Failover(in, fired([]result.Fault{{Index: 0, Kind: "partition", Targets: []string{"primary", "etcd1"},
		Outcome: result.OutcomeInjected, InjectedMs: fp(1000)}}), nil)
	v := &result.Variant{}
	v.Summary.Failover = f
	Audited(v, in)
	if f.OldPrimaryAckedAfterLost != nil {
		t.Fatalf("lost after the fault set without an audit: %d", *f.OldPrimaryAckedAfterLost)
	}
	v.Summary.Audit = &result.Audit{FinalPrimary: "replica1"}
	Audited(v, in)
	if f.OldPrimaryAckedAfter != 3 || f.OldPrimaryAckedAfterLost == nil || *f.OldPrimaryAckedAfterLost != 1 {
		t.Errorf("acked after %d, lost %v; want 3, 1", f.OldPrimaryAckedAfter, f.OldPrimaryAckedAfterLost)
	}
}

func TestFailover(t *testing.T) {
	t.Parallel()
	promoted := []result.Event{
		{Ms: 2000, Kind: result.EventDetected, Node: "primary"},
		{Ms: 2010, Kind: result.EventPromoteStart, Node: "replica1"},
		{Ms: 2060, Kind: result.EventPromoteDone, Node: "replica1"},
		{Ms: 2070, Kind: result.EventRepoint, Node: "replica2"},
		{Ms: 2090, Kind: result.EventSyncRestored, Node: "replica1"},
	}
	for _, tc := range []struct {
		name   string
		faults []result.Fault
		acks   []ack
		events []result.Event
		check  func(t *testing.T, f *result.Failover, first *result.Event)
	}{
		{
			name:   "no fault fired: no failover",
			faults: nil,
			acks:   []ack{{0, 10, 0}},
			check: func(t *testing.T, f *result.Failover, first *result.Event) {
				if f != nil || first != nil {
					t.Errorf("Failover = %+v, %+v; want nil", f, first)
				}
			},
		},
		{
			name: "a failed injection never happened",
			faults: []result.Fault{{Index: 0, Kind: "kill", Name: "kill primary", Targets: []string{"primary"},
				Outcome: result.OutcomeFailed, InjectedMs: fp(1000), Error: "boom"}},
			acks: []ack{{0, 10, 0}, {0, 1500, 0}},
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if f != nil {
					t.Errorf("Failover = %+v for a fault that failed to inject; want nil", f)
				}
			},
		},
		{
			name:   "kill and promote: outage from the last ack before to the first after, on the new primary",
			faults: []result.Fault{killAt(0, 1000, "primary")},
			acks:   []ack{{0, 900, 0}, {0, 990, 0}, {1, 2080, 0}, {1, 2100, 0}},
			events: promoted,
			check: func(t *testing.T, f *result.Failover, first *result.Event) {
				if *f.FaultMs != 1000 || *f.LastAckBeforeMs != 990 || *f.FirstWriteMs != 2080 || *f.WriteUnavailableMs != 1090 {
					t.Errorf("fault %v last %v first %v unavailable %v", *f.FaultMs, *f.LastAckBeforeMs, *f.FirstWriteMs, *f.WriteUnavailableMs)
				}
				if *f.DetectedMs != 2000 || *f.PromoteStartMs != 2010 || *f.PromoteDoneMs != 2060 || f.NewPrimary != "replica1" {
					t.Errorf("detected %v promote %v..%v new %q", *f.DetectedMs, *f.PromoteStartMs, *f.PromoteDoneMs, f.NewPrimary)
				}
				if f.SyncRestoredMs == nil || *f.SyncRestoredMs != 2090 {
					t.Errorf("sync restored %v, want 2090", f.SyncRestoredMs)
				}
				if !slices.Equal(f.Repointed, []string{"replica2"}) || f.SplitBrain || f.DualPrimaryMs != nil {
					t.Errorf("repointed %v split %v dual %v", f.Repointed, f.SplitBrain, f.DualPrimaryMs)
				}
				if first == nil || first.Kind != result.EventFirstWrite || first.Ms != 2080 || first.Node != "replica1" {
					t.Errorf("first_write event %+v", first)
				}
			},
		},
		{
			name: "a partition the old primary outlives: the outage opens at its last ack, not at the landing",
			faults: []result.Fault{{Index: 0, Kind: "partition", Name: "partition primary | etcd1", Targets: []string{"primary", "etcd1"},
				AtMs: 1000, Outcome: result.OutcomeInjected, InjectedMs: fp(1000)}},
			// Acks on the old primary go on past the cut until 1600, a
			// 150 ms gap among them, then nothing until the new primary's
			// first at 2080.
			acks:   []ack{{0, 990, 0}, {0, 1010, 0}, {0, 1200, 0}, {0, 1350, 0}, {0, 1600, 0}, {1, 2080, 0}, {1, 2100, 0}},
			events: promoted,
			check: func(t *testing.T, f *result.Failover, first *result.Event) {
				if *f.FaultMs != 1000 || *f.LastAckBeforeMs != 990 || *f.OutageFromMs != 1600 || *f.FirstWriteMs != 2080 || *f.WriteUnavailableMs != 480 {
					t.Errorf("fault %v last before %v outage %v..%v (%v); want 1000, 990, 1600..2080 (480)",
						*f.FaultMs, *f.LastAckBeforeMs, *f.OutageFromMs, *f.FirstWriteMs, *f.WriteUnavailableMs)
				}
				if f.OldPrimaryAckedAfter != 4 {
					t.Errorf("old primary acked after the fault %d, want 4", f.OldPrimaryAckedAfter)
				}
				if first == nil || first.Ms != 2080 || first.Node != "replica1" {
					t.Errorf("first_write event %+v", first)
				}
			},
		},
		{
			name: "a split brain: the old primary acks beside the new one; the outage runs to the new one's first ack only",
			faults: []result.Fault{{Index: 0, Kind: "partition", Name: "partition", Targets: []string{"primary", "replica1"},
				AtMs: 1000, Outcome: result.OutcomeInjected, InjectedMs: fp(1000)}},
			acks:   []ack{{0, 990, 0}, {0, 1500, 0}, {1, 2080, 0}, {0, 2090, 0}, {0, 5000, 0}},
			events: promoted,
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if *f.OutageFromMs != 1500 || *f.FirstWriteMs != 2080 || *f.WriteUnavailableMs != 580 || f.OldPrimaryAckedAfter != 3 {
					t.Errorf("outage %v..%v (%v), old acked after %d; want 1500..2080 (580), 3",
						*f.OutageFromMs, *f.FirstWriteMs, *f.WriteUnavailableMs, f.OldPrimaryAckedAfter)
				}
			},
		},
		{
			name: "where the backend saw the kill land, that is when, though writes in flight went unacknowledged",
			faults: []result.Fault{func() result.Fault {
				f := killAt(0, 1000, "primary")
				f.EffectiveMs, f.LandedMs = fp(1050), fp(1032)
				return f
			}()},
			acks:   []ack{{0, 990, 0}, {0, 1030, 0}, {1, 2080, 0}},
			events: promoted,
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if *f.FaultMs != 1032 || *f.LastAckBeforeMs != 1030 || *f.WriteUnavailableMs != 1050 {
					t.Errorf("landed %v last ack %v unavailable %v; want 1032 (the freeze), 1030, 1050",
						*f.FaultMs, *f.LastAckBeforeMs, *f.WriteUnavailableMs)
				}
			},
		},
		{
			name: "the outage counts from when the kill landed: the old primary's acks while it died are not outage",
			faults: []result.Fault{func() result.Fault {
				f := killAt(0, 1000, "primary")
				f.EffectiveMs = fp(1050)
				return f
			}()},
			acks:   []ack{{0, 990, 0}, {0, 1030, 0}, {1, 2080, 0}},
			events: promoted,
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if *f.InjectedMs != 1000 || *f.FaultMs != 1030 || *f.LastAckBeforeMs != 1030 || *f.WriteUnavailableMs != 1050 {
					t.Errorf("injected %v landed %v last ack %v unavailable %v; want 1000, 1030 (the last ack while it died), 1030, 1050",
						*f.InjectedMs, *f.FaultMs, *f.LastAckBeforeMs, *f.WriteUnavailableMs)
				}
			},
		},
		{
			name: "writes resuming on the old primary end the outage too (a pause, no promotion)",
			faults: []result.Fault{{Index: 0, Kind: "pause", Name: "pause primary", Targets: []string{"primary"},
				Outcome: result.OutcomeInjected, InjectedMs: fp(1000), HealedMs: fp(3000)}},
			acks: []ack{{0, 990, 0}, {0, 3005, 0}},
			check: func(t *testing.T, f *result.Failover, first *result.Event) {
				if f.FirstWriteMs == nil || *f.FirstWriteMs != 3005 || f.FirstWriteNode != "primary" || *f.WriteUnavailableMs != 2015 {
					t.Errorf("first write %v on %q, unavailable %v; want 3005 on primary, 2015", f.FirstWriteMs, f.FirstWriteNode, f.WriteUnavailableMs)
				}
				if first == nil || first.Node != "primary" {
					t.Errorf("first_write event %+v", first)
				}
			},
		},
		{
			name: "the fault the failover answers is the first that names the old primary",
			faults: []result.Fault{
				{Index: 0, Kind: "pause", Name: "pause replica2", Targets: []string{"replica2"}, Outcome: result.OutcomeInjected, InjectedMs: fp(500), HealedMs: fp(700)},
				killAt(1, 1000, "primary"),
			},
			acks:   []ack{{0, 990, 0}, {1, 2080, 0}},
			events: promoted,
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if *f.FaultMs != 1000 {
					t.Errorf("fault at %v, want the kill of the primary at 1000", *f.FaultMs)
				}
			},
		},
		{
			name:   "old primary acking after the new one's first ack is two writable primaries",
			faults: []result.Fault{killAt(0, 1000, "primary")},
			acks:   []ack{{0, 990, 0}, {1, 2080, 0}, {0, 2500, 0}},
			events: append(append([]result.Event(nil), promoted...), result.Event{Ms: 2061, Kind: result.EventSplitBrain, Node: "primary"}),
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if f.DualPrimaryMs == nil || *f.DualPrimaryMs != 420 || *f.LastAckOldPrimaryMs != 2500 || !f.SplitBrain {
					t.Errorf("dual %v last old %v split %v", f.DualPrimaryMs, f.LastAckOldPrimaryMs, f.SplitBrain)
				}
			},
		},
		{
			name:   "every span in which the old primary was writable again, with its writes",
			faults: []result.Fault{killAt(0, 1000, "primary")},
			acks:   []ack{{0, 990, 0}, {1, 2080, 0}, {0, 2100, 0}, {0, 2600, 0}, {1, 2700, 0}, {0, 3500, 0}, {0, 4100, 0}},
			events: append(append([]result.Event(nil), promoted...),
				result.Event{Ms: 2500, Kind: result.EventSplitBrain, Node: "primary"},
				result.Event{Ms: 3000, Kind: result.EventSplitBrainEnd, Node: "primary"},
				result.Event{Ms: 4000, Kind: result.EventSplitBrain, Node: "primary"}),
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if !f.SplitBrain || len(f.SplitBrains) != 2 {
					t.Fatalf("split brains %+v", f.SplitBrains)
				}
				a, b := f.SplitBrains[0], f.SplitBrains[1]
				if a.FromMs != 2500 || a.ToMs == nil || *a.ToMs != 3000 || a.AckedWrites != 2 || a.Node != "primary" {
					t.Errorf("first span %+v, want 2500..3000 with 2 writes", a)
				}
				if b.FromMs != 4000 || b.ToMs != nil || b.AckedWrites != 2 {
					t.Errorf("second span %+v, want 4000 to the end with 2 writes", b)
				}
			},
		},
		{
			name:   "no promotion: no promotion figures, writes never resume",
			faults: []result.Fault{killAt(0, 1000, "primary")},
			acks:   []ack{{0, 990, 0}},
			events: []result.Event{{Ms: 2000, Kind: result.EventDetected}, {Ms: 2010, Kind: result.EventPromoteStart, Node: "replica1"}},
			check: func(t *testing.T, f *result.Failover, first *result.Event) {
				if f.PromoteStartMs != nil || f.PromoteDoneMs != nil || f.NewPrimary != "" || f.FirstWriteMs != nil || f.WriteUnavailableMs != nil || first != nil {
					t.Errorf("failover %+v, first %+v", f, first)
				}
			},
		},
		{
			name:   "a cascade: the promoted node fails in turn and the last replica is promoted; the headline is the first failover",
			faults: []result.Fault{killAt(0, 1000, "primary"), killAt(1, 5000, "replica1")},
			acks:   []ack{{0, 990, 0}, {1, 2080, 0}, {1, 4990, 0}, {2, 6100, 0}},
			events: append(append([]result.Event{{Ms: 1001, Kind: result.EventProbeFailed, Node: "primary"}}, promoted...),
				result.Event{Ms: 4000, Kind: result.EventProbeFailed, Node: "replica1"}, // it answered again
				result.Event{Ms: 5002, Kind: result.EventProbeFailed, Node: "replica1"},
				result.Event{Ms: 6002, Kind: result.EventDetected, Node: "replica1"},
				result.Event{Ms: 6010, Kind: result.EventPromoteStart, Node: "replica2"},
				result.Event{Ms: 6050, Kind: result.EventPromoteDone, Node: "replica2"}),
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if *f.DetectedMs != 2000 || *f.PromoteDoneMs != 2060 || f.NewPrimary != "replica1" || !slices.Equal(f.Repointed, []string{"replica2"}) {
					t.Errorf("headline detected %v promoted %v new %q repointed %v; want the first failover's", *f.DetectedMs, *f.PromoteDoneMs, f.NewPrimary, f.Repointed)
				}
				if len(f.Failovers) != 2 {
					t.Fatalf("failovers %+v, want 2", f.Failovers)
				}
				a, b := f.Failovers[0], f.Failovers[1]
				if a.OldPrimary != "primary" || a.NewPrimary != "replica1" || a.FirstFailureMs == nil || *a.FirstFailureMs != 1001 ||
					a.DetectedMs != 2000 || *a.PromoteStartMs != 2010 || *a.PromoteDoneMs != 2060 ||
					!slices.Equal(a.Repointed, []string{"replica2"}) || *a.SyncRestoredMs != 2090 || a.NoPrimary || a.Error != "" {
					t.Errorf("first failover %+v", a)
				}
				if b.OldPrimary != "replica1" || b.NewPrimary != "replica2" || b.FirstFailureMs == nil || *b.FirstFailureMs != 5002 ||
					b.DetectedMs != 6002 || *b.PromoteStartMs != 6010 || *b.PromoteDoneMs != 6050 || b.Repointed != nil || b.SyncRestoredMs != nil {
					t.Errorf("second failover %+v", b)
				}
			},
		},
		{
			name:   "a cascade with no replica left: the second failover says so, with its error",
			faults: []result.Fault{killAt(0, 1000, "primary"), killAt(1, 5000, "replica1")},
			acks:   []ack{{0, 990, 0}, {1, 2080, 0}},
			events: append(append([]result.Event(nil), promoted...),
				result.Event{Ms: 5002, Kind: result.EventProbeFailed, Node: "replica1"},
				result.Event{Ms: 5100, Kind: result.EventError, Node: "replica2", Detail: "repoint replica2: refused"},
				result.Event{Ms: 6002, Kind: result.EventDetected, Node: "replica1"},
				result.Event{Ms: 6003, Kind: result.EventError, Node: "replica1", Detail: "failover: no replica reachable to promote (tried replica2)"},
				result.Event{Ms: 6004, Kind: result.EventNoPrimary, Node: "replica1"}),
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if len(f.Failovers) != 2 {
					t.Fatalf("failovers %+v, want 2", f.Failovers)
				}
				b := f.Failovers[1]
				if b.OldPrimary != "replica1" || b.NewPrimary != "" || b.PromoteStartMs != nil || b.PromoteDoneMs != nil ||
					!b.NoPrimary || b.Error != "no replica reachable to promote (tried replica2)" {
					t.Errorf("second failover %+v", b)
				}
				if f.NewPrimary != "replica1" {
					t.Errorf("headline new primary %q, want replica1", f.NewPrimary)
				}
			},
		},
		{
			name:   "split brains of two demoted primaries: each span ends by its own node and counts its own writes",
			faults: []result.Fault{killAt(0, 1000, "primary"), killAt(1, 5000, "replica1")},
			acks:   []ack{{0, 990, 0}, {1, 2080, 0}, {0, 2200, 0}, {2, 6100, 0}, {1, 6200, 0}, {0, 6300, 0}},
			events: append(append([]result.Event(nil), promoted...),
				result.Event{Ms: 2100, Kind: result.EventSplitBrain, Node: "primary"},
				result.Event{Ms: 6002, Kind: result.EventDetected, Node: "replica1"},
				result.Event{Ms: 6010, Kind: result.EventPromoteStart, Node: "replica2"},
				result.Event{Ms: 6050, Kind: result.EventPromoteDone, Node: "replica2"},
				result.Event{Ms: 6060, Kind: result.EventSplitBrain, Node: "replica1"},
				result.Event{Ms: 6250, Kind: result.EventSplitBrainEnd, Node: "replica1"}),
			check: func(t *testing.T, f *result.Failover, _ *result.Event) {
				if len(f.SplitBrains) != 2 {
					t.Fatalf("split brains %+v", f.SplitBrains)
				}
				a, b := f.SplitBrains[0], f.SplitBrains[1]
				if a.Node != "primary" || a.ToMs != nil || a.AckedWrites != 2 {
					t.Errorf("primary's span %+v, want open, with 2 writes (2200, 6300)", a)
				}
				if b.Node != "replica1" || b.ToMs == nil || *b.ToMs != 6250 || b.AckedWrites != 1 {
					t.Errorf("replica1's span %+v, want to 6250 with 1 write (6200)", b)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := Input{Nodes: nodes, OldPrimary: "primary", FailoverMode: "promote", Ledger: ledgerOf(tc.acks...)}
			f, first := Failover(in, fired(tc.faults), tc.events)
			tc.check(t, f, first)
		})
	}
}

func TestPhases(t *testing.T) {
	t.Parallel()
	st := statsOf(10, 100, 1000)
	type want struct {
		name, kind string
		start, end float64
		fault      *int
	}
	for _, tc := range []struct {
		name   string
		faults []result.Fault
		want   []want
	}{
		{"no fault: the whole run", nil, []want{{"whole run", result.PhaseWhole, 0, 10000, nil}}},
		{
			name:   "a healed fault: before, during, after",
			faults: []result.Fault{{Index: 0, Name: "pause replica1", Outcome: result.OutcomeInjected, InjectedMs: fp(3000), HealedMs: fp(5000)}},
			want: []want{{"before", result.PhaseBefore, 0, 3000, nil}, {"during: pause replica1", result.PhaseDuring, 3000, 5000, ip(0)},
				{"after", result.PhaseAfter, 5000, 10000, nil}},
		},
		{
			name:   "a fault never healed lasts to the end: no after",
			faults: []result.Fault{killAt(0, 4000, "primary")},
			want:   []want{{"before", result.PhaseBefore, 0, 4000, nil}, {"during: kill primary", result.PhaseDuring, 4000, 10000, ip(0)}},
		},
		{
			name: "a fault whose injection failed gets no phase",
			faults: []result.Fault{
				{Index: 0, Name: "pause replica9", Outcome: result.OutcomeFailed, InjectedMs: fp(2000), Error: "no node"},
				{Index: 1, Name: "pause replica1", Outcome: result.OutcomeInjected, InjectedMs: fp(3000), HealedMs: fp(5000)},
			},
			want: []want{{"before", result.PhaseBefore, 0, 3000, nil}, {"during: pause replica1", result.PhaseDuring, 3000, 5000, ip(1)},
				{"after", result.PhaseAfter, 5000, 10000, nil}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Phases(fired(tc.faults), nil, nil, st, nil, nil, 10*time.Second, nil)
			if len(got) != len(tc.want) {
				t.Fatalf("phases %+v, want %d", got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Name != w.name || g.Kind != w.kind || g.StartMs != w.start || g.EndMs != w.end || (g.Fault == nil) != (w.fault == nil) ||
					(g.Fault != nil && *g.Fault != *w.fault) {
					t.Errorf("phase %d = %s %s %v..%v fault %v; want %+v", i, g.Name, g.Kind, g.StartMs, g.EndMs, g.Fault, w)
				}
				if g.TPS != 100 || g.P50CommitMs != 1 {
					t.Errorf("phase %d: tps %v p50 %v, want 100 and 1 ms", i, g.TPS, g.P50CommitMs)
				}
			}
		})
	}
}

func TestCatchUps(t *testing.T) {
	t.Parallel()
	repl := []result.ReplicationPoint{
		{Ms: 4900, Replica: "replica1", ReplayBytes: 5 << 20},
		{Ms: 5100, Replica: "replica1", ReplayBytes: 2 << 20},
		{Ms: 5300, Replica: "replica1", ReplayBytes: 1000},
		{Ms: 5100, Replica: "replica2", ReplayBytes: 10},
	}
	vis := []result.VisibilityPoint{{Ms: 5100, Replica: "replica1", State: result.HeartbeatNotAcked}, {Ms: 5200, Replica: "replica1", VisibilityMs: fp(500)},
		{Ms: 5300, Replica: "replica1", State: result.HeartbeatLost}, {Ms: 5400, Replica: "replica1", VisibilityMs: fp(3)}}
	pause := result.Fault{Index: 2, Name: "pause replica1", Targets: []string{"replica1"}, Outcome: result.OutcomeInjected,
		InjectedMs: fp(3000), HealedMs: fp(5000)}
	got := CatchUps([]result.Fault{pause, killAt(0, 1000, "primary")}, []string{"replica1", "replica2"}, repl, vis)
	if len(got) != 1 {
		t.Fatalf("catch-ups %+v: want one, for the healed pause of replica1 only", got)
	}
	c := got[0]
	if c.Replica != "replica1" || *c.FaultIndex != 2 || c.Fault != "pause replica1" || *c.BytesMs != 300 || *c.VisibilityMs != 400 {
		t.Errorf("catch-up %+v (bytes %v vis %v)", c, *c.BytesMs, *c.VisibilityMs)
	}
	// A healed fault that names no replica concerns every replica.
	prim := result.Fault{Index: 0, Name: "pause primary", Targets: []string{"primary"}, Outcome: result.OutcomeInjected, InjectedMs: fp(3000), HealedMs: fp(5000)}
	if got := CatchUps([]result.Fault{prim}, []string{"replica1", "replica2"}, repl, vis); len(got) != 2 {
		t.Errorf("catch-ups of a primary fault: %+v, want both replicas", got)
	}
}

func TestLags(t *testing.T) {
	t.Parallel()
	var repl []result.ReplicationPoint
	for i := 1; i <= 100; i++ {
		repl = append(repl, result.ReplicationPoint{Ms: float64(i), Replica: "replica1", State: "streaming", ReplayBytes: float64(i),
			FlushBytes: float64(i) / 2, WriteBytes: float64(i) / 2, SentBytes: float64(i) / 2, ReplayLagMs: fp(float64(i) / 10)})
	}
	// A re-attach after a promotion: the standby catches up from a
	// segment's start, and reports a sent position beyond its replay one.
	// Neither is lag under load.
	repl = append(repl,
		result.ReplicationPoint{Ms: 101, Replica: "replica1", State: "catchup", ReplayBytes: 9 << 20},
		result.ReplicationPoint{Ms: 102, Replica: "replica1", State: "streaming", SentBytes: 8 << 20, ReplayBytes: 10})
	var vis []result.VisibilityPoint
	for i, v := range []float64{3, 1, 2, 4} {
		vis = append(vis, result.VisibilityPoint{Ms: float64(i * 100), Replica: "replica1", Heartbeat: int64(i + 1), VisibilityMs: fp(v), State: result.HeartbeatVisible})
	}
	got := Lags([]string{"replica1", "replica2"}, map[string]bool{"replica1": true}, repl, vis)
	if len(got) != 2 {
		t.Fatalf("lags %+v", got)
	}
	l := got[0]
	if !l.Sync || l.MaxReplayLagBytes != 100 || l.P99ReplayLagBytes != 99 || l.MaxSentLagBytes != 50 || l.MaxReplayLagMs != 10 ||
		l.ReplicationSamples != 102 || l.InvalidSamples != 2 || l.MaxVisibilityMs != 4 || l.P50VisibilityMs != 2 || l.VisibilitySamples != 4 {
		t.Errorf("replica1 %+v", l)
	}
	if r2 := got[1]; r2.Sync || r2.ReplicationSamples != 0 || r2.MaxReplayLagBytes != 0 {
		t.Errorf("replica2 (no samples) %+v", r2)
	}
}

func TestThroughputAndTPS(t *testing.T) {
	t.Parallel()
	st := statsOf(5, 10, 500)
	st.Acked[3], st.Acked[4] = 0, 0 // nothing after second 2: trimmed
	got := Throughput(st, 10*time.Second)
	if len(got) != 3 || got[2].Acked != 10 || got[0].P50Ms != 0.5 {
		t.Errorf("throughput %+v", got)
	}
	if got := TPS(1500, 30*time.Second); got != 50 {
		t.Errorf("TPS = %v, want 50", got)
	}
	if got := TPS(10, 0); got != 0 {
		t.Errorf("TPS of an empty window = %v", got)
	}
}

// TestFill: the whole variant from raw measurements, without a cluster.
func TestFill(t *testing.T) {
	t.Parallel()
	led := ledgerOf(ack{0, 500, 0}, ack{0, 990, 0}, ack{0, 995, workload.Unknown}, ack{1, 2080, 0}, ack{1, 2100, workload.Failed})
	var v result.Variant
	Fill(&v, Input{
		Duration: 3 * time.Second, Grace: time.Second, TargetRateTPS: 2, OldPrimary: "primary", Nodes: nodes,
		Replicas: []string{"replica1", "replica2"}, Sync: map[string]bool{"replica1": true}, FailoverMode: "promote",
		Stats: withNotSent(statsOf(3, 1, 800), 7), Ledger: led, Faults: []result.Fault{killAt(0, 1000, "primary")},
		Events: []result.Event{{Ms: 2060, Kind: result.EventPromoteDone, Node: "replica1"}, {Ms: 0, Kind: result.EventPhase},
			{Ms: 2000, Kind: result.EventDetected, Node: "primary"}},
	})
	s := v.Summary
	if s.Acked != 3 || s.Unknown != 1 || s.Failed != 1 || s.Attempted != 5 || s.TPS != 1 || s.TargetRateTPS != 2 || s.NotSent != 7 {
		t.Errorf("summary %+v", s)
	}
	if len(v.Faults) != 1 || s.Failover == nil || *s.Failover.WriteUnavailableMs != 1090 {
		t.Errorf("faults %+v failover %+v", v.Faults, s.Failover)
	}
	var kinds []string
	for _, e := range v.Events {
		kinds = append(kinds, e.Kind)
	}
	if want := []string{result.EventPhase, result.EventDetected, result.EventPromoteDone, result.EventFirstWrite}; !slices.Equal(kinds, want) {
		t.Errorf("events %v, want %v (sorted, with first_write)", kinds, want)
	}
	var phases []string
	for _, p := range v.Phases {
		phases = append(phases, p.Kind)
	}
	// The failover is a boundary: Phases reads the failover Fill made.
	if want := []string{result.PhaseBefore, result.PhaseOutage, result.PhaseAfterFailover}; !slices.Equal(phases, want) {
		t.Errorf("phase kinds %v, want %v", phases, want)
	}
	if v.Histogram == nil || len(v.Series.Throughput) != 3 || v.Series.Reads == nil {
		t.Errorf("histogram %v throughput %+v", v.Histogram, v.Series.Throughput)
	}
}

func withNotSent(st *workload.Stats, n int64) *workload.Stats { st.NotSent = n; return st }

// TestTPSInsideTheWindow: writes acknowledged in the grace after the
// window are the backlog draining, not throughput. Counting them made
// every variant report exactly the offered load, whatever the outage.
func TestTPSInsideTheWindow(t *testing.T) {
	t.Parallel()
	var acks []ack
	for i := 0; i < 20; i++ {
		acks = append(acks, ack{0, float64(i) * 100, 0}) // 20 in the first 2 s
	}
	for i := 0; i < 10; i++ {
		acks = append(acks, ack{1, 2000 + float64(i)*50, 0}) // 10 in the grace
	}
	var v result.Variant
	Fill(&v, Input{Duration: 2 * time.Second, Grace: time.Second, Nodes: nodes, OldPrimary: "primary",
		Stats: statsOf(3, 10, 500), Ledger: ledgerOf(acks...)})
	if v.Summary.TPS != 10 || v.Summary.Acked != 30 {
		t.Errorf("tps %v over %d acked, want 10 (20 acks inside a 2 s window; the grace's 10 are not throughput)", v.Summary.TPS, v.Summary.Acked)
	}
}

// TestChecks: each self-check passes on figures that agree and fails on
// figures that do not, so a broken count cannot hide.
func TestChecks(t *testing.T) {
	t.Parallel()
	consistent := func() (*workload.Stats, *workload.Ledger) {
		st := statsOf(2, 2, 700) // 4 acks by second and in the histogram
		st.Scheduled, st.Skipped, st.NotSent = 7, 1, 1
		led := ledgerOf(ack{0, 100, 0}, ack{0, 200, 0}, ack{0, 1100, 0}, ack{0, 1200, 0}, ack{0, 1300, workload.Unknown})
		return st, led
	}
	audit := &result.Audit{FinalPrimary: "primary", Acked: 4, Lost: 1, UnknownFound: 1, Ghosts: 0,
		Nodes: []result.NodeAudit{{Node: "primary", Rows: 4}}}
	for _, tc := range []struct {
		name   string
		break_ func(st *workload.Stats, led *workload.Ledger, a *result.Audit)
		failed []string
	}{
		{name: "all agree"},
		{"a write scheduled and never accounted for", func(st *workload.Stats, _ *workload.Ledger, _ *result.Audit) { st.Scheduled++ }, []string{"writes conserved"}},
		{"an ack counted by second but not in the histogram, nor in the ledger", func(st *workload.Stats, _ *workload.Ledger, _ *result.Audit) { st.Acked[1]++ },
			[]string{"acks per second sum to the latency histogram", "the ledger agrees with the writers' counts"}},
		{"an ack the writers did not count", func(_ *workload.Stats, led *workload.Ledger, _ *result.Audit) {
			led.Finish(5, workload.Acked, 0, ms(1300))
		}, []string{"the ledger agrees with the writers' counts"}},
		{"a row on the final primary nobody accounts for", func(_ *workload.Stats, _ *workload.Ledger, a *result.Audit) { a.Nodes[0].Rows++ },
			[]string{"rows on the final primary"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, led := consistent()
			a := *audit
			a.Nodes = append([]result.NodeAudit(nil), audit.Nodes...)
			if tc.break_ != nil {
				tc.break_(st, led, &a)
			}
			v := &result.Variant{Summary: result.Summary{Audit: &a}}
			checks := Checks(v, Input{Stats: st, Ledger: led})
			if len(checks) != 4 {
				t.Fatalf("%d checks, want 4: %+v", len(checks), checks)
			}
			for _, c := range checks {
				if want := !slices.Contains(tc.failed, c.Name); c.Passed != want {
					t.Errorf("%s: passed %v, want %v (%s)", c.Name, c.Passed, want, c.Message)
				}
			}
		})
	}
}

// outageVariant is a failover whose fault landed at 300 ms: the old
// primary acknowledged writes 1-100 every 3 ms up to 300 ms, the new one
// writes 101-102 at 800 and 900 ms; each was sent 1.5 ms before its ack
// and inserted 0.2 ms after its send.
func outageVariant() (*result.Variant, Input) {
	led := workload.NewLedger(1)
	var ins []workload.Inserted
	add := func(node int, ack float64) {
		id := led.Len() + 1
		led.Begin(id, 0, -1, ms(ack-1.5))
		led.Finish(id, workload.Acked, node, ms(ack))
		ins = append(ins, workload.Inserted{ID: id, At: ms(ack - 1.3)})
	}
	for i := 1; i <= 100; i++ {
		add(0, float64(3*i))
	}
	add(1, 800)
	add(1, 900)
	v := &result.Variant{
		Faults: []result.Fault{{Index: 0, Kind: "kill", Targets: []string{"primary"}, InjectedMs: fp(290), EffectiveMs: fp(310)}},
		Events: []result.Event{{Ms: 305, Kind: result.EventProbeFailed, Node: "primary"}},
		Summary: result.Summary{
			Failover: &result.Failover{OldPrimary: "primary", InjectedMs: fp(290), FaultMs: fp(300), LastAckBeforeMs: fp(300),
				FirstWriteMs: fp(800), WriteUnavailableMs: fp(500)},
			Audit: &result.Audit{FinalPrimary: "replica1"},
		},
	}
	return v, Input{Ledger: led, Inserted: ins, ProbeInterval: 10 * time.Millisecond, Nodes: []string{"primary", "replica1"}}
}

func TestServerClockAndProbeChecks(t *testing.T) {
	t.Parallel()
	const (
		outage  = "write outage: ledger against the server's clock"
		landing = "fault landed: against the first failed probe"
		bracket = "insert times lie between send and ack"
	)
	for _, tc := range []struct {
		name   string
		change func(v *result.Variant, in *Input)
		want   map[string]bool // check name -> passed; absent: not made
	}{
		{"ledger, server and probe agree", nil, map[string]bool{outage: true, landing: true, bracket: true}},
		{"a write the ledger says failed was inserted in the outage", func(v *result.Variant, in *Input) {
			in.Ledger.Begin(103, 0, -1, ms(549))
			in.Ledger.Finish(103, workload.Failed, 0, ms(560))
			in.Inserted = append(in.Inserted, workload.Inserted{ID: 103, At: ms(549.2)})
		}, map[string]bool{outage: false, landing: true, bracket: true}},
		{"the first write after the fault was inserted after its ack", func(_ *result.Variant, in *Input) {
			in.Inserted[100].At = ms(850)
		}, map[string]bool{outage: true, landing: true, bracket: false}},
		{"a row of the run in the outage that the ledger never sent", func(_ *result.Variant, in *Input) {
			in.Inserted = append(in.Inserted, workload.Inserted{ID: 103, At: ms(600)})
		}, map[string]bool{outage: false, landing: true, bracket: true}},
		{"a write in flight as the old primary died, sent after the landing, that the new primary holds", func(_ *result.Variant, in *Input) {
			// A slow write before the landing, then one in flight after
			// it: the outage is not the few ms between them.
			in.Ledger.Begin(103, 0, -1, ms(298))
			in.Ledger.Finish(103, workload.Acked, 0, ms(301.6))
			in.Ledger.Begin(104, 0, -1, ms(304))
			in.Ledger.Finish(104, workload.Unknown, 0, ms(320))
			in.Inserted = append(in.Inserted, workload.Inserted{ID: 103, At: ms(301.5)}, workload.Inserted{ID: 104, At: ms(304.2)})
		}, map[string]bool{outage: true, landing: true, bracket: true}},
		{"the new primary's first write committed as its connection broke", func(_ *result.Variant, in *Input) {
			// Sent to replica1 at 790, outcome unknown, present: the
			// outage ends there, not at the first acknowledged write.
			in.Ledger.Begin(103, 0, -1, ms(790))
			in.Ledger.Finish(103, workload.Unknown, 1, ms(795))
			in.Inserted = append(in.Inserted, workload.Inserted{ID: 103, At: ms(790.3)})
		}, map[string]bool{outage: true, landing: true, bracket: true}},
		{"a row inserted before its write was sent", func(_ *result.Variant, in *Input) {
			in.Inserted[1].At = ms(150)
		}, map[string]bool{outage: true, landing: true, bracket: false}},
		{"the acknowledged writes lost at the start are not the server's gap", func(_ *result.Variant, in *Input) {
			in.Inserted = slices.Delete(in.Inserted, 95, 100) // writes 96-100, acked up to 300 ms, lost
		}, map[string]bool{outage: true, landing: true, bracket: true}},
		{"the probe failed long before the fault landed", func(v *result.Variant, _ *Input) {
			v.Events[0].Ms = 100
		}, map[string]bool{outage: true, landing: false, bracket: true}},
		{"a probe timed out long before the fault, then the fault's failures", func(v *result.Variant, _ *Input) {
			v.Events = append([]result.Event{{Ms: 100, Kind: result.EventProbeFailed, Node: "primary"}}, v.Events...)
		}, map[string]bool{outage: true, landing: true, bracket: true}},
		{"the same, the streak that led to the detection", func(v *result.Variant, _ *Input) {
			v.Events = append([]result.Event{{Ms: 100, Kind: result.EventProbeFailed, Node: "primary"}}, v.Events...)
			v.Events = append(v.Events, result.Event{Ms: 900, Kind: result.EventProbeFailed, Node: "primary"})
			v.Summary.Failover.DetectedMs = fp(405)
		}, map[string]bool{outage: true, landing: true, bracket: true}},
		{"the streak that led to the detection started long before the fault", func(v *result.Variant, _ *Input) {
			v.Events[0].Ms = 100
			v.Summary.Failover.DetectedMs = fp(405)
		}, map[string]bool{outage: true, landing: false, bracket: true}},
		{"the probe failed long after the fault landed", func(v *result.Variant, _ *Input) {
			v.Events[0].Ms = 400
		}, map[string]bool{outage: true, landing: false, bracket: true}},
		{"the probe failed 60 ms after the fault landed, the prober held up as long", func(v *result.Variant, _ *Input) {
			v.Events[0].Ms, v.Events[0].PrevProbeMs = 360, fp(295)
		}, map[string]bool{outage: true, landing: true, bracket: true}},
		{"the probe failed 60 ms after the fault landed, the prober on time", func(v *result.Variant, _ *Input) {
			v.Events[0].Ms, v.Events[0].PrevProbeMs = 360, fp(350)
		}, map[string]bool{outage: true, landing: false, bracket: true}},
		{"a fault that cannot tell when it took effect", func(v *result.Variant, _ *Input) {
			v.Faults[0].EffectiveMs = nil
		}, map[string]bool{outage: true, bracket: true}},
		{"an outage too short to tell from the arrivals", func(v *result.Variant, _ *Input) {
			v.Summary.Failover.WriteUnavailableMs = fp(5)
		}, map[string]bool{landing: true, bracket: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, in := outageVariant()
			if tc.change != nil {
				tc.change(v, &in)
			}
			in.Stats = statsOf(1, 0, 1)
			got := map[string]bool{}
			for _, c := range Checks(v, in) {
				if c.Name == outage || c.Name == landing || c.Name == bracket {
					got[c.Name] = c.Passed
					t.Log(c.Message)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("checks %v, want %v", got, tc.want)
			}
			for name, want := range tc.want {
				if p, ok := got[name]; !ok || p != want {
					t.Errorf("%s: made %v passed %v, want passed %v", name, ok, p, want)
				}
			}
		})
	}
}

// TestWALCheck: each node's lost writes against the order rows its WAL
// holds past the final primary's switch point.
func TestWALCheck(t *testing.T) {
	t.Parallel()
	beyond := []result.WALBeyond{{Node: "primary", Timeline: 1, FromLSN: "0/3000000", OrderInserts: 5, Commits: 6},
		{Node: "replica1", Timeline: 2, FromLSN: "0/4000000", OrderInserts: 2000, Commits: 2010}}
	for _, tc := range []struct {
		name   string
		level  string
		lost   map[string]int64
		beyond []result.WALBeyond
		made   bool
		passed bool
	}{
		{"each node's lost writes are in its WAL", "local", map[string]int64{"primary": 5, "replica1": 1990}, beyond, true, true},
		{"more lost than the WAL holds", "on", map[string]int64{"primary": 6}, beyond, true, false},
		{"lost writes on the second old primary, its WAL not read", "on", map[string]int64{"replica1": 3}, beyond[:1], true, false},
		{"under off an ack may never reach the WAL", "off", map[string]int64{"primary": 9}, beyond, false, false},
		{"no WAL read", "on", nil, nil, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &result.Variant{Topology: result.Topology{Settings: map[string]string{"synchronous_commit": tc.level}},
				Summary: result.Summary{Audit: &result.Audit{FinalPrimary: "replica2", LostByNode: tc.lost, WALBeyond: tc.beyond}}}
			c, ok := walCheck(v)
			if ok != tc.made || (ok && c.Passed != tc.passed) {
				t.Errorf("made %v passed %v, want %v %v: %s", ok, c.Passed, tc.made, tc.passed, c.Message)
			}
		})
	}
}

// TestFillCapacity: a closed-loop burst gives the variant's capacity, and
// the headline TPS and commit latency are the schedule's writes'. Blended,
// every variant's TPS rose by its capacity times the burst's share of the
// window, and its latency took the closed loop's; counted by the time of
// the ack, a backlog of the schedule drained in the burst went missing
// from the TPS.
func TestFillCapacity(t *testing.T) {
	t.Parallel()
	led := workload.NewLedger(1)
	id := int64(1)
	write := func(o workload.Outcome, sched, sent, at float64) {
		s := ms(sched)
		if sched < 0 {
			s = -1
		}
		led.Begin(id, 0, s, ms(sent))
		led.Finish(id, o, 0, ms(at))
		id++
	}
	// Paced: 10 a second over 4 s outside the burst, 2 ms each, but the
	// last before the burst waits for it: a backlog.
	for i := 0; i < 40; i++ {
		at := float64(i) * 100
		if at >= 1000 {
			at += 2000 // the burst is 1..3 s
		}
		if at == 900 {
			write(workload.Acked, at, 1500, 1502)
			continue
		}
		write(workload.Acked, at, at, at+2)
	}
	// The burst: 1000 acks over 2 s, 0.5 ms each, and one unknown.
	for i := 0; i < 1000; i++ {
		at := 1000 + float64(i)*2
		write(workload.Acked, -1, at, at+0.5)
	}
	write(workload.Unknown, -1, 2999, 2999.5)
	var v result.Variant
	Fill(&v, Input{Duration: 6 * time.Second, Nodes: nodes, OldPrimary: "primary", Writers: 8,
		Stats: statsOf(7, 10, 2000), Ledger: led, Capacity: []result.Span{{StartMs: 1000, EndMs: 3000}}})
	c := v.Summary.Capacity
	if c == nil {
		t.Fatal("no capacity")
	}
	if c.StartMs != 1000 || c.EndMs != 3000 || c.DurationMs != 2000 || c.Writers != 8 || c.Acked != 1001 || c.Errors != 1 || c.TPS != 500.5 {
		t.Errorf("capacity %+v, want 1001 acks (the backlog's one too) and 1 error in 2 s: 500.5 TPS", c)
	}
	if p := c.CommitLatency.P99; p < 0.49 || p > 0.51 {
		t.Errorf("capacity p99 %v ms, want 0.5", p)
	}
	if s := v.Summary; s.TPS != 10 || s.CommitLatency.N != 40 || s.CommitLatency.P50 < 1.99 || s.CommitLatency.P50 > 2.01 {
		t.Errorf("headline %v TPS, commit %+v; want the schedule's 40 writes in 4 s at 2 ms", s.TPS, s.CommitLatency)
	}
	var kinds []string
	for _, p := range v.Phases {
		kinds = append(kinds, p.Kind)
	}
	if want := []string{result.PhaseWhole, result.PhaseCapacity}; !slices.Equal(kinds, want) {
		t.Errorf("phase kinds %v, want %v", kinds, want)
	}
	var none result.Variant
	Fill(&none, Input{Duration: 6 * time.Second, Nodes: nodes, OldPrimary: "primary", Stats: statsOf(7, 10, 2000), Ledger: led})
	if none.Summary.Capacity != nil || none.Summary.CommitLatency.N != 70 {
		t.Errorf("without a burst: capacity %+v, commit latency over %d writes, want none and the writers' 70", none.Summary.Capacity, none.Summary.CommitLatency.N)
	}
}
