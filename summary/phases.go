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
// each (injected to healed, or to the end), after the last heal.
func Phases(fired []result.Fault, st *workload.Stats, repl []result.ReplicationPoint, vis []result.VisibilityPoint, window time.Duration) []result.PhaseStats {
	end := msOf(window)
	out := []result.PhaseStats{}
	if len(fired) == 0 {
		return append(out, phaseStats("whole run", result.PhaseWhole, nil, 0, end, st, repl, vis))
	}
	clip := func(ms float64) float64 { return min(ms, end) }
	out = append(out, phaseStats("before", result.PhaseBefore, nil, 0, clip(*fired[0].InjectedMs), st, repl, vis))
	last := 0.0
	allHealed := true
	for _, f := range fired {
		e := end
		if f.HealedMs != nil {
			e = clip(*f.HealedMs)
		} else {
			allHealed = false
		}
		last = max(last, e)
		idx := f.Index
		out = append(out, phaseStats("during: "+f.Name, result.PhaseDuring, &idx, clip(*f.InjectedMs), e, st, repl, vis))
	}
	if allHealed && last < end {
		out = append(out, phaseStats("after", result.PhaseAfter, nil, last, end, st, repl, vis))
	}
	return out
}

func phaseStats(name, kind string, fault *int, start, end float64, st *workload.Stats, repl []result.ReplicationPoint, vis []result.VisibilityPoint) result.PhaseStats {
	p := result.PhaseStats{Name: name, Kind: kind, Fault: fault, StartMs: start, EndMs: end}
	h := hdrhistogram.New(1, 120_000_000, 3)
	secs := 0
	// A second belongs to the phase its middle falls in; a phase shorter
	// than that takes the seconds it overlaps.
	in := func(i int) bool { mid := float64(i)*1000 + 500; return mid >= start && mid < end }
	any := false
	for i := range st.Acked {
		any = any || in(i)
	}
	if !any {
		in = func(i int) bool { return float64(i+1)*1000 > start && float64(i)*1000 < end }
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
	for _, r := range repl {
		if r.Ms >= start && r.Ms < end && r.Valid() && r.ReplayBytes > p.MaxReplayLagBytes {
			p.MaxReplayLagBytes = r.ReplayBytes
		}
	}
	for _, v := range vis {
		if v.Ms >= start && v.Ms < end && v.VisibilityMs > p.MaxVisibilityMs {
			p.MaxVisibilityMs = v.VisibilityMs
		}
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
				if v.Replica == r && v.Ms >= heal && v.VisibilityMs < CatchUpMs {
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
