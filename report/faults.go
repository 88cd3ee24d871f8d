package report

import (
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// faultWindow is a fault that lasted: from its injection to its heal, or
// to the end of the window when it was never healed.
type faultWindow struct {
	from, to float64 // ms
	label    string
	healed   bool
}

// faultWindows splits a variant's fired faults into windows (healed, or
// lasting to the end) and instants (one act never healed: a kill, a
// restart), the latter as fault events to mark. A fault whose injection
// failed is neither.
func faultWindows(faults []result.Fault, end float64) (windows []faultWindow, instants []result.Event) {
	for _, f := range faults {
		if !f.Fired() {
			continue
		}
		at := *f.InjectedMs
		switch {
		case f.HealedMs != nil:
			windows = append(windows, faultWindow{from: at, to: *f.HealedMs, label: f.Name, healed: true})
		case f.Lasting:
			windows = append(windows, faultWindow{from: at, to: math.Max(end, at), label: f.Name})
		default:
			idx := f.Index
			instants = append(instants, result.Event{Ms: at, Kind: result.EventFault, Node: f.Node, Detail: f.Name,
				Fault: &idx, FaultKind: f.Kind, Outcome: f.Outcome})
		}
	}
	sort.SliceStable(windows, func(a, b int) bool { return windows[a].from < windows[b].from })
	sort.SliceStable(instants, func(a, b int) bool { return instants[a].Ms < instants[b].Ms })
	return windows, instants
}

var (
	// windowFill shades a fault window; windowEdge marks its ends and
	// windowText labels it.
	windowFill = color.NRGBA{R: 0xf2, G: 0x9e, B: 0x2b, A: 0x2a}
	windowEdge = color.NRGBA{R: 0xc7, G: 0x7a, B: 0x12, A: 0xb0}
	windowText = rgb(0x7a4a00)
)

// windowBand shades a fault window across the data area.
type windowBand struct {
	x0, x1 float64 // seconds
	open   bool    // never healed: no edge at the end
}

// windowLabel names a fault window at the top of its band, cut to the
// band's width, on a light ground; it is drawn over the data.
type windowLabel struct {
	x0, x1 float64 // seconds
	label  string
}

func (b windowBand) Plot(c draw.Canvas, p *plot.Plot) {
	lo, hi := math.Max(b.x0, p.X.Min), math.Min(b.x1, p.X.Max)
	if hi < lo {
		return
	}
	trX, _ := p.Transforms(&c)
	a, z := trX(lo), trX(hi)
	if z-a < 2 {
		z = a + 2
	}
	c.FillPolygon(windowFill, []vg.Point{
		{X: a, Y: c.Min.Y}, {X: z, Y: c.Min.Y}, {X: z, Y: c.Max.Y}, {X: a, Y: c.Max.Y},
	})
	edge := draw.LineStyle{Color: windowEdge, Width: 0.8, Dashes: []vg.Length{3, 2}}
	if b.x0 >= p.X.Min {
		c.StrokeLine2(edge, a, c.Min.Y, a, c.Max.Y)
	}
	if !b.open && b.x1 <= p.X.Max {
		c.StrokeLine2(edge, z, c.Min.Y, z, c.Max.Y)
	}
}

func (b windowLabel) Plot(c draw.Canvas, p *plot.Plot) {
	lo, hi := math.Max(b.x0, p.X.Min), math.Min(b.x1, p.X.Max)
	if hi < lo {
		return
	}
	trX, _ := p.Transforms(&c)
	a, z := trX(lo), trX(hi)
	sty := textStyle(tickSize - 0.5)
	sty.Color = windowText
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YBottom
	label := fitText(sty, b.label, z-a-6)
	if label == "" {
		return
	}
	// At the top, on a light ground so that it stays legible over the
	// lines; an outage label goes under it.
	w, h := sty.Width(label), sty.Height(label)
	x, y := a+3, c.Max.Y-2-h
	c.FillPolygon(color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xc8}, []vg.Point{
		{X: x - 1.5, Y: y - 1}, {X: x + w + 1.5, Y: y - 1}, {X: x + w + 1.5, Y: y + h}, {X: x - 1.5, Y: y + h},
	})
	c.FillText(sty, vg.Point{X: x, Y: y}, label)
}

// fitText shortens s with "…" to fit width, or returns "" when not even a
// few characters fit.
func fitText(sty interface{ Width(string) vg.Length }, s string, width vg.Length) string {
	if sty.Width(s) <= width {
		return s
	}
	rs := []rune(s)
	for n := len(rs) - 1; n >= 4; n-- {
		t := strings.TrimRight(string(rs[:n]), " ,") + "…"
		if sty.Width(t) <= width {
			return t
		}
	}
	return ""
}

// windowsOf merges the fault windows of ds: windows of the same fault
// that start and end within tol ms of each other are drawn once.
func windowsOf(ds []*variantData, tol float64) []faultWindow {
	var out []faultWindow
	for _, d := range ds {
	next:
		for _, w := range d.windows {
			for i := range out {
				o := &out[i]
				if o.label == w.label && math.Abs(o.from-w.from) <= tol && math.Abs(o.to-w.to) <= tol {
					o.from, o.to = math.Min(o.from, w.from), math.Max(o.to, w.to)
					o.healed = o.healed && w.healed
					continue next
				}
			}
			out = append(out, w)
		}
	}
	return out
}

// addWindows shades the fault windows of ds on p, behind what is added
// after it, and reports whether it drew any.
func (r *run) addWindows(p *plot.Plot, ds ...*variantData) bool {
	ws := windowsOf(ds, math.Max(1, r.maxMs*0.005))
	labelled := map[string]bool{}
	for _, w := range ws {
		p.Add(windowBand{x0: w.from / 1000, x1: w.to / 1000, open: !w.healed})
		if !labelled[w.label] || len(ds) == 1 {
			labelled[w.label] = true
			r.overlay(p, windowLabel{x0: w.from / 1000, x1: w.to / 1000, label: w.label})
		}
	}
	return len(ws) > 0
}

// shade draws a panel's fault windows and outage, behind what follows:
// for one variant its own outage, for several the span of theirs. It
// reports what it drew, for the legend.
func (r *run) shade(p *plot.Plot, ds ...*variantData) (windows, outage bool) {
	windows = r.addWindows(p, ds...)
	row := 0
	if windows {
		row = 1 // under the windows' labels
	}
	if len(ds) == 1 {
		return windows, r.addOutage(p, ds[0], row)
	}
	return windows, r.addOutages(p, ds, row)
}

// shadeLegend is the legend entries of the shading drawn.
func shadeLegend(windows, outage bool) []legendItem {
	var out []legendItem
	if windows {
		out = append(out, windowLegend())
	}
	if outage {
		out = append(out, outageLegend())
	}
	return out
}

// windowLegend is the legend entry of a fault window.
func windowLegend() legendItem {
	return legendItem{"fault active: injected → healed (or the end)", boxThumb{windowFill}}
}

// overlay queues a plotter to be drawn on p over everything else: raise
// adds it once the panel is complete.
func (r *run) overlay(p *plot.Plot, pl plot.Plotter) {
	if r.overlays == nil {
		r.overlays = map[*plot.Plot][]plot.Plotter{}
	}
	r.overlays[p] = append(r.overlays[p], pl)
}

// raise adds the queued overlays of f's panels, last, so that they are
// drawn over the data.
func (r *run) raise(f *figure) {
	if f == nil {
		return
	}
	for _, p := range f.panels {
		p.Add(r.overlays[p]...)
		delete(r.overlays, p)
	}
}
