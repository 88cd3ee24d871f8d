// Package chaos fires the scenario's fault timeline against a cluster. A
// fault has a lifecycle (package fault): inject at its offset, wait until
// it took effect, heal after its `for:` (or when the timeline ends, on
// error and on Ctrl-C), wait until healed; each step is recorded as a typed
// event on the run's clock and in the fault's record.
//
//	tl := chaos.New(c, roles, faults, t0, emit)
//	go tl.Run(ctx)
//	defer tl.HealAll(context.Background())
package chaos

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// Supported returns an error naming each fault of faults that backend
// cannot inject, with where it is in the scenario file, or nil. Call it
// before anything starts.
func Supported(file string, backend cluster.Backend, faults []scenario.Fault) error {
	var a cluster.Abilities
	if ab, ok := backend.(cluster.Able); ok {
		a = ab.Abilities()
	}
	var specs []fault.Spec
	var lines []int
	for _, f := range faults {
		if f.Spec != nil {
			specs = append(specs, f.Spec)
			lines = append(lines, f.Line)
		}
	}
	probs := fault.Supported(file, backend.Name(), a, specs, lines)
	if len(probs) == 0 {
		return nil
	}
	return errors.New(strings.Join(probs, "\n"))
}

// Timeline fires faults at their offsets and heals them. Its methods are
// safe for concurrent use.
type Timeline struct {
	c      cluster.Cluster
	roles  *cluster.Roles
	faults []scenario.Fault // in file order
	start  time.Time
	emit   func(result.Event)
	// route gives the cluster a fault acts on, nil for c (see Route).
	route func(spec fault.Spec) cluster.Cluster

	mu      sync.Mutex
	records []result.Fault     // by index in faults
	active  map[int]fault.Heal // injected, not yet healed
	waits   sync.WaitGroup     // "took effect" waits under way
}

// New returns a timeline of faults (in file order; they fire in time
// order).
func New(c cluster.Cluster, roles *cluster.Roles, faults []scenario.Fault, start time.Time, emit func(result.Event)) *Timeline {
	t := &Timeline{c: c, roles: roles, faults: append([]scenario.Fault(nil), faults...), start: start, emit: emit, active: map[int]fault.Heal{}}
	for i, f := range t.faults {
		t.records = append(t.records, result.Fault{Index: i, Kind: f.Kind(), Name: f.Spec.Describe(), Node: f.Spec.Node(),
			Targets: append([]string{}, f.Spec.Targets()...), Lasting: f.Spec.Lasting(),
			AtMs: ms(f.At.D()), ForMs: ms(f.For.D()), Outcome: result.OutcomeNotFired})
		if k, ok := f.Spec.(*fault.Kill); ok && k.Process != fault.ProcessNode {
			t.records[i].Process = k.Process
		}
	}
	return t
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (t *Timeline) now() float64 { return ms(time.Since(t.start)) }

type step struct {
	at   time.Duration
	idx  int
	heal bool
}

// Run injects each fault at its offset and heals it after its for:,
// until ctx ends.
func (t *Timeline) Run(ctx context.Context) {
	var steps []step
	for i, f := range t.faults {
		steps = append(steps, step{at: f.At.D(), idx: i})
		if f.For > 0 {
			steps = append(steps, step{at: f.At.D() + f.For.D(), idx: i, heal: true})
		}
	}
	sort.SliceStable(steps, func(i, j int) bool { return steps[i].at < steps[j].at })
	for _, st := range steps {
		timer := time.NewTimer(time.Until(t.start.Add(st.at)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		if st.heal {
			_ = t.healOne(ctx, st.idx) // recorded in the fault and as an error event
			continue
		}
		t.injectOne(ctx, st.idx)
	}
}

// event is an event about fault idx. The caller must not hold t.mu.
func (t *Timeline) event(kind string, idx int, at float64, detail, outcome string) result.Event {
	t.mu.Lock()
	r := t.records[idx]
	t.mu.Unlock()
	i := idx
	return result.Event{Ms: at, Kind: kind, Node: r.Node, Detail: detail, Fault: &i,
		FaultKind: r.Kind, Lasting: r.Lasting, Outcome: outcome}
}

// Route sets what each fault acts on: the cluster route returns for its
// spec (its fault.Env's Cluster), or, when that is nil, the timeline's
// own. The runner sends there the faults on the client path's HAProxy
// and PgBouncer, which run beside the backend's cluster; every other
// fault sees the cluster itself, with all its abilities. Call it before
// Run.
func (t *Timeline) Route(route func(spec fault.Spec) cluster.Cluster) { t.route = route }

func (t *Timeline) env(idx int) fault.Env {
	c := t.c
	if t.route != nil {
		if rc := t.route(t.faults[idx].Spec); rc != nil {
			c = rc
		}
	}
	return fault.Env{Cluster: c, Roles: t.roles, ID: fmt.Sprintf("f%d", idx)}
}

func (t *Timeline) injectOne(ctx context.Context, idx int) {
	spec := t.faults[idx].Spec
	at := t.now()
	heal, err := spec.Inject(ctx, t.env(idx))
	returned := t.now()
	t.mu.Lock()
	r := &t.records[idx]
	r.InjectedMs, r.ReturnedMs = &at, &returned
	if err != nil {
		r.Outcome, r.Error = result.OutcomeFailed, cluster.Redact(err.Error())
	} else {
		r.Outcome = result.OutcomeInjected
		t.active[idx] = heal
		if l, ok := spec.(fault.Lander); ok {
			if at, ok := l.LandedAt(t.env(idx)); ok && !at.Before(t.start) {
				landed := ms(at.Sub(t.start))
				r.LandedMs = &landed
			}
		}
	}
	name := r.Name
	t.mu.Unlock()
	if err != nil {
		t.emit(t.event(result.EventError, idx, at, fmt.Sprintf("%s: %s", name, cluster.Redact(err.Error())), result.OutcomeFailed))
		return
	}
	t.emit(t.event(result.EventFault, idx, at, name, result.OutcomeInjected))
	if e, ok := spec.(fault.Effecter); ok {
		// Waited on aside, so that the next fault is not held up.
		t.waits.Add(1)
		go func() {
			defer t.waits.Done()
			if err := e.TookEffect(context.WithoutCancel(ctx), t.env(idx)); err != nil {
				t.mu.Lock()
				t.records[idx].EffectError = cluster.Redact(err.Error())
				t.mu.Unlock()
				t.emit(t.event(result.EventError, idx, t.now(), fmt.Sprintf("%s: not seen to take effect: %v", name, err), ""))
				return
			}
			eff := t.now()
			t.mu.Lock()
			t.records[idx].EffectiveMs = &eff
			t.mu.Unlock()
			t.emit(t.event(result.EventEffective, idx, eff, name+" took effect", ""))
		}()
	}
}

func (t *Timeline) healOne(ctx context.Context, idx int) error {
	t.mu.Lock()
	h, ok := t.active[idx]
	delete(t.active, idx)
	name := t.records[idx].Name
	t.mu.Unlock()
	if !ok || h.Do == nil {
		return nil
	}
	err := h.Do(ctx)
	at := t.now()
	t.mu.Lock()
	r := &t.records[idx]
	r.HealedMs = &at
	if err != nil {
		r.HealError = cluster.Redact(err.Error())
	}
	t.mu.Unlock()
	if err != nil {
		t.emit(t.event(result.EventError, idx, at, fmt.Sprintf("heal %s: %s", name, cluster.Redact(err.Error())), result.OutcomeHealFailed))
		return fmt.Errorf("heal %s: %w", name, err)
	}
	t.emit(t.event(result.EventHeal, idx, at, name, ""))
	// The heal's own wait is short (a node started again already accepts
	// connections): waited on here, so that what follows sees it healed.
	if w, ok := t.faults[idx].Spec.(fault.HealWaiter); ok {
		if err := w.Healed(context.WithoutCancel(ctx), t.env(idx)); err != nil {
			msg := cluster.Redact(err.Error())
			t.mu.Lock()
			t.records[idx].HealError = "not seen healed: " + msg
			t.mu.Unlock()
			t.emit(t.event(result.EventError, idx, t.now(), fmt.Sprintf("%s: heal not seen to take effect: %s", name, msg), result.OutcomeHealFailed))
			return fmt.Errorf("heal %s: not seen to take effect: %w", name, err)
		}
		seen := t.now()
		t.mu.Lock()
		t.records[idx].HealedSeenMs = &seen
		t.mu.Unlock()
		t.emit(t.event(result.EventHealed, idx, seen, name+" healed", ""))
	}
	return nil
}

// HealAll heals every fault still active: paused nodes resume, links are
// restored. A fault whose heal keeps it at the end (a killed or stopped
// node) and that has no for: stays: a crashed machine is not mended by the
// end of a run. Heal errors are recorded in the faults and returned.
func (t *Timeline) HealAll(ctx context.Context) error {
	t.mu.Lock()
	var idxs []int
	for i := range t.active {
		idxs = append(idxs, i)
	}
	t.mu.Unlock()
	// Heal node faults before link faults (thaw a paused node first): a
	// toxic change waits for data in flight, which a frozen node would
	// never read.
	sort.SliceStable(idxs, func(a, b int) bool {
		la, lb := t.faults[idxs[a]].IsNetwork(), t.faults[idxs[b]].IsNetwork()
		if la != lb {
			return lb
		}
		return idxs[a] < idxs[b]
	})
	var errs []error
	for _, i := range idxs {
		t.mu.Lock()
		keep := t.active[i].KeepAtEnd && t.faults[i].For == 0
		t.mu.Unlock()
		if keep {
			continue
		}
		if err := t.healOne(ctx, i); err != nil {
			errs = append(errs, err)
		}
	}
	// The "took effect" waits under way end before the records are read.
	t.waits.Wait()
	return errors.Join(errs...)
}

// Faults returns the record of every fault, in file order.
func (t *Timeline) Faults() []result.Fault {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]result.Fault(nil), t.records...)
}

// Failed is an error naming every fault of records that was not carried
// out as the scenario says: its injection failed, it was not seen to take
// effect, or its heal failed; nil when none. The figures of such a run
// are not those of the scenario, so the run says so.
func Failed(records []result.Fault) error {
	var probs []string
	for _, r := range records {
		switch {
		case r.Outcome == result.OutcomeFailed:
			probs = append(probs, fmt.Sprintf("fault %d (%s) failed: %s", r.Index, r.Name, r.Error))
		case r.EffectError != "":
			probs = append(probs, fmt.Sprintf("fault %d (%s) was not seen to take effect: %s", r.Index, r.Name, r.EffectError))
		}
		if r.HealError != "" {
			probs = append(probs, fmt.Sprintf("fault %d (%s): heal failed: %s", r.Index, r.Name, r.HealError))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return errors.New(strings.Join(probs, "; "))
}
