package summary

import (
	"math"
	"sort"

	"github.com/pgbench-ha/pgbench-ha/internal/quantile"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Lags sums up each replica's lag over the window: bytes and the server's
// replay_lag from the valid replication samples (streaming, positions in
// order; the others are counted apart), end-to-end visibility from the
// visibility series, the same per-heartbeat latencies it plots.
func Lags(replicas []string, sync map[string]bool, repl []result.ReplicationPoint, vis []result.VisibilityPoint) []result.Lag {
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
		h := heartbeatsOf(r, vis, 0, math.Inf(1))
		l.VisibilitySamples = int64(len(h.latencies))
		l.MaxVisibilityMs, l.P99VisibilityMs = maxP(h.latencies, 0.99)
		_, l.P50VisibilityMs = maxP(h.latencies, 0.5)
		l.HeartbeatsLost, l.HeartbeatsUnseen = h.lost, h.unseen
		out = append(out, l)
	}
	return out
}

// heartbeats are one replica's heartbeats over a span.
type heartbeats struct {
	latencies    []float64 // ms, of those seen
	lost, unseen int64
}

// heartbeatsOf collects replica's heartbeats acknowledged in [from, to).
// A point without a state comes from a file written before heartbeats had
// ids, where every point was a latency.
func heartbeatsOf(replica string, vis []result.VisibilityPoint, from, to float64) heartbeats {
	var h heartbeats
	for _, p := range vis {
		if p.Replica != replica || p.Ms < from || p.Ms >= to {
			continue
		}
		switch p.State {
		case result.HeartbeatLost:
			h.lost++
		case result.HeartbeatUnseen:
			h.unseen++
		default:
			if p.VisibilityMs != nil {
				h.latencies = append(h.latencies, *p.VisibilityMs)
			}
		}
	}
	return h
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
