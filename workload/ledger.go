package workload

import (
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

// Entry is the ledger's record of one write.
type Entry struct {
	Outcome Outcome
	Node    int8          // index of the node that answered; -1 if none
	At      time.Duration // ack (or failure) time, offset from the start
}

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

// Begin records that write id was sent. Ids must be begun in order.
func (l *Ledger) Begin(id int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for int64(len(l.entries)) <= id-l.firstID {
		l.entries = append(l.entries, Entry{Node: -1})
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
	for int64(len(l.entries)) <= i {
		l.entries = append(l.entries, Entry{Node: -1})
		l.counts[Pending]++
	}
	e := &l.entries[i]
	if o == Acked && id > l.newest {
		l.newest = id
	}
	l.counts[e.Outcome]--
	l.counts[o]++
	*e = Entry{Outcome: o, Node: int8(node), At: at}
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
