package report

import (
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestServerText: a variant says the server it ran; the run says the
// backend's, and the variants' when they differ.
func TestServerText(t *testing.T) {
	t.Parallel()
	r := &result.Result{Run: result.RunMeta{PostgresVersion: "15.14"}, Variants: []result.Variant{
		{Name: "a", Topology: result.Topology{PostgresVersion: "15.14", Image: "pgbench-ha/postgres:15"}},
		{Name: "b", Topology: result.Topology{PostgresVersion: "17.6", Image: "pgbench-ha/postgres:17"}},
	}}
	if got, want := runServerText(r), "15.14 (the backend's default); the variants ran 15.14, 17.6"; got != want {
		t.Errorf("run: %q, want %q", got, want)
	}
	if got, want := serverText(r.Variants[1].Topology), "17.6 (image pgbench-ha/postgres:17)"; got != want {
		t.Errorf("variant: %q, want %q", got, want)
	}
	same := &result.Result{Run: result.RunMeta{PostgresVersion: "15.14"}, Variants: []result.Variant{{Topology: result.Topology{PostgresVersion: "15.14"}}}}
	if got := runServerText(same); got != "15.14" {
		t.Errorf("one version: %q", got)
	}
	if n := serverNotes(same, &same.Variants[0]); n != nil {
		t.Errorf("a note on the run's own server: %v", n)
	}
	if n := serverNotes(r, &r.Variants[1]); len(n) != 1 || !strings.Contains(n[0], "b: PostgreSQL 17.6") {
		t.Errorf("notes: %v", n)
	}
	s := result.SubscriberSummary{Name: "sub1", FailoverSlot: true, Follows: []result.SubscriberFollow{
		{NewPrimary: "replica1", RepointMs: 21483, SlotThere: true, Followed: true, FollowedMs: ptr(25237)},
		{NewPrimary: "replica2", RepointMs: 40000, Error: "replica2 has no slot sub1"}}}
	if got, want := followText(s), "failover slot; re-pointed to replica1 at 21.5 s: followed at 25.2 s; re-pointed to replica2 at 40 s: did not follow: replica2 has no slot sub1"; got != want {
		t.Errorf("follow: %q, want %q", got, want)
	}
}
