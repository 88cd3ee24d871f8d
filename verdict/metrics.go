package verdict

import (
	"github.com/pgbench-ha/pgbench-ha/metric"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// extractors computes each metric of metric.Defs from a variant; ok is
// false when the variant did not measure it. The order and names match
// metric.Defs (a test checks).
var extractors = []struct {
	name string
	fn   func(v *result.Variant) (float64, bool)
}{
	{"tps", func(v *result.Variant) (float64, bool) { return v.Summary.TPS, true }},
	{"capacity_tps", func(v *result.Variant) (float64, bool) {
		c := v.Summary.Capacity
		if c == nil {
			return 0, false
		}
		return c.TPS, true
	}},
	{"p50_commit_ms", latency(func(l result.Latency) float64 { return l.P50 })},
	{"p90_commit_ms", latency(func(l result.Latency) float64 { return l.P90 })},
	{"p99_commit_ms", latency(func(l result.Latency) float64 { return l.P99 })},
	{"p999_commit_ms", latency(func(l result.Latency) float64 { return l.P999 })},
	{"max_commit_ms", latency(func(l result.Latency) float64 { return l.Max })},
	{"schedule_lag_p99_ms", func(v *result.Variant) (float64, bool) { return v.Summary.ScheduleLagP99, true }},
	{"failed_writes", func(v *result.Variant) (float64, bool) { return float64(v.Summary.Failed), true }},
	{"unknown_writes", func(v *result.Variant) (float64, bool) { return float64(v.Summary.Unknown), true }},
	{"skipped_writes", func(v *result.Variant) (float64, bool) { return float64(v.Summary.Skipped), true }},
	{"not_sent_writes", func(v *result.Variant) (float64, bool) { return float64(v.Summary.NotSent), true }},
	{"lost_acked_writes", audit(func(a *result.Audit) float64 { return float64(a.Lost) })},
	{"ghost_writes", audit(func(a *result.Audit) float64 { return float64(a.Ghosts) })},
	{"write_unavailable_ms", func(v *result.Variant) (float64, bool) {
		f := v.Summary.Failover
		if f == nil || f.WriteUnavailableMs == nil {
			return 0, false
		}
		return *f.WriteUnavailableMs, true
	}},
	{"recovery_ms", failoverSpan(func(f *result.Failover) (*float64, *float64) { return f.FaultMs, f.FirstWriteMs })},
	{"detect_ms", failoverSpan(func(f *result.Failover) (*float64, *float64) { return f.FaultMs, f.DetectedMs })},
	{"promote_ms", failoverSpan(func(f *result.Failover) (*float64, *float64) { return f.PromoteStartMs, f.PromoteDoneMs })},
	{"max_replay_lag_bytes", worstReplica(func(l result.Lag) float64 { return l.MaxReplayLagBytes })},
	{"p99_replay_lag_bytes", worstReplica(func(l result.Lag) float64 { return l.P99ReplayLagBytes })},
	{"max_replay_lag_ms", worstReplica(func(l result.Lag) float64 { return l.MaxReplayLagMs })},
	{"max_visibility_ms", worstReplica(func(l result.Lag) float64 { return l.MaxVisibilityMs })},
	{"p99_visibility_ms", worstReplica(func(l result.Lag) float64 { return l.P99VisibilityMs })},
	{"bring_up_ms", func(v *result.Variant) (float64, bool) {
		return v.Topology.BringUpMs, v.Topology.BringUpMs > 0
	}},
	{"subscriber_missing_acked_writes", worstSubscriberAudit(func(a result.SubscriberAudit) (float64, bool) { return float64(a.Missing), true })},
	{"max_subscriber_lag_ms", worstSubscriberAudit(func(a result.SubscriberAudit) (float64, bool) { return a.ArrivalMs.Max, a.ArrivalMs.N > 0 })},
	{"max_subscriber_lag_bytes", func(v *result.Variant) (float64, bool) {
		worst, ok := 0.0, false
		for _, s := range v.Summary.Subscribers {
			if s.MaxLagBytes != nil && (!ok || *s.MaxLagBytes > worst) {
				worst, ok = *s.MaxLagBytes, true
			}
		}
		return worst, ok
	}},
	{"max_archive_lag_bytes", func(v *result.Variant) (float64, bool) {
		a := v.Summary.Archive
		if a == nil || a.MaxLagBytes == nil {
			return 0, false
		}
		return *a.MaxLagBytes, true
	}},
	{"archive_failures", func(v *result.Variant) (float64, bool) {
		a := v.Summary.Archive
		if a == nil {
			return 0, false
		}
		return float64(a.Failures), true
	}},
	{"dump_ms", drill(func(d *result.Drills) *result.DrillResult { return d.Dump }, func(r *result.DrillResult) *float64 { return r.DumpMs })},
	{"restore_ms", drill(func(d *result.Drills) *result.DrillResult { return d.Dump }, func(r *result.DrillResult) *float64 {
		if r.ServerMs == nil || r.RestoreMs == nil {
			return nil
		}
		v := *r.ServerMs + *r.RestoreMs
		return &v
	})},
	{"dump_missing_acked_writes", drill(func(d *result.Drills) *result.DrillResult { return d.Dump }, missingAcked)},
	{"pitr_ms", drill(func(d *result.Drills) *result.DrillResult { return d.PITR }, func(r *result.DrillResult) *float64 { return r.RecoveryMs })},
	{"pitr_missing_acked_writes", drill(func(d *result.Drills) *result.DrillResult { return d.PITR }, missingAcked)},
	{"pitr_rpo_ms", drill(func(d *result.Drills) *result.DrillResult { return d.PITR }, func(r *result.DrillResult) *float64 { return &r.RPOMs })},
	{"archive_standby_missing_acked_writes", drill(func(d *result.Drills) *result.DrillResult { return d.ArchiveStandby }, missingAcked)},
	{"max_archive_standby_lag_bytes", drill(func(d *result.Drills) *result.DrillResult { return d.ArchiveStandby }, func(r *result.DrillResult) *float64 { return r.MaxLagBytes })},
}

// worstSubscriberAudit is the largest of f over the audited subscribers.
func worstSubscriberAudit(f func(result.SubscriberAudit) (float64, bool)) func(*result.Variant) (float64, bool) {
	return func(v *result.Variant) (float64, bool) {
		if v.Summary.Audit == nil {
			return 0, false
		}
		worst, ok := 0.0, false
		for _, a := range v.Summary.Audit.Subscribers {
			if x, has := f(a); has && (!ok || x > worst) {
				worst, ok = x, true
			}
		}
		return worst, ok
	}
}

func latency(f func(result.Latency) float64) func(*result.Variant) (float64, bool) {
	return func(v *result.Variant) (float64, bool) {
		l := v.Summary.CommitLatency
		return f(l), l.N > 0
	}
}

func audit(f func(*result.Audit) float64) func(*result.Variant) (float64, bool) {
	return func(v *result.Variant) (float64, bool) {
		if v.Summary.Audit == nil {
			return 0, false
		}
		return f(v.Summary.Audit), true
	}
}

func failoverSpan(f func(*result.Failover) (from, to *float64)) func(*result.Variant) (float64, bool) {
	return func(v *result.Variant) (float64, bool) {
		if v.Summary.Failover == nil {
			return 0, false
		}
		from, to := f(v.Summary.Failover)
		if from == nil || to == nil {
			return 0, false
		}
		return *to - *from, true
	}
}

func worstReplica(f func(result.Lag) float64) func(*result.Variant) (float64, bool) {
	return func(v *result.Variant) (float64, bool) {
		if len(v.Summary.Replicas) == 0 {
			return 0, false
		}
		worst := f(v.Summary.Replicas[0])
		for _, l := range v.Summary.Replicas[1:] {
			worst = max(worst, f(l))
		}
		return worst, true
	}
}

// perRepetition computes the metrics a repetition of a repeated variant
// records (result.Repetition) from it.
var perRepetition = map[string]func(r *result.Repetition) (float64, bool){
	"tps":               func(r *result.Repetition) (float64, bool) { return r.TPS, true },
	"p99_commit_ms":     func(r *result.Repetition) (float64, bool) { return r.P99CommitMs, true },
	"lost_acked_writes": func(r *result.Repetition) (float64, bool) { return float64(r.Lost), true },
	"ghost_writes":      func(r *result.Repetition) (float64, bool) { return float64(r.Ghosts), true },
	"write_unavailable_ms": func(r *result.Repetition) (float64, bool) {
		if r.Failover == nil || r.Failover.WriteUnavailableMs == nil {
			return 0, false
		}
		return *r.Failover.WriteUnavailableMs, true
	},
	"recovery_ms": repetitionSpan(func(f *result.Failover) (*float64, *float64) { return f.FaultMs, f.FirstWriteMs }),
	"detect_ms":   repetitionSpan(func(f *result.Failover) (*float64, *float64) { return f.FaultMs, f.DetectedMs }),
	"promote_ms":  repetitionSpan(func(f *result.Failover) (*float64, *float64) { return f.PromoteStartMs, f.PromoteDoneMs }),
}

func repetitionSpan(f func(*result.Failover) (from, to *float64)) func(*result.Repetition) (float64, bool) {
	return func(r *result.Repetition) (float64, bool) {
		if r.Failover == nil {
			return 0, false
		}
		from, to := f(r.Failover)
		if from == nil || to == nil {
			return 0, false
		}
		return *to - *from, true
	}
}

// Samples returns, per metric a variant measured, its values: one per
// completed repetition for the figures a repetition records when the
// scenario repeats (tps, p99_commit_ms, lost_acked_writes, ghost_writes
// and the failover times), else the one value of the variant's summary.
// A variant that did not complete measured nothing: its figures would be
// partial.
func Samples(v *result.Variant) map[string][]float64 {
	out := map[string][]float64{}
	if v == nil || v.Status != result.StatusComplete {
		return out
	}
	var reps []*result.Repetition
	for i := range v.Repetitions {
		if v.Repetitions[i].Status == result.StatusComplete {
			reps = append(reps, &v.Repetitions[i])
		}
	}
	for _, e := range extractors {
		x, ok := e.fn(v)
		audited := v.Summary.Audit != nil || (e.name != "lost_acked_writes" && e.name != "ghost_writes")
		if fn, per := perRepetition[e.name]; per && len(reps) > 0 && audited {
			var xs []float64
			for _, r := range reps {
				if y, ok := fn(r); ok {
					xs = append(xs, y)
				}
			}
			if len(xs) > 0 {
				out[e.name] = xs
				continue
			}
		}
		if ok {
			out[e.name] = []float64{x}
		}
	}
	return out
}

// Values returns the metrics a variant measured, by name: the median of
// its Samples.
func Values(v *result.Variant) map[string]float64 {
	out := map[string]float64{}
	for name, xs := range Samples(v) {
		out[name] = statOf(xs).Median
	}
	return out
}

// Value returns one metric of a variant (the median of its samples), and
// false when the variant did not measure it (or did not complete) or the
// name is not a metric.
func Value(v *result.Variant, name string) (float64, bool) {
	xs, ok := Samples(v)[name]
	if !ok {
		return 0, false
	}
	return statOf(xs).Median, true
}

// def returns the metric's definition, or a neutral one for a name this
// build does not know (from a newer baseline file).
func def(name string) metric.Def {
	if d, ok := metric.Lookup(name); ok {
		return d
	}
	return metric.Def{Name: name, Better: metric.Lower}
}

// drill extracts a figure of one drill: none when the variant has no
// such drill or it failed (a failed drill's figures are not its own).
func drill(which func(*result.Drills) *result.DrillResult, fig func(*result.DrillResult) *float64) func(*result.Variant) (float64, bool) {
	return func(v *result.Variant) (float64, bool) {
		if v.Drills == nil {
			return 0, false
		}
		r := which(v.Drills)
		if r == nil || r.Error != "" {
			return 0, false
		}
		if p := fig(r); p != nil {
			return *p, true
		}
		return 0, false
	}
}

// missingAcked is a drill's figure of acknowledged writes missing.
func missingAcked(r *result.DrillResult) *float64 {
	v := float64(r.MissingAcked)
	return &v
}
