package summary

import (
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// TestDrill: each drill's figures from the ledger and the ids its server
// holds, with a target at 10–12 ms.
func TestDrill(t *testing.T) {
	t.Parallel()
	acked := func(sent, at float64) workload.Entry {
		return workload.Entry{Sent: ms(sent), At: ms(at), Outcome: workload.Acked, Writer: 0}
	}
	// ids 100..105: acked before, before, in flight, after (sent before
	// the target's end), after, failed after.
	entries := []workload.Entry{
		acked(1, 2), acked(3, 5), acked(9, 11), acked(11, 13), acked(14, 15),
		{Sent: ms(16), At: ms(17), Outcome: workload.Failed, Writer: 1},
	}
	tests := []struct {
		name    string
		kind    string
		ids     []int64
		deleted map[int64]bool
		ref     float64
		want    result.DrillResult
	}{
		{"exact pitr", scenario.DrillPITR, []int64{100, 101, 102}, nil, 10,
			result.DrillResult{Acked: 5, Absent: 2, MissingAcked: 0, BeforeTarget: 2, InFlight: 1, InFlightPresent: 1, AfterTarget: 2}},
		{"pitr missing one before the target", scenario.DrillPITR, []int64{101}, nil, 10,
			result.DrillResult{Acked: 5, Absent: 4, MissingAcked: 1, RPOMs: 8, BeforeTarget: 2, MissingBefore: 1, InFlight: 1, AfterTarget: 2}},
		{"dump: the writes after the snapshot", scenario.DrillDump, []int64{100, 101, 103}, nil, 15,
			result.DrillResult{Acked: 5, Absent: 2, MissingAcked: 2, RPOMs: 4, BeforeTarget: 2, InFlight: 1, AfterTarget: 2}},
		{"a write sent after the target present", scenario.DrillDump, []int64{100, 101, 102, 104, 105}, nil, 15,
			result.DrillResult{Acked: 5, Absent: 1, MissingAcked: 1, RPOMs: 2, BeforeTarget: 2, InFlight: 1, InFlightPresent: 1, AfterTarget: 2, PresentAfter: 2}},
		{"deleted on purpose left out", scenario.DrillArchiveStandby, []int64{101, 102}, map[int64]bool{100: true}, 15,
			result.DrillResult{Acked: 4, Absent: 2, MissingAcked: 2, RPOMs: 2, BeforeTarget: 1, InFlight: 1, InFlightPresent: 1, AfterTarget: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &result.DrillResult{Kind: tt.kind, TargetMs: 10, TargetDoneMs: 12}
			Drill(r, 100, workload.EntriesOf(entries), tt.ids, tt.deleted, tt.ref)
			got := *r
			got.MissingIDs, got.Kind, got.TargetMs, got.TargetDoneMs = nil, "", 0, 0
			if got.Acked != tt.want.Acked || got.Absent != tt.want.Absent || got.MissingAcked != tt.want.MissingAcked ||
				got.RPOMs != tt.want.RPOMs || got.BeforeTarget != tt.want.BeforeTarget || got.MissingBefore != tt.want.MissingBefore ||
				got.InFlight != tt.want.InFlight || got.InFlightPresent != tt.want.InFlightPresent || got.AfterTarget != tt.want.AfterTarget ||
				got.PresentAfter != tt.want.PresentAfter {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if int64(len(r.MissingIDs)) != r.MissingAcked {
				t.Errorf("missing ids %v for %d missing", r.MissingIDs, r.MissingAcked)
			}
		})
	}
}

// TestDrillLag: the largest lag and the last known one.
func TestDrillLag(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	r := &result.DrillResult{}
	DrillLag(r, []result.DrillLagPoint{{Ms: 1}, {Ms: 2, LagBytes: f(500), ReplayAgeMs: f(900)}, {Ms: 3, LagBytes: f(100), ReplayAgeMs: f(1200)}, {Ms: 4}})
	if *r.MaxLagBytes != 500 || *r.EndLagBytes != 100 || *r.MaxReplayAgeMs != 1200 || len(r.Lag) != 4 {
		t.Errorf("%v %v %v", *r.MaxLagBytes, *r.EndLagBytes, *r.MaxReplayAgeMs)
	}
}

// TestDrillChecks: the boundaries pass for a drill that keeps them and
// fail for one that does not.
func TestDrillChecks(t *testing.T) {
	t.Parallel()
	good := &result.Drills{
		Dump: &result.DrillResult{Kind: "dump", BeforeTarget: 10, AfterTarget: 20, MissingAcked: 21, InFlight: 1},
		PITR: &result.DrillResult{Kind: "pitr", BeforeTarget: 10, AfterTarget: 5},
	}
	for _, c := range DrillChecks(good, 4) {
		if !c.Passed {
			t.Errorf("%s failed: %s", c.Name, c.Message)
		}
	}
	if n := len(DrillChecks(good, 4)); n != 4 {
		t.Errorf("%d checks, want 4", n)
	}
	bad := &result.Drills{
		Dump:           &result.DrillResult{Kind: "dump", MissingBefore: 1, AfterTarget: 20, MissingAcked: 40, PresentAfter: 2},
		PITR:           &result.DrillResult{Kind: "pitr", PresentAfter: 1},
		ArchiveStandby: &result.DrillResult{Kind: "archive_standby", MissingAcked: 100},
	}
	for _, c := range DrillChecks(bad, 4) {
		if c.Passed {
			t.Errorf("%s passed: %s", c.Name, c.Message)
		}
	}
	if got := DrillChecks(&result.Drills{Dump: &result.DrillResult{Kind: "dump", Error: "x", MissingBefore: 3}}, 4); len(got) != 0 {
		t.Errorf("a failed drill checked: %+v", got)
	}
}

// TestThinLag: a long series keeps n points, its first and last, and its
// largest lag.
func TestThinLag(t *testing.T) {
	t.Parallel()
	var pts []result.DrillLagPoint
	for i := 0; i < 10_000; i++ {
		v := float64(i % 7)
		if i == 4_321 {
			v = 1e9
		}
		pts = append(pts, result.DrillLagPoint{Ms: float64(i), LagBytes: &v})
	}
	got := thinLag(pts, 100)
	if len(got) != 100 || got[0].Ms != 0 || got[99].Ms != 9_999 {
		t.Fatalf("%d points, %v .. %v", len(got), got[0].Ms, got[len(got)-1].Ms)
	}
	found := false
	for i, p := range got {
		found = found || *p.LagBytes == 1e9
		if i > 0 && p.Ms <= got[i-1].Ms {
			t.Errorf("not in order at %d", i)
		}
	}
	if !found {
		t.Error("the largest lag was dropped")
	}
	if short := thinLag(pts[:50], 100); len(short) != 50 {
		t.Errorf("a short series thinned to %d", len(short))
	}
}
