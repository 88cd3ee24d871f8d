// Package chaos fires the scenario's fault timeline against a cluster:
// each fault is injected at its offset, waited on until it took effect,
// and healed when the timeline ends (or on error and Ctrl-C).
//
//	tl := chaos.New(c, roles, faults, t0, emit)
//	go tl.Run(ctx)
//	defer tl.HealAll(context.Background())
package chaos

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// Supported returns an error naming each fault of faults that backend
// cannot inject, with where it is in the scenario file, or nil. Call it
// before anything starts.
func Supported(file string, backend cluster.Backend, faults []scenario.Fault) error {
	var kinds []string
	if fb, ok := backend.(cluster.FaultBackend); ok {
		kinds = fb.FaultKinds()
	}
	var probs []string
	for _, f := range faults {
		if !slices.Contains(kinds, f.Kind) {
			probs = append(probs, fmt.Sprintf("%s:%d: fault kind %q is not supported by the %s backend (it supports: %s)",
				file, f.Line, f.Kind, backend.Name(), strings.Join(kinds, ", ")))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return errors.New(strings.Join(probs, "\n"))
}

// Timeline fires faults at their offsets.
type Timeline struct {
	c      cluster.Cluster
	roles  *cluster.Roles
	faults []scenario.Fault
	start  time.Time
	emit   func(result.Event)

	mu    sync.Mutex
	fired []Fired
}

// Fired is one fault that was injected.
type Fired struct {
	Fault scenario.Fault
	At    time.Duration
	Err   error
}

// New returns a timeline of faults, sorted by offset.
func New(c cluster.Cluster, roles *cluster.Roles, faults []scenario.Fault, start time.Time, emit func(result.Event)) *Timeline {
	fs := append([]scenario.Fault(nil), faults...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].At < fs[j].At })
	return &Timeline{c: c, roles: roles, faults: fs, start: start, emit: emit}
}

// Run injects each fault at its offset until ctx ends.
func (t *Timeline) Run(ctx context.Context) {
	for _, f := range t.faults {
		wait := time.Until(t.start.Add(f.At.D()))
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		at := time.Since(t.start)
		err := t.inject(ctx, f)
		t.mu.Lock()
		t.fired = append(t.fired, Fired{Fault: f, At: at, Err: err})
		t.mu.Unlock()
		ev := result.Event{Ms: float64(at.Microseconds()) / 1000, Kind: "fault", Node: f.Node, Detail: f.Kind}
		if err != nil {
			ev.Kind, ev.Detail = "error", fmt.Sprintf("%s %s: %v", f.Kind, f.Node, err)
		}
		t.emit(ev)
	}
}

func (t *Timeline) inject(ctx context.Context, f scenario.Fault) error {
	switch f.Kind {
	case scenario.FaultKill:
		k, ok := t.c.(cluster.Killer)
		if !ok {
			return fmt.Errorf("backend cannot kill")
		}
		if err := k.Kill(ctx, f.Node); err != nil {
			return err
		}
		if f.Node != t.roles.Primary() {
			t.roles.MarkDown(f.Node)
		}
		return nil
	}
	return fmt.Errorf("unknown fault kind %q", f.Kind)
}

// Fired lists the faults injected so far.
func (t *Timeline) Fired() []Fired {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Fired(nil), t.fired...)
}

// HealAll heals every fault still active. A killed node stays down (a
// crashed machine is not healed by the timeline), so for now there is
// nothing to undo; it exists so callers always call it.
func (t *Timeline) HealAll(ctx context.Context) error { return nil }
