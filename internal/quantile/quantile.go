// Package quantile computes nearest-rank quantiles, the one definition the
// harness uses for every percentile it computes itself (probes, reads,
// summaries over repetitions, threshold aggregations).
//
//	sort.Float64s(v)
//	p99 := quantile.NearestRank(v, 0.99)
package quantile

import "math"

// NearestRank is the nearest-rank q-quantile of sorted values: the
// ceil(q·n)-th value (1-based), the first value for q <= 0 and the last
// for q >= 1. It returns 0 for no values and does not modify sorted.
// sorted may be in either order; the rank counts from its start.
func NearestRank(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[Index(len(sorted), q)]
}

// Index is the 0-based index of the nearest-rank q-quantile among n
// (at least one) sorted values: ceil(q·n)-1, clamped to [0, n-1].
func Index(n int, q float64) int {
	switch {
	case !(q > 0): // also NaN
		return 0
	case q >= 1:
		return n - 1
	}
	r := q * float64(n)
	// q is a decimal fraction that a float64 holds only approximately:
	// 0.07·100 is 7.000000000000001. A product that close to a whole
	// number is that number, not one more.
	k := math.Round(r)
	if math.Abs(r-k) > 1e-9*r {
		k = math.Ceil(r)
	}
	return min(max(int(k)-1, 0), n-1)
}
