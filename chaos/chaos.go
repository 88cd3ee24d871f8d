// Package chaos fires the scenario's fault timeline against a cluster. A
// fault has a lifecycle: inject at its offset, heal after its `for:` (or
// when the timeline ends, on error and on Ctrl-C), each step recorded as an
// event on the run's clock.
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
	clientLinks := false
	if cl, ok := backend.(cluster.ClientLinker); ok {
		clientLinks = cl.ClientLinks()
	}
	var probs []string
	for _, f := range faults {
		if !slices.Contains(kinds, f.Kind) {
			msg := fmt.Sprintf("%s:%d: fault kind %q is not supported by the %s backend (it supports: %s)",
				file, f.Line, f.Kind, backend.Name(), strings.Join(kinds, ", "))
			if !clientLinks && linkOnly(f.Kind) {
				msg += "; latency, bandwidth and reset act on per-link proxies and are supported by the local backend only"
			}
			probs = append(probs, msg)
			continue
		}
		if clientLinks {
			continue
		}
		if groups := clientGroups(f); len(groups) > 0 {
			what := "partition naming client groups"
			if f.Kind == scenario.FaultIsolate {
				what = "isolate with client groups"
			}
			probs = append(probs, fmt.Sprintf("%s:%d: %s (%s) is not supported by the %s backend: it cuts links between nodes only; client groups on a side need the local backend",
				file, f.Line, what, strings.Join(groups, ", "), backend.Name()))
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return errors.New(strings.Join(probs, "\n"))
}

// linkOnly reports whether a fault kind needs per-link proxies (a
// cluster.Networker): it cannot be done by cutting links between nodes.
func linkOnly(kind string) bool {
	return kind == scenario.FaultLatency || kind == scenario.FaultBandwidth || kind == scenario.FaultReset
}

// clientGroups lists the client groups an isolate or a partition names
// (with:, sides, from, to), in order, once each.
func clientGroups(f scenario.Fault) []string {
	if f.Kind != scenario.FaultIsolate && f.Kind != scenario.FaultPartition {
		return nil
	}
	var names []string
	names = append(names, f.With...)
	for _, s := range f.Sides {
		names = append(names, s...)
	}
	names = append(names, f.From...)
	names = append(names, f.To...)
	var out []string
	for _, n := range names {
		if slices.Contains(scenario.ClientNames, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Timeline fires faults at their offsets and heals them.
type Timeline struct {
	c      cluster.Cluster
	roles  *cluster.Roles
	faults []scenario.Fault
	start  time.Time
	emit   func(result.Event)

	mu     sync.Mutex
	fired  []Fired
	active map[int]*active // by index in faults
}

// Fired is one fault that was injected, and healed if it was.
type Fired struct {
	Fault  scenario.Fault
	At     time.Duration
	Healed time.Duration // 0 when not healed
	Err    error
}

type active struct {
	idx    int
	fired  int    // index in Timeline.fired
	target string // the node a node fault acted on
	toxics []placed
	heal   func(ctx context.Context) error
}

type placed struct {
	from, to, name string
}

// New returns a timeline of faults, sorted by offset.
func New(c cluster.Cluster, roles *cluster.Roles, faults []scenario.Fault, start time.Time, emit func(result.Event)) *Timeline {
	fs := append([]scenario.Fault(nil), faults...)
	sort.SliceStable(fs, func(i, j int) bool { return fs[i].At < fs[j].At })
	return &Timeline{c: c, roles: roles, faults: fs, start: start, emit: emit, active: map[int]*active{}}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

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
			_ = t.healOne(ctx, st.idx) // recorded as an error event
			continue
		}
		t.injectOne(ctx, st.idx)
	}
}

func (t *Timeline) injectOne(ctx context.Context, idx int) {
	f := t.faults[idx]
	at := time.Since(t.start)
	a, err := t.inject(ctx, f)
	t.mu.Lock()
	t.fired = append(t.fired, Fired{Fault: f, At: at, Err: err})
	if err == nil {
		a.idx = idx
		a.fired = len(t.fired) - 1
		t.active[idx] = a
	}
	t.mu.Unlock()
	ev := result.Event{Ms: ms(at), Kind: "fault", Node: a.target, Detail: Describe(f)}
	if err != nil {
		ev.Kind, ev.Detail = "error", fmt.Sprintf("%s: %v", Describe(f), err)
	}
	t.emit(ev)
}

func (t *Timeline) healOne(ctx context.Context, idx int) error {
	t.mu.Lock()
	a := t.active[idx]
	delete(t.active, idx)
	t.mu.Unlock()
	if a == nil {
		return nil
	}
	f := t.faults[idx]
	err := a.heal(ctx)
	at := time.Since(t.start)
	t.mu.Lock()
	t.fired[a.fired].Healed = at
	t.mu.Unlock()
	ev := result.Event{Ms: ms(at), Kind: "heal", Node: a.target, Detail: Describe(f)}
	if err != nil {
		ev.Kind, ev.Detail = "error", fmt.Sprintf("heal %s: %v", Describe(f), err)
		err = fmt.Errorf("heal %s: %w", Describe(f), err)
	}
	t.emit(ev)
	return err
}

// HealAll heals every fault still active: paused nodes resume, links are
// restored. Killed and stopped nodes without a for: stay down: a crashed
// machine is not healed by the end of a run.
func (t *Timeline) HealAll(ctx context.Context) error {
	t.mu.Lock()
	var idxs []int
	for i := range t.active {
		idxs = append(idxs, i)
	}
	t.mu.Unlock()
	// Thaw paused nodes first: a toxic change waits for data in flight,
	// which a frozen node would never read.
	sort.SliceStable(idxs, func(a, b int) bool {
		pa, pb := t.faults[idxs[a]].Kind == scenario.FaultPause, t.faults[idxs[b]].Kind == scenario.FaultPause
		if pa != pb {
			return pa
		}
		return idxs[a] < idxs[b]
	})
	var errs []error
	for _, i := range idxs {
		f := t.faults[i]
		if (f.Kind == scenario.FaultKill || f.Kind == scenario.FaultStop) && f.For == 0 {
			continue
		}
		if err := t.healOne(ctx, i); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Fired lists the faults injected so far.
func (t *Timeline) Fired() []Fired {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]Fired(nil), t.fired...)
}

// Describe names a fault in a few words, for events and reports.
func Describe(f scenario.Fault) string {
	switch f.Kind {
	case scenario.FaultKill, scenario.FaultPause:
		return f.Kind + " " + f.Node
	case scenario.FaultStop, scenario.FaultRestart:
		mode := f.Mode
		if mode == "" {
			mode = scenario.StopFast
		}
		return fmt.Sprintf("%s %s (%s)", f.Kind, f.Node, mode)
	case scenario.FaultIsolate:
		if len(f.With) > 0 {
			return fmt.Sprintf("isolate %s with %s", f.Node, strings.Join(f.With, ", "))
		}
		return "isolate " + f.Node
	case scenario.FaultPartition:
		if len(f.Sides) > 0 {
			var sides []string
			for _, s := range f.Sides {
				sides = append(sides, strings.Join(s, ", "))
			}
			return "partition " + strings.Join(sides, " | ")
		}
		return fmt.Sprintf("partition %s -/-> %s", strings.Join(f.From, ", "), strings.Join(f.To, ", "))
	case scenario.FaultLatency:
		return fmt.Sprintf("latency %s ±%s %s -> %s", f.Latency, f.Jitter, strings.Join(f.From, ", "), strings.Join(f.To, ", "))
	case scenario.FaultBandwidth:
		return fmt.Sprintf("bandwidth %d KB/s %s -> %s", f.RateKBps, strings.Join(f.From, ", "), strings.Join(f.To, ", "))
	case scenario.FaultReset:
		if f.Node != "" {
			return "reset connections to " + f.Node
		}
		return fmt.Sprintf("reset %s -> %s", strings.Join(f.From, ", "), strings.Join(f.To, ", "))
	}
	return f.Kind
}

// inject carries out a fault and returns how to heal it.
func (t *Timeline) inject(ctx context.Context, f scenario.Fault) (*active, error) {
	a := &active{target: f.Node, heal: func(context.Context) error { return nil }}
	switch f.Kind {
	case scenario.FaultKill:
		k, ok := t.c.(cluster.Killer)
		if !ok {
			return a, fmt.Errorf("the backend cannot kill a node")
		}
		if err := k.Kill(ctx, f.Node); err != nil {
			return a, err
		}
		t.markDown(f.Node)
		a.heal = t.startAgain(f.Node)
	case scenario.FaultStop, scenario.FaultRestart:
		s, ok := t.c.(cluster.Stopper)
		if !ok {
			return a, fmt.Errorf("the backend cannot stop a node")
		}
		if err := s.Stop(ctx, f.Node, f.Mode == scenario.StopImmediate); err != nil {
			return a, err
		}
		if f.Kind == scenario.FaultRestart {
			return a, s.Start(ctx, f.Node)
		}
		t.markDown(f.Node)
		a.heal = t.startAgain(f.Node)
	case scenario.FaultPause:
		p, ok := t.c.(cluster.Pauser)
		if !ok {
			return a, fmt.Errorf("the backend cannot pause a node")
		}
		if err := p.Pause(ctx, f.Node); err != nil {
			return a, err
		}
		a.heal = func(ctx context.Context) error { return p.Resume(ctx, f.Node) }
	default:
		if !f.IsNetwork() {
			return a, fmt.Errorf("unknown fault kind %q", f.Kind)
		}
		if f.Node == "" && len(f.From) > 0 {
			a.target = strings.Join(f.From, ",") + "->" + strings.Join(f.To, ",")
		}
		n, ok := t.c.(cluster.Networker)
		if !ok {
			if np, ok := t.c.(cluster.NodePartitioner); ok && (f.Kind == scenario.FaultIsolate || f.Kind == scenario.FaultPartition) {
				return t.cutNodes(ctx, np, f, a)
			}
			return a, fmt.Errorf("the cluster was built without link proxies")
		}
		toxics := Toxics(f, n.Links())
		for _, tx := range toxics {
			if err := n.AddToxic(ctx, tx.From, tx.To, tx.Toxic); err != nil {
				t.removeToxics(ctx, n, a.toxics)
				return a, fmt.Errorf("%s -> %s: %w", tx.From, tx.To, err)
			}
			a.toxics = append(a.toxics, placed{tx.From, tx.To, tx.Toxic.Name})
		}
		placedToxics := a.toxics
		a.heal = func(ctx context.Context) error { return t.removeToxics(ctx, n, placedToxics) }
	}
	return a, nil
}

// cutNodes carries out an isolate or a partition on a cluster that can only
// cut links between nodes: client groups named in the fault are refused
// (Supported refuses them before anything starts).
func (t *Timeline) cutNodes(ctx context.Context, np cluster.NodePartitioner, f scenario.Fault, a *active) (*active, error) {
	if groups := clientGroups(f); len(groups) > 0 {
		return a, fmt.Errorf("the backend cannot cut the links of client groups (%s)", strings.Join(groups, ", "))
	}
	var nodes []string
	for _, n := range t.c.Nodes() {
		nodes = append(nodes, n.Name)
	}
	cuts := NodeCuts(f, nodes)
	for _, c := range cuts {
		if err := np.Cut(ctx, c[0], c[1]); err != nil {
			_ = np.Heal(ctx)
			return a, fmt.Errorf("%s -/-> %s: %w", c[0], c[1], err)
		}
	}
	a.heal = np.Heal
	return a, nil
}

// NodeCuts translates an isolate or a partition into one-way cuts (from,
// to) between the nodes named in nodes; client groups are ignored. It is
// pure, for tests.
func NodeCuts(f scenario.Fault, nodes []string) [][2]string {
	var out [][2]string
	switch f.Kind {
	case scenario.FaultIsolate:
		if !slices.Contains(nodes, f.Node) {
			break
		}
		for _, o := range nodes {
			if o != f.Node {
				out = append(out, [2]string{f.Node, o}, [2]string{o, f.Node})
			}
		}
	case scenario.FaultPartition:
		if len(f.Sides) > 0 {
			side := map[string]int{}
			for i, s := range f.Sides {
				for _, n := range s {
					side[n] = i + 1
				}
			}
			for _, a := range nodes {
				for _, b := range nodes {
					if sa, sb := side[a], side[b]; sa != 0 && sb != 0 && sa != sb {
						out = append(out, [2]string{a, b})
					}
				}
			}
			break
		}
		for _, a := range f.From {
			for _, b := range f.To {
				if a != b && slices.Contains(nodes, a) && slices.Contains(nodes, b) {
					out = append(out, [2]string{a, b})
				}
			}
		}
	}
	return out
}

func (t *Timeline) markDown(node string) {
	if node != t.roles.Primary() {
		t.roles.MarkDown(node)
	}
}

// startAgain heals a kill or stop with a for: the node starts again. A
// replica streams again from its upstream; an old primary comes back as
// a primary (a second writable node, if a replica was promoted meanwhile:
// exactly the split brain a scenario may want to see).
func (t *Timeline) startAgain(node string) func(context.Context) error {
	return func(ctx context.Context) error {
		s, ok := t.c.(cluster.Stopper)
		if !ok {
			return fmt.Errorf("the backend cannot start a node again")
		}
		if err := s.Start(ctx, node); err != nil {
			return err
		}
		t.roles.MarkUp(node)
		return nil
	}
}

func (t *Timeline) removeToxics(ctx context.Context, n cluster.Networker, ps []placed) error {
	var errs []error
	for _, p := range ps {
		if err := n.RemoveToxic(ctx, p.from, p.to, p.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// LinkToxic is a toxic to put on the link from From to To.
type LinkToxic struct {
	From, To string
	Toxic    cluster.Toxic
}

var toxicSeq struct {
	sync.Mutex
	n int
}

func toxicName(kind string) string {
	toxicSeq.Lock()
	defer toxicSeq.Unlock()
	toxicSeq.n++
	return fmt.Sprintf("%s-%d", kind, toxicSeq.n)
}

// Toxics translates a network fault into toxics on links (from connects
// to to). It is pure, for tests.
func Toxics(f scenario.Fault, links [][2]string) []LinkToxic {
	var out []LinkToxic
	add := func(from, to, dir string, tx cluster.Toxic) {
		tx.Direction = dir
		tx.Name = toxicName(tx.Kind)
		out = append(out, LinkToxic{From: from, To: to, Toxic: tx})
	}
	both := func(from, to string, tx cluster.Toxic, direction string) {
		switch direction {
		case scenario.DirectionUpstream:
			add(from, to, cluster.Upstream, tx)
		case scenario.DirectionDownstream:
			add(from, to, cluster.Downstream, tx)
		default:
			add(from, to, cluster.Upstream, tx)
			add(from, to, cluster.Downstream, tx)
		}
	}
	black := cluster.Toxic{Kind: cluster.ToxicBlackhole}
	switch f.Kind {
	case scenario.FaultIsolate:
		for _, l := range links {
			var other string
			switch {
			case l[0] == f.Node:
				other = l[1]
			case l[1] == f.Node:
				other = l[0]
			default:
				continue
			}
			if slices.Contains(f.With, other) {
				continue
			}
			both(l[0], l[1], black, scenario.DirectionBoth)
		}
	case scenario.FaultPartition:
		if len(f.Sides) > 0 {
			side := map[string]int{}
			for i, s := range f.Sides {
				for _, n := range s {
					side[n] = i + 1
				}
			}
			for _, l := range links {
				a, b := side[l[0]], side[l[1]]
				if a != 0 && b != 0 && a != b {
					both(l[0], l[1], black, scenario.DirectionBoth)
				}
			}
			break
		}
		// One way: data from From to To vanishes.
		for _, l := range links {
			switch {
			case slices.Contains(f.From, l[0]) && slices.Contains(f.To, l[1]):
				add(l[0], l[1], cluster.Upstream, black)
			case slices.Contains(f.To, l[0]) && slices.Contains(f.From, l[1]):
				add(l[0], l[1], cluster.Downstream, black)
			}
		}
	case scenario.FaultLatency, scenario.FaultBandwidth:
		tx := cluster.Toxic{Kind: cluster.ToxicLatency, Latency: f.Latency.D(), Jitter: f.Jitter.D()}
		if f.Kind == scenario.FaultBandwidth {
			tx = cluster.Toxic{Kind: cluster.ToxicBandwidth, RateKBps: f.RateKBps}
		}
		for _, l := range links {
			if slices.Contains(f.From, l[0]) && slices.Contains(f.To, l[1]) {
				both(l[0], l[1], tx, f.Direction)
			}
		}
	case scenario.FaultReset:
		tx := cluster.Toxic{Kind: cluster.ToxicReset}
		for _, l := range links {
			if (f.Node != "" && l[1] == f.Node) || (slices.Contains(f.From, l[0]) && slices.Contains(f.To, l[1])) {
				add(l[0], l[1], cluster.Upstream, tx)
			}
		}
	}
	return out
}
