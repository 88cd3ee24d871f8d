package probe

import (
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

func TestQuantile(t *testing.T) {
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := append([]float64(nil), tc.sorted...)
			if got := Quantile(in, tc.q); got != tc.want {
				t.Errorf("Quantile(%d values, %v) = %v, want %v", len(tc.sorted), tc.q, got, tc.want)
			}
			if !reflect.DeepEqual(in, tc.sorted) && len(in) > 0 {
				t.Errorf("Quantile changed its input")
			}
		})
	}
}

func TestQuantileNearestRankEveryN(t *testing.T) {
	t.Parallel()
	// For n values 1..n the nearest-rank q-quantile is ceil(q·n), at least 1.
	for n := 1; n <= 300; n++ {
		v := seq(n)
		for _, pct := range []int{1, 5, 10, 25, 50, 75, 90, 95, 99, 100} {
			q := float64(pct) / 100
			want := (pct*n + 99) / 100 // ceil in integers
			if want < 1 {
				want = 1
			}
			if got := Quantile(v, q); got != float64(want) {
				t.Fatalf("Quantile(1..%d, %v) = %v, want %d", n, q, got, want)
			}
		}
	}
}
