package workload

import (
	"sync"
	"testing"
	"time"
	"unsafe"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// counts returns the ledger's count of every outcome, in Outcome order.
func counts(l *Ledger) [4]int64 {
	return [4]int64{l.Count(Pending), l.Count(Acked), l.Count(Failed), l.Count(Unknown)}
}

func TestOutcomeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		o    Outcome
		want string
	}{
		{Pending, "pending"}, {Acked, "acked"}, {Failed, "failed"}, {Unknown, "unknown"}, {Outcome(9), "pending"},
	}
	for _, tc := range tests {
		if got := tc.o.String(); got != tc.want {
			t.Errorf("Outcome(%d).String() = %q, want %q", tc.o, got, tc.want)
		}
	}
}

func TestLedgerCounts(t *testing.T) {
	t.Parallel()
	type op struct {
		begin  bool
		id     int64
		o      Outcome
		node   int
		atMs   int
		finish bool
	}
	begin := func(id int64) op { return op{begin: true, id: id} }
	finish := func(id int64, o Outcome, node, atMs int) op {
		return op{finish: true, id: id, o: o, node: node, atMs: atMs}
	}
	tests := []struct {
		name    string
		first   int64
		ops     []op
		wantLen int64
		want    [4]int64 // pending, acked, failed, unknown
	}{
		{"empty", 100, nil, 0, [4]int64{}},
		{"begun only", 100, []op{begin(100), begin(101), begin(102)}, 3, [4]int64{3, 0, 0, 0}},
		{"every outcome", 100, []op{
			begin(100), begin(101), begin(102), begin(103),
			finish(100, Acked, 0, 1), finish(101, Failed, 0, 2), finish(102, Unknown, 1, 3),
		}, 4, [4]int64{1, 1, 1, 1}},
		{"begin fills the gap below", 10, []op{begin(14)}, 5, [4]int64{5, 0, 0, 0}},
		{"begin of a smaller id later keeps the count", 10, []op{begin(14), begin(11), begin(12)}, 5, [4]int64{5, 0, 0, 0}},
		{"finish before begin", 10, []op{finish(12, Acked, 0, 5)}, 3, [4]int64{2, 1, 0, 0}},
		{"finish out of order", 1, []op{
			begin(1), begin(2), begin(3), begin(4), begin(5),
			finish(4, Acked, 0, 4), finish(2, Acked, 0, 5), finish(5, Failed, 0, 6), finish(1, Acked, 0, 7),
		}, 5, [4]int64{1, 3, 1, 0}},
		{"finish below the first id is ignored", 10, []op{begin(10), finish(9, Acked, 0, 1), finish(-1, Acked, 0, 1)}, 1, [4]int64{1, 0, 0, 0}},
		{"a second finish replaces the first", 1, []op{
			begin(1), finish(1, Unknown, 0, 1), finish(1, Acked, 0, 2),
		}, 1, [4]int64{0, 1, 0, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := NewLedger(tc.first)
			for _, o := range tc.ops {
				if o.begin {
					l.Begin(o.id, 0, -1, 0)
				} else {
					l.Finish(o.id, o.o, o.node, ms(o.atMs))
				}
			}
			if got := l.Len(); got != tc.wantLen {
				t.Errorf("Len() = %d, want %d", got, tc.wantLen)
			}
			if got := counts(l); got != tc.want {
				t.Errorf("counts (pending, acked, failed, unknown) = %v, want %v", got, tc.want)
			}
			var sum int64
			for _, c := range counts(l) {
				sum += c
			}
			if sum != l.Len() {
				t.Errorf("counts sum to %d, Len() = %d", sum, l.Len())
			}
			if got := int64(len(l.Snapshot())); got != tc.wantLen {
				t.Errorf("len(Snapshot()) = %d, want %d", got, tc.wantLen)
			}
			if l.FirstID() != tc.first {
				t.Errorf("FirstID() = %d, want %d", l.FirstID(), tc.first)
			}
		})
	}
}

func TestLedgerGetAndSnapshot(t *testing.T) {
	t.Parallel()
	l := NewLedger(1000)
	l.Begin(1002, 3, ms(4), ms(5))
	l.Finish(1001, Acked, 2, ms(7))
	l.Finish(1002, Failed, 1, ms(9))

	tests := []struct {
		name   string
		id     int64
		want   Entry
		wantOK bool
	}{
		{"never begun, below the first id", 999, Entry{}, false},
		{"gap filled by a later begin", 1000, Entry{Outcome: Pending, Node: -1, Writer: -1, Scheduled: -1}, true},
		{"acked, never begun", 1001, Entry{Outcome: Acked, Node: 2, At: ms(7), Writer: -1, Scheduled: -1}, true},
		{"failed, begun by writer 3", 1002, Entry{Outcome: Failed, Node: 1, At: ms(9), Writer: 3, Scheduled: ms(4), Sent: ms(5)}, true},
		{"beyond the last id", 1003, Entry{}, false},
	}
	for _, tc := range tests {
		got, ok := l.Get(tc.id)
		if ok != tc.wantOK || got != tc.want {
			t.Errorf("%s: Get(%d) = %+v, %v; want %+v, %v", tc.name, tc.id, got, ok, tc.want, tc.wantOK)
		}
	}

	snap := l.Snapshot()
	want := []Entry{{Outcome: Pending, Node: -1, Writer: -1, Scheduled: -1}, {Outcome: Acked, Node: 2, At: ms(7), Writer: -1, Scheduled: -1},
		{Outcome: Failed, Node: 1, At: ms(9), Writer: 3, Scheduled: ms(4), Sent: ms(5)}}
	if len(snap) != len(want) {
		t.Fatalf("Snapshot() = %+v, want %+v", snap, want)
	}
	for i := range want {
		if snap[i] != want[i] {
			t.Errorf("Snapshot()[%d] = %+v, want %+v", i, snap[i], want[i])
		}
	}
	// The snapshot is a copy: later writes do not change it.
	snap[0].Outcome = Unknown
	l.Finish(1000, Acked, 0, ms(11))
	if e, _ := l.Get(1000); e.Outcome != Acked {
		t.Errorf("after Finish, Get(1000) = %+v", e)
	}
	if l.Snapshot()[0].Outcome != Acked {
		t.Error("changing a snapshot changed the ledger, or Finish did not")
	}
	if snap[1] != want[1] {
		t.Error("snapshot changed after a later Finish")
	}
}

// TestLedgerBegin: a write keeps who sent it and when, whatever order the
// writers begin their ids in, and its outcome does not erase them.
func TestLedgerBegin(t *testing.T) {
	t.Parallel()
	type begin struct {
		id                int64
		writer            int
		schedMs, sentMs   int
		finish            Outcome
		finishMs, finNode int
	}
	tests := []struct {
		name   string
		begins []begin
		want   []Entry // ids 1, 2, ...
	}{
		{"in order, then finished", []begin{{1, 0, 10, 11, Acked, 15, 0}, {2, 1, 12, 12, Unknown, 20, 1}}, []Entry{
			{Outcome: Acked, Node: 0, At: ms(15), Writer: 0, Scheduled: ms(10), Sent: ms(11)},
			{Outcome: Unknown, Node: 1, At: ms(20), Writer: 1, Scheduled: ms(12), Sent: ms(12)},
		}},
		{"a later id begun first", []begin{{2, 1, 12, 13, Pending, 0, 0}, {1, 0, 10, 14, Pending, 0, 0}}, []Entry{
			{Outcome: Pending, Node: -1, Writer: 0, Scheduled: ms(10), Sent: ms(14)},
			{Outcome: Pending, Node: -1, Writer: 1, Scheduled: ms(12), Sent: ms(13)},
		}},
		{"an id left unsent below a begun one", []begin{{2, 4, 12, 13, Failed, 16, 0}}, []Entry{
			{Outcome: Pending, Node: -1, Writer: -1, Scheduled: -1},
			{Outcome: Failed, Node: 0, At: ms(16), Writer: 4, Scheduled: ms(12), Sent: ms(13)},
		}},
		{"unpaced", []begin{{1, 2, -1, 5, Acked, 6, 1}}, []Entry{
			{Outcome: Acked, Node: 1, At: ms(6), Writer: 2, Scheduled: -1 * time.Millisecond, Sent: ms(5)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := NewLedger(1)
			for _, b := range tc.begins {
				l.Begin(b.id, b.writer, ms(b.schedMs), ms(b.sentMs))
			}
			for _, b := range tc.begins {
				if b.finish != Pending {
					l.Finish(b.id, b.finish, b.finNode, ms(b.finishMs))
				}
			}
			got := l.Snapshot()
			if len(got) != len(tc.want) {
				t.Fatalf("Snapshot() = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("id %d: %+v, want %+v", i+1, got[i], tc.want[i])
				}
				if got[i].WasSent() != (tc.want[i].Writer >= 0) {
					t.Errorf("id %d: WasSent() = %v", i+1, got[i].WasSent())
				}
			}
		})
	}
}

func TestLedgerLastAckBefore(t *testing.T) {
	t.Parallel()
	l := NewLedger(1)
	// id: outcome @ ms — out of id order on purpose: acks finish out of order.
	l.Finish(1, Acked, 0, ms(100))
	l.Finish(2, Acked, 0, ms(300))
	l.Finish(3, Acked, 0, ms(200))
	l.Finish(4, Failed, 0, ms(250))
	l.Finish(5, Unknown, 0, ms(290))
	l.Begin(7, 0, -1, ms(295)) // 6 and 7 pending

	tests := []struct {
		name   string
		t      time.Duration
		want   time.Duration
		wantOK bool
	}{
		{"before every ack", ms(100), 0, false},
		{"strictly before: an ack at t does not count", ms(200), ms(100), true},
		{"failed and unknown are not acks", ms(299), ms(200), true},
		{"just after the last ack", ms(301), ms(300), true},
		{"far later", time.Hour, ms(300), true},
		{"zero", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := l.LastAckBefore(tc.t)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("LastAckBefore(%v) = %v, %v; want %v, %v", tc.t, got, ok, tc.want, tc.wantOK)
			}
		})
	}
	if _, ok := NewLedger(1).LastAckBefore(time.Hour); ok {
		t.Error("empty ledger has an ack")
	}
}

func TestLedgerFirstAckAfter(t *testing.T) {
	t.Parallel()
	l := NewLedger(50)
	l.Finish(50, Acked, 0, ms(900))  // old primary, before the fault
	l.Finish(51, Acked, 0, ms(1000)) // old primary, at the fault
	l.Finish(52, Acked, 0, ms(1100)) // old primary, after the fault (still acking)
	l.Finish(53, Acked, 2, ms(1600)) // replica2 promoted... acks later
	l.Finish(54, Acked, 1, ms(1500)) // new primary's first ack, finished out of order
	l.Finish(55, Failed, 1, ms(1200))
	l.Finish(56, Unknown, 1, ms(1300))
	l.Finish(57, Acked, -1, ms(1400)) // no node known

	tests := []struct {
		name     string
		t        time.Duration
		exclude  int
		want     time.Duration
		wantNode int
		wantOK   bool
	}{
		{"exclude none: at t counts", ms(1000), -1, ms(1000), 0, true},
		{"exclude the old primary", ms(1000), 0, ms(1400), -1, true},
		{"exclude the unknown node", ms(1000), -2, ms(1000), 0, true},
		{"after the anonymous ack", ms(1401), 0, ms(1500), 1, true},
		{"exclude node 1", ms(1401), 1, ms(1600), 2, true},
		{"failed and unknown never count", ms(1150), 0, ms(1400), -1, true},
		{"after every ack", ms(1601), -1, 0, -1, false},
		{"only the excluded node acked after t", ms(1001), 0, ms(1400), -1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, node, ok := l.FirstAckAfter(tc.t, tc.exclude)
			if got != tc.want || node != tc.wantNode || ok != tc.wantOK {
				t.Errorf("FirstAckAfter(%v, %d) = %v, %d, %v; want %v, %d, %v",
					tc.t, tc.exclude, got, node, ok, tc.want, tc.wantNode, tc.wantOK)
			}
		})
	}
}

// TestLedgerFirstAckAfterExcludeNone: exclude -1 is documented to exclude
// no node, so an ack whose node is unknown (-1: the writer had no NodeOf,
// or the address was not a node's) still counts.
func TestLedgerFirstAckAfterExcludeNone(t *testing.T) {
	t.Parallel()
	l := NewLedger(1)
	l.Finish(1, Acked, -1, ms(10))
	l.Finish(2, Acked, 1, ms(20))
	got, node, ok := l.FirstAckAfter(ms(5), -1)
	if !ok || got != ms(10) || node != -1 {
		t.Errorf("FirstAckAfter(5ms, -1) = %v, %d, %v; want 10ms, -1, true (exclude -1 excludes none)", got, node, ok)
	}
}

func TestLedgerConcurrent(t *testing.T) {
	t.Parallel()
	const writers, per = 8, 2000
	l := NewLedger(1)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				id := int64(1 + i*writers + w) // interleaved, begun out of order
				l.Begin(id, w, ms(i), ms(i))
				o := []Outcome{Acked, Acked, Acked, Failed, Unknown}[i%5]
				l.Finish(id, o, w, ms(i))
			}
		}(w)
	}
	wg.Wait()
	if got := l.Len(); got != writers*per {
		t.Fatalf("Len() = %d, want %d", got, writers*per)
	}
	want := [4]int64{0, writers * per * 3 / 5, writers * per / 5, writers * per / 5}
	if got := counts(l); got != want {
		t.Errorf("counts = %v, want %v", got, want)
	}
}

// TestLedgerRecord: an entry keeps At to the ns and Sent and Scheduled to
// the µs (truncated, as the history writes them), whatever their distance
// from At, in 18 bytes unless a distance exceeds 32 bits of µs or At 48
// bits of ns.
func TestLedgerRecord(t *testing.T) {
	t.Parallel()
	if size := unsafe.Sizeof(record{}); size != 18 {
		t.Fatalf("record is %d bytes, want 18", size)
	}
	ns := func(n int64) time.Duration { return time.Duration(n) }
	const day = 24 * time.Hour
	tests := []struct {
		name            string
		writer          int
		sched, sent, at time.Duration
		o               Outcome
		want            Entry
	}{
		{"sub-µs parts: At kept, Sent and Scheduled truncated", 3, ns(1_000_999), ns(2_000_999), ns(5_000_123), Acked,
			Entry{At: ns(5_000_123), Sent: ns(2_000_000), Scheduled: ns(1_000_000), Writer: 3, Outcome: Acked, Node: 1}},
		{"pending: no At", 0, ns(7_500), ns(8_999), 0, Pending,
			Entry{Sent: ns(8_000), Scheduled: ns(7_000), Writer: 0, Outcome: Pending, Node: -1}},
		{"unpaced -1 ns stays negative", 2, -1, ms(5), ms(6), Failed,
			Entry{At: ms(6), Sent: ms(5), Scheduled: -1, Writer: 2, Outcome: Failed, Node: 1}},
		{"a write answered after a day", 1, ms(1), ms(2), day, Unknown,
			Entry{At: day, Sent: ms(2), Scheduled: ms(1), Writer: 1, Outcome: Unknown, Node: 1}},
		{"scheduled a day before it was sent", 1, ms(1), day, day + ms(1), Acked,
			Entry{At: day + ms(1), Sent: day, Scheduled: ms(1), Writer: 1, Outcome: Acked, Node: 1}},
		{"answered after 100 hours: beyond 48 bits of ns", 1, ms(1), ms(2), 100*time.Hour + ns(7), Acked,
			Entry{At: 100*time.Hour + ns(7), Sent: ms(2), Scheduled: ms(1), Writer: 1, Outcome: Acked, Node: 1}},
		{"negative offsets (sent before the window began)", 1, -ms(3), ns(-2_000_500), ns(-1_000_500), Acked,
			Entry{At: ns(-1_000_500), Sent: -ms(2), Scheduled: -ms(3), Writer: 1, Outcome: Acked, Node: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := NewLedger(10)
			l.Begin(11, tc.writer, tc.sched, tc.sent)
			if tc.o != Pending {
				l.Finish(11, tc.o, 1, tc.at)
			}
			if got, _ := l.Get(11); got != tc.want {
				t.Errorf("Get = %+v, want %+v", got, tc.want)
			}
			if got := l.Snapshot()[1]; got != tc.want {
				t.Errorf("Snapshot = %+v, want %+v", got, tc.want)
			}
			// A second outcome re-bases the record; the times stay.
			l.Finish(11, Acked, 1, tc.at+ms(1))
			want := tc.want
			want.Outcome, want.At, want.Node = Acked, tc.at+ms(1), 1
			if got, _ := l.Get(11); got != want {
				t.Errorf("after a second Finish: %+v, want %+v", got, want)
			}
		})
	}
}

// TestLedgerChunks: ids across chunk boundaries, begun out of order, keep
// their entries and counts.
func TestLedgerChunks(t *testing.T) {
	t.Parallel()
	l := NewLedger(1)
	const n = 3*chunkLen + 7
	for id := int64(n); id >= 1; id -= 2 {
		l.Begin(id, int(id%5), ms(int(id)), ms(int(id)+1))
		l.Finish(id, Acked, int(id%3), ms(int(id)+2))
	}
	if l.Len() != n || l.Count(Acked) != (n+1)/2 || l.Count(Pending) != n/2 {
		t.Fatalf("Len %d, acked %d, pending %d", l.Len(), l.Count(Acked), l.Count(Pending))
	}
	for i, e := range l.Snapshot() {
		id := int64(i + 1)
		if id%2 == 0 {
			if e != unsent {
				t.Fatalf("id %d: %+v, want unsent", id, e)
			}
			continue
		}
		want := Entry{At: ms(int(id) + 2), Sent: ms(int(id) + 1), Scheduled: ms(int(id)), Writer: int16(id % 5), Outcome: Acked, Node: int8(id % 3)}
		if e != want {
			t.Fatalf("id %d: %+v, want %+v", id, e, want)
		}
	}
}

// TestLedgerView: a view reads what a snapshot copies, across chunks and
// for an entry kept whole in the overflow map; its length is fixed when
// it is made; a loop over it may stop early; a view of a list reads the
// list.
func TestLedgerView(t *testing.T) {
	t.Parallel()
	l := NewLedger(1)
	const n = 2*chunkLen + 5
	for id := int64(1); id <= n; id++ {
		at := ms(int(id) + 2)
		if id == chunkLen+3 {
			at = 100 * time.Hour // beyond a record: overflow
		}
		l.Begin(id, int(id%4), ms(int(id)), ms(int(id)+1))
		l.Finish(id, Acked, int(id%3), at)
	}
	want := l.Snapshot()
	view := l.View()
	l.Begin(n+1, 0, -1, ms(1)) // after the view was made
	if view.Len() != n {
		t.Fatalf("view of %d entries, want %d", view.Len(), n)
	}
	count := 0
	for i, e := range view.All() {
		if e != want[i] || view.At(i) != want[i] {
			t.Fatalf("entry %d: %+v (At %+v), want %+v", i, e, view.At(i), want[i])
		}
		count++
	}
	if count != n {
		t.Fatalf("All yielded %d entries, want %d", count, n)
	}
	if e := view.At(chunkLen + 2); e.At != 100*time.Hour {
		t.Fatalf("overflowed entry: %+v", e)
	}
	stopped := 0
	for range view.All() {
		if stopped++; stopped == chunkLen+1 {
			break
		}
	}
	if stopped != chunkLen+1 {
		t.Fatalf("a loop that stops read %d entries", stopped)
	}
	list := EntriesOf(want[:3])
	if list.Len() != 3 || list.At(2) != want[2] {
		t.Fatalf("view of a list: %d entries, At(2) %+v", list.Len(), list.At(2))
	}
	for i, e := range list.All() {
		if e != want[i] {
			t.Fatalf("list entry %d: %+v", i, e)
		}
	}
}
