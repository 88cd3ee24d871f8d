package runner

import (
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Catch-up thresholds: a replica has caught up once it is less than this
// far behind, in bytes and in end-to-end visibility.
const (
	CatchUpBytes = 1 << 20
	CatchUpMs    = 100
)

// phases splits the window at fault boundaries: before the first fault,
// during each fault (inject to heal, or to the end), after the last heal.
func phases(fired []chaos.Fired, st *workload.Stats, repl []result.ReplicationPoint, vis []result.VisibilityPoint, window time.Duration) []result.PhaseStats {
	end := msOf(window)
	out := []result.PhaseStats{}
	if len(fired) == 0 {
		return append(out, phaseStats("whole run", 0, end, st, repl, vis))
	}
	clip := func(ms float64) float64 { return min(ms, end) }
	first := clip(msOf(fired[0].At))
	out = append(out, phaseStats("before", 0, first, st, repl, vis))
	last := 0.0
	allHealed := true
	for _, f := range fired {
		e := end
		if f.Healed > 0 {
			e = clip(msOf(f.Healed))
		} else {
			allHealed = false
		}
		if e > last {
			last = e
		}
		out = append(out, phaseStats("during: "+chaos.Describe(f.Fault), clip(msOf(f.At)), e, st, repl, vis))
	}
	if allHealed && last < end {
		out = append(out, phaseStats("after", last, end, st, repl, vis))
	}
	return out
}

func phaseStats(name string, start, end float64, st *workload.Stats, repl []result.ReplicationPoint, vis []result.VisibilityPoint) result.PhaseStats {
	p := result.PhaseStats{Name: name, StartMs: start, EndMs: end}
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
		h.Merge(st.PerSecond[i])
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
		if r.Ms >= start && r.Ms < end && r.ReplayBytes > p.MaxReplayLagBytes {
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

// catchUps finds, for each healed fault and replica, how long after the
// heal the replica was back under CatchUpBytes and CatchUpMs.
func catchUps(fired []chaos.Fired, replicas []string, repl []result.ReplicationPoint, vis []result.VisibilityPoint) []result.CatchUp {
	out := []result.CatchUp{}
	for _, f := range fired {
		if f.Healed == 0 {
			continue
		}
		heal := msOf(f.Healed)
		for _, r := range affected(f.Fault, replicas) {
			c := result.CatchUp{Fault: chaos.Describe(f.Fault), Replica: r, HealMs: heal, LagBytesLimit: CatchUpBytes, LagMsLimit: CatchUpMs}
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

// affected lists the replicas a fault names (its node, link ends or
// sides), or every replica when it names none (a fault on the primary).
func affected(f scenario.Fault, replicas []string) []string {
	named := append(append([]string{f.Node}, f.From...), f.To...)
	for _, side := range f.Sides {
		named = append(named, side...)
	}
	var out []string
	for _, r := range replicas {
		if slices.Contains(named, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return replicas
	}
	return out
}
