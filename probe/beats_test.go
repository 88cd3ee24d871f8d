package probe

import (
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
)

func msd(x int) time.Duration { return time.Duration(x) * time.Millisecond }

// TestBeatsSettle: latencies are charged only to acknowledged heartbeats
// a node holds. One acknowledged and never replicated is lost there, not
// charged to the next one; a failed attempt's row that committed anyway
// is no one's latency; an attempt in flight is read again later.
func TestBeatsSettle(t *testing.T) {
	t.Parallel()
	b := newBeats()
	reps := []string{"r1", "r2"}
	// 1 acked at 100, 2 failed (its row committed all the same), 3 acked
	// at 300 (never replicated: lost in a failover), 4 acked at 400, 5 in
	// flight; no attempt could be made at 500 (6).
	for i, acked := range []bool{true, false, true, true} {
		b.end(b.begin(reps), msd(100*(i+1)), acked)
	}
	b.begin(reps) // 5, in flight
	b.saw("r1", []int64{1, 2, 4, 5}, msd(430), 0)
	if got := b.seen["r1"]; got != 4 {
		t.Errorf("r1 settled up to %d, want 4 (5 is in flight)", got)
	}
	if l := b.latency["r1"]; len(l) != 2 || l[1] != msd(330) || l[4] != msd(30) {
		t.Errorf("r1 latencies %v, want 1: 330ms and 4: 30ms only", l)
	}
	if !b.lost["r1"][3] || len(b.lost["r1"]) != 1 {
		t.Errorf("r1 lost %v, want heartbeat 3", b.lost["r1"])
	}
	b.end(5, msd(500), true)
	b.end(b.begin(reps), msd(600), false)
	b.saw("r1", []int64{5}, msd(520), 0)
	// r2 saw nothing yet: heartbeats not seen by the end are unseen, not
	// lost.
	got := map[string]map[int64]result.VisibilityPoint{}
	for _, p := range b.series() {
		if got[p.Replica] == nil {
			got[p.Replica] = map[int64]result.VisibilityPoint{}
		}
		if _, dup := got[p.Replica][p.Heartbeat]; dup {
			t.Errorf("heartbeat %d twice on %s", p.Heartbeat, p.Replica)
		}
		got[p.Replica][p.Heartbeat] = p
	}
	for _, w := range []struct {
		r     string
		id    int64
		state string
		ms    float64 // -1: null
	}{
		{"r1", 1, result.HeartbeatVisible, 330}, {"r1", 2, result.HeartbeatNotAcked, -1}, {"r1", 3, result.HeartbeatLost, -1},
		{"r1", 4, result.HeartbeatVisible, 30}, {"r1", 5, result.HeartbeatVisible, 20}, {"r1", 6, result.HeartbeatNotAcked, -1},
		{"r2", 1, result.HeartbeatUnseen, -1}, {"r2", 2, result.HeartbeatNotAcked, -1}, {"r2", 5, result.HeartbeatUnseen, -1},
	} {
		p, ok := got[w.r][w.id]
		switch {
		case !ok:
			t.Errorf("%s %d: no point", w.r, w.id)
		case p.State != w.state || (w.ms < 0) != (p.VisibilityMs == nil) || (p.VisibilityMs != nil && *p.VisibilityMs != w.ms):
			t.Errorf("%s %d: %+v (visibility %v), want %s %v", w.r, w.id, p, p.VisibilityMs, w.state, w.ms)
		}
	}
}

// TestBeatsMeasuredOn: a heartbeat counts only on the nodes that were
// replicas when it was made: not on a replica promoted since, which
// stopped being polled.
func TestBeatsMeasuredOn(t *testing.T) {
	t.Parallel()
	b := newBeats()
	b.end(b.begin([]string{"r1", "r2"}), msd(100), true)
	b.end(b.begin([]string{"r2"}), msd(200), true) // r1 promoted
	b.saw("r1", []int64{1, 2}, msd(250), 0)
	if _, ok := b.latency["r1"][2]; ok {
		t.Errorf("heartbeat 2 charged to r1, made after r1 stopped being a replica")
	}
	n := 0
	for _, p := range b.series() {
		if p.Replica == "r1" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d points on r1, want 1", n)
	}
}

// TestBeatsMoved: heartbeats already seen on the old primary, missing on
// the new one, are lost.
func TestBeatsMoved(t *testing.T) {
	t.Parallel()
	b := newBeats()
	for i := 1; i <= 3; i++ {
		b.end(b.begin(nil), msd(100*i), true)
	}
	b.saw(floorKey, []int64{1, 2, 3}, msd(310), 0)
	b.moved(floorKey, []int64{1})
	if len(b.lost[floorKey]) != 2 || !b.lost[floorKey][2] || !b.lost[floorKey][3] {
		t.Errorf("lost %v, want 2 and 3", b.lost[floorKey])
	}
}

// TestBeatsSawOnly: a poll that measures one heartbeat settles the others
// it finds without a latency, and still counts as lost an acknowledged
// one that is missing while a later one is there.
func TestBeatsSawOnly(t *testing.T) {
	t.Parallel()
	b := newBeats()
	for i := 1; i <= 4; i++ {
		b.end(b.begin(nil), msd(100*i), true)
	}
	if got := b.newestAcked(); got != 4 {
		t.Fatalf("newest acked %d, want 4", got)
	}
	b.saw(floorKey, []int64{1, 3, 4}, msd(401), 4)
	if len(b.latency[floorKey]) != 1 || b.latency[floorKey][4] != msd(1) {
		t.Errorf("latencies %v, want heartbeat 4 alone, 1 ms", b.latency[floorKey])
	}
	if len(b.lost[floorKey]) != 1 || !b.lost[floorKey][2] {
		t.Errorf("lost %v, want heartbeat 2", b.lost[floorKey])
	}
	if b.seen[floorKey] != 4 {
		t.Errorf("settled up to %d, want 4", b.seen[floorKey])
	}
}
