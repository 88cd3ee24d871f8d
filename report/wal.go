package report

import (
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// walPoints returns a variant's WAL samples sorted by time.
func walPoints(v *result.Variant) []result.WALPoint {
	pts := append([]result.WALPoint(nil), v.Series.WAL...)
	sort.SliceStable(pts, func(a, b int) bool { return pts[a].Ms < pts[b].Ms })
	return pts
}

// slotState is what a slot's line changes on: its wal_status and whether
// a standby used it.
type slotState struct {
	status string
	active bool
}

// slotChange is a slot changing state at one sample.
type slotChange struct {
	ms       float64
	slot     string // the slot's id, see slotID
	from, to slotState
	first    bool // the slot's first sample
}

// slotID names a slot of one node: its name, followed by the node when
// the samples come from several (another node became the primary: its
// slots are other slots).
func slotID(p result.WALPoint, s result.SlotPoint, multi bool) string {
	if multi {
		return s.Slot + " on " + p.Node
	}
	return s.Slot
}

// walMultiNode reports whether the samples come from more than one node.
func walMultiNode(pts []result.WALPoint) bool {
	for _, p := range pts {
		if p.Node != pts[0].Node {
			return true
		}
	}
	return false
}

// slotChanges lists, per slot in order of first appearance, its state
// at its first sample and at each change, and the name of each slot id.
func slotChanges(pts []result.WALPoint) (ids []string, changes []slotChange, names map[string]string) {
	last := map[string]slotState{}
	names = map[string]string{}
	multi := walMultiNode(pts)
	for _, p := range pts {
		for _, s := range p.Slots {
			id := slotID(p, s, multi)
			st := slotState{s.WalStatus, s.Active}
			prev, ok := last[id]
			switch {
			case !ok:
				ids = append(ids, id)
				names[id] = s.Slot
				changes = append(changes, slotChange{ms: p.Ms, slot: id, to: st, first: true})
			case prev != st:
				changes = append(changes, slotChange{ms: p.Ms, slot: id, from: prev, to: st})
			}
			last[id] = st
		}
	}
	return ids, changes, names
}

// changeLabel says what changed: "unreserved", "inactive", "lost,
// inactive".
func (c slotChange) label() string {
	var parts []string
	if c.first || c.from.status != c.to.status {
		parts = append(parts, orDash(c.to.status))
	}
	if c.first || c.from.active != c.to.active {
		parts = append(parts, map[bool]string{true: "active", false: "inactive"}[c.to.active])
	}
	return strings.Join(parts, ", ")
}

// slotRow sums up one replication slot over the window.
type slotRow struct {
	Slot, History, MaxRetained, MinSafe, Final string
	Lost                                       bool
}

// walView is one variant's WAL retention.
type walView struct {
	Name  string
	Note  string // the size of pg_wal over the window
	Slots []slotRow
	// Notable is false when nothing happened to the WAL (see
	// walNotable); Brief then tells it in a line.
	Notable bool
	Brief   string
}

// walSegment is the default WAL segment size.
const walSegment = 16 << 20

// walNotable reports whether a variant's WAL samples have a story to
// tell: a slot left wal_status reserved, max_slot_wal_keep_size limits
// the slots (safe_wal_size is set), a slot held back a whole segment, or
// pg_wal grew by a quarter on one node. A standby's slot going inactive
// and active again (a restart, a repoint) is not a story on its own.
func walNotable(pts []result.WALPoint) bool {
	first := map[string]float64{}
	for _, p := range pts {
		if _, ok := first[p.Node]; !ok {
			first[p.Node] = p.PgWalBytes
		}
		if p.PgWalBytes > first[p.Node]*1.25 {
			return true
		}
		for _, s := range p.Slots {
			if s.WalStatus != "reserved" || s.SafeWalBytes != nil || s.RetainedBytes >= walSegment {
				return true
			}
		}
	}
	return false
}

func buildSlotRows(r *result.Result) []walView {
	var out []walView
	for i := range r.Variants {
		v := &r.Variants[i]
		pts := walPoints(v)
		if len(pts) == 0 {
			continue
		}
		wv := walView{Name: v.Name}
		lo, hi := math.Inf(1), 0.0
		for _, p := range pts {
			lo, hi = math.Min(lo, p.PgWalBytes), math.Max(hi, p.PgWalBytes)
		}
		wv.Note = "pg_wal on the primary: " + fmtBytes(pts[0].PgWalBytes) + " at the start, " + fmtBytes(hi) +
			" at most, " + fmtBytes(pts[len(pts)-1].PgWalBytes) + " at the end"
		if lo < pts[0].PgWalBytes {
			wv.Note += " (least " + fmtBytes(lo) + ")"
		}
		wv.Note += "."
		wv.Notable = walNotable(pts)
		if fmtBytes(lo) == fmtBytes(hi) {
			wv.Brief = "pg_wal on the primary: " + fmtBytes(hi) + " throughout"
		} else {
			wv.Brief = "pg_wal on the primary: " + fmtBytes(lo) + " to " + fmtBytes(hi)
		}
		multi := walMultiNode(pts)
		slots, changes, _ := slotChanges(pts)
		for _, name := range slots {
			row := slotRow{Slot: name, MinSafe: "–"}
			var hist []string
			for _, c := range changes {
				if c.slot != name {
					continue
				}
				if c.first {
					hist = append(hist, c.label())
					continue
				}
				hist = append(hist, c.label()+" at "+fmtTenths(c.ms)+" s")
			}
			row.History = strings.Join(hist, " → ")
			maxRet, minSafe, anySafe := 0.0, math.Inf(1), false
			var final result.SlotPoint
			for _, p := range pts {
				for _, s := range p.Slots {
					if slotID(p, s, multi) != name {
						continue
					}
					maxRet = math.Max(maxRet, s.RetainedBytes)
					if s.SafeWalBytes != nil {
						anySafe = true
						minSafe = math.Min(minSafe, *s.SafeWalBytes)
					}
					final = s
				}
			}
			row.MaxRetained = fmtBytes(maxRet)
			if anySafe {
				row.MinSafe = fmtBytes(minSafe)
				if minSafe < 0 {
					row.MinSafe = "exceeded by " + fmtBytes(-minSafe)
				}
			}
			row.Final = orDash(final.WalStatus)
			row.Lost = final.WalStatus == "lost"
			wv.Slots = append(wv.Slots, row)
		}
		if len(wv.Slots) > 0 {
			var held []string
			for _, row := range wv.Slots {
				held = append(held, row.Slot+" up to "+row.MaxRetained)
			}
			wv.Brief += "; every slot reserved throughout, holding back " + strings.Join(held, ", ")
		}
		wv.Brief += "."
		out = append(out, wv)
	}
	return out
}

// statusMark is a slot's state change: a short dashed line in the slot's
// colour and its label, at one of a few heights so that neighbours do not
// overlap.
type statusMark struct {
	x     float64 // seconds
	label string
	color color.Color
	row   int
}

func (m statusMark) Plot(c draw.Canvas, p *plot.Plot) {
	if m.x < p.X.Min || m.x > p.X.Max {
		return
	}
	trX, _ := p.Transforms(&c)
	x := trX(m.x)
	c.StrokeLine2(draw.LineStyle{Color: m.color, Width: 1.1, Dashes: []vg.Length{3, 2}}, x, c.Min.Y, x, c.Max.Y)
	sty := textStyle(tickSize - 0.5)
	sty.Color = m.color
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	w, h := sty.Width(m.label), sty.Height(m.label)
	tx := x + 3
	if tx+w > c.Max.X {
		tx = x - 3 - w
	}
	ty := c.Max.Y - 2 - vg.Length(m.row)*(h+2)
	c.FillPolygon(color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xd8}, []vg.Point{
		{X: tx - 2, Y: ty - h - 1}, {X: tx + w + 2, Y: ty - h - 1}, {X: tx + w + 2, Y: ty + 1}, {X: tx - 2, Y: ty + 1},
	})
	c.FillText(sty, vg.Point{X: tx, Y: ty}, m.label)
}

// walFigure: the primary's pg_wal and what each replication slot retains,
// a panel per variant, with the slots' state changes marked.
func (r *run) walFigure() (*figure, bool) {
	f := &figure{title: "WAL kept on the primary",
		note: "pg_wal's size and the bytes each replication slot holds back; dotted: the slot's safe_wal_size (room left before it is lost)."}
	slotColor := map[string]int{}
	colorOfSlot := func(slot string) int {
		if c, ok := slotColor[slot]; ok {
			return c
		}
		c := -1
		for i, n := range r.replicas {
			if n == slot {
				c = i
			}
		}
		if c < 0 {
			c = len(r.replicas) + len(slotColor)
		}
		slotColor[slot] = c
		return c
	}
	var slotOrder []string
	drawn := map[string]bool{}
	windows, shaded, anySafe, anyMark := false, false, false, false
	for _, d := range r.variants {
		pts := walPoints(d.v)
		if !walNotable(pts) {
			continue
		}
		p := newPlot(d.v.Name, "", "")
		r.timeAxis(p, false)
		w, o := r.shade(p, d)
		windows, shaded = windows || w, shaded || o
		hi := 0.0
		ms := make([]float64, len(pts))
		for i, pt := range pts {
			ms[i] = pt.Ms
		}
		gap := gapFor(ms)
		// pg_wal, broken where another node became the primary.
		var wal plotter.XYs
		flush := func() {
			if len(wal) > 0 {
				addLine(p, wal, draw.LineStyle{Color: black, Width: 1.8}, gap, yScale{})
				wal = nil
			}
		}
		for i, pt := range pts {
			if i > 0 && pt.Node != pts[i-1].Node {
				flush()
			}
			wal = append(wal, plotter.XY{X: pt.Ms / 1000, Y: pt.PgWalBytes})
			hi = math.Max(hi, pt.PgWalBytes)
		}
		flush()
		multi := walMultiNode(pts)
		ids, changes, names := slotChanges(pts)
		for _, id := range ids {
			name := names[id]
			if _, ok := slotColor[name]; !ok {
				slotOrder = append(slotOrder, name)
			}
			col := colorAt(colorOfSlot(name))
			var ret plotter.XYs
			var safe []plotter.XYs
			var cur plotter.XYs
			for _, pt := range pts {
				for _, s := range pt.Slots {
					if slotID(pt, s, multi) != id {
						continue
					}
					ret = append(ret, plotter.XY{X: pt.Ms / 1000, Y: s.RetainedBytes})
					hi = math.Max(hi, s.RetainedBytes)
					if s.SafeWalBytes == nil {
						if len(cur) > 0 {
							safe = append(safe, cur)
							cur = nil
						}
						continue
					}
					y := math.Max(*s.SafeWalBytes, 0)
					cur = append(cur, plotter.XY{X: pt.Ms / 1000, Y: y})
					hi = math.Max(hi, y)
				}
			}
			if len(cur) > 0 {
				safe = append(safe, cur)
			}
			for _, xy := range safe {
				addLine(p, xy, draw.LineStyle{Color: col, Width: 1.1, Dashes: []vg.Length{1.5, 2.5}}, gap, yScale{})
				anySafe = true
			}
			addLine(p, ret, draw.LineStyle{Color: col, Width: 1.7}, gap, yScale{})
		}
		// The changes after the first sample, staggered when their labels
		// would overlap.
		secPerPt := (p.X.Max - p.X.Min) / float64(figureWidth-90)
		var ends []float64 // where each row's last label ends, in seconds
		first := 0
		if w {
			first = 1 // under the fault windows' labels
		}
		for _, c := range changes {
			if c.first {
				continue
			}
			x := c.ms / 1000
			label := names[c.slot] + ": " + c.label()
			width := float64(textStyle(tickSize-0.5).Width(label)+10) * secPerPt
			row := 0
			for row < len(ends) && x < ends[row] {
				row++
			}
			if row == len(ends) {
				ends = append(ends, 0)
			}
			ends[row] = x + width
			r.overlay(p, statusMark{x: x, label: label, color: colorAt(colorOfSlot(names[c.slot])), row: first + row%4})
			anyMark = true
		}
		addEvents(p, d, drawn)
		// Headroom for the labels at the top.
		sc := yScale{max: hi * 1.1}
		sc.applyBytes(p)
		f.panels = append(f.panels, p)
		f.heights = append(f.heights, 200)
	}
	if len(f.panels) == 0 {
		return nil, false
	}
	r.labelLastTimeAxis(f)
	f.legend = append(f.legend, legendItem{"pg_wal size", lineThumb(draw.LineStyle{Color: black, Width: 1.8})})
	for _, s := range slotOrder {
		f.legend = append(f.legend, legendItem{"slot " + s + " retains", lineThumb(draw.LineStyle{Color: colorAt(colorOfSlot(s)), Width: 1.7})})
	}
	if anySafe {
		f.legend = append(f.legend, legendItem{"safe_wal_size", lineThumb(draw.LineStyle{Color: black, Width: 1.1, Dashes: []vg.Length{1.5, 2.5}})})
	}
	if anyMark {
		f.legend = append(f.legend, legendItem{"slot state change", vlineThumb(draw.LineStyle{Color: black, Width: 1.1, Dashes: []vg.Length{3, 2}})})
	}
	f.legend = append(f.legend, eventLegend(drawn)...)
	f.legend = append(f.legend, shadeLegend(windows, shaded)...)
	return f, true
}
