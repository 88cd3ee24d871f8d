package report

import (
	"fmt"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// The file names of the figures, stable from run to run.
const (
	pngLagBytes    = "lag-bytes.png"
	pngLagMs       = "lag-ms.png"
	pngVisibility  = "visibility.png"
	pngThroughput  = "throughput.png"
	pngPercentiles = "latency-percentiles.png"
	pngFailover    = "failover.png"
	pngCommitP99   = "commit-p99.png"
	pngSubscribers = "subscribers.png"
	pngArchive     = "archive.png"
	pngPhases      = "phases.png"
	pngReads       = "reads.png"
	pngWAL         = "wal.png"
	pngRepetitions = "repetitions.png"
)

// figureNames lists every figure Render may write.
var figureNames = []string{
	pngThroughput, pngPercentiles, pngCommitP99, pngFailover,
	pngLagBytes, pngLagMs, pngVisibility,
	pngPhases, pngReads, pngWAL, pngSubscribers, pngArchive, pngRepetitions,
}

// eventMark is how an event kind is drawn on time series.
type eventMark struct {
	kind, label string
	style       draw.LineStyle
}

// eventMarks are the events drawn as vertical lines, in timeline order.
var eventMarks = []eventMark{
	{result.EventFault, "fault", draw.LineStyle{Color: faultRed, Width: 1.6}},
	{result.EventDetected, "failure detected", draw.LineStyle{Color: faultRed, Width: 1, Dashes: []vg.Length{4, 3}}},
	{result.EventPromoteDone, "promotion done", draw.LineStyle{Color: black, Width: 1, Dashes: []vg.Length{6, 2, 1.5, 2}}},
	{result.EventFirstWrite, "first write after the fault", draw.LineStyle{Color: black, Width: 1.3, Dashes: []vg.Length{1.5, 2}}},
	{result.EventSplitBrain, "split brain seen", draw.LineStyle{Color: splitPurple, Width: 1.4, Dashes: []vg.Length{2, 2}}},
}

// splitPurple marks a split brain.
var splitPurple = rgb(0x8e2c9e)

// run is the Result prepared for plotting: sorted copies, never the
// caller's slices.
type run struct {
	r        *result.Result
	variants []*variantData
	replicas []string // every replica name, in order of first appearance
	maxMs    float64  // the end of the longest measured window
	// overlays are drawn over a panel's data once it is complete.
	overlays map[*plot.Plot][]plot.Plotter
}

type variantData struct {
	v     *result.Variant
	color int
	// repl and vis are the samples per replica, sorted by time.
	repl map[string][]result.ReplicationPoint
	vis  map[string][]result.VisibilityPoint
	// replicas present in the series, in run order.
	replicas []string
	events   []result.Event // the marked kinds, sorted by time; lasting faults are windows
	windows  []faultWindow  // the faults that lasted, sorted by start
	tp       []result.ThroughputPoint
}

func (d *variantData) faults() []float64 {
	var out []float64
	for _, e := range d.events {
		if e.Kind == result.EventFault {
			out = append(out, e.Ms)
		}
	}
	return out
}

func (d *variantData) hasLag() bool { return len(d.repl) > 0 || len(d.vis) > 0 }

// outage returns the variant's window without writes, in ms: from the
// fault to the first acknowledged write after it, or to end when writes
// did not resume. ok is false without a fault, and when writes went on
// without a new primary (a fault on a replica, or a split brain).
func (d *variantData) outage(end float64) (from, to float64, resumed, ok bool) {
	f := d.v.Summary.Failover
	if f == nil || f.FaultMs == nil {
		return 0, 0, false, false
	}
	if (f.FirstWriteMs == nil && writesContinued(d.v)) || !failoverShown(d.v) {
		return 0, 0, false, false
	}
	if f.FirstWriteMs == nil {
		return *f.FaultMs, math.Max(end, *f.FaultMs), false, true
	}
	return *f.FaultMs, *f.FirstWriteMs, true, true
}

// outageLabel names a band on a chart.
func outageLabel(from, to float64, resumed bool) string {
	if !resumed {
		return "no write after the fault"
	}
	return "outage " + fmtDuration(to-from)
}

// addOutage shades d's outage on p, behind what is added after it, and
// reports whether it drew one.
func (r *run) addOutage(p *plot.Plot, d *variantData, row int) bool {
	from, to, resumed, ok := d.outage(r.maxMs)
	if !ok {
		return false
	}
	p.Add(band{x0: from / 1000, x1: to / 1000, label: outageLabel(from, to, resumed), row: row})
	return true
}

// addOutages shades, on a chart of several variants, the span from the
// earliest fault to the latest first write among ds, and reports whether
// it drew one.
func (r *run) addOutages(p *plot.Plot, ds []*variantData, row int) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	allResumed := true
	for _, d := range ds {
		from, to, resumed, ok := d.outage(r.maxMs)
		if !ok {
			continue
		}
		lo, hi = math.Min(lo, from), math.Max(hi, to)
		allResumed = allResumed && resumed
	}
	if math.IsInf(lo, 1) {
		return false
	}
	label := "outage"
	if !allResumed {
		label = "outage; some variants never wrote again"
	}
	p.Add(band{x0: lo / 1000, x1: hi / 1000, label: label, row: row})
	return true
}

// outageLegend is the legend entry of an outage band.
func outageLegend() legendItem {
	return legendItem{"outage: fault → first write after it", boxThumb{outageFill}}
}

func prepare(r *result.Result) *run {
	out := &run{r: r}
	seen := map[string]bool{}
	addReplica := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			out.replicas = append(out.replicas, name)
		}
	}
	for i := range r.Variants {
		v := &r.Variants[i]
		d := &variantData{v: v, color: i,
			repl: map[string][]result.ReplicationPoint{},
			vis:  map[string][]result.VisibilityPoint{},
		}
		for _, rep := range v.Topology.Replicas {
			addReplica(rep.Name)
		}
		for _, p := range v.Series.Replication {
			addReplica(p.Replica)
			d.repl[p.Replica] = append(d.repl[p.Replica], p)
			out.maxMs = math.Max(out.maxMs, p.Ms)
		}
		for _, p := range v.Series.Visibility {
			addReplica(p.Replica)
			d.vis[p.Replica] = append(d.vis[p.Replica], p)
			out.maxMs = math.Max(out.maxMs, p.Ms)
		}
		for k := range d.repl {
			sort.SliceStable(d.repl[k], func(a, b int) bool { return d.repl[k][a].Ms < d.repl[k][b].Ms })
		}
		for k := range d.vis {
			sort.SliceStable(d.vis[k], func(a, b int) bool { return d.vis[k][a].Ms < d.vis[k][b].Ms })
		}
		d.tp = append([]result.ThroughputPoint(nil), v.Series.Throughput...)
		sort.SliceStable(d.tp, func(a, b int) bool { return d.tp[a].Second < d.tp[b].Second })
		if n := len(d.tp); n > 0 {
			out.maxMs = math.Max(out.maxMs, float64(d.tp[n-1].Second+1)*1000)
		}
		for _, p := range v.Series.WAL {
			out.maxMs = math.Max(out.maxMs, p.Ms)
		}
		for _, p := range v.Series.Reads {
			out.maxMs = math.Max(out.maxMs, float64(p.Second+1)*1000)
		}
		for _, e := range v.Events {
			for _, m := range eventMarks {
				if e.Kind == m.kind && e.Kind != result.EventFault {
					d.events = append(d.events, e)
				}
			}
		}
		if len(d.repl) > 0 || len(d.vis) > 0 || len(d.tp) > 0 || len(v.Series.WAL) > 0 || len(v.Series.Reads) > 0 {
			out.maxMs = math.Max(out.maxMs, v.Summary.DurationS*1000)
		}
		out.variants = append(out.variants, d)
	}
	// Faults that lasted are windows; the others keep their line.
	for _, d := range out.variants {
		end := math.Max(d.v.Summary.DurationS*1000, out.maxMs)
		var instants []result.Event
		d.windows, instants = faultWindows(d.v.Faults, end)
		d.events = append(d.events, instants...)
		sort.SliceStable(d.events, func(a, b int) bool { return d.events[a].Ms < d.events[b].Ms })
	}
	for _, d := range out.variants {
		for _, name := range out.replicas {
			if len(d.repl[name]) > 0 || len(d.vis[name]) > 0 {
				d.replicas = append(d.replicas, name)
			}
		}
	}
	return out
}

func (r *run) replicaColor(name string) int {
	for i, n := range r.replicas {
		if n == name {
			return i
		}
	}
	return len(r.replicas)
}

// timeAxis gives p the run's shared time axis in seconds.
func (r *run) timeAxis(p *plot.Plot, label bool) {
	p.X.Min, p.X.Max = 0, math.Max(r.maxMs, 1000)/1000
	p.X.Tick.Marker = niceTicks{format: fmtAxisNumber, n: 8}
	if label {
		p.X.Label.Text = "seconds since the workload started"
	}
}

// gapFor returns the X gap (in seconds) above which a line is broken: three
// sampling intervals, and at least a quarter of a second.
func gapFor(ms []float64) float64 {
	if len(ms) < 3 {
		return 0
	}
	d := make([]float64, 0, len(ms)-1)
	for i := 1; i < len(ms); i++ {
		d = append(d, ms[i]-ms[i-1])
	}
	sort.Float64s(d)
	return math.Max(3*d[len(d)/2], 250) / 1000
}

// addEvents marks d's events on p and reports which kinds it drew.
func addEvents(p *plot.Plot, d *variantData, drawn map[string]bool) {
	for _, e := range d.events {
		for _, m := range eventMarks {
			if m.kind == e.Kind {
				p.Add(vline{x: e.Ms / 1000, style: m.style})
				drawn[m.kind] = true
			}
		}
	}
}

func eventLegend(drawn map[string]bool) []legendItem {
	var out []legendItem
	for _, m := range eventMarks {
		if drawn[m.kind] {
			out = append(out, legendItem{m.label, vlineThumb(m.style)})
		}
	}
	return out
}

func (r *run) replicaLegend(used map[string]bool) []legendItem {
	var out []legendItem
	for _, name := range r.replicas {
		if used[name] {
			out = append(out, legendItem{name, lineThumb(draw.LineStyle{Color: colorAt(r.replicaColor(name)), Width: 2})})
		}
	}
	return out
}

// noDataReason says why a variant has nothing to plot.
func noDataReason(v *result.Variant, what string) string {
	switch v.Status {
	case result.StatusPending:
		return "not run: the run stopped before this variant"
	case result.StatusFailed, result.StatusInterrupted:
		phase := v.Phase
		if phase == "" {
			phase = "an unknown phase"
		}
		return fmt.Sprintf("no %s: %s during %s", what, v.Status, phase)
	}
	return "no " + what + " recorded"
}

const emptyPanelHeight = 46

// lagBytesFigure: replay lag in bytes per replica, one panel per variant.
func (r *run) lagBytesFigure() (*figure, bool) {
	f := &figure{title: "Replay lag (bytes behind the primary's current WAL position)",
		note: "From pg_stat_replication on the primary. Log scale where values span more than two decades; zero is drawn at the axis floor."}
	used, drawn := map[string]bool{}, map[string]bool{}
	any, shaded, windows := false, false, false
	for _, d := range r.variants {
		if len(d.repl) == 0 {
			f.panels = append(f.panels, emptyPanel(d.v.Name, noDataReason(d.v, "replication samples")))
			f.heights = append(f.heights, emptyPanelHeight)
			continue
		}
		any = true
		var all [][]float64
		lines := map[string]plotter.XYs{}
		gap := 0.0
		for _, name := range d.replicas {
			pts := d.repl[name]
			if len(pts) == 0 {
				continue
			}
			xy := make(plotter.XYs, len(pts))
			ms := make([]float64, len(pts))
			ys := make([]float64, len(pts))
			for i, p := range pts {
				xy[i] = plotter.XY{X: p.Ms / 1000, Y: p.ReplayBytes}
				ms[i], ys[i] = p.Ms, p.ReplayBytes
			}
			gap = math.Max(gap, gapFor(ms))
			lines[name] = xy
			all = append(all, ys)
		}
		sc := chooseScale(all...)
		// No Y label: the tick labels carry the unit. (gonum/plot
		// centres a Y label's glyph box at the arithmetic middle of
		// the range, near the top of a log axis, which squeezes the
		// panel.)
		p := newPlot(d.v.Name, "", "")
		r.timeAxis(p, false)
		w, o := r.shade(p, d)
		windows, shaded = windows || w, shaded || o
		for _, name := range d.replicas {
			if xy, ok := lines[name]; ok {
				addLine(p, xy, draw.LineStyle{Color: colorAt(r.replicaColor(name)), Width: 1.4}, gap, sc)
				used[name] = true
			}
		}
		addEvents(p, d, drawn)
		sc.applyBytes(p)
		f.panels = append(f.panels, p)
		f.heights = append(f.heights, panelHeight)
	}
	if !any {
		return nil, false
	}
	r.labelLastTimeAxis(f)
	f.legend = append(r.replicaLegend(used), eventLegend(drawn)...)
	f.legend = append(f.legend, shadeLegend(windows, shaded)...)
	return f, true
}

// lagMsFigure: heartbeat visibility and the server's replay_lag per
// replica, one panel per variant.
func (r *run) lagMsFigure() (*figure, bool) {
	f := &figure{title: "Replication lag in time (ms)",
		note: "Solid: heartbeat written on the primary until visible on the replica (end to end). Dashed: the server's replay_lag, absent when idle."}
	used, drawn := map[string]bool{}, map[string]bool{}
	anyServer := false
	any, shaded, windows := false, false, false
	for _, d := range r.variants {
		if !d.hasLag() {
			f.panels = append(f.panels, emptyPanel(d.v.Name, noDataReason(d.v, "lag samples")))
			f.heights = append(f.heights, emptyPanelHeight)
			continue
		}
		any = true
		type pair struct{ vis, srv []plotter.XYs }
		lines := map[string]*pair{}
		var all [][]float64
		gap := 0.0
		for _, name := range d.replicas {
			pr := &pair{}
			if pts := d.vis[name]; len(pts) > 0 {
				// A heartbeat with no latency (not acknowledged, lost,
				// never seen) breaks the line.
				var ms, ys []float64
				var cur plotter.XYs
				for _, p := range pts {
					ms = append(ms, p.Ms)
					if p.VisibilityMs == nil {
						if len(cur) > 0 {
							pr.vis = append(pr.vis, cur)
							cur = nil
						}
						continue
					}
					cur = append(cur, plotter.XY{X: p.Ms / 1000, Y: *p.VisibilityMs})
					ys = append(ys, *p.VisibilityMs)
				}
				if len(cur) > 0 {
					pr.vis = append(pr.vis, cur)
				}
				gap = math.Max(gap, gapFor(ms))
				all = append(all, ys)
			}
			// The server's replay_lag is null when idle: each run of
			// non-null samples is its own line.
			var cur plotter.XYs
			var ys, ms []float64
			for _, p := range d.repl[name] {
				ms = append(ms, p.Ms)
				if p.ReplayLagMs == nil || math.IsNaN(*p.ReplayLagMs) {
					if len(cur) > 0 {
						pr.srv = append(pr.srv, cur)
						cur = nil
					}
					continue
				}
				cur = append(cur, plotter.XY{X: p.Ms / 1000, Y: *p.ReplayLagMs})
				ys = append(ys, *p.ReplayLagMs)
			}
			if len(cur) > 0 {
				pr.srv = append(pr.srv, cur)
			}
			gap = math.Max(gap, gapFor(ms))
			all = append(all, ys)
			if len(pr.vis) > 0 || len(pr.srv) > 0 {
				lines[name] = pr
			}
		}
		sc := chooseScale(all...)
		p := newPlot(d.v.Name, "", "")
		r.timeAxis(p, false)
		w, o := r.shade(p, d)
		windows, shaded = windows || w, shaded || o
		for _, name := range d.replicas {
			pr, ok := lines[name]
			if !ok {
				continue
			}
			c := colorAt(r.replicaColor(name))
			for _, xy := range pr.srv {
				addLine(p, xy, draw.LineStyle{Color: c, Width: 1.1, Dashes: []vg.Length{4, 2.5}}, gap, sc)
				anyServer = true
			}
			for _, xy := range pr.vis {
				addLine(p, xy, draw.LineStyle{Color: c, Width: 1.5}, gap, sc)
			}
			used[name] = true
		}
		addEvents(p, d, drawn)
		sc.apply(p, fmtAxisMs)
		f.panels = append(f.panels, p)
		f.heights = append(f.heights, panelHeight)
	}
	if !any {
		return nil, false
	}
	r.labelLastTimeAxis(f)
	f.legend = r.replicaLegend(used)
	f.legend = append(f.legend, legendItem{"heartbeat visibility", lineThumb(draw.LineStyle{Color: black, Width: 1.5})})
	if anyServer {
		f.legend = append(f.legend, legendItem{"server replay_lag", lineThumb(draw.LineStyle{Color: black, Width: 1.1, Dashes: []vg.Length{4, 2.5}})})
	}
	f.legend = append(f.legend, eventLegend(drawn)...)
	f.legend = append(f.legend, shadeLegend(windows, shaded)...)
	return f, true
}

// labelLastTimeAxis puts the time axis label on the last panel that has
// axes, so that stacked panels do not repeat it.
func (r *run) labelLastTimeAxis(f *figure) {
	for i := len(f.panels) - 1; i >= 0; i-- {
		if f.heights[i] != emptyPanelHeight {
			r.timeAxis(f.panels[i], true)
			return
		}
	}
}

// faultKind says how faults were drawn on a chart of several variants.
type faultKind int

const (
	noFaults     faultKind = iota
	sharedFaults           // every variant's faults at the same times: red
	ownFaults              // in each variant's colour
)

// faultLines marks the variants' faults: one red line per instant when
// they all coincide (within half a percent of the time axis), else one
// dashed line per variant in its colour.
func (r *run) faultLines(p *plot.Plot, ds []*variantData) faultKind {
	var ref []float64
	same, any := true, false
	for _, d := range ds {
		f := d.faults()
		if len(f) == 0 {
			continue
		}
		if !any {
			ref, any = f, true
			continue
		}
		if len(f) != len(ref) {
			same = false
			continue
		}
		// Faults closer than half a percent of the time axis cannot be
		// told apart on the chart: one line says it better.
		tol := math.Max(1, r.maxMs*0.005)
		for i := range f {
			if math.Abs(f[i]-ref[i]) >= tol {
				same = false
			}
		}
	}
	switch {
	case !any:
		return noFaults
	case same:
		for _, ms := range ref {
			p.Add(vline{x: ms / 1000, style: eventMarks[0].style})
		}
		return sharedFaults
	}
	for _, d := range ds {
		for _, ms := range d.faults() {
			p.Add(vline{x: ms / 1000, style: draw.LineStyle{Color: colorAt(d.color), Width: 1.2, Dashes: []vg.Length{5, 3}}})
		}
	}
	return ownFaults
}

func (r *run) variantLegend(ds []*variantData, faults faultKind, windows, shaded bool) []legendItem {
	var out []legendItem
	for _, d := range ds {
		out = append(out, legendItem{d.v.Name, lineThumb(draw.LineStyle{Color: colorAt(d.color), Width: 2})})
	}
	switch faults {
	case sharedFaults:
		out = append(out, legendItem{"fault", vlineThumb(eventMarks[0].style)})
	case ownFaults:
		out = append(out, legendItem{"fault (in the variant's colour)", vlineThumb(draw.LineStyle{Color: black, Width: 1.2, Dashes: []vg.Length{5, 3}})})
	}
	return append(out, shadeLegend(windows, shaded)...)
}

// worstVisibility is, per heartbeat, the largest visibility across the
// variant's replicas, in runs broken where no replica had one (an outage,
// a heartbeat lost or never seen).
func (d *variantData) worstVisibility() []plotter.XYs {
	var all []result.VisibilityPoint
	for _, name := range d.replicas {
		all = append(all, d.vis[name]...)
	}
	if len(all) == 0 {
		return nil
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].Ms < all[b].Ms })
	// The points of one heartbeat belong together: by its id, or, in a
	// file written before heartbeats had ids, within one interval.
	var ms []float64
	for _, p := range d.vis[d.replicas[0]] {
		ms = append(ms, p.Ms)
	}
	bucket := 100.0
	if g := gapFor(ms); g > 0 {
		bucket = math.Max(g*1000/3, 1)
	}
	key := func(p result.VisibilityPoint) float64 {
		if p.Heartbeat > 0 {
			return float64(p.Heartbeat)
		}
		return math.Floor(p.Ms / bucket)
	}
	type beat struct {
		x, y float64
		ok   bool
	}
	var beats []beat
	cur := math.Inf(-1)
	for _, p := range all {
		if k := key(p); k != cur || len(beats) == 0 {
			beats = append(beats, beat{x: p.Ms / 1000})
			cur = k
		}
		b := &beats[len(beats)-1]
		if p.VisibilityMs != nil && (!b.ok || *p.VisibilityMs > b.y) {
			b.y, b.ok = *p.VisibilityMs, true
		}
	}
	var out []plotter.XYs
	var run plotter.XYs
	for _, b := range beats {
		if !b.ok {
			if len(run) > 0 {
				out = append(out, run)
				run = nil
			}
			continue
		}
		run = append(run, plotter.XY{X: b.x, Y: b.y})
	}
	if len(run) > 0 {
		out = append(out, run)
	}
	return out
}

// visibilityFigure compares the variants' worst replica visibility.
func (r *run) visibilityFigure() (*figure, bool) {
	var ds []*variantData
	lines := map[*variantData][]plotter.XYs{}
	var all [][]float64
	for _, d := range r.variants {
		runs := d.worstVisibility()
		if len(runs) == 0 {
			continue
		}
		ds = append(ds, d)
		lines[d] = runs
		var ys []float64
		for _, xy := range runs {
			for _, p := range xy {
				ys = append(ys, p.Y)
			}
		}
		all = append(all, ys)
	}
	if len(ds) == 0 {
		return nil, false
	}
	sc := chooseScale(all...)
	p := newPlot("", "", "")
	r.timeAxis(p, true)
	windows, shaded := r.shade(p, ds...)
	for _, d := range ds {
		for _, xy := range lines[d] {
			addLine(p, xy, draw.LineStyle{Color: colorAt(d.color), Width: 1.5}, 0, sc)
		}
	}
	faults := r.faultLines(p, ds)
	sc.apply(p, fmtAxisMs)
	return &figure{
		title:   "End-to-end visibility, worst replica, by variant",
		note:    "How long each heartbeat acknowledged by the primary took to become visible on the slowest replica; no line where none was acknowledged (the outage) or none was seen.",
		panels:  []*plot.Plot{p},
		heights: []vg.Length{230},
		legend:  r.variantLegend(ds, faults, windows, shaded),
	}, true
}

// throughputFigure: acknowledged writes per second, and failed + unknown
// writes per second, per variant.
func (r *run) throughputFigure() (*figure, bool) {
	var ds []*variantData
	for _, d := range r.variants {
		if len(d.tp) > 0 {
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil, false
	}
	ok := newPlot("acknowledged", "", "writes / s")
	bad := newPlot("failed + unknown outcome", "", "writes / s")
	r.timeAxis(ok, false)
	r.timeAxis(bad, true)
	windows, shaded := r.shade(ok, ds...)
	r.shade(bad, ds...)
	var maxOK, maxBad float64
	for _, d := range ds {
		a := make(plotter.XYs, len(d.tp))
		b := make(plotter.XYs, len(d.tp))
		for i, t := range d.tp {
			x := float64(t.Second) + 0.5 // the middle of the second
			a[i] = plotter.XY{X: x, Y: float64(t.Acked)}
			b[i] = plotter.XY{X: x, Y: float64(t.Failed + t.Unknown)}
			maxOK = math.Max(maxOK, a[i].Y)
			maxBad = math.Max(maxBad, b[i].Y)
		}
		sty := draw.LineStyle{Color: colorAt(d.color), Width: 1.6}
		addLine(ok, a, sty, 3, yScale{})
		addLine(bad, b, sty, 3, yScale{})
	}
	faults := r.faultLines(ok, ds)
	r.faultLines(bad, ds)
	yScale{max: maxOK}.apply(ok, fmtAxisNumber)
	yScale{max: maxBad}.apply(bad, fmtAxisNumber)
	return &figure{
		title:   "Throughput",
		panels:  []*plot.Plot{ok, bad},
		heights: []vg.Length{210, 130},
		legend:  r.variantLegend(ds, faults, windows, shaded),
	}, true
}

// commitP99Figure: the per-second p99 commit latency of each variant and,
// below it, the p99 of how late the writes due in each second were sent.
func (r *run) commitP99Figure() (*figure, bool) {
	var ds []*variantData
	lines := map[*variantData]plotter.XYs{}
	lagLines := map[*variantData]plotter.XYs{}
	var all, allLag [][]float64
	for _, d := range r.variants {
		var xy plotter.XYs
		var ys []float64
		for _, t := range d.tp {
			if t.Acked == 0 || t.P99Ms <= 0 {
				continue // no commit that second: a gap, not a zero
			}
			xy = append(xy, plotter.XY{X: float64(t.Second) + 0.5, Y: t.P99Ms})
			ys = append(ys, t.P99Ms)
		}
		var lag plotter.XYs
		var lagYs []float64
		for _, p := range d.v.Series.ScheduleLag {
			if p.Writes == 0 {
				continue
			}
			lag = append(lag, plotter.XY{X: float64(p.Second) + 0.5, Y: p.P99Ms})
			lagYs = append(lagYs, p.P99Ms)
		}
		sort.SliceStable(lag, func(a, b int) bool { return lag[a].X < lag[b].X })
		if len(xy) == 0 && len(lag) == 0 {
			continue
		}
		ds = append(ds, d)
		lines[d] = xy
		all = append(all, ys)
		if len(lag) > 0 {
			lagLines[d] = lag
			allLag = append(allLag, lagYs)
		}
	}
	if len(ds) == 0 {
		return nil, false
	}
	sc := chooseScale(all...)
	p := newPlot("", "", "")
	r.timeAxis(p, len(lagLines) == 0)
	windows, shaded := r.shade(p, ds...)
	for _, d := range ds {
		addLine(p, lines[d], draw.LineStyle{Color: colorAt(d.color), Width: 1.6}, 1.5, sc)
	}
	faults := r.faultLines(p, ds)
	sc.apply(p, fmtAxisMs)
	f := &figure{
		title:   "Commit latency p99, per second",
		note:    "Seconds without an acknowledged commit are gaps.",
		panels:  []*plot.Plot{p},
		heights: []vg.Length{230},
		legend:  r.variantLegend(ds, faults, windows, shaded),
	}
	if len(lagLines) > 0 {
		p.Title.Text = "commit latency p99"
		lsc := chooseScale(allLag...)
		lp := newPlot("schedule lag p99, by second of the schedule", "", "")
		r.timeAxis(lp, true)
		r.shade(lp, ds...)
		for _, d := range ds {
			addLine(lp, lagLines[d], draw.LineStyle{Color: colorAt(d.color), Width: 1.6}, 1.5, lsc)
		}
		r.faultLines(lp, ds)
		lsc.apply(lp, fmtAxisMs)
		f.panels = append(f.panels, lp)
		f.heights = append(f.heights, 150)
		f.title = "Commit latency and schedule lag p99, per second"
		f.note = "Gaps: no commit that second. Schedule lag: how late the writes due in a second were sent, a wait counted in response time, not in commit latency."
	}
	return f, true
}

// percentilesFigure: the commit latency distribution of each variant, HDR
// style.
func (r *run) percentilesFigure() (fig *figure, ok bool, err error) {
	var ds []*variantData
	lines := map[*variantData]plotter.XYs{}
	responses := map[*variantData]plotter.XYs{}
	fromSummary := map[*variantData]bool{}
	var all [][]float64
	var errs []error
	for _, d := range r.variants {
		var xy plotter.XYs
		if rh, rerr := decodeHistogram(d.v.ResponseHistogram); rerr != nil {
			errs = append(errs, fmt.Errorf("variant %s: response time: %w", d.v.Name, rerr))
		} else if rh != nil {
			if rxy := percentileCurve(rh, d.v.ResponseHistogram.Unit); len(rxy) > 0 {
				responses[d] = rxy
				ys := make([]float64, len(rxy))
				for i, p := range rxy {
					ys[i] = p.Y
				}
				all = append(all, ys)
			}
		}
		hist, herr := decodeHistogram(d.v.Histogram)
		if herr != nil {
			errs = append(errs, fmt.Errorf("variant %s: %w", d.v.Name, herr))
		}
		if hist != nil {
			xy = percentileCurve(hist, d.v.Histogram.Unit)
		}
		if len(xy) == 0 {
			xy = summaryCurve(d.v.Summary.CommitLatency)
			fromSummary[d] = len(xy) > 0
		}
		if len(xy) == 0 {
			continue
		}
		ds = append(ds, d)
		lines[d] = xy
		ys := make([]float64, len(xy))
		for i, p := range xy {
			ys[i] = p.Y
		}
		all = append(all, ys)
	}
	if len(errs) > 0 {
		err = errs[0]
	}
	if len(ds) == 0 {
		return nil, false, err
	}
	sc := chooseScale(all...)
	p := newPlot("", "percentile", "")
	p.X.Scale = plot.LogScale{}
	p.X.Min, p.X.Max = pctAxisMin, pctAxisMax
	p.X.Tick.Marker = percentileTicks{}
	var legend []legendItem
	for _, d := range ds {
		sty := draw.LineStyle{Color: colorAt(d.color), Width: 1.8}
		label := d.v.Name
		if fromSummary[d] {
			sty.Dashes = []vg.Length{4, 3}
			label += " (summary percentiles)"
			s, serr := plotter.NewScatter(sc.clampY(lines[d]))
			if serr == nil {
				s.GlyphStyle = draw.GlyphStyle{Color: colorAt(d.color), Radius: 2.5, Shape: draw.CircleGlyph{}}
				p.Add(s)
			}
		}
		addLine(p, lines[d], sty, 0, sc)
		legend = append(legend, legendItem{label, lineThumb(sty)})
	}
	title := "Commit latency by percentile"
	note := "Acknowledged commits over the whole window, from each variant's HDR histogram; the curve stops where the sample count runs out."
	if len(responses) > 0 {
		dotted := []vg.Length{1.5, 2.5}
		for _, d := range ds {
			if xy := responses[d]; len(xy) > 0 {
				addLine(p, xy, draw.LineStyle{Color: colorAt(d.color), Width: 1.8, Dashes: dotted}, 0, sc)
			}
		}
		legend = append(legend, legendItem{"response time (dotted)", lineThumb(draw.LineStyle{Color: black, Width: 1.8, Dashes: dotted})})
		title = "Commit latency and response time by percentile"
		note = "From each variant's HDR histograms of acknowledged writes: solid, commit latency (send to ack); dotted, response time (scheduled time to ack)."
	}
	sc.apply(p, fmtAxisMs)
	return &figure{
		title:   title,
		note:    note,
		panels:  []*plot.Plot{p},
		heights: []vg.Length{260},
		legend:  legend,
	}, true, err
}

// percentileTicks labels the 1/(1-p) axis with percentiles.
type percentileTicks struct{}

func (percentileTicks) Ticks(lo, hi float64) []plot.Tick {
	labels := map[float64]string{2: "50%", 10: "90%", 100: "99%", 1000: "99.9%", 10000: "99.99%", 100000: "99.999%"}
	var ts []plot.Tick
	for e := 0.0; e <= 5; e++ {
		base := math.Pow(10, e)
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < lo || v > hi {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: labels[v]})
		}
	}
	return ts
}

// failoverSteps returns a variant's failover steps as offsets from the
// fault, or ok false when the variant had no fault.
type failoverSteps struct {
	// lastAck is the ack that opened the write outage.
	detected, promoted, firstWrite, lastAck *float64
	// promoting is when the promotion began (the controller chose a
	// replica, a manager's replica took the leader key, a node answered
	// as the primary): after the detection it may be a wait on the
	// manager or an operator.
	promoting  *float64
	splitBrain bool
	// predLo and predHi bound the first write as the settings predict
	// the outage (from the ack that opened it); nil without a
	// prediction.
	predLo, predHi *float64
}

// awaited is the end of the wait between the detection and the start of
// the promotion, nil when there was none to draw (under 1 ms).
func (r failoverSteps) awaited() *float64 {
	if r.detected == nil || r.promoting == nil || *r.promoting-*r.detected < 1 {
		return nil
	}
	return r.promoting
}

func stepsOf(f *result.Failover) (failoverSteps, bool) {
	if f == nil || f.FaultMs == nil {
		return failoverSteps{}, false
	}
	rel := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		v := *p - *f.FaultMs
		return &v
	}
	// The outage opens at the last ack before the fault, or later when
	// the old primary outlived the fault (OutageFromMs).
	opened := f.LastAckBeforeMs
	if f.OutageFromMs != nil {
		opened = f.OutageFromMs
	}
	st := failoverSteps{
		detected:   rel(f.DetectedMs),
		promoted:   rel(f.PromoteDoneMs),
		promoting:  rel(f.PromoteStartMs),
		firstWrite: rel(f.FirstWriteMs),
		lastAck:    rel(opened),
		splitBrain: splitBrain(f),
	}
	if p := f.Predicted; p != nil {
		from := 0.0
		if st.lastAck != nil {
			from = *st.lastAck
		}
		lo, hi := from+p.LowMs, from+p.HighMs
		st.predLo, st.predHi = &lo, &hi
	}
	return st, true
}

// predictedShade is the band of the outage the settings predict.
var predictedShade = color.NRGBA{R: 0x4e, G: 0x79, B: 0xa7, A: 0x40}

var (
	phaseDetect  = rgb(0xf28e2b)
	phasePromote = rgb(0x9c755f)
	phaseAwait   = rgb(0xbab0ac)
	phaseWrite   = rgb(0x59a14f)
)

// timelineBars draws one horizontal bar per row: detection, promotion and
// the wait for the first write, from the fault at 0.
type timelineBars struct {
	rows []failoverSteps
}

func (t timelineBars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax = 0, 0
	for _, r := range t.rows {
		for _, v := range []*float64{r.detected, r.promoted, r.firstWrite, r.lastAck, r.predHi} {
			if v != nil {
				xmin, xmax = math.Min(xmin, *v), math.Max(xmax, *v)
			}
		}
	}
	return xmin, xmax, -0.5, float64(len(t.rows)) - 0.5
}

func (t timelineBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(t.rows)
	rect := func(x0, x1, yc, half float64, col color.Color) {
		y0, y1 := trY(yc-half), trY(yc+half)
		a, b := trX(x0), trX(x1)
		if b-a < 1.5 {
			b = a + 1.5
		}
		c.FillPolygon(col, c.ClipPolygonXY([]vg.Point{{X: a, Y: y0}, {X: b, Y: y0}, {X: b, Y: y1}, {X: a, Y: y1}}))
	}
	lab := textStyle(tickSize)
	lab.XAlign, lab.YAlign = draw.XLeft, draw.YCenter
	for i, r := range t.rows {
		y := float64(n - 1 - i)
		start := 0.0
		end := 0.0
		// Where the settings say the first write should come, behind
		// the bar.
		if r.predLo != nil && r.predHi != nil {
			rect(*r.predLo, *r.predHi, y+0.08, 0.34, predictedShade)
			end = *r.predHi
		}
		for _, seg := range []struct {
			to  *float64
			col color.Color
		}{{r.detected, phaseDetect}, {r.awaited(), phaseAwait}, {r.promoted, phasePromote}, {r.firstWrite, phaseWrite}} {
			if seg.to == nil || (r.firstWrite != nil && *seg.to > *r.firstWrite) {
				// A step after the first write (a leader key that
				// expired while the old leader went on writing) is in
				// the label, not the bar.
				continue
			}
			rect(start, *seg.to, y+0.08, 0.2, seg.col)
			start = *seg.to
			end = math.Max(end, *seg.to)
		}
		// The window without acknowledged writes, under the bar.
		if r.lastAck != nil && r.firstWrite != nil {
			yy := trY(y - 0.24)
			a, b := trX(*r.lastAck), trX(*r.firstWrite)
			sty := draw.LineStyle{Color: black, Width: 1.2}
			c.StrokeLine2(sty, a, yy, b, yy)
			c.StrokeLine2(sty, a, yy-3, a, yy+3)
			c.StrokeLine2(sty, b, yy-3, b, yy+3)
		}
		label := "no promotion"
		switch {
		case r.firstWrite != nil:
			label = "first write +" + fmtDuration(*r.firstWrite)
		case r.promoted != nil && r.splitBrain:
			label = "promoted +" + fmtDuration(*r.promoted) + ", split brain"
		case r.promoted != nil:
			label = "promoted +" + fmtDuration(*r.promoted) + ", no write"
		}
		if r.firstWrite != nil && r.detected != nil && *r.detected > *r.firstWrite {
			label += "; detected +" + fmtDuration(*r.detected) + " without stopping writes"
		}
		if r.splitBrain && r.firstWrite != nil {
			label += ", split brain"
		}
		c.FillText(lab, vg.Point{X: trX(end) + 6, Y: trY(y + 0.08)}, label)
	}
	// The fault itself.
	x := trX(0)
	c.StrokeLine2(eventMarks[0].style, x, c.Min.Y, x, c.Max.Y)
}

// failoverFigure: one bar per variant that had a fault.
func (r *run) failoverFigure() (*figure, bool) {
	var names []string
	var rows []failoverSteps
	for _, d := range r.variants {
		st, ok := stepsOf(d.v.Summary.Failover)
		if !ok || !failoverShown(d.v) {
			continue
		}
		names = append(names, d.v.Name)
		rows = append(rows, st)
	}
	if len(rows) == 0 {
		return nil, false
	}
	bars := timelineBars{rows: rows}
	p := newPlot("", "milliseconds after the fault", "")
	p.Add(bars)
	xmin, xmax, _, _ := bars.DataRange()
	span := math.Max(xmax-xmin, 100)
	p.X.Min = xmin - 0.03*span
	p.X.Max = xmax + 0.3*span // room for the labels at the bars' ends
	// Nominal Y axis, first variant on top.
	rev := make([]string, len(names))
	for i, n := range names {
		rev[len(names)-1-i] = n
	}
	p.NominalY(rev...)
	p.Y.Min, p.Y.Max = -0.6, float64(len(rows))-0.4
	p.Y.Tick.Label.Font = sans(labelSize)
	legend := []legendItem{
		{"fault", vlineThumb(eventMarks[0].style)},
		{"detecting", boxThumb{phaseDetect}},
	}
	for _, r := range rows {
		if r.awaited() != nil {
			legend = append(legend, legendItem{"until a promotion starts", boxThumb{phaseAwait}})
			break
		}
	}
	legend = append(legend, []legendItem{
		{"promoting", boxThumb{phasePromote}},
		{"until the first write after the outage", boxThumb{phaseWrite}},
		{"no acknowledged write (the outage: last ack → first ack after)", lineThumb(draw.LineStyle{Color: black, Width: 1.2})},
	}...)
	for _, r := range rows {
		if r.predLo != nil {
			legend = append(legend, legendItem{"where the settings predict the first write", boxThumb{predictedShade}})
			break
		}
	}
	return &figure{
		title:   "Failover timeline",
		panels:  []*plot.Plot{p},
		heights: []vg.Length{vg.Length(60 + 34*len(rows))},
		legend:  legend,
	}, true
}
