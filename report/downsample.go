package report

import (
	"math"

	"gonum.org/v1/plot/plotter"
)

// maxPlotPoints is how many points a line keeps after downsampling; about
// one per pixel of a figure's width.
const maxPlotPoints = 1000

// lttb downsamples pts, sorted by X, to at most n points with the
// Largest-Triangle-Three-Buckets algorithm (Steinarsson 2013), which keeps
// the visual shape of a series, spikes included. It returns a new slice and
// never modifies pts; series already short enough are copied as they are.
func lttb(pts plotter.XYs, n int) plotter.XYs {
	if n < 3 || len(pts) <= n {
		return append(plotter.XYs(nil), pts...)
	}
	out := make(plotter.XYs, 0, n)
	out = append(out, pts[0])
	// Buckets between the first and the last point.
	every := float64(len(pts)-2) / float64(n-2)
	a := 0
	for i := 0; i < n-2; i++ {
		// The average of the next bucket is the third vertex.
		nextStart := int(math.Floor(float64(i+1)*every)) + 1
		nextEnd := int(math.Floor(float64(i+2)*every)) + 1
		if nextEnd > len(pts) {
			nextEnd = len(pts)
		}
		var avgX, avgY float64
		if nextStart >= nextEnd {
			nextStart, nextEnd = len(pts)-1, len(pts)
		}
		for _, p := range pts[nextStart:nextEnd] {
			avgX += p.X
			avgY += p.Y
		}
		cnt := float64(nextEnd - nextStart)
		avgX /= cnt
		avgY /= cnt

		start := int(math.Floor(float64(i)*every)) + 1
		end := int(math.Floor(float64(i+1)*every)) + 1
		if end > len(pts)-1 {
			end = len(pts) - 1
		}
		best, bestArea := start, -1.0
		pa := pts[a]
		for j := start; j < end; j++ {
			area := math.Abs((pa.X-avgX)*(pts[j].Y-pa.Y) - (pa.X-pts[j].X)*(avgY-pa.Y))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		out = append(out, pts[best])
		a = best
	}
	return append(out, pts[len(pts)-1])
}
