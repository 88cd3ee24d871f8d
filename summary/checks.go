package summary

import (
	"fmt"
	"math"
	"slices"
	"strings"
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
	if len(in.Inserted) > 0 && v.Summary.Audit != nil {
		// The ledger paired once with the server's rows, for both checks
		// that read them.
		entries := led.View()
		at, present := serverTimes(entries, led.FirstID(), in.Inserted)
		out = append(out, bracketCheck(entries, at, present, v.Summary.Audit.FinalPrimary))
		if c, ok := outageCheck(v, entries, at, present, in.Inserted, in.Nodes); ok {
			out = append(out, c)
		}
	}
	if c, ok := landingCheck(v, in); ok {
		out = append(out, c)
	}
	if c, ok := walCheck(v); ok {
		out = append(out, c)
	}
	return out
}

// walCheck sets the acknowledged writes the audit found lost, by the
// node that acknowledged them, against the order rows that node inserted
// past the point where the final primary's timeline left its own
// (pg_waldump): a lost write is one no promoted standby ever had, so its
// row is there, unless its commit never reached the node's WAL files, as
// under synchronous_commit=off, where the check is not made.
func walCheck(v *result.Variant) (result.Check, bool) {
	a := v.Summary.Audit
	if a == nil || len(a.WALBeyond) == 0 || v.Topology.Settings["synchronous_commit"] == "off" {
		return result.Check{}, false
	}
	var parts []string
	var over, lostThere, rows int64
	read := map[string]bool{}
	for _, w := range a.WALBeyond {
		read[w.Node] = true
		lost := a.LostByNode[w.Node]
		lostThere += lost
		rows += w.OrderInserts
		if lost > w.OrderInserts {
			over += lost - w.OrderInserts
		}
		parts = append(parts, fmt.Sprintf("%s acknowledged %d lost writes and inserted %d order rows (%d commits) on timeline %d after %s",
			w.Node, lost, w.OrderInserts, w.Commits, w.Timeline, w.FromLSN))
	}
	// Lost writes acknowledged by a node whose WAL was not read cannot
	// be set against it: they count against the check.
	var unread int64
	for node, n := range a.LostByNode {
		if !read[node] {
			unread += n
		}
	}
	msg := strings.Join(parts, "; ") + fmt.Sprintf(", where %s's history leaves it", a.FinalPrimary)
	if unread > 0 {
		msg += fmt.Sprintf("; %d lost writes were acknowledged by nodes whose WAL was not read", unread)
	}
	c := result.Check{Name: "lost writes lie beyond what the promoted standby had", Value: float64(lostThere + unread),
		Expected: float64(rows), AtMost: true, Unit: "writes", Passed: over == 0 && unread == 0, Message: msg}
	return c, true
}

// minOutage is the shortest write outage worth setting against the
// server's record: shorter gaps are the arrival process's own.
const minOutage = 20 * time.Millisecond

// serverTimes pairs the ledger's entries with the final primary's insert
// times: at[i] is when entry i's row was inserted, present[i] whether it
// is there at all.
func serverTimes(entries workload.Entries, first int64, ins []workload.Inserted) (at []time.Duration, present []bool) {
	at = make([]time.Duration, entries.Len())
	present = make([]bool, entries.Len())
	for _, r := range ins {
		if i := r.ID - first; i >= 0 && i < int64(entries.Len()) {
			at[i], present[i] = r.At, true
		}
	}
	return at, present
}

// insertSlack bounds how far a row's insert time (the server's clock) may
// lie outside the span from its send to its ack (the harness's clock):
// both read the same host clock, each to the microsecond, so this covers
// rounding and the order of two reads, nothing more.
const insertSlack = time.Millisecond

// bracketCheck sets every write the final primary holds that the ledger
// says was sent against its insert time: the row was inserted after the
// writer sent it and, when it was acknowledged, before the ack. A row
// inserted outside that span means the ledger's times (or the node it
// credits) are wrong.
func bracketCheck(entries workload.Entries, at []time.Duration, present []bool, final string) result.Check {
	var n, early, late int64
	var worst time.Duration
	for i, e := range entries.All() {
		if !present[i] || !e.WasSent() {
			continue
		}
		n++
		switch {
		case at[i] < e.Sent-insertSlack:
			early++
			worst = max(worst, e.Sent-at[i])
		case e.Outcome == workload.Acked && at[i] > e.At+insertSlack:
			late++
			worst = max(worst, at[i]-e.At)
		}
	}
	return check("insert times lie between send and ack", "writes", 0, float64(early+late), 0,
		fmt.Sprintf("of %d writes %s holds, %d were inserted before the ledger says they were sent and %d after their ack (worst by %.1f ms); tolerance %v of clock reading",
			n, final, early, late, msOf(worst), insertSlack))
}

// outageCheck sets the write outage as the ledger shows it against the
// final primary's own clock. By the ledger: the last write the final
// primary holds (acknowledged or of unknown outcome) that was sent before
// the fault landed, and the first sent after it. By the server: the
// longest gap between two consecutive insert times (created_at) of the
// run's rows it holds, overlapping that span. When both sides bound the
// gap with the same two writes, the two spans differ only by how long
// each took from its send to its insert (the first write on a new
// connection waits for the new backend to load its caches): that is the
// tolerance, plus 1 ms. A row in the outage the ledger does not account
// for, or a write the ledger has in it that the server lacks, breaks it.
// The headline outage runs from ack to ack: the message gives it beside.
func outageCheck(v *result.Variant, entries workload.Entries, at []time.Duration, present []bool, inserted []workload.Inserted, nodes []string) (result.Check, bool) {
	f := v.Summary.Failover
	if f == nil || f.FaultMs == nil || f.WriteUnavailableMs == nil || *f.WriteUnavailableMs < msOf(minOutage) ||
		v.Summary.Audit == nil || len(inserted) == 0 {
		return result.Check{}, false
	}
	// In whole microseconds, as the figures are kept. The outage opens at
	// the landing, or later when the old primary outlived the fault.
	split := *f.FaultMs
	if f.OutageFromMs != nil {
		split = max(split, *f.OutageFromMs)
	}
	landed := durOf(split)
	// The outage ends with the first write the final primary holds that
	// was sent to it after the landing (acknowledged, or of unknown
	// outcome: committed as its connection broke); it opens with the
	// last write the final primary holds sent before that one, and before
	// the landing or to another node: a write in flight as the old
	// primary died, sent after the landing and replicated before the
	// end, is on the old primary's side.
	final := -1
	if len(nodes) > 0 {
		final = slices.Index(nodes, v.Summary.Audit.FinalPrimary)
	}
	toFinal := func(e workload.Entry) bool { return len(nodes) == 0 || int(e.Node) == final }
	var from, to time.Duration
	haveFrom, haveTo := false, false
	var reachFrom, reachTo time.Duration // insert minus send of each
	// Failed writes found present are ghosts, counted apart: the server's
	// rows show them, the ledger's span does not.
	held := func(i int, e workload.Entry) bool {
		return present[i] && e.WasSent() && (e.Outcome == workload.Acked || e.Outcome == workload.Unknown)
	}
	for i, e := range entries.All() {
		if !held(i, e) {
			continue
		}
		if e.Sent.Truncate(time.Microsecond) > landed && toFinal(e) && (!haveTo || e.Sent < to) {
			to, haveTo, reachTo = e.Sent, true, at[i]-e.Sent
		}
	}
	for i, e := range entries.All() {
		if !held(i, e) {
			continue
		}
		before := e.Sent.Truncate(time.Microsecond) <= landed || !toFinal(e)
		if before && (!haveTo || e.Sent < to) && (!haveFrom || e.Sent > from) {
			from, haveFrom, reachFrom = e.Sent, true, at[i]-e.Sent
		}
	}
	if !haveFrom || !haveTo {
		return result.Check{}, false // no write of the final primary's on one side
	}
	server := make([]time.Duration, 0, len(inserted))
	for _, r := range inserted {
		server = append(server, r.At)
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
	tol := msOf(max(reachFrom, 0)+max(reachTo, 0)) + 1
	name := "write outage: ledger against the server's clock"
	ledger := msOf(to - from)
	head := fmt.Sprintf("by the ledger, the writes %s holds were sent until %.1f ms and again from %.1f ms (%.1f ms)", v.Summary.Audit.FinalPrimary, msOf(from), msOf(to), ledger)
	why := fmt.Sprintf("tolerance: those two writes' send to insert (%.2f and %.2f ms) + 1 ms", msOf(reachFrom), msOf(reachTo))
	if !found {
		return check(name, "ms", tol, 0, ledger, head+"; its rows show no gap in that span; "+why), true
	}
	serverMs := msOf(sTo - sFrom)
	msg := fmt.Sprintf("%s; by its clock they were inserted until %.1f ms and from %.1f ms (%.1f ms); %s; the headline outage, from ack to ack, is %.1f ms",
		head, msOf(sFrom), msOf(sTo), serverMs, why, *f.WriteUnavailableMs)
	return check(name, "ms", tol, serverMs, ledger, msg), true
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
	// A probe fails once per streak of failures: a streak that ended
	// before the fault (a probe that timed out on a busy machine, the next
	// one succeeding) is not the fault's. The fault's streak is the last
	// to start by the detection, when there was one; else the first to
	// start after the probe interval before the injection, else the last.
	var fails []*result.Event
	for i, e := range v.Events {
		if e.Kind == result.EventProbeFailed && e.Node == f.OldPrimary {
			fails = append(fails, &v.Events[i])
		}
	}
	var probe *result.Event
	if len(fails) > 0 {
		probe = fails[len(fails)-1]
	}
	for i, e := range fails {
		if f.DetectedMs != nil {
			if e.Ms > *f.DetectedMs {
				probe = fails[max(i-1, 0)]
				break
			}
			continue
		}
		if e.Ms >= *f.InjectedMs-msOf(in.ProbeInterval) {
			probe = e
			break
		}
	}
	if probe == nil {
		return result.Check{}, false
	}
	// The probe before the failing one succeeded: the fault landed after
	// it started. On a loaded machine the prober may have been held up
	// beyond its interval; the gap it left is then the bound.
	gap, why := msOf(in.ProbeInterval), "one probe interval"
	if p := probe.PrevProbeMs; p != nil && probe.Ms-*p > gap {
		gap, why = probe.Ms-*p, fmt.Sprintf("the %.1f ms since the probe before it started (the prober held up beyond its %.0f ms interval)", probe.Ms-*p, msOf(in.ProbeInterval))
	}
	slack := gap + 20
	d := probe.Ms - *f.FaultMs
	if d < 0 && probe.Ms >= *f.InjectedMs {
		// The probe started while the fault was landing (a node's
		// freeze under way): it failed on a node already going.
		d = 0
	}
	return check("fault landed: against the first failed probe", "ms", slack, d, 0,
		fmt.Sprintf("the fault landed at %.1f ms (injected at %.1f ms); the first failing health probe of %s started at %.1f ms (%+.1f ms); tolerance %s + 20 ms",
			*f.FaultMs, *f.InjectedMs, f.OldPrimary, probe.Ms, d, why)), true
}

// check is a Check of value against expected within tolerance.
func check(name, unit string, tolerance, value, expected float64, message string) result.Check {
	c := result.Check{Name: name, Value: value, Expected: expected, Tolerance: tolerance, Unit: unit, Message: message}
	c.Passed = math.Abs(value-expected) <= tolerance
	return c
}
