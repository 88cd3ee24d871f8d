package workload

import (
	"math"
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

// Ledger records the outcome of every write by id, from FirstID on. It is
// safe for concurrent use.
type Ledger struct {
	mu      sync.Mutex
	firstID int64
	entries []Entry
	counts  [4]int64
	newest  int64 // highest acked id
}

// NewLedger returns an empty ledger whose first id is firstID.
func NewLedger(firstID int64) *Ledger {
	return &Ledger{firstID: firstID, entries: make([]Entry, 0, 1<<16)}
}

// FirstID is the id of the first write.
func (l *Ledger) FirstID() int64 { return l.firstID }

// Begin records that writer sent write id at sent, scheduled for
// scheduled (<0: unpaced). Ids below it not begun yet are kept as unsent
// until they are.
func (l *Ledger) Begin(id int64, writer int, scheduled, sent time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := id - l.firstID
	if i < 0 {
		return
	}
	l.grow(i)
	e := &l.entries[i]
	e.Writer, e.Scheduled, e.Sent = int16(min(writer, math.MaxInt16)), scheduled, sent
}

// grow makes room for entry i. The caller holds mu.
func (l *Ledger) grow(i int64) {
	for int64(len(l.entries)) <= i {
		l.entries = append(l.entries, unsent)
		l.counts[Pending]++
	}
}

// Finish records the outcome of write id.
func (l *Ledger) Finish(id int64, o Outcome, node int, at time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := id - l.firstID
	if i < 0 {
		return
	}
	l.grow(i)
	e := &l.entries[i]
	if o == Acked && id > l.newest {
		l.newest = id
	}
	l.counts[e.Outcome]--
	l.counts[o]++
	e.Outcome, e.Node, e.At = o, int8(node), at
}

// Len is the number of ids begun.
func (l *Ledger) Len() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return int64(len(l.entries))
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
	if i < 0 || i >= int64(len(l.entries)) {
		return Entry{}, false
	}
	return l.entries[i], true
}

// Snapshot copies the entries, index i holding id FirstID+i.
func (l *Ledger) Snapshot() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Entry(nil), l.entries...)
}

// LastAckBefore is the latest ack time strictly before t, or false.
func (l *Ledger) LastAckBefore(t time.Duration) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best time.Duration
	ok := false
	for _, e := range l.entries {
		if e.Outcome == Acked && e.At < t && (!ok || e.At > best) {
			best, ok = e.At, true
		}
	}
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
	for _, e := range l.entries {
		if e.Outcome == Acked && e.At >= t && (exclude < 0 || int(e.Node) != exclude) && (!ok || e.At < best) {
			best, node, ok = e.At, int(e.Node), true
		}
	}
	return best, node, ok
}

// LastAckBy is the latest ack time by node, or false.
func (l *Ledger) LastAckBy(node int) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var best time.Duration
	ok := false
	for _, e := range l.entries {
		if e.Outcome == Acked && int(e.Node) == node && (!ok || e.At > best) {
			best, ok = e.At, true
		}
	}
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
	i := id + 1 - l.firstID
	if i < 0 {
		i = 0
	}
	for ; i < int64(len(l.entries)); i++ {
		if e := l.entries[i]; e.Outcome == Acked {
			return l.firstID + i, e.At, true
		}
	}
	return 0, 0, false
}
