package report

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// fmtPct formats a fraction as a percentage: 0.2451 → "24.5%", 0.0004 →
// "0.04%".
func fmtPct(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "–"
	case f == 0:
		return "0%"
	case f < 0.001:
		return trimZero(strconv.FormatFloat(100*f, 'f', 3, 64)) + "%"
	case f < 0.01:
		return trimZero(strconv.FormatFloat(100*f, 'f', 2, 64)) + "%"
	}
	return trimZero(strconv.FormatFloat(100*f, 'f', 1, 64)) + "%"
}

// staleRate is the stale share of the answered reads over every node.
func staleRate(rs []result.Reads) (rate float64, ok bool) {
	var stale, answered int64
	for _, r := range rs {
		stale += r.Stale
		answered += r.Reads - r.Errors
	}
	if answered <= 0 {
		return 0, false
	}
	return float64(stale) / float64(answered), true
}

// staleHeadline is the headline's clause on reads, or "": "24.4% of reads
// stale (worst replica1: 24.5%)".
func staleHeadline(rs []result.Reads) string {
	rate, ok := staleRate(rs)
	if !ok {
		return ""
	}
	s := fmtPct(rate) + " of reads stale"
	if len(rs) == 1 {
		return s + " (" + rs[0].Node + ")"
	}
	worst := -1
	for i, r := range rs {
		if worst < 0 || r.StaleRate > rs[worst].StaleRate {
			worst = i
		}
	}
	if rs[worst].StaleRate > 0 {
		s += " (worst " + rs[worst].Node + ": " + fmtPct(rs[worst].StaleRate) + ")"
	}
	return s
}

// readRow is one node's reads.
type readRow struct {
	Node, Reads, Stale, Rate, P50, P99, Max, Orders, Errors, Outage string
	StaleBad, ErrorsBad                                             bool
}

func buildReadRows(rs []result.Reads) []readRow {
	var out []readRow
	for _, r := range rs {
		row := readRow{Node: orDash(r.Node), Reads: fmtInt(r.Reads), Stale: fmtInt(r.Stale), Rate: fmtPct(r.StaleRate),
			P50: "–", P99: "–", Max: "–", Orders: fmtInt(r.StaleMaxOrders), Errors: fmtInt(r.Errors),
			Outage: fmtMs(r.UnavailableMs), StaleBad: r.Stale > 0, ErrorsBad: r.Errors > 0}
		if r.Stale > 0 {
			row.P50, row.P99, row.Max = fmtMs(r.StaleP50Ms), fmtMs(r.StaleP99Ms), fmtMs(r.StaleMaxMs)
		}
		out = append(out, row)
	}
	return out
}

// readsMatrix compares the stale rate of each node across the variants.
type readsMatrix struct {
	Nodes []string
	Rows  []compareRow
}

func buildReadsMatrix(r *result.Result) *readsMatrix {
	var nodes []string
	seen := map[string]bool{}
	for _, v := range r.Variants {
		for _, rd := range v.Summary.Reads {
			if !seen[rd.Node] {
				seen[rd.Node] = true
				nodes = append(nodes, rd.Node)
			}
		}
	}
	if len(nodes) == 0 {
		return nil
	}
	m := &readsMatrix{Nodes: nodes}
	type val struct {
		v  float64
		ok bool
	}
	vals := make([][]val, len(r.Variants))
	for i := range r.Variants {
		v := &r.Variants[i]
		row := compareRow{Name: v.Name, Status: orDash(v.Status), Class: statusClass(v.Status)}
		row.Key, row.Value, _ = strings.Cut(v.Name, "=")
		vals[i] = make([]val, len(nodes)+1)
		for j, n := range nodes {
			c := cell{Text: "–"}
			for _, rd := range v.Summary.Reads {
				if rd.Node != n {
					continue
				}
				c.Text = fmtPct(rd.StaleRate)
				if rd.Stale > 0 {
					c.Sub = "p99 " + fmtMs(rd.StaleP99Ms) + " ms, max " + fmtMs(rd.StaleMaxMs) + " ms"
				}
				if rd.Errors > 0 {
					if c.Sub != "" {
						c.Sub += " · "
					}
					c.Sub += fmtInt(rd.Errors) + " errors"
				}
				c.Title = fmtInt(rd.Stale) + " of " + fmtInt(rd.Reads-rd.Errors) + " answered reads stale; up to " +
					fmtInt(rd.StaleMaxOrders) + " orders behind"
				vals[i][j] = val{rd.StaleRate, true}
			}
			row.Cells = append(row.Cells, c)
		}
		all := cell{Text: "–"}
		if rate, ok := staleRate(v.Summary.Reads); ok {
			all.Text = fmtPct(rate)
			vals[i][len(nodes)] = val{rate, true}
		}
		row.Cells = append(row.Cells, all)
		m.Rows = append(m.Rows, row)
	}
	// The lowest stale rate of each column, when variants differ.
	for j := 0; j <= len(nodes); j++ {
		best, n := math.Inf(1), 0
		for i := range vals {
			if vals[i][j].ok {
				n++
				best = math.Min(best, vals[i][j].v)
			}
		}
		differ := false
		for i := range vals {
			if vals[i][j].ok && vals[i][j].v != best {
				differ = true
			}
		}
		if n < 2 || !differ {
			continue
		}
		for i := range vals {
			if vals[i][j].ok && vals[i][j].v == best {
				m.Rows[i].Cells[j].Best = true
			}
		}
	}
	return m
}

// readsFigure: stale reads and read errors per second and node, a panel
// per variant that read.
func (r *run) readsFigure() (*figure, bool) {
	f := &figure{title: "Stale reads per second",
		note: "Solid: reads that missed a write acknowledged before they were sent. Dashed: read errors."}
	used, drawn := map[string]bool{}, map[string]bool{}
	windows, shaded, anyErr := false, false, false
	colorOf := func(node string) int {
		for i, n := range r.replicas {
			if n == node {
				return i
			}
		}
		return len(r.replicas) + 1 // the primary, or a node without lag
	}
	for _, d := range r.variants {
		if len(d.v.Series.Reads) == 0 {
			continue
		}
		by := map[string][]result.ReadPoint{}
		var nodes []string
		for _, p := range d.v.Series.Reads {
			if _, ok := by[p.Node]; !ok {
				nodes = append(nodes, p.Node)
			}
			by[p.Node] = append(by[p.Node], p)
		}
		sort.SliceStable(nodes, func(a, b int) bool { return colorOf(nodes[a]) < colorOf(nodes[b]) })
		p := newPlot(d.v.Name, "", "stale reads / s")
		r.timeAxis(p, false)
		w, o := r.shade(p, d)
		windows, shaded = windows || w, shaded || o
		hi := 0.0
		for _, n := range nodes {
			pts := by[n]
			sort.SliceStable(pts, func(a, b int) bool { return pts[a].Second < pts[b].Second })
			stale := make(plotter.XYs, len(pts))
			errs := make(plotter.XYs, len(pts))
			nerr := int64(0)
			for i, pt := range pts {
				x := float64(pt.Second) + 0.5
				stale[i] = plotter.XY{X: x, Y: float64(pt.Stale)}
				errs[i] = plotter.XY{X: x, Y: float64(pt.Errors)}
				hi = math.Max(hi, math.Max(stale[i].Y, errs[i].Y))
				nerr += pt.Errors
			}
			c := colorAt(colorOf(n))
			addLine(p, stale, draw.LineStyle{Color: c, Width: 1.6}, 3, yScale{})
			if nerr > 0 {
				addLine(p, errs, draw.LineStyle{Color: c, Width: 1.2, Dashes: []vg.Length{4, 2.5}}, 3, yScale{})
				anyErr = true
			}
			used[n] = true
		}
		addEvents(p, d, drawn)
		yScale{max: math.Max(hi, 1)}.apply(p, fmtAxisNumber)
		f.panels = append(f.panels, p)
		f.heights = append(f.heights, panelHeight)
	}
	if len(f.panels) == 0 {
		return nil, false
	}
	r.labelLastTimeAxis(f)
	var nodes []string
	for n := range used {
		nodes = append(nodes, n)
	}
	sort.SliceStable(nodes, func(a, b int) bool {
		if colorOf(nodes[a]) != colorOf(nodes[b]) {
			return colorOf(nodes[a]) < colorOf(nodes[b])
		}
		return nodes[a] < nodes[b]
	})
	for _, n := range nodes {
		f.legend = append(f.legend, legendItem{n, lineThumb(draw.LineStyle{Color: colorAt(colorOf(n)), Width: 2})})
	}
	if anyErr {
		f.legend = append(f.legend, legendItem{"read errors", lineThumb(draw.LineStyle{Color: black, Width: 1.2, Dashes: []vg.Length{4, 2.5}})})
	}
	f.legend = append(f.legend, eventLegend(drawn)...)
	f.legend = append(f.legend, shadeLegend(windows, shaded)...)
	return f, true
}
