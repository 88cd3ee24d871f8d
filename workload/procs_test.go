package workload

import (
	"runtime"
	"testing"
)

// TestLimitProcs: runs that overlap share one limit, and the last one to
// end restores what was there.
func TestLimitProcs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "") // as when it is not set
	before := runtime.GOMAXPROCS(0)
	want := min(writerProcs(runtime.NumCPU()), before)
	r1 := limitProcs()
	r2 := limitProcs()
	if got := runtime.GOMAXPROCS(0); got != want {
		t.Errorf("GOMAXPROCS %d while writers run, want %d", got, want)
	}
	r1()
	if got := runtime.GOMAXPROCS(0); got != want {
		t.Errorf("GOMAXPROCS %d while one run is left, want %d", got, want)
	}
	r2()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Errorf("GOMAXPROCS %d after the runs, want %d back", got, before)
	}
	for cpus, want := range map[int]int{1: 1, 2: 1, 4: 1, 8: 2, 16: 4} {
		if got := writerProcs(cpus); got != want {
			t.Errorf("writerProcs(%d) = %d, want %d", cpus, got, want)
		}
	}
}
