package summary

import (
	"sort"

	"github.com/pgbench-ha/pgbench-ha/internal/quantile"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Lags sums up each replica's lag over the window: bytes and the server's
// replay_lag from the valid replication samples (streaming, positions in
// order; the others are counted apart), end-to-end visibility from the
// heartbeat latencies.
func Lags(replicas []string, sync map[string]bool, repl []result.ReplicationPoint, latencies map[string][]float64) []result.Lag {
	var out []result.Lag
	for _, r := range replicas {
		l := result.Lag{Replica: r, Sync: sync[r]}
		var replay, replayMs []float64
		for _, p := range repl {
			if p.Replica != r {
				continue
			}
			l.ReplicationSamples++
			if !p.Valid() {
				l.InvalidSamples++
				continue
			}
			replay = append(replay, p.ReplayBytes)
			if p.SentBytes > l.MaxSentLagBytes {
				l.MaxSentLagBytes = p.SentBytes
			}
			if p.ReplayLagMs != nil {
				replayMs = append(replayMs, *p.ReplayLagMs)
			}
		}
		l.MaxReplayLagBytes, l.P99ReplayLagBytes = maxP(replay, 0.99)
		l.MaxReplayLagMs, l.P99ReplayLagMs = maxP(replayMs, 0.99)
		vis := latencies[r]
		l.VisibilitySamples = int64(len(vis))
		l.MaxVisibilityMs, l.P99VisibilityMs = maxP(vis, 0.99)
		_, l.P50VisibilityMs = maxP(vis, 0.5)
		out = append(out, l)
	}
	return out
}

// maxP returns the maximum and the nearest-rank q-quantile of v.
func maxP(v []float64, q float64) (hi, p float64) {
	if len(v) == 0 {
		return 0, 0
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return c[len(c)-1], quantile.NearestRank(c, q)
}
