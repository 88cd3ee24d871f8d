package summary

import "github.com/pgbench-ha/pgbench-ha/result"

// Archive sums up the archiver's samples of a window that ended at endMs:
// the worst lag, the failures on each primary sampled, and the last file
// archived. A primary's failed_count counts from its start, so the
// initial primary's failures are its count's growth from its first
// sample; a standby promoted during the run started counting at its
// promotion, and all of its count is the window's.
func Archive(pts []result.ArchivePoint, endMs float64) *result.ArchiveSummary {
	s := &result.ArchiveSummary{Samples: len(pts), EndMs: endMs}
	first := map[string]int64{} // each node's count at its first sample
	last := map[string]int64{}
	var order []string
	for i, p := range pts {
		if _, ok := first[p.Node]; !ok {
			order = append(order, p.Node)
			first[p.Node] = p.FailedCount
			if i > 0 {
				first[p.Node] = 0
			}
		}
		if p.FailedCount > last[p.Node] {
			last[p.Node] = p.FailedCount
		}
		if p.LastFailedWAL != "" {
			s.LastFailedWAL = p.LastFailedWAL
		}
		if p.LagSegments != nil && (s.MaxLagSegments == nil || *p.LagSegments > *s.MaxLagSegments) {
			v := *p.LagSegments
			s.MaxLagSegments = &v
		}
		s.MaxLagBytes = maxOf(s.MaxLagBytes, p.LagBytes)
		s.MaxSinceArchivedMs = maxOf(s.MaxSinceArchivedMs, p.SinceArchivedMs)
	}
	for _, n := range order {
		s.Failures += max(0, last[n]-first[n])
	}
	if n := len(pts); n > 0 {
		p := pts[n-1]
		s.LastArchivedWAL = p.LastArchivedWAL
		if p.SinceArchivedMs != nil {
			at := p.Ms - *p.SinceArchivedMs
			s.LastArchivedMs = &at
		}
	}
	return s
}
