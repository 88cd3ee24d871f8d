package workload

import (
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// TestRecorderSeconds: each writer keeps one histogram for its current
// second and hands it over when the next ack falls later; the run's
// per-second histograms and whole-run histograms count every ack once.
func TestRecorderSeconds(t *testing.T) {
	bySec := &seconds{h: make([]*hdrhistogram.Histogram, 3)}
	a, b := newRecorder(3, bySec), newRecorder(3, bySec)
	a.ack(0, 100)
	a.ack(0, 200)
	b.ack(0, 300)
	a.ack(2, 400) // second 1 had no ack of a's
	b.ack(1, 500)
	b.ack(2, 600)
	a.flush()
	b.flush()
	want := []int64{3, 1, 2}
	for s, n := range want {
		if h := bySec.h[s]; h == nil || h.TotalCount() != n {
			t.Errorf("second %d: %v acks, want %d", s, h, n)
		}
	}
	if a.lat.TotalCount() != 3 || b.lat.TotalCount() != 3 {
		t.Errorf("whole-run histograms hold %d and %d, want 3 each", a.lat.TotalCount(), b.lat.TotalCount())
	}
	if got := bySec.h[2].Max(); got < 595 || got > 605 {
		t.Errorf("second 2's max %d µs, want 600 within 1 %%", got)
	}
	if a.cur.TotalCount() != 0 || b.cur.TotalCount() != 0 {
		t.Error("a flushed writer still holds its second")
	}
}
