package report

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pgbench-ha/pgbench-ha/internal/redact"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// repetitionRow is one run of a repeated variant.
type repetitionRow struct {
	Index, Shift, Status, StatusClass                string
	TPS, Capacity, P99, Unavailable, Detect, Promote string
	Lost, Ghosts                                     string
	LostBad                                          bool
}

func fmtShift(ms float64) string {
	switch {
	case ms > 0:
		return "+" + fmtDuration(ms)
	case ms < 0:
		return "−" + fmtDuration(-ms)
	}
	return "0"
}

// stepMs is a failover step as an offset from another, or nil.
func stepMs(to, from *float64) *float64 {
	if to == nil || from == nil {
		return nil
	}
	d := *to - *from
	return &d
}

func buildRepetitionRows(v *result.Variant) []repetitionRow {
	var out []repetitionRow
	for _, rp := range v.Repetitions {
		row := repetitionRow{Index: fmt.Sprint(rp.Index), Shift: fmtShift(rp.ShiftMs), Status: orDash(rp.Status),
			StatusClass: statusClass(rp.Status), TPS: fmtCount(rp.TPS), Capacity: "–", P99: fmtMs(rp.P99CommitMs),
			Unavailable: "–", Detect: "–", Promote: "–", Lost: fmtInt(rp.Lost), Ghosts: fmtInt(rp.Ghosts), LostBad: rp.Lost > 0}
		if rp.CapacityTPS != nil {
			row.Capacity = fmtCount(*rp.CapacityTPS)
		}
		if f := rp.Failover; f != nil {
			row.Unavailable = fmtMsOpt(f.WriteUnavailableMs, "")
			row.Detect = fmtMsOpt(stepMs(f.DetectedMs, f.FaultMs), "")
			row.Promote = fmtMsOpt(stepMs(f.PromoteDoneMs, f.PromoteStartMs), "")
			if f.FaultMs != nil && f.FirstWriteMs == nil && f.Mode != "none" {
				row.Unavailable = "no write"
			}
		}
		if rp.Error != "" {
			row.Status += ": " + redact.String(firstLine(rp.Error))
		}
		out = append(out, row)
	}
	return out
}

// repeated returns a variant's repetition summary: the recorded one, or
// one computed from its repetitions when the result lacks it.
func repeated(v *result.Variant) *result.RepeatSummary {
	if v.Summary.Repeated != nil {
		return v.Summary.Repeated
	}
	if len(v.Repetitions) == 0 {
		return nil
	}
	return result.SummarizeRepetitions(v.Repetitions)
}

// fmtDist formats a distribution of milliseconds: "1,900 / 2,050 / 2,400".
func fmtDist(d result.Distribution, f func(float64) string) string {
	if d.N == 0 {
		return "–"
	}
	return f(d.P50) + " / " + f(d.P90) + " / " + f(d.Max)
}

// repeatSummaryRow sums up one repeated variant.
type repeatSummaryRow struct {
	Name, Runs                         string
	Unavailable, Detect, Promote, Lost string
	P99, Capacity                      string
	LostBad                            bool
}

func buildRepeatSummary(r *result.Result) []repeatSummaryRow {
	var out []repeatSummaryRow
	for i := range r.Variants {
		v := &r.Variants[i]
		rs := repeated(v)
		if rs == nil {
			continue
		}
		row := repeatSummaryRow{Name: v.Name, Runs: fmt.Sprintf("%d of %d", rs.Complete, rs.Runs),
			Unavailable: fmtDist(rs.WriteUnavailableMs, fmtMs), Detect: fmtDist(rs.DetectMs, fmtMs),
			Promote: fmtDist(rs.PromoteMs, fmtMs), P99: fmtDist(rs.P99CommitMs, fmtMs),
			Lost: fmtInt(rs.LostTotal), LostBad: rs.LostTotal > 0, Capacity: "–"}
		if rs.CapacityTPS != nil {
			row.Capacity = fmtDist(*rs.CapacityTPS, fmtCount)
		}
		if rs.LostAckedWrites.N > 0 && rs.LostTotal > 0 {
			row.Lost += fmt.Sprintf(" (≤ %s a run)", fmtCount(rs.LostAckedWrites.Max))
		}
		out = append(out, row)
	}
	return out
}

// repeatRow is one variant's write outages over its repetitions.
type repeatRow struct {
	values []float64
	dist   result.Distribution
	color  int
	// pred is the outage range the settings predict, if a model covers
	// the fault: drawn behind the dots.
	pred *result.Prediction
}

// repeatStrip draws each row's repetitions as dots and marks its p50, p90
// and max.
type repeatStrip struct{ rows []repeatRow }

func (s repeatStrip) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = math.Inf(1), math.Inf(-1)
	for _, r := range s.rows {
		for _, v := range r.values {
			xmin, xmax = math.Min(xmin, v), math.Max(xmax, v)
		}
		if r.pred != nil {
			xmin, xmax = math.Min(xmin, math.Max(r.pred.LowMs, 0)), math.Max(xmax, r.pred.HighMs)
		}
	}
	return xmin, xmax, -0.5, float64(len(s.rows)) - 0.5
}

func (s repeatStrip) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(s.rows)
	lab := textStyle(tickSize - 0.5)
	lab.XAlign, lab.YAlign = draw.XCenter, draw.YBottom
	for i, r := range s.rows {
		y := float64(n - 1 - i)
		col := colorAt(r.color)
		if r.pred != nil {
			x0, x1 := trX(math.Max(r.pred.LowMs, 0)), trX(r.pred.HighMs)
			y0, y1 := trY(y-0.36), trY(y+0.36)
			c.FillPolygon(predictedShade, []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}})
		}
		// Dots, spread a little up and down so that equal values show.
		for j, v := range r.values {
			dy := (float64(j%5) - 2) * 0.06
			c.DrawGlyph(draw.GlyphStyle{Color: col, Radius: 3.2, Shape: draw.CircleGlyph{}}, vg.Point{X: trX(v), Y: trY(y + dy)})
		}
		if r.dist.N == 0 {
			continue
		}
		// One label per distinct value: "p90, max 3.4 s" when they
		// coincide.
		type mark struct {
			names []string
			v     float64
		}
		var marks []mark
		for _, m := range []struct {
			name string
			v    float64
		}{{"p50", r.dist.P50}, {"p90", r.dist.P90}, {"max", r.dist.Max}} {
			if n := len(marks); n > 0 && math.Abs(float64(trX(m.v)-trX(marks[n-1].v))) < 1 {
				marks[n-1].names = append(marks[n-1].names, m.name)
				continue
			}
			marks = append(marks, mark{[]string{m.name}, m.v})
		}
		lastX := vg.Length(math.Inf(-1))
		for _, m := range marks {
			x := trX(m.v)
			c.StrokeLine2(draw.LineStyle{Color: black, Width: 1.6}, x, trY(y-0.3), x, trY(y+0.3))
			text := strings.Join(m.names, ", ") + " " + fmtMs(m.v) + " ms"
			w := lab.Width(text)
			if x-w/2 < lastX+4 {
				x = lastX + 4 + w/2 // keep neighbouring labels apart
			}
			if x+w/2 > c.Max.X {
				x = c.Max.X - w/2
			}
			c.FillText(lab, vg.Point{X: x, Y: trY(y + 0.3)}, text)
			lastX = x + w/2
		}
	}
}

// repetitionsFigure: the write outage of every repetition, a row per
// repeated variant.
func (r *run) repetitionsFigure() (*figure, bool) {
	var rows []repeatRow
	var names []string
	for _, d := range r.variants {
		var xs []float64
		for _, rp := range d.v.Repetitions {
			if rp.Failover != nil && rp.Failover.WriteUnavailableMs != nil {
				xs = append(xs, *rp.Failover.WriteUnavailableMs)
			}
		}
		if len(xs) == 0 {
			continue
		}
		dist := result.NewDistribution(xs)
		if rs := d.v.Summary.Repeated; rs != nil && rs.WriteUnavailableMs.N > 0 {
			dist = rs.WriteUnavailableMs
		}
		var pred *result.Prediction
		if f := d.v.Summary.Failover; f != nil {
			pred = f.Predicted
		}
		rows = append(rows, repeatRow{values: xs, dist: dist, color: d.color, pred: pred})
		names = append(names, d.v.Name)
	}
	if len(rows) == 0 {
		return nil, false
	}
	strip := repeatStrip{rows: rows}
	p := newPlot("", "writes unavailable (the longest span without an ack, from the fault to the new primary's first), per repetition", "")
	p.Add(strip)
	lo, hi, _, _ := strip.DataRange()
	span := math.Max(hi-lo, math.Max(hi*0.1, 10))
	p.X.Min, p.X.Max = math.Max(0, lo-0.08*span), hi+0.08*span
	p.X.Tick.Marker = niceTicks{format: fmtAxisMs, n: 8}
	rev := make([]string, len(names))
	for i, n := range names {
		rev[len(names)-1-i] = n
	}
	p.NominalY(rev...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(rows))-0.4
	p.Y.Tick.Label.Font = sans(labelSize)
	fig := &figure{
		title:   "Write outage across repetitions",
		note:    "A dot per repetition; the marks are the p50, p90 and max over the completed repetitions.",
		panels:  []*plot.Plot{p},
		heights: []vg.Length{vg.Length(70 + 46*len(rows))},
	}
	for _, r := range rows {
		if r.pred != nil {
			fig.note += " The shaded band is the range the settings predict."
			fig.legend = append(fig.legend, legendItem{"the outage the settings predict", boxThumb{predictedShade}})
			break
		}
	}
	return fig, true
}
