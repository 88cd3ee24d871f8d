package summary

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Failover is the timeline of the fault the failover answers (the first
// fault that names the old primary, else the first fault) and of what
// followed, from the ledger and the controller's events; nil without a
// fault that fired. first is the first_write event to record, when writes
// resumed.
func Failover(in Input, fired []result.Fault, events []result.Event) (f *result.Failover, first *result.Event) {
	return failover(in, in.Ledger.View(), fired, events)
}

// failover is Failover on entries, the ledger's snapshot.
func failover(in Input, entries workload.Entries, fired []result.Fault, events []result.Event) (f *result.Failover, first *result.Event) {
	if len(fired) == 0 {
		return nil, nil
	}
	f = &result.Failover{Mode: in.FailoverMode, DetectAfterMs: msOf(in.DetectAfter), OldPrimary: in.OldPrimary}
	fault := fired[0]
	for _, fd := range fired {
		if slices.Contains(fd.Targets, in.OldPrimary) {
			fault = fd
			break
		}
	}
	// The fault counts from when it landed, not from when its injection
	// started: until it lands the old primary may still acknowledge
	// writes, and those are not outage. It landed at the latest when it
	// was seen to take effect (a kill's node refusing connections, which
	// a frozen postmaster delays), and not before the last ack until
	// then: the fault counts from that ack, or from the injection.
	seen := *fault.InjectedMs
	if fault.EffectiveMs != nil {
		seen = *fault.EffectiveMs
	}
	at := time.Duration(seen * float64(time.Millisecond))
	old := slices.Index(in.Nodes, in.OldPrimary)
	led := in.Ledger
	landed := *fault.InjectedMs
	if last, ok := led.LastAckBefore(at); ok {
		f.LastAckBeforeMs = ptr(msOf(last))
		landed = max(landed, msOf(last))
	}
	// Where the backend saw it land (a local kill: the node's processes
	// all stopped), that is when: the last ack is only a lower bound, as
	// writes in flight then may still commit and go unacknowledged.
	if fault.LandedMs != nil {
		landed = max(*fault.LandedMs, *fault.InjectedMs)
	}
	f.InjectedMs = ptr(*fault.InjectedMs)
	f.FaultMs = ptr(landed)
	f.Failovers = failoverSteps(events)
	if len(f.Failovers) > 0 {
		// The headline figures are the first failover's.
		fo := f.Failovers[0]
		f.DetectedMs = ptr(fo.DetectedMs)
		if fo.PromoteDoneMs != nil {
			// Only a promotion that completed has a start worth showing.
			f.PromoteStartMs, f.PromoteDoneMs, f.NewPrimary = fo.PromoteStartMs, fo.PromoteDoneMs, fo.NewPrimary
		}
		f.Repointed, f.SyncRestoredMs = fo.Repointed, fo.SyncRestoredMs
	}
	for _, e := range events {
		if e.Kind == result.EventManager && f.NewPrimary != "" && e.Node == f.NewPrimary && e.Ms >= *f.InjectedMs && f.ManagerPromotedMs == nil {
			f.ManagerPromotedMs = ptr(e.Ms)
		}
		if e.Kind == result.EventDemoted && e.Node == in.OldPrimary && e.Ms >= *f.InjectedMs && f.DemotedMs == nil {
			f.DemotedMs = ptr(e.Ms)
		}
	}
	// Split brains: spans in which a demoted primary was writable, each
	// ended by that node's split_brain_end.
	for _, e := range events {
		switch e.Kind {
		case result.EventSplitBrain:
			f.SplitBrain = true
			f.SplitBrains = append(f.SplitBrains, result.SplitBrainSpan{Node: e.Node, FromMs: e.Ms})
		case result.EventSplitBrainEnd:
			for i := len(f.SplitBrains) - 1; i >= 0; i-- {
				if sb := &f.SplitBrains[i]; sb.Node == e.Node {
					if sb.ToMs == nil {
						sb.ToMs = ptr(e.Ms)
					}
					break
				}
			}
		}
	}
	// The writes a demoted primary acknowledged in each of its split
	// brains: after its demotion (or its previous span), up to the span's
	// end.
	if len(f.SplitBrains) > 0 {
		from := map[string]float64{}
		for _, fo := range f.Failovers {
			if _, seen := from[fo.OldPrimary]; !seen && fo.PromoteDoneMs != nil {
				from[fo.OldPrimary] = *fo.PromoteDoneMs
			}
		}
		for i := range f.SplitBrains {
			sb := &f.SplitBrains[i]
			node := slices.Index(in.Nodes, sb.Node)
			lo, ok := from[sb.Node]
			if !ok || node < 0 {
				continue
			}
			to := math.Inf(1)
			if sb.ToMs != nil {
				to = *sb.ToMs
			}
			for _, e := range entries.All() {
				if e.Outcome == workload.Acked && int(e.Node) == node && msOf(e.At) >= lo && msOf(e.At) <= to {
					sb.AckedWrites++
				}
			}
			from[sb.Node] = to
		}
	}
	// Two writable primaries: acknowledgements from the old primary after
	// the first one from the new primary.
	if lastOld, ok := led.LastAckBy(old); ok && f.NewPrimary != "" {
		if firstNew, _, ok := led.FirstAckAfter(at, old); ok && lastOld > firstNew {
			f.DualPrimaryMs = ptr(msOf(lastOld - firstNew))
			f.LastAckOldPrimaryMs = ptr(msOf(lastOld))
		}
	}
	// The write outage: the longest span without an acknowledgement from
	// the last one before the fault landed to the first one on the new
	// primary (without a promotion: the first after the landing, on the
	// old primary come back). A fault that stops the old primary at once
	// opens it at the landing; one the old primary outlives for a while
	// (cut off its manager's store, it demotes itself later) opens it at
	// its last acknowledgement.
	var end time.Duration
	endNode, ok := -1, false
	if newIdx := slices.Index(in.Nodes, f.NewPrimary); newIdx >= 0 {
		end, endNode, ok = firstAck(entries, landedAt(f), newIdx)
	}
	if !ok {
		end, endNode, ok = firstAck(entries, landedAt(f), -1)
	}
	if ok {
		from, to, toNode := end, end, endNode
		if f.LastAckBeforeMs != nil {
			from, to, toNode = longestAckGap(entries, durOf(*f.LastAckBeforeMs), end, endNode)
		}
		f.FirstWriteMs = ptr(msOf(to))
		if toNode >= 0 && toNode < len(in.Nodes) {
			f.FirstWriteNode = in.Nodes[toNode]
		}
		first = &result.Event{Ms: msOf(to), Kind: result.EventFirstWrite, Node: f.FirstWriteNode, Detail: "first acknowledged write after the outage"}
		if f.LastAckBeforeMs != nil {
			f.OutageFromMs = ptr(msOf(from))
			f.WriteUnavailableMs = ptr(msOf(to - from))
		}
	}
	// What the old primary acknowledged after a fault on it landed
	// (Audited adds how much of it the final primary lacks).
	if old >= 0 && slices.Contains(fault.Targets, in.OldPrimary) {
		for _, e := range entries.All() {
			if e.Outcome == workload.Acked && int(e.Node) == old && e.At >= landedAt(f) {
				f.OldPrimaryAckedAfter++
			}
		}
	}
	// What the settings predict for a fault on the old primary.
	if in.Model.Mode != "" && slices.Contains(fault.Targets, in.OldPrimary) {
		process := fault.Process
		switch {
		case fault.Kind == "partition" && cutsOffStore(fault.Targets, in.OldPrimary, in.Model.StoreMembers),
			fault.Kind == "isolate" && in.Model.StoreMembers > 0 && len(fault.Targets) > 0 && fault.Targets[0] == in.OldPrimary:
			process = ProcStore
		}
		if p := Predict(in.Model, fault.Kind, process); p != nil {
			if f.WriteUnavailableMs != nil {
				Judge(p, *f.WriteUnavailableMs)
			}
			f.Predicted = p
		}
	}
	return f, first
}

// failoverSteps lists the controller's failovers from its events: each
// detection opens one, and the probe failure, promotion, repoints,
// synchronous restore, failover error and no_primary event that follow it
// belong to it.
func failoverSteps(events []result.Event) []result.FailoverStep {
	var out []result.FailoverStep
	// probeFailed is the last probe_failed event's time, by node.
	probeFailed := map[string]float64{}
	for _, e := range events {
		var cur *result.FailoverStep
		if n := len(out); n > 0 {
			cur = &out[n-1]
		}
		switch e.Kind {
		case result.EventProbeFailed:
			probeFailed[e.Node] = e.Ms
		case result.EventDetected:
			st := result.FailoverStep{OldPrimary: e.Node, DetectedMs: e.Ms}
			if at, ok := probeFailed[e.Node]; ok && at <= e.Ms {
				st.FirstFailureMs = ptr(at)
			}
			out = append(out, st)
		case result.EventPromoteStart:
			if cur != nil && cur.PromoteStartMs == nil {
				cur.PromoteStartMs = ptr(e.Ms)
			}
		case result.EventPromoteDone:
			if cur != nil && cur.PromoteDoneMs == nil {
				cur.PromoteDoneMs, cur.NewPrimary = ptr(e.Ms), e.Node
			}
		case result.EventRepoint:
			if cur != nil {
				cur.Repointed = append(cur.Repointed, e.Node)
			}
		case result.EventSyncRestored:
			if cur != nil && cur.SyncRestoredMs == nil {
				cur.SyncRestoredMs = ptr(e.Ms)
			}
		case result.EventNoPrimary:
			if cur != nil {
				cur.NoPrimary = true
			}
		case result.EventError:
			if msg, ok := strings.CutPrefix(e.Detail, "failover: "); ok && cur != nil && e.Fault == nil && cur.Error == "" {
				cur.Error = msg
			}
		}
	}
	for i := range out {
		if out[i].PromoteDoneMs == nil {
			// Only a promotion that completed has a start worth showing.
			out[i].PromoteStartMs = nil
		}
	}
	return out
}

// landedAt is f's landing as a duration.
func landedAt(f *result.Failover) time.Duration { return durOf(*f.FaultMs) }

// durOf is ms (as the figures keep it) as a duration, in whole
// microseconds.
func durOf(ms float64) time.Duration {
	return time.Duration(math.Round(ms*1000)) * time.Microsecond
}

// firstAck is the earliest ack at or after t by node (-1: any), with its
// node, or false.
func firstAck(entries workload.Entries, t time.Duration, node int) (time.Duration, int, bool) {
	var best time.Duration
	by, ok := -1, false
	for _, e := range entries.All() {
		if e.Outcome == workload.Acked && e.At >= t && (node < 0 || int(e.Node) == node) && (!ok || e.At < best) {
			best, by, ok = e.At, int(e.Node), true
		}
	}
	return best, by, ok
}

// longestAckGap is the longest span between two consecutive acks (any
// node) from the ack at from to the ack at to (by toNode), with the node
// of the ack that ends it: (from, to) itself when no ack falls between
// them. The first longest wins a tie.
func longestAckGap(entries workload.Entries, from, to time.Duration, toNode int) (time.Duration, time.Duration, int) {
	type ack struct {
		at   time.Duration
		node int
	}
	var acks []ack
	for _, e := range entries.All() {
		if e.Outcome == workload.Acked && e.At > from && e.At < to {
			acks = append(acks, ack{e.At, int(e.Node)})
		}
	}
	slices.SortFunc(acks, func(a, b ack) int { return cmp.Compare(a.at, b.at) })
	acks = append(acks, ack{to, toNode})
	gf, gt, gn := from, to, toNode
	prev, best := from, time.Duration(-1)
	for _, a := range acks {
		if a.at-prev > best {
			best, gf, gt, gn = a.at-prev, prev, a.at, a.node
		}
		prev = a.at
	}
	return gf, gt, gn
}

// Audited sets what needs the final primary's rows (in.Inserted, read by
// the audit): of the writes the old primary acknowledged after the fault
// landed, how many the final primary lacks.
func Audited(v *result.Variant, in Input) {
	f := v.Summary.Failover
	old := slices.Index(in.Nodes, in.OldPrimary)
	if f == nil || f.FaultMs == nil || f.OldPrimaryAckedAfter == 0 || old < 0 || v.Summary.Audit == nil || len(in.Inserted) == 0 {
		return
	}
	inserted := make(map[int64]bool, len(in.Inserted))
	for _, r := range in.Inserted {
		inserted[r.ID] = true
	}
	first := in.Ledger.FirstID()
	var lost int64
	for i, e := range in.Ledger.View().All() {
		if e.Outcome == workload.Acked && int(e.Node) == old && e.At >= landedAt(f) && !inserted[first+int64(i)] {
			lost++
		}
	}
	f.OldPrimaryAckedAfterLost = &lost
}

// cutsOffStore reports whether a partition's targets are the old primary
// and every one of the store's members (etcd1..etcdN), nothing else: the
// old primary alone cut off its manager's store.
func cutsOffStore(targets []string, old string, members int) bool {
	if members == 0 {
		return false
	}
	seen := map[string]bool{}
	for _, t := range targets {
		if t != old && !strings.HasPrefix(t, "etcd") {
			return false
		}
		seen[t] = true
	}
	if !seen[old] {
		return false
	}
	for i := 1; i <= members; i++ {
		if !seen[fmt.Sprintf("etcd%d", i)] {
			return false
		}
	}
	return true
}
