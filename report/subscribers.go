package report

import (
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// subscriberRow is one logical subscriber of one variant, as the report's
// table shows it.
type subscriberRow struct {
	Variant, Name               string
	MaxLag, MaxRetained         string
	Arrival, Missing, Failover  string
	MissingBad, FailoverBad, Ok bool
}

// buildSubscriberRows lists every variant's subscribers: the slot's worst
// lag and retained WAL on the primary, the end-to-end arrival lag, the
// acknowledged writes each lacks, and what the failover did to it.
func buildSubscriberRows(r *result.Result) []subscriberRow {
	var out []subscriberRow
	for i := range r.Variants {
		v := &r.Variants[i]
		audits := map[string]result.SubscriberAudit{}
		if a := v.Summary.Audit; a != nil {
			for _, s := range a.Subscribers {
				audits[s.Name] = s
			}
		}
		for _, s := range v.Summary.Subscribers {
			row := subscriberRow{Variant: v.Name, Name: s.Name, MaxLag: orBytes(s.MaxLagBytes), MaxRetained: orBytes(s.MaxRetainedBytes),
				Arrival: "–", Missing: "–", Failover: "no failover"}
			if a, ok := audits[s.Name]; ok {
				if a.ArrivalMs.N > 0 {
					row.Arrival = fmt.Sprintf("%s / %s / %s", fmtMs(a.ArrivalMs.P50), fmtMs(a.ArrivalMs.P90), fmtMs(a.ArrivalMs.Max))
				}
				row.Missing = fmt.Sprintf("%s of %s", fmtInt(a.Missing), fmtInt(a.Acked))
				row.MissingBad = a.Missing > 0
				if a.Followed != nil {
					row.Failover = subscriberFailoverText(a, s)
					row.FailoverBad = !*a.Followed
				}
			}
			out = append(out, row)
		}
	}
	return out
}

// subscriberFailoverText says whether the subscription followed the new
// primary, and what it lacks from before and after the promotion.
func subscriberFailoverText(a result.SubscriberAudit, s result.SubscriberSummary) string {
	t := "followed the new primary"
	if !*a.Followed {
		t = "did not follow the new primary"
		if s.SlotGoneMs != nil {
			t += fmt.Sprintf(" (no slot of its there from %s s)", fmtTenths(*s.SlotGoneMs))
		}
	}
	return fmt.Sprintf("%s; missing %s acknowledged before the promotion, %s after", t, fmtInt(*a.MissingBefore), fmtInt(*a.MissingAfter))
}

func orBytes(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmtBytes(*p)
}

// subscriberNotes are the text summary's lines on subscribers that lack
// acknowledged writes.
func subscriberNotes(v *result.Variant) []string {
	var out []string
	if v.Summary.Audit == nil {
		return nil
	}
	for _, a := range v.Summary.Audit.Subscribers {
		if a.Missing == 0 {
			continue
		}
		n := fmt.Sprintf("%s: %s acknowledged writes missing on subscriber %s", v.Name, fmtInt(a.Missing), a.Name)
		if a.Followed != nil && !*a.Followed {
			n += fmt.Sprintf(" (%s from before the promotion, %s after: it did not follow the new primary)", fmtInt(*a.MissingBefore), fmtInt(*a.MissingAfter))
		}
		out = append(out, n)
	}
	return out
}
