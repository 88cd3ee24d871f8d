package summary

import (
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Catch-up thresholds: a replica has caught up once it is less than this
// far behind, in bytes and in end-to-end visibility.
const (
	CatchUpBytes = 1 << 20
	CatchUpMs    = 100
)

// Phases splits the window at the fired faults: before the first, during
// each (injected to healed, or to the end), after the last heal. The fault
// a failover answered (f, when a standby was promoted) is split apart: its
// outage (injected to the first write acknowledged after it, or to the
// end), the recovery (that write to the failover done: promoted, and
// synchronous again when it was restored), and the steady state after the
// failover (to the next fault, or to the end). replicas are the standbys
// as built, in order, for the per-replica figures.
//
// capacity are the closed-loop bursts of a paced workload (ms, in time
// order). Where one overlaps a steady phase (before, after, after the
// failover, the whole run) the overlap is a capacity phase of its own,
// right after that phase, and the steady phase leaves it out of its
// figures: a closed loop's throughput and latency are not the paced
// workload's. Where it overlaps a fault's phase it stays in that phase.
func Phases(fired []result.Fault, f *result.Failover, replicas []string, st *workload.Stats, repl []result.ReplicationPoint, vis []result.VisibilityPoint, window time.Duration, capacity []result.Span) []result.PhaseStats {
	end := msOf(window)
	names := replicaNames(replicas, repl, vis)
	type spec struct {
		name, kind  string
		fault       *int
		start, stop float64
	}
	var specs []spec
	mk := func(name, kind string, fault *int, start, stop float64) {
		specs = append(specs, spec{name, kind, fault, start, stop})
	}
	clip := func(ms float64) float64 { return min(ms, end) }
	if len(fired) == 0 {
		mk("whole run", result.PhaseWhole, nil, 0, end)
	} else {
		mk("before", result.PhaseBefore, nil, 0, clip(*fired[0].InjectedMs))
	}
	fo := failoverFault(fired, f)
	last := 0.0
	allHealed := true
	for i, fd := range fired {
		idx := fd.Index
		inj := clip(*fd.InjectedMs)
		if i == fo {
			stop := end
			if f.FirstWriteMs != nil {
				stop = clip(max(*f.FirstWriteMs, inj))
			}
			mk("outage: "+fd.Name, result.PhaseOutage, &idx, inj, stop)
			if f.FirstWriteMs == nil {
				allHealed = false
				continue
			}
			done := max(stop, *f.PromoteDoneMs)
			if f.SyncRestoredMs != nil {
				done = max(done, *f.SyncRestoredMs)
			}
			done = clip(done)
			if done > stop {
				mk("recovery: "+fd.Name, result.PhaseRecovery, &idx, stop, done)
			}
			next := end
			for _, g := range fired[i+1:] {
				if *g.InjectedMs >= done {
					next = clip(*g.InjectedMs)
					break
				}
			}
			if done < next {
				mk("after failover", result.PhaseAfterFailover, nil, done, next)
			}
			last = max(last, next)
			continue
		}
		e := end
		if fd.HealedMs != nil {
			e = clip(*fd.HealedMs)
		} else {
			allHealed = false
		}
		last = max(last, e)
		mk("during: "+fd.Name, result.PhaseDuring, &idx, inj, e)
	}
	if len(fired) > 0 && allHealed && last < end {
		mk("after", result.PhaseAfter, nil, last, end)
	}
	out := []result.PhaseStats{}
	for _, sp := range specs {
		var cut []result.Span
		if steady(sp.kind) {
			for _, c := range capacity {
				if a, b := max(c.StartMs, sp.start), min(c.EndMs, sp.stop); a < b {
					cut = append(cut, result.Span{StartMs: a, EndMs: b})
				}
			}
		}
		out = append(out, phaseStats(sp.name, sp.kind, sp.fault, sp.start, sp.stop, cut, names, st, repl, vis))
		for _, c := range cut {
			out = append(out, phaseStats("capacity", result.PhaseCapacity, nil, c.StartMs, c.EndMs, nil, names, st, repl, vis))
		}
	}
	return out
}

// steady reports whether a phase of kind is a steady state, which a
// capacity burst is cut out of: not a fault's phase.
func steady(kind string) bool {
	switch kind {
	case result.PhaseWhole, result.PhaseBefore, result.PhaseAfter, result.PhaseAfterFailover:
		return true
	}
	return false
}

// CapacitySpans are the spans of the capacity phases among ps.
func CapacitySpans(ps []result.PhaseStats) []result.Span {
	var out []result.Span
	for _, p := range ps {
		if p.Kind == result.PhaseCapacity {
			out = append(out, result.Span{StartMs: p.StartMs, EndMs: p.EndMs})
		}
	}
	return out
}

// inSpans reports whether ms lies in one of spans.
func inSpans(ms float64, spans []result.Span) bool {
	for _, s := range spans {
		if ms >= s.StartMs && ms < s.EndMs {
			return true
		}
	}
	return false
}

// failoverFault is the index in fired of the fault f answers, by the rule
// Failover chose it with, when a standby was promoted; else -1.
func failoverFault(fired []result.Fault, f *result.Failover) int {
	if f == nil || f.PromoteDoneMs == nil || len(fired) == 0 {
		return -1
	}
	for i, fd := range fired {
		if slices.Contains(fd.Targets, f.OldPrimary) {
			return i
		}
	}
	return 0
}

// replicaNames are the standbys as built, then any other node the series
// name (an old primary that came back as a standby).
func replicaNames(replicas []string, repl []result.ReplicationPoint, vis []result.VisibilityPoint) []string {
	out := append([]string(nil), replicas...)
	add := func(n string) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, p := range repl {
		add(p.Replica)
	}
	for _, p := range vis {
		add(p.Replica)
	}
	return out
}

func phaseStats(name, kind string, fault *int, start, end float64, excluded []result.Span, replicas []string, st *workload.Stats, repl []result.ReplicationPoint, vis []result.VisibilityPoint) result.PhaseStats {
	p := result.PhaseStats{Name: name, Kind: kind, Fault: fault, StartMs: start, EndMs: end, Excluded: excluded}
	h := hdrhistogram.New(1, 120_000_000, 3)
	secs := 0
	// A second belongs to the phase its middle falls in; a phase shorter
	// than that takes the seconds it overlaps. A second whose middle
	// falls in an excluded span is not the phase's.
	in := func(i int) bool {
		mid := float64(i)*1000 + 500
		return mid >= start && mid < end && !inSpans(mid, excluded)
	}
	any := false
	for i := range st.Acked {
		any = any || in(i)
	}
	if !any {
		in = func(i int) bool {
			return float64(i+1)*1000 > start && float64(i)*1000 < end && !inSpans(float64(i)*1000+500, excluded)
		}
	}
	for i := range st.Acked {
		if !in(i) {
			continue
		}
		secs++
		p.Acked += st.Acked[i]
		p.Errors += st.Failed[i] + st.Unknown[i]
		if i < len(st.PerSecond) && st.PerSecond[i] != nil {
			h.Merge(st.PerSecond[i])
		}
	}
	if secs > 0 {
		// Whole seconds overlapping the phase: a rate, not an exact count.
		p.TPS = float64(p.Acked) / float64(secs)
	}
	if h.TotalCount() > 0 {
		p.P50CommitMs = float64(h.ValueAtQuantile(50)) / 1000
		p.P99CommitMs = float64(h.ValueAtQuantile(99)) / 1000
		p.MaxCommitMs = float64(h.Max()) / 1000
	}
	if len(excluded) > 0 {
		repl = slices.DeleteFunc(slices.Clone(repl), func(r result.ReplicationPoint) bool { return inSpans(r.Ms, excluded) })
		vis = slices.DeleteFunc(slices.Clone(vis), func(v result.VisibilityPoint) bool { return inSpans(v.Ms, excluded) })
	}
	for _, r := range repl {
		if r.Ms >= start && r.Ms < end {
			p.MaxUnflushedBytes = max(p.MaxUnflushedBytes, r.UnflushedBytes)
		}
	}
	for _, name := range replicas {
		l := result.PhaseLag{Replica: name}
		var bytes []float64
		for _, r := range repl {
			if r.Replica == name && r.Ms >= start && r.Ms < end && r.Valid() {
				bytes = append(bytes, r.ReplayBytes)
			}
		}
		l.ReplicationSamples = int64(len(bytes))
		l.MaxReplayLagBytes, l.P50ReplayLagBytes = maxP(bytes, 0.5)
		hb := heartbeatsOf(name, vis, start, end)
		l.VisibilitySamples = int64(len(hb.latencies))
		l.MaxVisibilityMs, l.P99VisibilityMs = maxP(hb.latencies, 0.99)
		_, l.P50VisibilityMs = maxP(hb.latencies, 0.5)
		l.HeartbeatsLost = hb.lost
		if l.ReplicationSamples == 0 && l.VisibilitySamples == 0 && l.HeartbeatsLost == 0 {
			continue // not a replica in this phase
		}
		p.MaxReplayLagBytes = max(p.MaxReplayLagBytes, l.MaxReplayLagBytes)
		p.MaxVisibilityMs = max(p.MaxVisibilityMs, l.MaxVisibilityMs)
		p.Replicas = append(p.Replicas, l)
	}
	return p
}

// CatchUps finds, for each healed fault and replica it names (every
// replica when it names none), how long after the heal the replica was
// back under CatchUpBytes and CatchUpMs.
func CatchUps(fired []result.Fault, replicas []string, repl []result.ReplicationPoint, vis []result.VisibilityPoint) []result.CatchUp {
	out := []result.CatchUp{}
	for _, f := range fired {
		if f.HealedMs == nil {
			continue
		}
		heal := *f.HealedMs
		for _, r := range affected(f.Targets, replicas) {
			idx := f.Index
			c := result.CatchUp{Fault: f.Name, FaultIndex: &idx, Replica: r, HealMs: heal, LagBytesLimit: CatchUpBytes, LagMsLimit: CatchUpMs}
			for _, p := range repl {
				if p.Replica == r && p.Ms >= heal && p.ReplayBytes < CatchUpBytes {
					c.BytesMs = ptr(p.Ms - heal)
					break
				}
			}
			for _, v := range vis {
				if v.Replica == r && v.Ms >= heal && v.VisibilityMs != nil && *v.VisibilityMs < CatchUpMs {
					c.VisibilityMs = ptr(v.Ms - heal)
					break
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// affected lists the replicas among targets, or every replica when it
// names none (a fault on the primary).
func affected(targets, replicas []string) []string {
	var out []string
	for _, r := range replicas {
		if slices.Contains(targets, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return replicas
	}
	return out
}
