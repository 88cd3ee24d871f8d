package summary

import (
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestArchive: the worst lag of the samples; failures as each primary's
// count grew in the window (all of a promoted standby's count, which
// started at its promotion); the last file archived and when.
func TestArchive(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	pts := []result.ArchivePoint{
		{Ms: 100, Node: "primary", FailedCount: 2, LastArchivedWAL: "000000010000000000000003", SinceArchivedMs: f(900), LagSegments: i(1), LagBytes: f(1000)},
		{Ms: 200, Node: "primary", FailedCount: 5, LastFailedWAL: "000000010000000000000004", LastArchivedWAL: "000000010000000000000003",
			SinceArchivedMs: f(1000), LagSegments: i(3), LagBytes: f(40 << 20)},
		// The promoted standby: nothing archived yet, then its history file.
		{Ms: 300, Node: "replica1", FailedCount: 0},
		{Ms: 400, Node: "replica1", FailedCount: 1, LastArchivedWAL: "00000002.history", SinceArchivedMs: f(50)},
		{Ms: 500, Node: "replica1", FailedCount: 1, LastArchivedWAL: "000000020000000000000005", SinceArchivedMs: f(20), LagSegments: i(1), LagBytes: f(300)},
	}
	s := Archive(pts, 600)
	if s.Samples != 5 || s.MaxLagSegments == nil || *s.MaxLagSegments != 3 || s.MaxLagBytes == nil || *s.MaxLagBytes != 40<<20 {
		t.Errorf("lag: %+v", s)
	}
	if s.Failures != 3+1 || s.LastFailedWAL != "000000010000000000000004" {
		t.Errorf("failures %d (last %q), want 4", s.Failures, s.LastFailedWAL)
	}
	if s.MaxSinceArchivedMs == nil || *s.MaxSinceArchivedMs != 1000 {
		t.Errorf("longest without archiving: %v", s.MaxSinceArchivedMs)
	}
	if s.LastArchivedWAL != "000000020000000000000005" || s.LastArchivedMs == nil || *s.LastArchivedMs != 480 || s.EndMs != 600 {
		t.Errorf("last archived %q at %v, end %v", s.LastArchivedWAL, s.LastArchivedMs, s.EndMs)
	}
	if e := Archive(nil, 600); e.Samples != 0 || e.MaxLagBytes != nil || e.LastArchivedMs != nil || e.Failures != 0 {
		t.Errorf("no samples: %+v", e)
	}
}
