package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figures are laid out in points for a 96 dpi screen, where a point is
// 4/3 CSS pixels, and rendered at twice that density so they stay sharp on
// high-density screens.
const (
	figureWidth vg.Length = 825 // points: 1100 CSS px
	figureDPI             = 192
	panelHeight           = 170
	titleSize             = 14
	labelSize             = 11.5
	tickSize              = 10.5
	legendSize            = 11
)

// cssWidth is the width at which the HTML shows a figure.
const cssWidth = 1100

var (
	black     = color.Gray{Y: 0x20}
	lightGrid = color.Gray{Y: 0xe4}

	// seriesColors are Tableau 10 without its red, which marks faults.
	seriesColors = []color.Color{
		rgb(0x1f77b4), rgb(0xff7f0e), rgb(0x2ca02c), rgb(0x9467bd),
		rgb(0x8c564b), rgb(0xe377c2), rgb(0x17becf), rgb(0xbcbd22),
		rgb(0x7f7f7f),
	}
	faultRed = rgb(0xd62728)
	// outageFill shades a window without writes; outageText labels it.
	outageFill = color.NRGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0x22}
	outageText = rgb(0xa61c1d)
)

func rgb(v uint32) color.RGBA {
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

func colorAt(i int) color.Color { return seriesColors[i%len(seriesColors)] }

// sansFont is Liberation Sans, which gonum/plot embeds; its default is the
// serif cut.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// weightBold is golang.org/x/image/font.WeightBold.
const weightBold = 3

func sans(size vg.Length) font.Font { return font.From(sansFont, size) }

func bold(size vg.Length) font.Font {
	f := sans(size)
	f.Weight = weightBold
	return f
}

func textStyle(size vg.Length) text.Style {
	return text.Style{
		Color:   black,
		Font:    sans(size),
		Handler: plot.DefaultTextHandler,
	}
}

// newPlot returns a plot with the report's fonts and a light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = bold(labelSize)
	p.Title.TextStyle.Color = black
	p.Title.Padding = 3
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(labelSize)
		a.Tick.Label.Font = sans(tickSize)
		a.Tick.Marker = niceTicks{format: fmtAxisNumber}
		a.Label.TextStyle.Color = black
		a.Tick.Label.Color = black
	}
	p.X.Padding, p.Y.Padding = 2, 2
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = lightGrid, lightGrid
	g.Vertical.Width, g.Horizontal.Width = 0.5, 0.5
	p.Add(g)
	return p
}

// legendItem is one entry of a figure's legend.
type legendItem struct {
	label string
	thumb plot.Thumbnailer
}

// figure is a title, a legend laid out in rows across the top and one or
// more plots stacked vertically with aligned data areas, so a shared time
// axis lines up from panel to panel.
type figure struct {
	title  string
	panels []*plot.Plot
	// heights of the panels in points; panelHeight when shorter than panels.
	heights []vg.Length
	legend  []legendItem
	// note is a line of small print under the title.
	note string
}

// save writes the figure as a PNG to path.
func (f *figure) save(path string) error {
	h := f.height()
	img := vgimg.NewWith(vgimg.UseWH(figureWidth, h), vgimg.UseDPI(figureDPI),
		vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(img), h)
	return writeFile(path, vgimg.PngCanvas{Canvas: img})
}

// saveSVG writes the figure as an SVG to path. Text is drawn in Liberation
// Sans, which is metric-compatible with Arial: the file names both, so a
// viewer without Liberation keeps the layout.
func (f *figure) saveSVG(path string) error {
	h := f.height()
	c := vgsvg.New(figureWidth, h)
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	f.draw(dc, h)
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	out := bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	return writeFile(path, bytes.NewReader(out))
}

func writeFile(path string, src io.WriterTo) (err error) {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	defer func() {
		if cerr := fh.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("write %s: %w", filepath.Base(path), cerr)
		}
	}()
	if _, err := src.WriteTo(fh); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// figure layout, in points.
const (
	figMargin = 10
	figThumbW = 24
	figGap    = 12
)

func (f *figure) styles() (title, note, legend text.Style) {
	title = textStyle(titleSize)
	title.Font = bold(titleSize)
	title.XAlign, title.YAlign = draw.XLeft, draw.YTop
	note = textStyle(tickSize)
	note.Color = color.Gray{Y: 0x55}
	note.XAlign, note.YAlign = draw.XLeft, draw.YTop
	legend = textStyle(legendSize)
	legend.XAlign, legend.YAlign = draw.XLeft, draw.YCenter
	return title, note, legend
}

// placedItem is a legend item and where it goes.
type placedItem struct {
	item legendItem
	x    vg.Length
	row  int
}

// layoutLegend lays the legend out in rows across the figure.
func (f *figure) layoutLegend(legSty text.Style) (items []placedItem, height vg.Length) {
	rowH := legSty.Height("Mg") + 5
	inner := figureWidth - 2*figMargin
	x, row := vg.Length(0), 0
	for _, it := range f.legend {
		w := figThumbW + 4 + legSty.Width(it.label) + 14
		if x > 0 && x+w > inner {
			x, row = 0, row+1
		}
		items = append(items, placedItem{it, x, row})
		x += w
	}
	if len(items) > 0 {
		height = vg.Length(row+1)*rowH + 4
	}
	return items, height
}

// headHeight is the height of the title, the note and the legend.
func (f *figure) headHeight() vg.Length {
	titleSty, noteSty, legSty := f.styles()
	_, legendH := f.layoutLegend(legSty)
	h := vg.Length(figMargin)
	if f.title != "" {
		h += titleSty.Height(f.title) + 4
	}
	if f.note != "" {
		h += noteSty.Height(f.note) + 2
	}
	return h + legendH
}

func (f *figure) panelHeights() []vg.Length {
	heights := make([]vg.Length, len(f.panels))
	for i := range f.panels {
		heights[i] = panelHeight
		if i < len(f.heights) && f.heights[i] > 0 {
			heights[i] = f.heights[i]
		}
	}
	return heights
}

// height is the figure's total height.
func (f *figure) height() vg.Length {
	var panelsH vg.Length
	for _, h := range f.panelHeights() {
		panelsH += h
	}
	return f.headHeight() + panelsH + vg.Length(max(len(f.panels)-1, 0))*figGap + figMargin
}

// draw draws the figure on dc, whose height is total.
func (f *figure) draw(dc draw.Canvas, total vg.Length) {
	titleSty, noteSty, legSty := f.styles()
	rowH := legSty.Height("Mg") + 5
	legend, legendH := f.layoutLegend(legSty)
	heights := f.panelHeights()

	y := total - figMargin
	if f.title != "" {
		dc.FillText(titleSty, vg.Point{X: figMargin, Y: y}, f.title)
		y -= titleSty.Height(f.title) + 4
	}
	if f.note != "" {
		dc.FillText(noteSty, vg.Point{X: figMargin, Y: y}, f.note)
		y -= noteSty.Height(f.note) + 2
	}
	for _, l := range legend {
		cy := y - vg.Length(l.row)*rowH - rowH/2
		tc := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: figMargin + l.x, Y: cy - rowH/2 + 2},
			Max: vg.Point{X: figMargin + l.x + figThumbW, Y: cy + rowH/2 - 2},
		}}
		l.item.thumb.Thumbnail(&tc)
		dc.FillText(legSty, vg.Point{X: figMargin + l.x + figThumbW + 4, Y: cy}, l.item.label)
	}
	y -= legendH

	// Stack the panels; align their data areas horizontally.
	var minL, maxR vg.Length
	canvases := make([]draw.Canvas, len(f.panels))
	for i, p := range f.panels {
		c := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: figMargin / 2, Y: y - heights[i]},
			Max: vg.Point{X: figureWidth - figMargin, Y: y},
		}}
		canvases[i] = c
		da := p.DataCanvas(c)
		minL = max(minL, da.Min.X-c.Min.X)
		maxR = max(maxR, c.Max.X-da.Max.X)
		y -= heights[i] + figGap
	}
	for i, p := range f.panels {
		c := canvases[i]
		da := p.DataCanvas(c)
		left := minL - (da.Min.X - c.Min.X)
		right := maxR - (c.Max.X - da.Max.X)
		c.Min.X += left
		c.Max.X -= right
		p.Draw(c)
	}
}

// lineThumb draws a legend sample of a line style.
type lineThumb draw.LineStyle

func (t lineThumb) Thumbnail(c *draw.Canvas) {
	y := (c.Min.Y + c.Max.Y) / 2
	c.StrokeLine2(draw.LineStyle(t), c.Min.X, y, c.Max.X, y)
}

// vlineThumb draws a legend sample of a vertical marker.
type vlineThumb draw.LineStyle

func (t vlineThumb) Thumbnail(c *draw.Canvas) {
	x := (c.Min.X + c.Max.X) / 2
	c.StrokeLine2(draw.LineStyle(t), x, c.Min.Y, x, c.Max.Y)
}

// boxThumb draws a legend sample of a filled bar.
type boxThumb struct{ color color.Color }

func (t boxThumb) Thumbnail(c *draw.Canvas) {
	h := (c.Max.Y - c.Min.Y) / 4
	c.FillPolygon(t.color, []vg.Point{
		{X: c.Min.X, Y: c.Min.Y + h}, {X: c.Max.X, Y: c.Min.Y + h},
		{X: c.Max.X, Y: c.Max.Y - h}, {X: c.Min.X, Y: c.Max.Y - h},
	})
}

// vline is a vertical marker across the whole data area at X.
type vline struct {
	x     float64
	style draw.LineStyle
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	if v.x < p.X.Min || v.x > p.X.Max {
		return
	}
	trX, _ := p.Transforms(&c)
	x := trX(v.x)
	c.StrokeLine2(v.style, x, c.Min.Y, x, c.Max.Y)
}

// band shades the time span x0..x1 across the data area, with a label at
// the top: inside the band when it fits, else just right of it.
type band struct {
	x0, x1 float64
	label  string
	row    int // the label's line from the top: 1 under fault-window labels
}

func (b band) Plot(c draw.Canvas, p *plot.Plot) {
	lo, hi := math.Max(b.x0, p.X.Min), math.Min(b.x1, p.X.Max)
	if hi < lo {
		return
	}
	trX, _ := p.Transforms(&c)
	a, z := trX(lo), trX(hi)
	if z-a < 2 {
		z = a + 2
	}
	c.FillPolygon(outageFill, []vg.Point{
		{X: a, Y: c.Min.Y}, {X: z, Y: c.Min.Y}, {X: z, Y: c.Max.Y}, {X: a, Y: c.Max.Y},
	})
	if b.label == "" {
		return
	}
	sty := textStyle(tickSize)
	sty.Color = outageText
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	w, h := sty.Width(b.label), sty.Height(b.label)
	top := c.Max.Y - 2 - vg.Length(b.row)*(h+3)
	x := a + 3
	if w+6 > z-a {
		// Too narrow: beside the band, on a white ground so that it
		// stays legible over the lines.
		x = z + 3
		if x+w > c.Max.X {
			x = a - 3 - w
		}
		y := top
		c.FillPolygon(color.NRGBA{R: 0xff, G: 0xff, B: 0xff, A: 0xd8}, []vg.Point{
			{X: x - 2, Y: y - h - 1}, {X: x + w + 2, Y: y - h - 1}, {X: x + w + 2, Y: y + 1}, {X: x - 2, Y: y + 1},
		})
	}
	c.FillText(sty, vg.Point{X: x, Y: top}, b.label)
}

// textPlotter writes a message in the middle of an empty panel.
type textPlotter struct{ msg string }

func (t textPlotter) Plot(c draw.Canvas, _ *plot.Plot) {
	sty := textStyle(labelSize)
	sty.Color = color.Gray{Y: 0x70}
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	c.FillText(sty, c.Center(), t.msg)
}

// emptyPanel is a panel that says why it has no data.
func emptyPanel(title, msg string) *plot.Plot {
	p := newPlot(title, "", "")
	p.HideAxes()
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	p.Add(textPlotter{msg})
	return p
}

// addLine adds pts, sorted by X, as a line on scale sc. The line is broken
// where the X gap is larger than gap (0: never), so that missing samples
// show as breaks rather than as straight lines across them; then each piece
// is downsampled to its share of maxPlotPoints and raised to the floor of a
// log scale. pts is not modified.
func addLine(p *plot.Plot, pts plotter.XYs, sty draw.LineStyle, gap float64, sc yScale) {
	var pieces []plotter.XYs
	start := 0
	for i := 1; i <= len(pts); i++ {
		if i == len(pts) || (gap > 0 && pts[i].X-pts[i-1].X > gap) {
			if i > start {
				pieces = append(pieces, pts[start:i])
			}
			start = i
		}
	}
	for _, piece := range pieces {
		n := max(3, maxPlotPoints*len(piece)/max(len(pts), 1))
		seg := sc.clampY(lttb(piece, n))
		if len(seg) == 1 {
			sc, err := plotter.NewScatter(seg)
			if err != nil {
				continue
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: sty.Color, Radius: sty.Width, Shape: draw.CircleGlyph{}}
			p.Add(sc)
			continue
		}
		l, err := plotter.NewLine(seg)
		if err != nil {
			continue
		}
		l.LineStyle = sty
		p.Add(l)
	}
}

// yScale describes how a panel's values are put on its Y axis.
type yScale struct {
	log   bool
	floor float64 // on a log axis, values below are drawn here
	max   float64
}

// chooseScale picks a log axis when the positive values span more than two
// decades, with a floor at a power of ten no more than five decades below
// the maximum, so zeros and near-zeros do not flatten the rest.
func chooseScale(values ...[]float64) yScale {
	hi, loPos := 0.0, math.Inf(1)
	for _, vs := range values {
		for _, v := range vs {
			if v > hi {
				hi = v
			}
			if v > 0 && v < loPos {
				loPos = v
			}
		}
	}
	if hi <= 0 || math.IsInf(loPos, 1) || hi/loPos <= 100 {
		return yScale{max: hi}
	}
	floor := math.Max(loPos, hi/1e5)
	floor = math.Pow(10, math.Floor(math.Log10(floor)))
	return yScale{log: true, floor: floor, max: hi}
}

// apply sets p's Y axis to the scale, with tick labels from format.
func (s yScale) apply(p *plot.Plot, format func(float64) string) {
	if s.log {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{format: format}
		p.Y.Min = s.floor
		p.Y.Max = math.Max(s.max, s.floor*10) * 1.5
		return
	}
	p.Y.Min = 0
	p.Y.Max = s.max * 1.08
	if s.max <= 0 {
		p.Y.Max = 1
	}
	p.Y.Tick.Marker = niceTicks{format: format}
}

// applyBytes is apply for a byte axis: ticks at 1, 10 and 100 times a
// power of 1024, so that they read 1 KiB, 10 KiB, 100 KiB, 1 MiB.
func (s yScale) applyBytes(p *plot.Plot) {
	s.apply(p, fmtAxisBytes)
	if s.log {
		p.Y.Tick.Marker = bytesLogTicks{}
		return
	}
	p.Y.Tick.Marker = niceTicks{format: fmtAxisBytes, binary: true}
}

// clampY returns a copy of pts with Y raised to the floor of a log scale.
func (s yScale) clampY(pts plotter.XYs) plotter.XYs {
	out := append(plotter.XYs(nil), pts...)
	if !s.log {
		return out
	}
	for i := range out {
		if out[i].Y < s.floor {
			out[i].Y = s.floor
		}
	}
	return out
}

// niceTicks puts about five labelled ticks on a linear axis at steps of
// 1, 2, 2.5 or 5 times a power of ten (or of 1024 for bytes), with a
// minor tick between each.
type niceTicks struct {
	format func(float64) string
	binary bool
	n      int // about how many labels; 5 when zero
}

func (t niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return nil
	}
	if t.format == nil {
		t.format = fmtAxisNumber
	}
	n := t.n
	if n <= 0 {
		n = 5
	}
	raw := (hi - lo) / float64(n)
	unit := 1.0
	if t.binary && raw >= 1024 {
		for raw/unit >= 1024 {
			unit *= 1024
		}
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw/unit)))
	step := mag * 10
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw/unit {
			step = m * mag
			break
		}
	}
	step *= unit
	var ts []plot.Tick
	first := math.Ceil(lo/step-1e-9) * step
	if first-step/2 >= lo-1e-9*step {
		ts = append(ts, plot.Tick{Value: first - step/2})
	}
	for v := first; v <= hi+1e-9*step; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ts = append(ts, plot.Tick{Value: v, Label: t.format(v)})
		if v+step/2 <= hi {
			ts = append(ts, plot.Tick{Value: v + step/2})
		}
	}
	return ts
}

// bytesLogTicks marks 1, 10 and 100 times each power of 1024 on a log
// axis, labelled in IEC units.
type bytesLogTicks struct{}

func (bytesLogTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	var ts []plot.Tick
	for unit := 1.0; unit <= hi*1024; unit *= 1024 {
		for _, m := range []float64{1, 10, 100} {
			v := unit * m
			if v >= lo*0.999 && v <= hi*1.001 && (unit == 1 || m < 1000) {
				ts = append(ts, plot.Tick{Value: v, Label: fmtAxisBytes(v)})
			}
		}
	}
	return ts
}

// logTicks labels powers of ten, with minor ticks in between; when the
// axis spans fewer than three decades it labels 2× and 5× as well.
type logTicks struct{ format func(float64) string }

func (t logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	if t.format == nil {
		t.format = func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	}
	dense := math.Log10(hi/lo) < 3
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 || (dense && (m == 2 || m == 5)) {
				tk.Label = t.format(v)
			}
			ts = append(ts, tk)
		}
	}
	return ts
}

// fmtAxisNumber labels a plain number axis: 1,500, 0.25, 12.
func fmtAxisNumber(v float64) string {
	if math.Abs(v) >= 1000 {
		return fmtInt(int64(math.Round(v)))
	}
	return trimZero(strconv.FormatFloat(v, 'f', 3, 64))
}

// fmtAxisMs labels a millisecond axis with its unit: 0.5 ms, 20 ms, 1.5 s.
func fmtAxisMs(v float64) string {
	if v == 0 {
		return "0"
	}
	if math.Abs(v) >= 1000 {
		return fmtAxisNumber(v/1000) + " s"
	}
	return fmtAxisNumber(v) + " ms"
}

// fmtAxisBytes labels a byte axis: 0, 512 B, 64 KiB, 1 MiB.
func fmtAxisBytes(v float64) string {
	if v == 0 {
		return "0"
	}
	s := fmtBytes(v)
	if len(s) > 6 && s[len(s)-6:len(s)-4] == ".0" {
		// "64.0 KiB" → "64 KiB"
		s = s[:len(s)-6] + s[len(s)-4:]
	}
	return s
}
