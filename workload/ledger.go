package workload

import (
	"iter"
	"math"
	"slices"
	"sync"
	"time"
)

// Outcome is what a writer knows about one write (Jepsen's ok/fail/info).
type Outcome uint8

const (
	// Pending: sent, no answer yet (or never sent when the run ended).
	Pending Outcome = iota
	// Acked: the server acknowledged the commit.
	Acked
	// Failed: the write certainly did not commit (an error from the
	// server, or it was never sent).
	Failed
	// Unknown: the connection broke after the write was sent and before
	// its answer: it may or may not have committed.
	Unknown
)

func (o Outcome) String() string {
	switch o {
	case Acked:
		return "acked"
	case Failed:
		return "failed"
	case Unknown:
		return "unknown"
	}
	return "pending"
}

// Entry is the ledger's record of one write. Times are offsets from the
// start of the window.
type Entry struct {
	At time.Duration // ack (or failure, or break) time
	// Sent is when the writer sent it; Scheduled when the arrival
	// schedule wanted it sent, <0 when the rate was unlimited (no
	// schedule). Both are meaningless unless Writer >= 0.
	Sent, Scheduled time.Duration
	// Writer is the index of the writer that sent it; -1: never sent (an
	// id left behind by a later one).
	Writer  int16
	Outcome Outcome
	Node    int8 // index of the node that answered; -1 if none
}

// WasSent reports whether a writer sent the write.
func (e Entry) WasSent() bool { return e.Writer >= 0 }

// unsent is the entry of an id not sent (yet).
var unsent = Entry{Node: -1, Writer: -1, Scheduled: -1}

// record is how the ledger keeps an Entry, in 18 bytes instead of 32: a
// run of 10 million writes keeps 180 MB. The base time is At once the
// write has an outcome, Sent before; the others are µs before it. Sent
// and Scheduled come back truncated to the µs (as the history writes
// them); At keeps its ns. A base beyond 48 bits of ns (78 hours) or a
// time too far from the base for 32 bits of µs (36 minutes) sends the
// whole entry to the ledger's overflow map.
//
// Every field is made of 16-bit halves, so the record aligns to 2 bytes:
// an int32 would align it to 4 and pad it to 20, an int64 to 8 and 24.
type record struct {
	base    [3]uint16 // ns, a signed 48-bit number, low half first
	sent    [2]uint16 // int32 µs from Sent to the base
	sched   [2]uint16 // int32 µs from Scheduled to the base; noSchedule: none
	writer  int16
	outcome uint8 // an Outcome, | overflowed
	node    int8
}

const (
	noSchedule = math.MinInt32
	overflowed = 0x80
	// chunkLen records make a chunk (18 KB): the ledger grows a chunk at
	// a time, never copying what it holds, so a million writes take 18 MB
	// however they arrived, not up to twice that while a slice doubles.
	chunkLen = 1024
	// baseBits is the width of a record's base time.
	baseBits = 48
)

// put32 and get32 store an int32 in two 16-bit halves.
func put32(v int32) [2]uint16 { return [2]uint16{uint16(uint32(v)), uint16(uint32(v) >> 16)} }
func get32(h [2]uint16) int32 { return int32(uint32(h[0]) | uint32(h[1])<<16) }

// encode returns e as a record, false if a time does not fit.
func encode(e Entry) (record, bool) {
	base := e.At
	if e.Outcome == Pending {
		base = e.Sent
	}
	r := record{writer: e.Writer, outcome: uint8(e.Outcome), node: e.Node, sched: put32(noSchedule)}
	if b := int64(base); b != b<<(64-baseBits)>>(64-baseBits) {
		return r, false
	}
	u := uint64(base)
	r.base = [3]uint16{uint16(u), uint16(u >> 16), uint16(u >> 32)}
	if e.Writer < 0 {
		return r, true // Sent and Scheduled are meaningless
	}
	bus := base.Microseconds()
	d := bus - e.Sent.Microseconds()
	if d != int64(int32(d)) {
		return r, false
	}
	r.sent = put32(int32(d))
	// A negative Scheduled (none) stays negative: kept when a whole µs,
	// else -1.
	if e.Scheduled >= 0 || e.Scheduled%time.Microsecond == 0 {
		d := bus - e.Scheduled.Microseconds()
		if d != int64(int32(d)) || d == noSchedule {
			return r, false
		}
		r.sched = put32(int32(d))
	}
	return r, true
}

// decode is the Entry of r.
func (r record) decode() Entry {
	u := uint64(r.base[0]) | uint64(r.base[1])<<16 | uint64(r.base[2])<<32
	base := time.Duration(int64(u<<(64-baseBits)) >> (64 - baseBits)) // sign-extended
	e := Entry{Writer: r.writer, Outcome: Outcome(r.outcome), Node: r.node, Scheduled: -1}
	if e.Outcome != Pending {
		e.At = base
	}
	if e.Writer < 0 {
		return e
	}
	bus := base.Microseconds()
	e.Sent = time.Duration(bus-int64(get32(r.sent))) * time.Microsecond
	if s := get32(r.sched); s != noSchedule {
		e.Scheduled = time.Duration(bus-int64(s)) * time.Microsecond
	}
	return e
}

// Ledger records the outcome of every write by id, from FirstID on. It is
// safe for concurrent use.
type Ledger struct {
	mu       sync.Mutex
	firstID  int64
	chunks   []*[chunkLen]record
	n        int64           // ids begun (or finished)
	overflow map[int64]Entry // by index: entries a record cannot hold
	counts   [4]int64
	newest   int64 // highest acked id
}

// NewLedger returns an empty ledger whose first id is firstID.
func NewLedger(firstID int64) *Ledger {
	return &Ledger{firstID: firstID}
}

// FirstID is the id of the first write.
func (l *Ledger) FirstID() int64 { return l.firstID }

// at returns entry i. The caller holds mu.
func (l *Ledger) at(i int64) Entry {
	r := &l.chunks[i/chunkLen][i%chunkLen]
	if r.outcome&overflowed != 0 {
		return l.overflow[i]
	}
	return r.decode()
}

// set stores e as entry i. The caller holds mu.
func (l *Ledger) set(i int64, e Entry) {
	r := &l.chunks[i/chunkLen][i%chunkLen]
	if r.outcome&overflowed != 0 {
		delete(l.overflow, i)
	}
	var ok bool
	if *r, ok = encode(e); !ok {
		if l.overflow == nil {
			l.overflow = map[int64]Entry{}
		}
		l.overflow[i] = e
		r.outcome |= overflowed
	}
}

// Begin records that writer sent write id at sent, scheduled for
// scheduled (<0: unpaced). Ids below it not begun yet are kept as unsent
// until they are.
func (l *Ledger) Begin(id int64, writer int, scheduled, sent time.Duration) {
	l.mu.Lock()
	i := id - l.firstID
	if i >= 0 {
		l.grow(i)
		e := l.at(i)
		e.Writer, e.Scheduled, e.Sent = int16(min(writer, math.MaxInt16)), scheduled, sent
		l.set(i, e)
	}
	l.mu.Unlock()
}

// grow makes room for entry i. The caller holds mu.
func (l *Ledger) grow(i int64) {
	if i < l.n {
		return
	}
	blank, _ := encode(unsent)
	for ; l.n <= i; l.n++ {
		c := l.n / chunkLen
		if c == int64(len(l.chunks)) {
			l.chunks = append(l.chunks, new([chunkLen]record))
		}
		l.chunks[c][l.n%chunkLen] = blank
		l.counts[Pending]++
	}
}

// Finish records the outcome of write id.
func (l *Ledger) Finish(id int64, o Outcome, node int, at time.Duration) {
	l.mu.Lock()
	i := id - l.firstID
	if i >= 0 {
		l.grow(i)
		e := l.at(i)
		if o == Acked && id > l.newest {
			l.newest = id
		}
		l.counts[e.Outcome]--
		l.counts[o]++
		e.Outcome, e.Node, e.At = o, int8(node), at
		l.set(i, e)
	}
	l.mu.Unlock()
}

// Len is the number of ids begun.
func (l *Ledger) Len() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// Count returns how many writes have outcome o.
func (l *Ledger) Count(o Outcome) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[o]
}

// Get returns the entry of id and whether the ledger knows it.
func (l *Ledger) Get(id int64) (Entry, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := id - l.firstID
	if i < 0 || i >= l.n {
		return Entry{}, false
	}
	return l.at(i), true
}

// Snapshot copies the entries, index i holding id FirstID+i.
func (l *Ledger) Snapshot() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.copyEntries(nil, 0, l.n)
}

// Entries is a read-only view of a ledger's entries, index i holding id
// FirstID+i, that copies nothing: a million writes read through it cost
// no memory, where a Snapshot costs 32 MB. A view of a Ledger (View)
// reads the ledger at each call, its length fixed when it was made; one
// of a list (EntriesOf) reads the list.
type Entries struct {
	l    *Ledger
	n    int
	list []Entry
}

// EntriesOf is a view of list.
func EntriesOf(list []Entry) Entries { return Entries{n: len(list), list: list} }

// View returns a view of the entries begun so far. Read after the
// writers are done, it reads what a Snapshot would copy.
func (l *Ledger) View() Entries {
	l.mu.Lock()
	defer l.mu.Unlock()
	return Entries{l: l, n: int(l.n)}
}

// Len is the number of entries.
func (es Entries) Len() int { return es.n }

// At is entry i.
func (es Entries) At(i int) Entry {
	if es.l == nil {
		return es.list[i]
	}
	es.l.mu.Lock()
	defer es.l.mu.Unlock()
	return es.l.at(int64(i))
}

// All yields every entry with its index, in id order. The ledger is
// locked a chunk at a time, never while the caller's loop body runs.
func (es Entries) All() iter.Seq2[int, Entry] {
	return func(yield func(int, Entry) bool) {
		if es.l == nil {
			for i, e := range es.list {
				if !yield(i, e) {
					return
				}
			}
			return
		}
		buf := make([]Entry, min(chunkLen, es.n))
		for c := 0; c < es.n; c += chunkLen {
			part := buf[:min(chunkLen, es.n-c)]
			es.l.mu.Lock()
			for j := range part {
				part[j] = es.l.at(int64(c + j))
			}
			es.l.mu.Unlock()
			for j, e := range part {
				if !yield(c+j, e) {
					return
				}
			}
		}
	}
}

// copyEntries appends entries [from, to) to dst. The caller holds mu.
func (l *Ledger) copyEntries(dst []Entry, from, to int64) []Entry {
	dst = slices.Grow(dst, int(to-from))
	for i := from; i < to; i++ {
		dst = append(dst, l.at(i))
	}
	return dst
}

// each calls f with every entry in id order until f returns false. The
// caller holds mu.
func (l *Ledger) each(f func(Entry) bool) {
	for i := int64(0); i < l.n; i++ {
		if !f(l.at(i)) {
			return
		}
	}
}

// LastAckBefore is the latest ack time strictly before t, or false.
func (l *Ledger) LastAckBefore(t time.Duration) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best time.Duration
	ok := false
	l.each(func(e Entry) bool {
		if e.Outcome == Acked && e.At < t && (!ok || e.At > best) {
			best, ok = e.At, true
		}
		return true
	})
	return best, ok
}

// FirstAckAfter is the earliest ack at or after t by a node other than
// exclude (-1 excludes none), with that node, or false.
func (l *Ledger) FirstAckAfter(t time.Duration, exclude int) (time.Duration, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best time.Duration
	node := -1
	ok := false
	l.each(func(e Entry) bool {
		if e.Outcome == Acked && e.At >= t && (exclude < 0 || int(e.Node) != exclude) && (!ok || e.At < best) {
			best, node, ok = e.At, int(e.Node), true
		}
		return true
	})
	return best, node, ok
}

// LastAckBy is the latest ack time by node, or false.
func (l *Ledger) LastAckBy(node int) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best time.Duration
	ok := false
	l.each(func(e Entry) bool {
		if e.Outcome == Acked && int(e.Node) == node && (!ok || e.At > best) {
			best, ok = e.At, true
		}
		return true
	})
	return best, ok
}

// NewestAcked is the highest acknowledged id so far, or 0.
func (l *Ledger) NewestAcked() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.newest
}

// FirstAckedAbove is the lowest acknowledged id above id and its ack time,
// or false.
func (l *Ledger) FirstAckedAbove(id int64) (int64, time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := max(id+1-l.firstID, 0)
	for ; i < l.n; i++ {
		if e := l.at(i); e.Outcome == Acked {
			return l.firstID + i, e.At, true
		}
	}
	return 0, 0, false
}
