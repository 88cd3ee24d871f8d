package report

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// writesContinued reports whether writes were acknowledged a second or
// more after the variant's fault although no new primary took them: the
// fault did not stop writes (it hit a replica or a link), or the old
// primary kept taking them (a split brain).
func writesContinued(v *result.Variant) bool {
	f := v.Summary.Failover
	if f == nil || f.FaultMs == nil {
		return false
	}
	for _, t := range v.Series.Throughput {
		if float64(t.Second)*1000 >= *f.FaultMs+1000 && t.Acked > 0 {
			return true
		}
	}
	return false
}

// failoverShown reports whether a variant's failover is worth showing: a
// failover mode was set, or writes stopped. A fault on a replica under
// mode none has no failover to speak of.
func failoverShown(v *result.Variant) bool {
	f := v.Summary.Failover
	if f == nil {
		return false
	}
	if f.Mode != "none" || f.DetectedMs != nil || f.SplitBrain || f.DualPrimaryMs != nil {
		return true
	}
	return !writesContinued(v)
}

func splitBrain(f *result.Failover) bool {
	return f != nil && (f.SplitBrain || f.DualPrimaryMs != nil)
}

// splitLost is the clause on the writes the old primary acknowledged that
// the final primary lacks: "4,502 acknowledged writes on the old primary
// (primary) are missing from the final primary (replica1)"; empty when
// there are none.
func splitLost(v *result.Variant) string {
	f, a := v.Summary.Failover, v.Summary.Audit
	if f == nil || a == nil || a.LostByNode[f.OldPrimary] <= 0 {
		return ""
	}
	return fmt.Sprintf("%s acknowledged writes on the old primary (%s) are missing from the final primary (%s)",
		fmtInt(a.LostByNode[f.OldPrimary]), orDash(f.OldPrimary), orDash(a.FinalPrimary))
}

// splitBrainHeadline is the headline's split-brain clause, or "".
func splitBrainHeadline(v *result.Variant) string {
	f := v.Summary.Failover
	if !splitBrain(f) {
		return ""
	}
	if l := splitLost(v); l != "" {
		return "SPLIT BRAIN: " + l
	}
	return "SPLIT BRAIN: " + orDash(f.OldPrimary) + " still took writes after " + orDash(f.NewPrimary) + " was promoted"
}

// splitBrainText is the warning of the failover section, or "".
func splitBrainText(v *result.Variant) string {
	f := v.Summary.Failover
	if !splitBrain(f) {
		return ""
	}
	var parts []string
	s := "The old primary (" + orDash(f.OldPrimary) + ") was still writable after " + orDash(f.NewPrimary) + " was promoted"
	if len(f.SplitBrains) == 0 {
		// A result without spans (schema 1): the first sighting.
		for _, e := range v.Events {
			if e.Kind == result.EventSplitBrain {
				s += " (seen " + relMs(&e.Ms, f.FaultMs) + " ms after the fault)"
				break
			}
		}
	}
	var spans []string
	for _, sb := range f.SplitBrains {
		span := "from " + relMs(&sb.FromMs, f.FaultMs) + " ms after the fault"
		if sb.ToMs != nil {
			span += " to " + relMs(sb.ToMs, f.FaultMs) + " ms"
		} else {
			span += " to the end"
		}
		spans = append(spans, span+", "+fmtInt(sb.AckedWrites)+" writes acknowledged there")
	}
	if len(spans) > 0 {
		s += " (" + strings.Join(spans, "; ") + ")"
	}
	parts = append(parts, s)
	if f.DualPrimaryMs != nil {
		parts = append(parts, "two nodes acknowledged writes for "+fmtDuration(*f.DualPrimaryMs))
	}
	if f.LastAckOldPrimaryMs != nil {
		parts = append(parts, "the old primary's last acknowledgement came "+relMs(f.LastAckOldPrimaryMs, f.FaultMs)+" ms after the fault")
	}
	if l := splitLost(v); l != "" {
		parts = append(parts, l)
	}
	if a := v.Summary.Audit; a != nil && a.HeartbeatGapMs != nil {
		parts = append(parts, "server-measured gap between the timelines "+fmtDuration(*a.HeartbeatGapMs))
	}
	return strings.Join(parts, "; ") + "."
}

// lostByNodeText lists who acknowledged the lost writes, most first:
// "4,502 on primary (the old primary)".
func lostByNodeText(a *result.Audit, f *result.Failover) string {
	type nc struct {
		node string
		n    int64
	}
	var ns []nc
	for node, n := range a.LostByNode {
		if n > 0 {
			ns = append(ns, nc{node, n})
		}
	}
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].n != ns[j].n {
			return ns[i].n > ns[j].n
		}
		return ns[i].node < ns[j].node
	})
	var parts []string
	for _, x := range ns {
		s := fmtInt(x.n) + " on " + x.node
		switch {
		case f != nil && x.node == f.OldPrimary:
			s += " (the old primary)"
		case x.node == a.FinalPrimary:
			s += " (the final primary)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// timelineRow is the heartbeats one node wrote on one timeline.
type timelineRow struct {
	Node, Timeline, First, Last, Span, Heartbeats string
}

func buildTimelineRows(a *result.Audit) []timelineRow {
	var out []timelineRow
	for _, t := range a.Timelines {
		row := timelineRow{Node: orDash(t.Node), Timeline: orDash(t.Timeline), First: "–", Last: "–", Span: "–",
			Heartbeats: fmtInt(t.Heartbeats)}
		if !t.FirstAt.IsZero() {
			row.First = t.FirstAt.UTC().Format("15:04:05.000")
		}
		if !t.LastAt.IsZero() {
			row.Last = t.LastAt.UTC().Format("15:04:05.000")
		}
		if !t.FirstAt.IsZero() && !t.LastAt.IsZero() && !t.LastAt.Before(t.FirstAt) {
			row.Span = fmtDuration(float64(t.LastAt.Sub(t.FirstAt).Microseconds()) / 1000)
		}
		out = append(out, row)
	}
	return out
}

// splitBrainView is a split-brain warning of one variant.
type splitBrainView struct {
	Name, Text string
}
