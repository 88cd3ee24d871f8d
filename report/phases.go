package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// phaseRow is one phase of a variant's timeline.
type phaseRow struct {
	Name, Span         string
	TPS, Acked, Errors string
	P50, P99, Max      string
	Lag, Vis           string
	// LagP50 and VisP50, VisP99 are the worst replica's; Unflushed the
	// primary's own WAL not yet flushed, at worst; Lost the heartbeats
	// lost on the replicas; LagTitle, VisTitle each replica's figures.
	LagP50, VisP50, VisP99 string
	Unflushed, Lost        string
	LagTitle, VisTitle     string
	During, ErrorsBad      bool
}

// fmtTenths formats milliseconds as seconds to a tenth: 22.0 → "22",
// 5049 → "5".
func fmtTenths(ms float64) string {
	return trimZero(strconv.FormatFloat(ms/1000, 'f', 1, 64))
}

// hasPhases reports whether a variant's workload was split at faults.
func hasPhases(v *result.Variant) bool { return len(v.Phases) >= 2 }

func buildPhaseRows(v *result.Variant) []phaseRow {
	if !hasPhases(v) {
		return nil
	}
	var out []phaseRow
	for _, p := range v.Phases {
		row := phaseRow{
			Name:   p.Name,
			Span:   fmtTenths(p.StartMs) + "–" + fmtTenths(p.EndMs) + " s",
			TPS:    fmtCount(p.TPS),
			Acked:  fmtInt(p.Acked),
			Errors: fmtInt(p.Errors),
			P50:    fmtMs(p.P50CommitMs), P99: fmtMs(p.P99CommitMs), Max: fmtMs(p.MaxCommitMs),
			Lag:       fmtBytes(p.MaxReplayLagBytes),
			Vis:       fmtMs(p.MaxVisibilityMs),
			Unflushed: fmtBytes(p.MaxUnflushedBytes),
			During:    p.Kind != result.PhaseBefore && p.Kind != result.PhaseAfter && p.Kind != result.PhaseAfterFailover && p.Kind != result.PhaseWhole && p.Kind != result.PhaseCapacity,
			ErrorsBad: p.Errors > 0,
		}
		for _, x := range p.Excluded {
			row.Span += ", without " + fmtTenths(x.StartMs) + "–" + fmtTenths(x.EndMs)
		}
		bn, b, bok, vn, vis, vok := phaseLagP50(&p)
		row.LagP50, row.VisP50, row.VisP99 = "–", "–", "–"
		if bok {
			row.LagP50 = fmtBytes(b) + " " + bn
		}
		var p99 float64
		var lost int64
		var lt, vt []string
		for _, l := range p.Replicas {
			lost += l.HeartbeatsLost
			if l.VisibilitySamples > 0 {
				p99 = max(p99, l.P99VisibilityMs)
			}
			lt = append(lt, fmt.Sprintf("%s: p50 %s, max %s (%d samples)", l.Replica, fmtBytes(l.P50ReplayLagBytes), fmtBytes(l.MaxReplayLagBytes), l.ReplicationSamples))
			vt = append(vt, fmt.Sprintf("%s: p50 %s, p99 %s, max %s ms (%d heartbeats, %d lost)", l.Replica, fmtMs(l.P50VisibilityMs), fmtMs(l.P99VisibilityMs), fmtMs(l.MaxVisibilityMs), l.VisibilitySamples, l.HeartbeatsLost))
		}
		if vok {
			row.VisP50, row.VisP99 = fmtMs(vis)+" "+vn, fmtMs(p99)
		}
		row.Lost = fmtInt(lost)
		row.LagTitle, row.VisTitle = strings.Join(lt, "; "), strings.Join(vt, "; ")
		if p.Acked == 0 {
			row.P50, row.P99, row.Max = "–", "–", "–"
		}
		out = append(out, row)
	}
	return out
}

// catchUpRow is how long one replica took to catch up after one heal.
type catchUpRow struct {
	Variant, Fault, Replica, HealAt string
	Bytes, Vis                      string
	BytesNever, VisNever            bool
}

// buildCatchUps tabulates the catch-ups of vs, with a variant column
// when more than one has any.
func buildCatchUps(vs []*result.Variant) catchUpTable {
	var t catchUpTable
	n := 0
	for _, v := range vs {
		if len(v.CatchUps) > 0 {
			n++
		}
	}
	t.ByVariant = n > 1
	for _, v := range vs {
		t.CatchUps = append(t.CatchUps, buildCatchUpRows(v, v.Name)...)
		for _, c := range v.CatchUps {
			if t.BytesLimit == "" && c.LagBytesLimit > 0 {
				t.BytesLimit = fmtAxisBytes(c.LagBytesLimit)
			}
			if t.MsLimit == "" && c.LagMsLimit > 0 {
				t.MsLimit = fmtMs(c.LagMsLimit)
			}
		}
	}
	if t.BytesLimit == "" {
		t.BytesLimit = "1 MiB"
	}
	if t.MsLimit == "" {
		t.MsLimit = "100"
	}
	return t
}

func buildCatchUpRows(v *result.Variant, variant string) []catchUpRow {
	var out []catchUpRow
	for _, c := range v.CatchUps {
		row := catchUpRow{Variant: variant, Fault: c.Fault, Replica: orDash(c.Replica),
			HealAt: fmtTenths(c.HealMs) + " s", Bytes: "never", Vis: "never",
			BytesNever: c.BytesMs == nil, VisNever: c.VisibilityMs == nil}
		// Healed as the window closed: no sample after the heal to tell.
		if end := v.Summary.DurationS * 1000; end > 0 && c.HealMs >= end-500 {
			if c.BytesMs == nil {
				row.Bytes, row.BytesNever = "window ended", false
			}
			if c.VisibilityMs == nil {
				row.Vis, row.VisNever = "window ended", false
			}
		}
		if f := v.Summary.Failover; f != nil && f.NewPrimary != "" && c.Replica == f.NewPrimary && c.BytesMs == nil && c.VisibilityMs == nil {
			// Promoted: no longer a replica to catch up.
			row.Bytes, row.Vis, row.BytesNever, row.VisNever = "promoted", "promoted", false, false
		}
		if c.BytesMs != nil {
			row.Bytes = "+" + fmtMs(*c.BytesMs) + " ms"
		}
		if c.VisibilityMs != nil {
			row.Vis = "+" + fmtMs(*c.VisibilityMs) + " ms"
		}
		out = append(out, row)
	}
	return out
}

// faultsView is the cross-variant view of the fault phases.
type faultsView struct {
	// Matrix has a row per phase and a column per variant; set when
	// several variants have phases.
	Matrix *phaseMatrix
	// Single is the one variant's phase table, when only one has phases.
	Single     []phaseRow
	SingleName string
	CatchUp    catchUpTable
}

// catchUpTable is a table of catch-ups, of one variant or of several.
type catchUpTable struct {
	CatchUps []catchUpRow
	// ByVariant says the table needs a variant column.
	ByVariant bool
	// BytesLimit and MsLimit are the catch-up thresholds: "1 MiB", "100".
	BytesLimit, MsLimit string
}

// Any reports whether there is anything to show.
func (f faultsView) Any() bool {
	return f.Matrix != nil || len(f.Single) > 0 || len(f.CatchUp.CatchUps) > 0
}

// phaseMatrix compares a figure of each phase across variants.
type phaseMatrix struct {
	Variants []string
	Rows     []phaseMatrixRow
}

type phaseMatrixRow struct {
	Name   string
	During bool
	Cells  []cell
}

// phaseKey names a phase across variants: its name and which occurrence
// of that name it is; during says it is a fault's.
type phaseKey struct {
	name   string
	n      int
	during bool
}

// phaseKeys returns the phases of the variants in order of first
// appearance, and for each variant its phases by key.
func phaseKeys(vs []*result.Variant) ([]phaseKey, []map[phaseKey]*result.PhaseStats) {
	var keys []phaseKey
	seen := map[phaseKey]bool{}
	by := make([]map[phaseKey]*result.PhaseStats, len(vs))
	for i, v := range vs {
		by[i] = map[phaseKey]*result.PhaseStats{}
		count := map[string]int{}
		for j := range v.Phases {
			p := &v.Phases[j]
			k := phaseKey{p.Name, count[p.Name], p.Kind == result.PhaseDuring || p.Kind == result.PhaseOutage || p.Kind == result.PhaseRecovery}
			count[p.Name]++
			by[i][k] = p
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	return keys, by
}

func buildFaults(r *result.Result) faultsView {
	var fv faultsView
	var vs []*result.Variant
	for i := range r.Variants {
		if hasPhases(&r.Variants[i]) {
			vs = append(vs, &r.Variants[i])
		}
	}
	switch {
	case len(vs) == 1:
		fv.Single, fv.SingleName = buildPhaseRows(vs[0]), vs[0].Name
	case len(vs) > 1:
		m := &phaseMatrix{}
		for _, v := range vs {
			m.Variants = append(m.Variants, v.Name)
		}
		keys, by := phaseKeys(vs)
		for _, k := range keys {
			row := phaseMatrixRow{Name: k.name, During: k.during}
			if k.n > 0 {
				row.Name += fmt.Sprintf(" (%d)", k.n+1)
			}
			for i := range vs {
				c := cell{Text: "–"}
				if p := by[i][k]; p != nil {
					if p.Acked > 0 {
						c.Text = fmtMs(p.P99CommitMs)
					}
					c.Sub = fmtCount(p.TPS) + " TPS · vis " + fmtMs(p.MaxVisibilityMs)
					c.Title = fmt.Sprintf("p50 %s ms, max %s ms, max replay lag %s", fmtMs(p.P50CommitMs), fmtMs(p.MaxCommitMs), fmtBytes(p.MaxReplayLagBytes))
				}
				row.Cells = append(row.Cells, c)
			}
			m.Rows = append(m.Rows, row)
		}
		fv.Matrix = m
	}
	var all []*result.Variant
	for i := range r.Variants {
		all = append(all, &r.Variants[i])
	}
	fv.CatchUp = buildCatchUps(all)
	return fv
}

// wrapLabel breaks s at spaces into lines of about n characters.
func wrapLabel(s string, n int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > n {
			lines = append(lines, line)
			line = w
			continue
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	if line != "" {
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// phasesFigure: p99 commit latency and throughput per phase, a bar per
// variant, so that a fault's cost reads across the variants.
func (r *run) phasesFigure() (*figure, bool) {
	var ds []*variantData
	var vs []*result.Variant
	for _, d := range r.variants {
		if hasPhases(d.v) {
			ds = append(ds, d)
			vs = append(vs, d.v)
		}
	}
	if len(ds) == 0 {
		return nil, false
	}
	keys, by := phaseKeys(vs)
	labels := make([]string, len(keys))
	for i, k := range keys {
		name := k.name
		if k.during {
			name = strings.TrimPrefix(name, "during: ")
		}
		if k.n > 0 {
			name += fmt.Sprintf(" (%d)", k.n+1)
		}
		labels[i] = wrapLabel(name, 26)
	}
	metric := func(title string, value func(*result.PhaseStats) (float64, bool), format func(float64) string) *plot.Plot {
		p := newPlot(title, "", "")
		p.NominalX(labels...)
		p.X.Tick.Label.Font = sans(tickSize)
		n := float64(len(ds))
		// Bars fill 80% of each phase's slot.
		slot := (figureWidth - 90) / vg.Length(len(keys))
		w := min(slot*0.8/vg.Length(n), 70)
		hi := 0.0
		for i, d := range ds {
			vals := make(plotter.Values, len(keys))
			for j, k := range keys {
				if ps := by[i][k]; ps != nil {
					if x, ok := value(ps); ok {
						vals[j] = x
						hi = math.Max(hi, x)
					}
				}
			}
			b, err := plotter.NewBarChart(vals, w)
			if err != nil {
				continue
			}
			b.Color = colorAt(d.color)
			b.LineStyle.Width = 0
			b.Offset = (vg.Length(i) - vg.Length(n-1)/2) * w
			p.Add(b)
		}
		p.X.Min, p.X.Max = -0.5, float64(len(keys))-0.5
		yScale{max: hi}.apply(p, format)
		return p
	}
	p99 := metric("p99 commit latency", func(ps *result.PhaseStats) (float64, bool) {
		return ps.P99CommitMs, ps.Acked > 0
	}, fmtAxisMs)
	tps := metric("throughput (acknowledged writes / s)", func(ps *result.PhaseStats) (float64, bool) {
		return ps.TPS, true
	}, fmtAxisNumber)
	var legend []legendItem
	for _, d := range ds {
		legend = append(legend, legendItem{d.v.Name, boxThumb{colorAt(d.color)}})
	}
	lines := 1
	for _, l := range labels {
		lines = max(lines, strings.Count(l, "\n")+1)
	}
	extra := vg.Length(lines-1) * 13
	return &figure{
		title:   "Commit latency and throughput per phase",
		note:    "Split at the faults (injected to healed) and at the failover: the outage to the first write, the recovery, after the failover. A closed-loop burst is a capacity phase of its own.",
		panels:  []*plot.Plot{p99, tps},
		heights: []vg.Length{200 + extra, 180 + extra},
		legend:  legend,
	}, true
}
