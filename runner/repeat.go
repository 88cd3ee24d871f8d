package runner

import (
	"sort"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// repetitionOf keeps the figures of one repetition of a variant.
func repetitionOf(rep int, shift time.Duration, v *result.Variant, err error) result.Repetition {
	r := result.Repetition{Index: rep + 1, ShiftMs: msOf(shift), Status: v.Status,
		TPS: v.Summary.TPS, P99CommitMs: v.Summary.CommitLatency.P99, Failover: v.Summary.Failover}
	if err != nil {
		r.Status = result.StatusFailed
		r.Error = cluster.Redact(err.Error())
	}
	if a := v.Summary.Audit; a != nil {
		r.Lost, r.Ghosts = a.Lost, a.Ghosts
	}
	return r
}

// summarizeRepetitions turns the repetitions' figures into distributions.
func summarizeRepetitions(reps []result.Repetition) *result.RepeatSummary {
	s := &result.RepeatSummary{Runs: len(reps)}
	var unavail, detect, promote, lost, tps, p99 []float64
	for _, r := range reps {
		if r.Status != result.StatusComplete {
			continue
		}
		s.Complete++
		s.LostTotal += r.Lost
		lost = append(lost, float64(r.Lost))
		tps = append(tps, r.TPS)
		p99 = append(p99, r.P99CommitMs)
		if f := r.Failover; f != nil {
			if f.WriteUnavailableMs != nil {
				unavail = append(unavail, *f.WriteUnavailableMs)
			}
			if f.DetectedMs != nil && f.FaultMs != nil {
				detect = append(detect, *f.DetectedMs-*f.FaultMs)
			}
			if f.PromoteDoneMs != nil && f.PromoteStartMs != nil {
				promote = append(promote, *f.PromoteDoneMs-*f.PromoteStartMs)
			}
		}
	}
	s.WriteUnavailableMs = distribution(unavail)
	s.DetectMs = distribution(detect)
	s.PromoteMs = distribution(promote)
	s.LostAckedWrites = distribution(lost)
	s.TPS = distribution(tps)
	s.P99CommitMs = distribution(p99)
	return s
}

// distribution is the nearest-rank summary of v.
func distribution(v []float64) result.Distribution {
	if len(v) == 0 {
		return result.Distribution{}
	}
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	q := func(p float64) float64 {
		i := int(p*float64(len(c))+0.999999) - 1
		return c[max(0, min(i, len(c)-1))]
	}
	return result.Distribution{N: len(c), Min: c[0], P50: q(0.5), P90: q(0.9), Max: c[len(c)-1]}
}
