package runner

import (
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
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
