package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

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
	if f := followText(s); f != "" {
		t += "; " + f
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
	return append(out, followNotes(v)...)
}

// subscribersFigure: each variant's logical subscribers, the end-to-end
// arrival lag (max per second of the acks) above, the slot's lag in bytes
// on the primary below. One line per variant and subscriber.
func (r *run) subscribersFigure() (*figure, bool) {
	var ds []*variantData
	arr := map[*variantData][]plotter.XYs{}
	byt := map[*variantData][]plotter.XYs{}
	var allArr, allBytes [][]float64
	for _, d := range r.variants {
		a := d.v.Summary.Audit
		if len(d.v.Series.Subscribers) == 0 && (a == nil || len(a.Subscribers) == 0) {
			continue
		}
		ds = append(ds, d)
		if a != nil {
			for _, s := range a.Subscribers {
				var xy plotter.XYs
				var ys []float64
				for _, p := range s.ArrivalBySecond {
					xy = append(xy, plotter.XY{X: float64(p.Second) + 0.5, Y: p.MaxMs})
					ys = append(ys, p.MaxMs)
				}
				arr[d] = append(arr[d], xy)
				allArr = append(allArr, ys)
			}
		}
		subs := map[string]plotter.XYs{}
		var names []string
		for _, p := range d.v.Series.Subscribers {
			if p.LagBytes == nil {
				continue
			}
			if _, ok := subs[p.Subscriber]; !ok {
				names = append(names, p.Subscriber)
			}
			subs[p.Subscriber] = append(subs[p.Subscriber], plotter.XY{X: p.Ms / 1000, Y: *p.LagBytes})
		}
		for _, n := range names {
			byt[d] = append(byt[d], subs[n])
			var ys []float64
			for _, xy := range subs[n] {
				ys = append(ys, xy.Y)
			}
			allBytes = append(allBytes, ys)
		}
	}
	if len(ds) == 0 {
		return nil, false
	}
	ap := newPlot("arrival lag, max per second of the acks", "", "")
	bp := newPlot("slot lag on the primary", "", "")
	r.timeAxis(ap, false)
	r.timeAxis(bp, true)
	windows, shaded := r.shade(ap, ds...)
	r.shade(bp, ds...)
	// Arrival lags may be below 0 (applied before the ack reached the
	// client): a linear axis that shows them.
	lo, hi := 0.0, 0.0
	for _, ys := range allArr {
		for _, y := range ys {
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
	}
	asc, bsc := yScale{max: hi}, chooseScale(allBytes...)
	for _, d := range ds {
		sty := draw.LineStyle{Color: colorAt(d.color), Width: 1.6}
		for _, xy := range arr[d] {
			addLine(ap, xy, sty, 1.5, asc)
		}
		for _, xy := range byt[d] {
			addLine(bp, xy, sty, 0, bsc)
		}
	}
	faults := r.faultLines(ap, ds)
	r.faultLines(bp, ds)
	asc.apply(ap, fmtAxisMs)
	if lo < 0 {
		ap.Y.Min = lo * 1.08
	}
	bsc.applyBytes(bp)
	return &figure{
		title:   "Logical subscribers",
		note:    "Arrival minus ack, the worst write of each second; below 0: applied before the client had its ack.",
		panels:  []*plot.Plot{ap, bp},
		heights: []vg.Length{200, 150},
		legend:  r.variantLegend(ds, faults, windows, shaded),
	}, true
}
