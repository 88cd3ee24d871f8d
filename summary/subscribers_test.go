package summary

import (
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestSubscribers: a sample whose primary did not answer is neither the
// slot there nor gone; the slot is gone at the first sample that read it
// absent after one that had it.
func TestSubscribers(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	pts := []result.SubscriberPoint{
		{Ms: 100, Subscriber: "sub1", Slot: true, LagBytes: f(10), RetainedBytes: f(100), SinceMessageMs: f(3)},
		{Ms: 200, Subscriber: "sub1", SlotUnread: true, SinceMessageMs: f(40)},
		{Ms: 300, Subscriber: "sub1", Slot: true, LagBytes: f(30), RetainedBytes: f(90)},
		{Ms: 400, Subscriber: "sub2", Slot: true, LagBytes: f(999)},
		{Ms: 500, Subscriber: "sub1"},
		{Ms: 600, Subscriber: "sub1"},
	}
	got := Subscribers([]string{"sub1"}, pts)
	if len(got) != 1 {
		t.Fatalf("%d summaries", len(got))
	}
	s := got[0]
	if *s.MaxLagBytes != 30 || *s.MaxRetainedBytes != 100 || *s.MaxSinceMessageMs != 40 || s.SlotGoneMs == nil || *s.SlotGoneMs != 500 {
		t.Errorf("summary: lag %v, retained %v, since %v, gone %v", *s.MaxLagBytes, *s.MaxRetainedBytes, *s.MaxSinceMessageMs, s.SlotGoneMs)
	}
	if unread := Subscribers([]string{"sub1"}, pts[:3])[0]; unread.SlotGoneMs != nil {
		t.Errorf("an unread sample counted as the slot gone at %v", *unread.SlotGoneMs)
	}
}
