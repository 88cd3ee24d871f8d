package runner

import (
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// repetitionOf keeps the figures of one repetition of a variant.
func repetitionOf(rep int, shift time.Duration, v *result.Variant, err error) result.Repetition {
	r := result.Repetition{Index: rep + 1, ShiftMs: float64(shift.Microseconds()) / 1000, Status: v.Status,
		TPS: v.Summary.TPS, P99CommitMs: v.Summary.CommitLatency.P99, Failover: v.Summary.Failover}
	if err != nil {
		r.Status = result.StatusFailed
		r.Error = cluster.Redact(err.Error())
	}
	if a := v.Summary.Audit; a != nil {
		r.Lost, r.Ghosts = a.Lost, a.Ghosts
	}
	if c := v.Summary.Capacity; c != nil {
		tps := c.TPS
		r.CapacityTPS = &tps
	}
	return r
}
