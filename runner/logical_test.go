package runner_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/runner"
)

// logicalScenario: a synchronous replica and a logical subscriber under
// 300 writes/s with a closed-loop burst; faults as given.
const logicalScenario = `name: %s
seed: 11
duration: %s
topology:
  replicas: [{name: replica1, sync: true}]
  subscribers: [{name: sub1}]
workload:
  writers: 4
  rate: 300
  initial_orders: 500
  bursts: [{at: 1s, duration: 1s, rate: 0}]
failover: {mode: promote, detect_after: 300ms}
probes: {lag_interval: 50ms, audit_timeout: 20s}
`

func runLogical(t *testing.T, yaml string) (*result.Variant, string) {
	t.Helper()
	res, dir, err := runner.Run(context.Background(), runner.Options{Scenario: loadScenario(t, yaml), Backend: newBackend(t), OutDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return &res.Variants[0], dir
}

// TestLogicalSubscriberDrains: the subscriber's lag is measured three
// ways (its slot's bytes on the primary, its apply worker, each write's
// arrival after its ack) and drains: once the run ends it holds every
// acknowledged write, each arrived after its ack.
func TestLogicalSubscriberDrains(t *testing.T) {
	v, _ := runLogical(t, fmt.Sprintf(logicalScenario, "logical-drains", "4s"))
	if len(v.Summary.Subscribers) != 1 || v.Summary.Audit == nil || len(v.Summary.Audit.Subscribers) != 1 {
		t.Fatalf("subscribers: %+v, audit %+v", v.Summary.Subscribers, v.Summary.Audit)
	}
	s, a := v.Summary.Subscribers[0], v.Summary.Audit.Subscribers[0]
	t.Logf("max lag %v bytes, retained %v, arrival %+v, acked %d, missing %d", deref(s.MaxLagBytes), deref(s.MaxRetainedBytes), a.ArrivalMs, a.Acked, a.Missing)
	if s.MaxLagBytes == nil || *s.MaxLagBytes <= 0 || s.SlotGoneMs != nil {
		t.Errorf("slot samples: max lag %v bytes, slot gone at %v ms", deref(s.MaxLagBytes), deref(s.SlotGoneMs))
	}
	if !a.Drained || a.Missing != 0 || a.Acked != v.Summary.Audit.Acked || a.ArrivalMs.N != int(a.Acked) || a.Followed != nil {
		t.Errorf("audit of sub1: %+v (the primary's audit: %d acked)", a, v.Summary.Audit.Acked)
	}
	// Arrival minus ack may be below 0: the subscriber can apply a write
	// before its ack reaches the client, which waits for the synchronous
	// standby (a logical walsender does not, on PostgreSQL 15). Not by
	// more than a write takes, and never before it was sent.
	if a.ArrivedBeforeSent != 0 {
		t.Errorf("%d writes arrived before they were sent: the clocks disagree", a.ArrivedBeforeSent)
	}
	if a.ArrivalMs.Min < -1000 || a.ArrivalMs.Max <= 0 || a.ArrivalMs.Max > 10_000 || len(a.ArrivalBySecond) < 3 {
		t.Errorf("arrival lag: %+v, %d seconds", a.ArrivalMs, len(a.ArrivalBySecond))
	}
	workers := 0
	for _, p := range v.Series.Subscribers {
		if p.Worker {
			workers++
		}
	}
	if workers < len(v.Series.Subscribers)*9/10 {
		t.Errorf("the apply worker ran in %d of %d samples", workers, len(v.Series.Subscribers))
	}
	for _, r := range v.Series.Replication {
		if r.Replica == "sub1" {
			t.Fatalf("the subscription's walsender counted as a replica: %+v", r)
		}
	}
}

// TestLogicalSubscriberAfterFailover: on PostgreSQL 15 a logical slot
// lives on the primary only; after the primary is killed and the replica
// promoted, the subscription has nothing to follow. The subscriber never
// gets a write acknowledged after the promotion, and the audit counts
// them exactly: as many as the ledger's acks after the new primary took
// writes, read from the run's history apart.
func TestLogicalSubscriberAfterFailover(t *testing.T) {
	v, dir := runLogical(t, fmt.Sprintf(logicalScenario, "logical-failover", "6s")+"faults:\n  - {at: 3s, kind: kill, node: primary}\n")
	f := v.Summary.Failover
	if f == nil || f.PromoteDoneMs == nil || len(v.Summary.Audit.Subscribers) != 1 {
		t.Fatalf("failover %+v, audit %+v", f, v.Summary.Audit)
	}
	s, a := v.Summary.Subscribers[0], v.Summary.Audit.Subscribers[0]
	t.Logf("slot gone at %v ms (promoted %.0f), missing %d (%d before, %d after), acked %d", deref(s.SlotGoneMs), *f.PromoteDoneMs,
		a.Missing, deref64(a.MissingBefore), deref64(a.MissingAfter), a.Acked)
	if a.Followed == nil || *a.Followed || a.Drained {
		t.Errorf("followed %v, drained %v: want the subscription left behind", a.Followed, a.Drained)
	}
	after := acksIn(t, dir, v, *f.PromoteDoneMs, 1e12)
	if after == 0 || a.MissingAfter == nil || *a.MissingAfter != int64(after) {
		t.Errorf("missing after the promotion: %v, the ledger's acks after it: %d", a.MissingAfter, after)
	}
	if a.Missing != deref64(a.MissingBefore)+deref64(a.MissingAfter) || a.Missing+int64(a.ArrivalMs.N) != a.Acked {
		t.Errorf("counts disagree: %+v", a)
	}
	if s.SlotGoneMs == nil || *s.SlotGoneMs < 3000 {
		t.Errorf("slot gone at %v: want after the kill at 3s", s.SlotGoneMs)
	}
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

func deref64(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}
