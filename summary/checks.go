package summary

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Checks sets figures of v, filled from in (and its audit, when there is
// one), against a second, independent way to get them: what the
// dispatcher scheduled against what the ledger and the writers account
// for; the writers' per-second counts against their histograms and the
// ledger; the rows the audit found against the ledger's outcomes. A check
// that fails says a figure of the variant cannot be trusted.
func Checks(v *result.Variant, in Input) []result.Check {
	out := []result.Check{}
	st, led := in.Stats, in.Ledger
	if st == nil || led == nil {
		return out
	}
	acked, failed, unknown := led.Count(workload.Acked), led.Count(workload.Failed), led.Count(workload.Unknown)
	out = append(out, check("writes conserved", "writes", 0,
		float64(st.Scheduled), float64(acked+failed+unknown+st.Skipped+st.NotSent),
		fmt.Sprintf("scheduled %d; acknowledged %d + failed %d + unknown %d + skipped %d + not sent %d = %d",
			st.Scheduled, acked, failed, unknown, st.Skipped, st.NotSent, acked+failed+unknown+st.Skipped+st.NotSent)))
	var perSecond int64
	for _, n := range st.Acked {
		perSecond += n
	}
	var hist int64
	if st.Latency != nil {
		hist = st.Latency.TotalCount()
	}
	out = append(out, check("acks per second sum to the latency histogram", "writes", 0, float64(perSecond), float64(hist),
		fmt.Sprintf("per-second acks sum to %d; the commit latency histogram holds %d", perSecond, hist)))
	out = append(out, check("the ledger agrees with the writers' counts", "writes", 0, float64(acked), float64(perSecond),
		fmt.Sprintf("the ledger holds %d acknowledged writes; the writers counted %d", acked, perSecond)))
	if a := v.Summary.Audit; a != nil && len(a.Nodes) > 0 {
		rows := a.Nodes[0].Rows
		want := a.Acked - a.Lost + a.UnknownFound + a.Ghosts + a.Foreign
		out = append(out, check("rows on the final primary", "rows", 0, float64(rows), float64(want),
			fmt.Sprintf("%s holds %d rows of the run; acknowledged %d - lost %d + committed unknowns %d + ghosts %d + foreign %d = %d",
				a.FinalPrimary, rows, a.Acked, a.Lost, a.UnknownFound, a.Ghosts, a.Foreign, want)))
	}
	if c, ok := outageCheck(v, in); ok {
		out = append(out, c)
	}
	if c, ok := landingCheck(v, in); ok {
		out = append(out, c)
	}
	if c, ok := walCheck(v); ok {
		out = append(out, c)
	}
	return out
}

// walCheck sets the acknowledged writes the audit found lost against the
// order rows the old primary inserted past the point where the final
// primary's timeline left its own (pg_waldump): a lost write is one the
// promoted standby never had, so its row is there, unless its commit
// never reached the old primary's WAL files, as under
// synchronous_commit=off, where the check is not made.
func walCheck(v *result.Variant) (result.Check, bool) {
	a := v.Summary.Audit
	if a == nil || a.WALBeyond == nil || v.Topology.Settings["synchronous_commit"] == "off" {
		return result.Check{}, false
	}
	w := a.WALBeyond
	c := result.Check{Name: "lost writes lie beyond what the promoted standby had", Value: float64(a.Lost),
		Expected: float64(w.OrderInserts), AtMost: true, Unit: "writes", Passed: a.Lost <= w.OrderInserts,
		Message: fmt.Sprintf("%d acknowledged writes lost; %s inserted %d order rows (%d commits) on timeline %d after %s, where %s's history left it",
			a.Lost, w.Node, w.OrderInserts, w.Commits, w.Timeline, w.FromLSN, a.FinalPrimary)}
	return c, true
}

// minOutage is the shortest write outage worth setting against the
// server's record: shorter gaps are the arrival process's own.
const minOutage = 20 * time.Millisecond

// outageCheck sets the write outage the ledger shows against the one the
// final primary's own clock shows. By the ledger: the writes present on
// the final primary stop being acknowledged at the last ack before the
// fault landed and start again at the first after it. By the server: the
// longest gap between two consecutive insert times (created_at) of the
// run's rows it holds, overlapping that span. The two differ by what a
// write spends between its insert and its ack, at each end: the tolerance
// is twice the commit latency's p99 plus 2 ms. The headline outage starts
// at the last ack before the fault, lost or not; the message says how
// much of it is acknowledged writes that were lost.
func outageCheck(v *result.Variant, in Input) (result.Check, bool) {
	f := v.Summary.Failover
	if f == nil || f.FaultMs == nil || f.WriteUnavailableMs == nil || *f.WriteUnavailableMs < msOf(minOutage) ||
		v.Summary.Audit == nil || len(in.Inserted) == 0 || in.Ledger == nil {
		return result.Check{}, false
	}
	entries := in.Ledger.Snapshot()
	first := in.Ledger.FirstID()
	present := make([]bool, len(entries))
	server := make([]time.Duration, 0, len(in.Inserted))
	for _, r := range in.Inserted {
		if i := r.ID - first; i >= 0 && i < int64(len(entries)) {
			present[i] = true
		}
		server = append(server, r.At)
	}
	// In whole microseconds, as the figures are kept.
	landed := time.Duration(math.Round(*f.FaultMs*1000)) * time.Microsecond
	var from, to time.Duration
	haveFrom, haveTo := false, false
	for i, e := range entries {
		if e.Outcome != workload.Acked || !present[i] {
			continue
		}
		at := e.At.Truncate(time.Microsecond)
		if at <= landed && (!haveFrom || e.At > from) {
			from, haveFrom = e.At, true
		}
		if at > landed && (!haveTo || e.At < to) {
			to, haveTo = e.At, true
		}
	}
	if !haveFrom || !haveTo {
		return result.Check{}, false // no write of the final primary's on one side
	}
	slices.Sort(server)
	var sFrom, sTo time.Duration
	found := false
	for i := 1; i < len(server); i++ {
		a, b := server[i-1], server[i]
		if b <= from || a >= to {
			continue
		}
		if !found || b-a > sTo-sFrom {
			sFrom, sTo, found = a, b, true
		}
	}
	name := "write outage: ledger against the server's clock"
	p99 := v.Summary.CommitLatency.P99
	tol := 2*p99 + 2
	client := msOf(to - from)
	if !found {
		return check(name, "ms", tol, 0, client,
			fmt.Sprintf("by the ledger, the writes %s holds stop at %.1f ms and resume at %.1f ms (%.1f ms); its rows show no gap in that span",
				v.Summary.Audit.FinalPrimary, msOf(from), msOf(to), client)), true
	}
	serverMs := msOf(sTo - sFrom)
	msg := fmt.Sprintf("by the ledger, the writes %s holds stop at %.1f ms and resume at %.1f ms (%.1f ms); by its clock they were inserted until %.1f ms and from %.1f ms (%.1f ms); tolerance 2 x commit p99 + 2 ms",
		v.Summary.Audit.FinalPrimary, msOf(from), msOf(to), client, msOf(sFrom), msOf(sTo), serverMs)
	if f.LastAckBeforeMs != nil && *f.LastAckBeforeMs > msOf(from) {
		msg += fmt.Sprintf("; the headline outage (%.1f ms) also counts %.1f ms of acknowledged writes lost before it", *f.WriteUnavailableMs, *f.LastAckBeforeMs-msOf(from))
	}
	return check(name, "ms", tol, serverMs, client, msg), true
}

// landingCheck sets when the fault landed, by the fault itself (the old
// primary's last ack before it was seen to take effect), against when the
// failover controller's health probe first failed (stamped at its start):
// a probe that starts after the landing fails, one that started more than
// a probe interval before it succeeded, so the first failing probe starts
// within one probe interval of the landing, either side, plus 20 ms of
// scheduling on a loaded machine. Only for faults that can tell when they
// took effect, on the node the failover answers.
func landingCheck(v *result.Variant, in Input) (result.Check, bool) {
	f := v.Summary.Failover
	if f == nil || f.FaultMs == nil || in.ProbeInterval <= 0 {
		return result.Check{}, false
	}
	effective := false
	for _, fd := range v.Faults {
		if fd.EffectiveMs != nil && fd.InjectedMs != nil && f.InjectedMs != nil && *fd.InjectedMs == *f.InjectedMs &&
			slices.Contains(fd.Targets, f.OldPrimary) {
			effective = true
		}
	}
	if !effective {
		return result.Check{}, false
	}
	var probe *result.Event
	for i, e := range v.Events {
		if e.Kind == result.EventProbeFailed && e.Node == f.OldPrimary {
			probe = &v.Events[i]
			break
		}
	}
	if probe == nil {
		return result.Check{}, false
	}
	slack := msOf(in.ProbeInterval) + 20
	d := probe.Ms - *f.FaultMs
	return check("fault landed: against the first failed probe", "ms", slack, d, 0,
		fmt.Sprintf("the fault landed at %.1f ms (injected at %.1f ms); the first failing health probe of %s started at %.1f ms (%+.1f ms); tolerance one probe interval + 20 ms",
			*f.FaultMs, *f.InjectedMs, f.OldPrimary, probe.Ms, d)), true
}

// check is a Check of value against expected within tolerance.
func check(name, unit string, tolerance, value, expected float64, message string) result.Check {
	c := result.Check{Name: name, Value: value, Expected: expected, Tolerance: tolerance, Unit: unit, Message: message}
	c.Passed = math.Abs(value-expected) <= tolerance
	return c
}
