package report

import (
	"math"
	"testing"

	"gonum.org/v1/plot/plotter"
)

func TestFormat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		got  string
		want string
	}{
		{"int small", fmtInt(7), "7"},
		{"int thousands", fmtInt(48210), "48,210"},
		{"int millions", fmtInt(-1234567), "-1,234,567"},
		{"count", fmtCount(1234.4), "1,234"},
		{"count small", fmtCount(12.25), "12.2"},
		{"ms sub", fmtMs(0.4123), "0.412"},
		{"ms", fmtMs(4.1), "4.1"},
		{"ms tens", fmtMs(87.25), "87.2"},
		{"ms big", fmtMs(1930), "1,930"},
		{"ms zero", fmtMs(0), "0"},
		{"ms nan", fmtMs(math.NaN()), "–"},
		{"duration ms", fmtDuration(870), "870 ms"},
		{"duration s", fmtDuration(1930), "1.9 s"},
		{"duration whole s", fmtDuration(30000), "30 s"},
		{"duration min", fmtDuration(125000), "2 min 5 s"},
		{"bytes", fmtBytes(512), "512 B"},
		{"kib", fmtBytes(12.3 * 1024), "12.3 KiB"},
		{"mib", fmtBytes(300 * 1024 * 1024), "300 MiB"},
		{"axis bytes", fmtAxisBytes(64 * 1024), "64 KiB"},
		{"axis bytes zero", fmtAxisBytes(0), "0"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestLTTB(t *testing.T) {
	t.Parallel()
	var pts plotter.XYs
	for i := 0; i < 10000; i++ {
		y := math.Sin(float64(i) / 300)
		if i == 4321 {
			y = 50 // a spike that must survive
		}
		pts = append(pts, plotter.XY{X: float64(i), Y: y})
	}
	orig := append(plotter.XYs(nil), pts...)
	out := lttb(pts, 1000)
	if len(out) != 1000 {
		t.Fatalf("got %d points, want 1000", len(out))
	}
	if out[0] != pts[0] || out[len(out)-1] != pts[len(pts)-1] {
		t.Error("endpoints not kept")
	}
	spike := false
	for i, p := range out {
		if i > 0 && p.X <= out[i-1].X {
			t.Fatalf("not increasing at %d", i)
		}
		if p.Y == 50 {
			spike = true
		}
	}
	if !spike {
		t.Error("spike lost")
	}
	for i := range pts {
		if pts[i] != orig[i] {
			t.Fatal("input modified")
		}
	}
	if short := lttb(pts[:10], 1000); len(short) != 10 {
		t.Errorf("short series: got %d points", len(short))
	}
}

func TestChooseScale(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		vals  []float64
		log   bool
		floor float64
	}{
		{"empty", nil, false, 0},
		{"zeros", []float64{0, 0}, false, 0},
		{"narrow", []float64{0, 10, 500}, false, 0},
		{"wide", []float64{0, 3, 250_000}, true, 1},
		{"very wide", []float64{0, 0.001, 5e6}, true, 10},
	}
	for _, tc := range cases {
		s := chooseScale(tc.vals)
		if s.log != tc.log || s.floor != tc.floor {
			t.Errorf("%s: got log=%v floor=%g, want log=%v floor=%g", tc.name, s.log, s.floor, tc.log, tc.floor)
		}
		if s.log {
			for _, p := range s.clampY(plotter.XYs{{X: 0, Y: 0}}) {
				if p.Y < s.floor {
					t.Errorf("%s: clamp left %g below floor", tc.name, p.Y)
				}
			}
		}
	}
}
