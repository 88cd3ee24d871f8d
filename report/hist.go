package report

import (
	"fmt"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot/plotter"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// The percentile axis runs from p50 to p99.999, drawn as 1/(1-p) on a log
// scale so that each added nine takes the same width.
const (
	pctAxisMin = 2      // 1/(1-0.5)
	pctAxisMax = 100000 // 1/(1-0.99999)
)

// decodeHistogram decodes a variant's commit latency histogram. It returns
// nil and no error when the variant has none.
func decodeHistogram(h *result.Histogram) (*hdrhistogram.Histogram, error) {
	if h == nil || h.Encoded == "" {
		return nil, nil
	}
	hist, err := hdrhistogram.Decode([]byte(h.Encoded))
	if err != nil {
		return nil, fmt.Errorf("decode commit latency histogram: %w", err)
	}
	return hist, nil
}

// unitToMs returns the factor from a histogram's unit to milliseconds.
func unitToMs(unit string) float64 {
	switch unit {
	case "ns":
		return 1e-6
	case "ms":
		return 1
	case "s":
		return 1000
	default: // "us", the documented unit, and unset
		return 1e-3
	}
}

// percentileCurve samples hist from p50 up to the highest percentile its
// count supports (at most p99.999), as points (1/(1-p), value in ms).
func percentileCurve(hist *hdrhistogram.Histogram, unit string) plotter.XYs {
	n := hist.TotalCount()
	if n == 0 {
		return nil
	}
	scale := unitToMs(unit)
	top := math.Min(pctAxisMax, math.Max(float64(n), pctAxisMin*10))
	const steps = 240
	lo, hi := math.Log10(pctAxisMin), math.Log10(top)
	pts := make(plotter.XYs, 0, steps+1)
	for i := 0; i <= steps; i++ {
		x := math.Pow(10, lo+(hi-lo)*float64(i)/steps)
		q := 100 * (1 - 1/x)
		v := float64(hist.ValueAtPercentile(q)) * scale
		pts = append(pts, plotter.XY{X: x, Y: v})
	}
	return pts
}

// summaryCurve is the fallback when a variant has no histogram: the
// percentiles of its summary, as points (1/(1-p), ms).
func summaryCurve(l result.Latency) plotter.XYs {
	var pts plotter.XYs
	for _, p := range []struct{ q, v float64 }{
		{0.5, l.P50}, {0.9, l.P90}, {0.99, l.P99}, {0.999, l.P999},
	} {
		if p.v > 0 {
			pts = append(pts, plotter.XY{X: 1 / (1 - p.q), Y: p.v})
		}
	}
	return pts
}
