package runner

import (
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// readerConfigs gives each node of workload.reads its reader, connected
// through the readers' links when the cluster has link proxies.
func readerConfigs(c cluster.Cluster, s *scenario.Scenario, led *workload.Ledger, start time.Time) []workload.ReaderConfig {
	r := s.Workload.Reads
	if r == nil {
		return nil
	}
	nodes, _ := clientNodes(c, scenario.ClientReaders)
	var out []workload.ReaderConfig
	for _, name := range r.Nodes {
		for _, n := range nodes {
			if n.Name != name {
				continue
			}
			out = append(out, workload.ReaderConfig{
				Node: name, DSN: cluster.MultiHost([]cluster.Node{n}) + " " + appCreds(c),
				Rate: r.Rate, Seed: s.Seed, Ledger: led, Start: start, Duration: s.Duration.D(),
			})
		}
	}
	return out
}

// readResults sums up each reader and bins its reads by second.
func readResults(reads []*workload.Reads) ([]result.Reads, []result.ReadPoint) {
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
