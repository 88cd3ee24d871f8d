package chaos_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// fakeCluster is a Cluster that can pause, recording the calls; Resume
// fails with resumeErr.
type fakeCluster struct {
	mu        sync.Mutex
	calls     []string
	resumeErr error
}

func (c *fakeCluster) Nodes() []cluster.Node {
	return []cluster.Node{{Name: "primary"}, {Name: "replica1"}, {Name: "replica2"}}
}
func (c *fakeCluster) ConnString(string, cluster.User) string { return "" }
func (c *fakeCluster) PrimaryConnInfo(string, string) string  { return "" }
func (c *fakeCluster) Down(context.Context) error             { return nil }
func (c *fakeCluster) record(s string)                        { c.mu.Lock(); c.calls = append(c.calls, s); c.mu.Unlock() }
func (c *fakeCluster) Pause(_ context.Context, node string) error {
	c.record("pause " + node)
	return nil
}
func (c *fakeCluster) Resume(_ context.Context, node string) error {
	c.record("resume " + node)
	return c.resumeErr
}

type events struct {
	mu  sync.Mutex
	evs []result.Event
}

func (e *events) emit(ev result.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) list() []result.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]result.Event(nil), e.evs...)
}

// fired lists the records of the faults that were injected.
func fired(tl *chaos.Timeline) []result.Fault {
	var out []result.Fault
	for _, f := range tl.Faults() {
		if f.InjectedMs != nil {
			out = append(out, f)
		}
	}
	return out
}

// TestFiredHealedPerFault: two faults at the same moment, neither with a
// line (as faults built in code have), only one of them with for:. Only
// that one is healed when Run returns.
func TestFiredHealedPerFault(t *testing.T) {
	t.Parallel()
	c := &fakeCluster{}
	evs := &events{}
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	tl := chaos.New(c, roles, []scenario.Fault{
		{Spec: fault.Pause{Target: "replica1"}, For: scenario.Duration(20 * time.Millisecond)},
		{Spec: fault.Pause{Target: "replica2"}},
	}, time.Now(), evs.emit)
	tl.Run(context.Background())
	fs := fired(tl)
	if len(fs) != 2 {
		t.Fatalf("fired = %+v, want 2 faults", fs)
	}
	for _, f := range fs {
		healed := f.Node == "replica1"
		if (f.HealedMs != nil) != healed {
			t.Errorf("after Run, %s has HealedMs %v; want healed: %v (only replica1's pause has for:)",
				f.Name, f.HealedMs, healed)
		}
	}
	if err := tl.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range fired(tl) {
		if f.HealedMs == nil {
			t.Errorf("after HealAll, %s is not healed", f.Name)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if want := []string{"pause replica1", "pause replica2", "resume replica1", "resume replica2"}; !slices.Equal(c.calls, want) {
		t.Errorf("calls = %v, want %v", c.calls, want)
	}
}

// TestHealAllReportsErrors: a heal that fails is an "error" event, and
// HealAll returns it, so the runner can say the cluster was left faulted.
func TestHealAllReportsErrors(t *testing.T) {
	t.Parallel()
	c := &fakeCluster{resumeErr: errors.New("no such process")}
	evs := &events{}
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	tl := chaos.New(c, roles, []scenario.Fault{{Spec: fault.Pause{Target: "replica1"}, Line: 3}}, time.Now(), evs.emit)
	tl.Run(context.Background())
	err := tl.HealAll(context.Background())
	var kinds []string
	for _, ev := range evs.list() {
		kinds = append(kinds, ev.Kind)
	}
	if want := []string{"fault", "error"}; !slices.Equal(kinds, want) {
		t.Errorf("events = %v, want %v", kinds, want)
	}
	if err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("HealAll = %v, want the failed resume's error", err)
	}
}

// TestRoute: a fault the route sends elsewhere (the client path's
// HAProxy) acts there, with its heal; the others act on the cluster.
func TestRoute(t *testing.T) {
	t.Parallel()
	c, path := &fakeCluster{}, &fakeCluster{}
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	tl := chaos.New(c, roles, []scenario.Fault{
		{Spec: fault.Pause{Target: "haproxy"}, For: scenario.Duration(20 * time.Millisecond)},
		{Spec: fault.Pause{Target: "replica1"}, For: scenario.Duration(20 * time.Millisecond)},
	}, time.Now(), (&events{}).emit)
	tl.Route(func(s fault.Spec) cluster.Cluster {
		if fault.IsPathService(s.Node()) {
			return path
		}
		return nil
	})
	tl.Run(context.Background())
	if err := tl.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    *fakeCluster
		want []string
	}{{c, []string{"pause replica1", "resume replica1"}}, {path, []string{"pause haproxy", "resume haproxy"}}} {
		tc.c.mu.Lock()
		if !slices.Equal(tc.c.calls, tc.want) {
			t.Errorf("calls = %v, want %v", tc.c.calls, tc.want)
		}
		tc.c.mu.Unlock()
	}
	if roles.Primary() != "primary" {
		t.Errorf("primary %q after a fault on haproxy", roles.Primary())
	}
}
