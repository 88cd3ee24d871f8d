package probe

import (
	"slices"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// beats is the record of heartbeat attempts and of what each poller found
// of them. The Sampler's lock guards it.
//
// Every attempt has its own id. A poller reads the ids a node holds above
// the last one it settled, and charges a latency only to an acknowledged
// heartbeat that is there. An acknowledged heartbeat that is not there
// while a later one is will never be (one writer, one after the other:
// the later one's commit follows its own in any history that holds
// both), so it is lost there, never charged to the next one.
type beats struct {
	attempts []attempt // attempts[id-1]
	// seen is, per poller, the id up to which every attempt is settled.
	seen    map[string]int64
	latency map[string]map[int64]time.Duration
	lost    map[string]map[int64]bool
	last    map[string]time.Duration // the last latency, for the live display
}

type attempt struct {
	id    int64
	at    time.Duration // the ack, or the end of the attempt
	done  bool
	acked bool
	// replicas were the replicas when it was made: the nodes it is
	// measured on.
	replicas []string
}

func newBeats() beats {
	return beats{seen: map[string]int64{}, latency: map[string]map[int64]time.Duration{},
		lost: map[string]map[int64]bool{}, last: map[string]time.Duration{}}
}

// begin records a new attempt and returns its id.
func (b *beats) begin(replicas []string) int64 {
	id := int64(len(b.attempts)) + 1
	b.attempts = append(b.attempts, attempt{id: id, replicas: append([]string(nil), replicas...)})
	return id
}

// end settles attempt id: acknowledged at at, or failed.
func (b *beats) end(id int64, at time.Duration, acked bool) {
	a := &b.attempts[id-1]
	a.at, a.done, a.acked = at, true, acked
}

// oldestAcked returns the id and ack time of the oldest acknowledged
// heartbeat after id seen, or false when there is none.
func (b *beats) oldestAcked(seen int64) (int64, time.Duration, bool) {
	for i := max(seen, 0); i < int64(len(b.attempts)); i++ {
		if a := b.attempts[i]; a.done && a.acked {
			return a.id, a.at, true
		}
	}
	return 0, 0, false
}

// newestAcked returns the id of the newest acknowledged heartbeat, or 0.
func (b *beats) newestAcked() int64 {
	for i := len(b.attempts) - 1; i >= 0; i-- {
		if a := b.attempts[i]; a.done && a.acked {
			return a.id
		}
	}
	return 0
}

// measured reports whether attempt a is measured on key's node.
func (a attempt) measured(key string) bool {
	return key == floorKey || slices.Contains(a.replicas, key)
}

// saw settles what key's poller found at at: present are the ids above
// its last settled one that the node holds. Attempts still in flight stay
// unsettled, to be read again. A latency is charged to every acknowledged
// heartbeat present or, when only > 0, to heartbeat only alone: the
// others are settled as there, unmeasured.
func (b *beats) saw(key string, present []int64, at time.Duration, only int64) {
	seen := b.seen[key]
	hi := seen
	has := map[int64]bool{}
	for _, id := range present {
		if id < 1 || id > int64(len(b.attempts)) || !b.attempts[id-1].done {
			continue
		}
		has[id] = true
		hi = max(hi, id)
	}
	for id := seen + 1; id <= hi; id++ {
		a := b.attempts[id-1]
		if !a.acked || !a.measured(key) {
			continue
		}
		if has[id] {
			if only > 0 && id != only {
				continue
			}
			lat := max(at-a.at, 0) // visible before the harness read its ack
			if b.latency[key] == nil {
				b.latency[key] = map[int64]time.Duration{}
			}
			b.latency[key][id] = lat
			b.last[key] = lat
			continue
		}
		if b.lost[key] == nil {
			b.lost[key] = map[int64]bool{}
		}
		b.lost[key][id] = true
	}
	b.seen[key] = hi
}

// moved settles what key's poller found on a new node (a new primary):
// present are the ids up to its last settled one the new node holds. An
// acknowledged heartbeat settled on the old node that the new one lacks
// is lost: the new node's history goes on without it.
func (b *beats) moved(key string, present []int64) {
	has := map[int64]bool{}
	for _, id := range present {
		has[id] = true
	}
	for id := int64(1); id <= b.seen[key]; id++ {
		if a := b.attempts[id-1]; a.acked && a.measured(key) && !has[id] {
			if b.lost[key] == nil {
				b.lost[key] = map[int64]bool{}
			}
			b.lost[key][id] = true
		}
	}
}

// series is a point per settled attempt and replica it was measured on,
// in id order.
func (b *beats) series() []result.VisibilityPoint {
	out := []result.VisibilityPoint{}
	for _, a := range b.attempts {
		if !a.done {
			continue
		}
		for _, r := range a.replicas {
			p := result.VisibilityPoint{Ms: ms(a.at), Replica: r, Heartbeat: a.id}
			switch lat, ok := b.latency[r][a.id]; {
			case !a.acked:
				p.State = result.HeartbeatNotAcked
			case ok:
				v := ms(lat)
				p.VisibilityMs, p.State = &v, result.HeartbeatVisible
			case b.lost[r][a.id]:
				p.State = result.HeartbeatLost
			default:
				p.State = result.HeartbeatUnseen
			}
			out = append(out, p)
		}
	}
	return out
}
