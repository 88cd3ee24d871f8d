package result

import (
	"path/filepath"
	"testing"
)

func TestDownsample(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	var s Series
	const n = 10000 // per replica: 1000 s at 100 ms
	for i := 0; i < n; i++ {
		ms := float64(i) * 100
		for _, r := range []string{"replica1", "replica2"} {
			p := ReplicationPoint{Ms: ms, Replica: r, State: "streaming", ReplayBytes: float64(i % 7), ReplayLagMs: f(1)}
			if r == "replica2" && i >= 5000 && i < 5003 {
				p.State = "catchup"
			}
			if i == 4321 {
				p.ReplayBytes = 1e9 // a spike
			}
			s.Replication = append(s.Replication, p)
			v := VisibilityPoint{Ms: ms, Replica: r, Heartbeat: int64(i + 1), VisibilityMs: f(float64(i % 5)), State: HeartbeatVisible}
			if i == 777 {
				v.VisibilityMs, v.State = nil, HeartbeatLost
			}
			s.Visibility = append(s.Visibility, v)
		}
		w := WALPoint{Ms: ms, Node: "primary", PgWalBytes: 16 << 20, Slots: []SlotPoint{{Slot: "replica1", Active: i < 9000, WalStatus: "reserved"}}}
		s.WAL = append(s.WAL, w)
		sp := SubscriberPoint{Ms: ms, Subscriber: "sub1", Slot: i < 8000, Worker: true, SinceMessageMs: f(float64(i % 3))}
		if sp.Slot {
			sp.LagBytes = f(float64(i % 11))
		}
		if i == 1234 {
			sp.LagBytes = f(5e8) // a spike
		}
		s.Subscribers = append(s.Subscribers, sp)
		a := ArchivePoint{Ms: ms, Node: "primary", LagBytes: f(float64(i%10) * 1000)}
		if i == 6543 {
			a.LagBytes = f(1 << 30) // a backlog
		}
		if i >= 8000 {
			a.FailedCount = 1
		}
		s.Archive = append(s.Archive, a)
	}
	raw := s
	if !s.Downsample(MaxSeriesPoints) {
		t.Fatal("Downsample reported no change")
	}
	count := map[string]int{}
	for _, p := range s.Replication {
		count[p.Replica]++
	}
	for r, c := range count {
		if c > MaxSeriesPoints+10 || c < MaxSeriesPoints/4 {
			t.Errorf("%s: %d replication points, want about %d at most", r, c, MaxSeriesPoints)
		}
	}
	has := func(ok func(ReplicationPoint) bool) bool {
		for _, p := range s.Replication {
			if ok(p) {
				return true
			}
		}
		return false
	}
	if !has(func(p ReplicationPoint) bool { return p.ReplayBytes == 1e9 }) {
		t.Error("the spike was left out")
	}
	if !has(func(p ReplicationPoint) bool { return p.State == "catchup" }) {
		t.Error("the state change was left out")
	}
	if last := s.Replication[len(s.Replication)-1]; last.Ms != raw.Replication[len(raw.Replication)-1].Ms {
		t.Errorf("the last point is at %v", last.Ms)
	}
	lost := false
	for _, p := range s.Visibility {
		lost = lost || p.State == HeartbeatLost
	}
	if !lost || len(s.Visibility) > 2*(MaxSeriesPoints+10) {
		t.Errorf("visibility: %d points, lost kept %v", len(s.Visibility), lost)
	}
	inactive := false
	for _, p := range s.WAL {
		inactive = inactive || !p.Slots[0].Active
	}
	if !inactive || len(s.WAL) > MaxSeriesPoints+10 {
		t.Errorf("WAL: %d points, the slot's change kept %v", len(s.WAL), inactive)
	}
	spike, gone := false, false
	for i, p := range s.Subscribers {
		spike = spike || (p.LagBytes != nil && *p.LagBytes == 5e8)
		gone = gone || (i > 0 && s.Subscribers[i-1].Slot && !p.Slot && p.Ms == 800_000)
	}
	if !spike || !gone || len(s.Subscribers) > MaxSeriesPoints+10 {
		t.Errorf("subscribers: %d points, the spike kept %v, the slot's going kept %v", len(s.Subscribers), spike, gone)
	}
	backlog, failed := false, false
	for _, p := range s.Archive {
		backlog = backlog || *p.LagBytes == 1<<30
		failed = failed || p.FailedCount == 1 && p.Ms == 800_000
	}
	if !backlog || !failed || len(s.Archive) > MaxSeriesPoints+10 {
		t.Errorf("archive: %d points, the backlog kept %v, the failure %v", len(s.Archive), backlog, failed)
	}
	if len(raw.Replication) != 2*n {
		t.Errorf("the raw series changed: %d points", len(raw.Replication))
	}

	path := filepath.Join(t.TempDir(), "series", "v.json.gz")
	if err := WriteSeriesFile(path, raw); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSeriesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Replication) != 2*n || len(back.Visibility) != 2*n || len(back.WAL) != n || len(back.Archive) != n {
		t.Errorf("series file: %d, %d, %d, %d points", len(back.Replication), len(back.Visibility), len(back.WAL), len(back.Archive))
	}
}

func TestDownsampleShort(t *testing.T) {
	t.Parallel()
	s := Series{Replication: []ReplicationPoint{{Ms: 1, Replica: "r"}, {Ms: 2, Replica: "r"}}}
	if s.Downsample(MaxSeriesPoints) || len(s.Replication) != 2 {
		t.Errorf("a short series was changed: %v", s.Replication)
	}
}
