package workload

import (
	"os"
	"runtime"
	"sync"
)

// While writers run, the harness's Go code is a client: its goroutines
// wait on sockets, and every wake-up handed from one scheduler thread to
// another costs CPU the servers beside it need. On 2 cores the writers'
// CPU per write was 48.7 µs with the default of one P per core and 40.4
// µs with one P, against pgbench's 46.9 (-j 2), for the same TPS
// (BenchmarkWriterVsPgbench). So Run limits the scheduler to a quarter of
// the cores, at least one, while it runs: still about 25,000 writes a
// second of client per P. A GOMAXPROCS set in the environment is left as
// it is.
var procs struct {
	mu    sync.Mutex
	users int // Runs under way: the first limits, the last restores
	saved int
}

// writerProcs is the number of Ps while writers run.
func writerProcs(cpus int) int { return max(1, cpus/4) }

// limitProcs limits GOMAXPROCS while writers run and returns the function
// that restores it once no Run needs the limit.
func limitProcs() (restore func()) {
	if os.Getenv("GOMAXPROCS") != "" {
		return func() {}
	}
	procs.mu.Lock()
	defer procs.mu.Unlock()
	if procs.users == 0 {
		procs.saved = runtime.GOMAXPROCS(min(writerProcs(runtime.NumCPU()), runtime.GOMAXPROCS(0)))
	}
	procs.users++
	return func() {
		procs.mu.Lock()
		defer procs.mu.Unlock()
		if procs.users--; procs.users == 0 {
			runtime.GOMAXPROCS(procs.saved)
		}
	}
}
