package probe

import (
	"reflect"
	"testing"
)

func TestMaxP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v       []float64
		q       float64
		wantMax float64
		wantP   float64
	}{
		{"empty", nil, 0.99, 0, 0},
		{"one", []float64{3.5}, 0.99, 3.5, 3.5},
		{"unsorted", []float64{9, 1, 5, 3, 7}, 0.5, 9, 5},
		{"unsorted p99", []float64{4, 100, 2, 3, 1}, 0.99, 100, 100},
		{"max of negatives", []float64{-5, -1, -3}, 0.5, -1, -3},
		{"p99 of 200 descending", func() []float64 {
			v := make([]float64, 200)
			for i := range v {
				v[i] = float64(200 - i)
			}
			return v
		}(), 0.99, 200, 198},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := append([]float64(nil), tc.v...)
			max, p := maxP(in, tc.q)
			if max != tc.wantMax || p != tc.wantP {
				t.Errorf("maxP(%v, %v) = %v, %v; want %v, %v", tc.v, tc.q, max, p, tc.wantMax, tc.wantP)
			}
			if !reflect.DeepEqual(in, tc.v) {
				t.Errorf("maxP reordered its input: %v, was %v", in, tc.v)
			}
		})
	}
}
