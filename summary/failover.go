package summary

import (
	"math"
	"slices"
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
	f.InjectedMs = ptr(*fault.InjectedMs)
	f.FaultMs = ptr(landed)
	promoted := false
	for _, e := range events {
		switch e.Kind {
		case result.EventDetected:
			if f.DetectedMs == nil {
				f.DetectedMs = ptr(e.Ms)
			}
		case result.EventPromoteStart:
			if f.PromoteStartMs == nil {
				f.PromoteStartMs = ptr(e.Ms)
			}
		case result.EventPromoteDone:
			if !promoted {
				promoted = true
				f.PromoteDoneMs = ptr(e.Ms)
				f.NewPrimary = e.Node
			}
		case result.EventRepoint:
			f.Repointed = append(f.Repointed, e.Node)
		case result.EventSplitBrain:
			f.SplitBrain = true
			f.SplitBrains = append(f.SplitBrains, result.SplitBrainSpan{Node: e.Node, FromMs: e.Ms})
		case result.EventSplitBrainEnd:
			if n := len(f.SplitBrains); n > 0 && f.SplitBrains[n-1].ToMs == nil {
				f.SplitBrains[n-1].ToMs = ptr(e.Ms)
			}
		case result.EventSyncRestored:
			if f.SyncRestoredMs == nil {
				f.SyncRestoredMs = ptr(e.Ms)
			}
		}
	}
	if !promoted {
		// Only a promotion that completed has a start worth showing.
		f.PromoteStartMs = nil
	}
	// The writes the old primary acknowledged in each split brain: after
	// the promotion (or the previous span), up to the span's end.
	if f.PromoteDoneMs != nil && len(f.SplitBrains) > 0 {
		entries := led.Snapshot()
		from := *f.PromoteDoneMs
		for i := range f.SplitBrains {
			sb := &f.SplitBrains[i]
			to := math.Inf(1)
			if sb.ToMs != nil {
				to = *sb.ToMs
			}
			for _, e := range entries {
				if e.Outcome == workload.Acked && int(e.Node) == old && msOf(e.At) >= from && msOf(e.At) <= to {
					sb.AckedWrites++
				}
			}
			from = to
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
	// The outage ends with the first write acknowledged after the fault
	// landed, wherever: on a new primary, or on the old one come back.
	if firstAt, node, ok := led.FirstAckAfter(at, -1); ok {
		f.FirstWriteMs = ptr(msOf(firstAt))
		name := ""
		if node >= 0 && node < len(in.Nodes) {
			name = in.Nodes[node]
		}
		f.FirstWriteNode = name
		first = &result.Event{Ms: msOf(firstAt), Kind: result.EventFirstWrite, Node: name, Detail: "first acknowledged write after the fault"}
		if f.LastAckBeforeMs != nil {
			f.WriteUnavailableMs = ptr(*f.FirstWriteMs - *f.LastAckBeforeMs)
		}
	}
	return f, first
}
