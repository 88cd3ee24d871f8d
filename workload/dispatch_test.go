package workload

import (
	"testing"
	"time"
)

func TestPacedFrom(t *testing.T) {
	t.Parallel()
	step := func(at time.Duration) func(time.Duration) float64 {
		return func(t time.Duration) float64 {
			if t >= at {
				return 100
			}
			return 0
		}
	}
	tests := []struct {
		name     string
		at       time.Duration // the rate turns positive here
		from, to time.Duration
	}{
		{"inside the interval", 3*time.Millisecond + 250*time.Microsecond, time.Millisecond, 13 * time.Millisecond},
		{"at its end", 13 * time.Millisecond, time.Millisecond, 13 * time.Millisecond},
		{"just after its start", time.Millisecond + 1, time.Millisecond, 13 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := pacedFrom(step(tc.at), tc.from, tc.to)
			if got < tc.at || got-tc.at > time.Microsecond {
				t.Errorf("pacedFrom = %v, want within 1µs after %v", got, tc.at)
			}
		})
	}
}

// TestTakeModes: while the rate is unlimited a writer hands itself ids;
// once the rate is paced it hands the schedule back and waits for the
// queue, and wakes when the rate is unlimited again.
func TestTakeModes(t *testing.T) {
	t.Parallel()
	var paced bool
	cfg := Config{MaxQueue: 4, Ledger: NewLedger(7), Start: time.Now(),
		Rate: func(time.Duration) float64 {
			if paced {
				return 10
			}
			return 0
		}}
	sh := newShared(cfg, t.Context())
	sh.setMode(true)
	if j, ok := sh.take(); !ok || j.id != 7 || j.intended >= 0 {
		t.Fatalf("unlimited: take = %+v, %v, want id 7 unpaced", j, ok)
	}
	paced = true
	got := make(chan job, 1)
	go func() {
		j, _ := sh.take()
		got <- j
	}()
	select {
	case <-sh.paced:
	case <-time.After(5 * time.Second):
		t.Fatal("the writer did not hand the schedule back")
	}
	if sh.mode.Load().unlimited {
		t.Fatal("still unlimited")
	}
	sh.queue <- job{id: 8, intended: time.Second}
	if j := <-got; j.id != 8 || j.intended != time.Second {
		t.Fatalf("paced: take = %+v, want the queued job", j)
	}
	go func() {
		j, _ := sh.take()
		got <- j
	}()
	paced = false
	sh.setMode(true)
	if j := <-got; j.id != 8 || j.intended >= 0 {
		t.Fatalf("unlimited again: take = %+v, want id 8 unpaced", j)
	}
}
