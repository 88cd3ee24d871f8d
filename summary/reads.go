package summary

import (
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Reads sums up each reader and bins its reads by second.
func Reads(reads []*workload.Reads) ([]result.Reads, []result.ReadPoint) {
	sums := []result.Reads{}
	points := []result.ReadPoint{}
	for _, rs := range reads {
		if rs == nil {
			continue
		}
		s := rs.Summarize()
		rr := result.Reads{Node: s.Node, Reads: s.Reads, Stale: s.Stale, Errors: s.Errors,
			StaleP50Ms: s.StaleP50Ms, StaleP99Ms: s.StaleP99Ms, StaleMaxMs: s.StaleMaxMs,
			StaleMaxOrders: s.StaleMaxOrders, UnavailableMs: s.UnavailableMs}
		if answered := s.Reads - s.Errors; answered > 0 {
			rr.StaleRate = float64(s.Stale) / float64(answered)
		}
		sums = append(sums, rr)
		var bins []result.ReadPoint
		for _, r := range rs.Reads {
			sec := int(r.At / time.Second)
			for len(bins) <= sec {
				bins = append(bins, result.ReadPoint{Second: len(bins), Node: rs.Node})
			}
			b := &bins[sec]
			b.Reads++
			switch {
			case !r.OK:
				b.Errors++
			case r.Stale:
				b.Stale++
				if r.StaleMs > b.MaxStaleMs {
					b.MaxStaleMs = r.StaleMs
				}
			}
		}
		points = append(points, bins...)
	}
	return sums, points
}
