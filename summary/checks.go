package summary

import (
	"fmt"
	"math"

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
	return out
}

// check is a Check of value against expected within tolerance.
func check(name, unit string, tolerance, value, expected float64, message string) result.Check {
	c := result.Check{Name: name, Value: value, Expected: expected, Tolerance: tolerance, Unit: unit, Message: message}
	c.Passed = math.Abs(value-expected) <= tolerance
	return c
}
