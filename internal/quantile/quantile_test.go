package quantile

import (
	"math"
	"reflect"
	"testing"
)

func seq(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i + 1)
	}
	return v
}

func TestNearestRank(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{"empty", nil, 0.5, 0},
		{"one value, median", []float64{7}, 0.5, 7},
		{"one value, p99", []float64{7}, 0.99, 7},
		{"q 0 is the minimum", seq(10), 0, 1},
		{"q 1 is the maximum", seq(10), 1, 10},
		{"negative q clamps to the minimum", seq(10), -0.5, 1},
		{"q above 1 clamps to the maximum", seq(10), 1.5, 10},
		// Nearest rank: the ceil(q·n)-th value.
		{"median of 10", seq(10), 0.5, 5},
		{"median of 11", seq(11), 0.5, 6},
		{"p90 of 10", seq(10), 0.9, 9},
		{"p99 of 10", seq(10), 0.99, 10},
		{"p99 of 100", seq(100), 0.99, 99},
		{"p99 of 1000", seq(1000), 0.99, 990},
		{"p99.9 of 1000", seq(1000), 0.999, 999},
		{"p50 of 1000", seq(1000), 0.5, 500},
		{"p99 of 101", seq(101), 0.99, 100},
		{"p10 of 3", seq(3), 0.1, 1},
		{"p34 of 3", seq(3), 0.34, 2},
		{"repeated values", []float64{1, 1, 1, 5, 5}, 0.5, 1},
		{"negative values", []float64{-3, -2, -1}, 0.5, -2},
		{"descending: the rank counts from the start", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0.9, 2},
		{"NaN q is the first value", seq(10), math.NaN(), 1},
		{"infinite q is the last value", seq(10), math.Inf(1), 10},
		// 0.07·100 is 7.000000000000001 in float64: still rank 7.
		{"p7 of 100, float product just above a whole number", seq(100), 0.07, 7},
		{"p7 of 1100", seq(1100), 0.07, 77},
		{"p99.9 as 99.9/100", seq(1000), 99.9 / 100, 999},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := append([]float64(nil), tc.sorted...)
			if got := NearestRank(in, tc.q); got != tc.want {
				t.Errorf("NearestRank(%d values, %v) = %v, want %v", len(tc.sorted), tc.q, got, tc.want)
			}
			if !reflect.DeepEqual(in, tc.sorted) && len(in) > 0 {
				t.Errorf("NearestRank changed its input")
			}
		})
	}
}

func TestNearestRankEveryN(t *testing.T) {
	t.Parallel()
	// For n values 1..n the nearest-rank q-quantile is ceil(q·n), at least 1.
	for n := 1; n <= 3000; n++ {
		v := seq(n)
		for _, pct := range []int{1, 5, 7, 10, 25, 29, 50, 57, 75, 90, 95, 99, 100} {
			q := float64(pct) / 100
			want := (pct*n + 99) / 100 // ceil in integers
			if want < 1 {
				want = 1
			}
			if got := NearestRank(v, q); got != float64(want) {
				t.Fatalf("NearestRank(1..%d, %v) = %v, want %d", n, q, got, want)
			}
		}
	}
}
