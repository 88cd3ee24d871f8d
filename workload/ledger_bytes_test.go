package workload

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkLedgerBytes measures the ledger's memory per write: the heap
// a ledger of a million writes, each begun and finished, keeps (after a
// collection), over the number of writes. Each iteration builds one
// ledger; it reports the heap in bytes per write ("bytes/write") and the
// highest heap seen while the ledger grew ("peak_bytes/write"), which
// growth by doubling would put near twice the kept heap.
func BenchmarkLedgerBytes(b *testing.B) {
	const writes = 1_000_000
	var kept, peak float64
	for range b.N {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		l := NewLedger(1)
		var top uint64
		for id := int64(1); id <= writes; id++ {
			at := time.Duration(id) * time.Millisecond
			l.Begin(id, int(id%8), at-time.Millisecond, at)
			l.Finish(id, Acked, 0, at+2*time.Millisecond)
			if id%(writes/64) == 0 {
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapAlloc)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if l.Len() != writes {
			b.Fatalf("Len %d, want %d", l.Len(), writes)
		}
		kept = float64(after.HeapAlloc-before.HeapAlloc) / writes
		peak = float64(max(top, after.HeapAlloc)-before.HeapAlloc) / writes
		runtime.KeepAlive(l)
	}
	b.ReportMetric(kept, "bytes/write")
	b.ReportMetric(peak, "peak_bytes/write")
}
