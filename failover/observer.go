package failover

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Manager is what the runner runs beside the workload to fail over: the
// harness's own Controller, or an Observer of a manager the cluster runs
// itself (Patroni). Run returns when ctx ends; Wait then gives what
// happened.
type Manager interface {
	Run(ctx context.Context)
	Wait() Timeline
}

// LeaderSource tells which node holds the manager's leader lock now ("":
// nobody, the key expired or was released), as the manager's store (etcd)
// has it (EtcdLeader), or which node leads as the nodes themselves answer
// (WritableNode), for a manager whose store the harness cannot read.
type LeaderSource interface {
	Leader(ctx context.Context) (string, error)
}

// Describer is a LeaderSource that words the observer's events its own
// way; a source that is not one is worded as a manager's leader key
// (LeaderKeyWords).
type Describer interface {
	// Released: nobody leads since old did ("the leader key of old
	// expired or was released").
	Released(old string) string
	// Moved: the lead went from old to now ("the leader key moved from
	// old to now").
	Moved(old, now string) string
	// Took: node leads ("node took the leader key").
	Took(node string) string
	// Again: node, which led before, leads again ("node holds the leader
	// key again").
	Again(node string) string
	// Since is what a promotion is measured from ("it took the leader
	// key"): promote_done says "writable 1.2ms after <Since>".
	Since() string
	// ReadFailed prefixes an error of Leader ("read the leader key").
	ReadFailed() string
}

// LeaderKeyWords words the events of a manager holding a leader key in
// its store (Patroni's in etcd): the observer's words for a source that
// is not a Describer.
type LeaderKeyWords struct{}

func (LeaderKeyWords) Released(old string) string {
	return "the leader key of " + old + " expired or was released"
}
func (LeaderKeyWords) Moved(old, now string) string {
	return "the leader key moved from " + old + " to " + now
}
func (LeaderKeyWords) Took(node string) string  { return node + " took the leader key" }
func (LeaderKeyWords) Again(node string) string { return node + " holds the leader key again" }
func (LeaderKeyWords) Since() string            { return "it took the leader key" }
func (LeaderKeyWords) ReadFailed() string       { return "read the leader key" }

// wordsOf is src's words.
func wordsOf(src LeaderSource) Describer {
	if d, ok := src.(Describer); ok {
		return d
	}
	return LeaderKeyWords{}
}

// Observer watches a failover that another manager does (Patroni): it
// acts on nothing and records the same events as the Controller, so the
// figures are measured alike whoever decides. From the outside: the
// primary's health probe failing (probe_failed), from the LeaderSource
// (the manager's store, or the nodes themselves: WritableNode): the leader
// key gone or moved (detected, with the reason, worded by the source), a
// new node holding it (promote_start), from PostgreSQL: that node writable
// (promote_done), the others streaming from it (repoint) and one of them
// synchronous (sync_restored). Every demoted primary is then watched for a
// split brain, as the Controller does, until the end of the run.
type Observer struct {
	ctl    *Controller
	leader LeaderSource
	words  Describer
}

// NewObserver returns an observer of the failovers of the manager whose
// leader lock src reads; cfg's DetectAfter, Repoint, Slots and SyncAfter
// are not used (the manager decides).
func NewObserver(c cluster.Cluster, roles *cluster.Roles, src LeaderSource, cfg Config) *Observer {
	return &Observer{ctl: New(c, roles, cfg), leader: src, words: wordsOf(src)}
}

// Wait blocks until Run has returned and gives the timeline.
func (o *Observer) Wait() Timeline { return o.ctl.Wait() }

// observerProbeTimeout bounds each probe and leader-key read: a frozen
// node does not answer. A failing probe counts from its start, so a
// longer bound delays no stamp, and a busy machine's slow answer (tens
// of ms at the start of a run) is not taken for a failure.
const observerProbeTimeout = time.Second

// Run polls the primary's health every ProbeInterval, and the leader key
// and the new leader's state every ProbeInterval too, each on its own
// (a slow store does not delay the health probe), until ctx ends.
func (o *Observer) Run(ctx context.Context) {
	ctl := o.ctl
	defer close(ctl.done)
	defer ctl.watchers.Wait()
	ctl.runCtx = ctx
	health := &healthWatch{}
	ctl.watchers.Add(1)
	go func() { defer ctl.watchers.Done(); o.probeLoop(ctx, health) }()
	cs := cluster.NewConns(ctl.c, "pgbench-ha-observer", observerProbeTimeout)
	defer cs.Close()
	t := time.NewTicker(ctl.cfg.ProbeInterval)
	defer t.Stop()
	holder := ctl.roles.Primary() // the leader key's holder, as last read
	var (
		cur      *Failover       // detected, not yet promoted
		follows  map[string]bool // replicas seen streaming from the leader
		syncSeen bool
		storeErr string // the last error reading the store, reported once
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, observerProbeTimeout)
		now := ctl.now()
		h, err := o.leader.Leader(lctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if msg := err.Error(); msg != storeErr {
				storeErr = msg
				ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventError, Detail: o.words.ReadFailed() + ": " + msg})
			}
			continue
		}
		storeErr = ""
		if h != holder {
			old := holder
			holder = h
			if cur == nil && old != "" {
				cur = &Failover{Detected: now, OldPrimary: old}
				if since, ok := health.since(); ok {
					cur.FirstFailure = since
				}
				why := o.words.Released(old)
				if h != "" {
					why = o.words.Moved(old, h)
				}
				ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventDetected, Node: old, Detail: why})
				ctl.roles.MarkDown(old)
			}
			if h != "" && cur != nil {
				if h == cur.OldPrimary {
					// The same node took the key again (PostgreSQL
					// restarted in place): no promotion.
					ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventPhase, Node: h, Detail: o.words.Again(h)})
					ctl.roles.MarkUp(h)
					ctl.record(*cur)
					cur = nil
				} else {
					cur.PromoteStart = now
					ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventPromoteStart, Node: h, Detail: o.words.Took(h)})
				}
			}
		}
		if cur != nil && cur.PromoteStart > 0 && holder != "" && ctl.writable(ctx, cs, holder) {
			f := *cur
			cur = nil
			f.PromoteDone, f.NewPrimary, f.Promoted = ctl.now(), holder, true
			ctl.roles.Promote(holder)
			ctl.cfg.Emit(result.Event{Ms: msOf(f.PromoteDone), Kind: result.EventPromoteDone, Node: holder,
				Detail: fmt.Sprintf("writable %s after %s", (f.PromoteDone - f.PromoteStart).Round(100*time.Microsecond), o.words.Since())})
			ctl.watchers.Add(1)
			go func() { defer ctl.watchers.Done(); ctl.watchOld(ctx, f.OldPrimary) }()
			ctl.record(f)
			follows, syncSeen = map[string]bool{}, false
		}
		if follows != nil && holder == ctl.roles.Primary() {
			o.followers(ctx, cs, holder, follows, &syncSeen)
		}
	}
}

// healthWatch is the primary's health as the probe loop last saw it.
type healthWatch struct {
	mu      sync.Mutex
	failing bool
	from    time.Duration // start of the first failing probe
}

// since is when the failing probes began, false while the primary answers.
func (h *healthWatch) since() (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.from, h.failing
}

// probeLoop probes whichever node is primary every ProbeInterval and
// emits probe_failed at the start of the first failing probe of each
// outage, as the controller does; and demoted when the primary, having
// answered as a primary, answers in recovery while still the primary of
// the harness's roles (no one promoted yet): its manager demoted it, cut
// off its store, say.
func (o *Observer) probeLoop(ctx context.Context, h *healthWatch) {
	ctl := o.ctl
	cs := cluster.NewConns(ctl.c, "pgbench-ha-health", observerProbeTimeout)
	defer cs.Close()
	t := time.NewTicker(ctl.cfg.ProbeInterval)
	defer t.Stop()
	prev := time.Duration(-1) // start of the last probe that succeeded
	// watched is the primary of the last probe; wasWritable whether it
	// answered out of recovery since it became primary, or since it was
	// last seen demoted.
	watched, wasWritable := "", false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		primary := ctl.roles.Primary()
		if primary != watched {
			watched, wasWritable = primary, false
		}
		start := ctl.now()
		ok, readOnly := ctl.answers(ctx, cs, primary, observerProbeTimeout)
		if ctx.Err() != nil {
			return
		}
		switch {
		case ok && !readOnly:
			wasWritable = true
		case ok && wasWritable:
			// The primary answers, in recovery, and nobody was promoted
			// in its place: its manager demoted it.
			wasWritable = false
			ctl.cfg.Emit(result.Event{Ms: msOf(start), Kind: result.EventDemoted, Node: primary,
				Detail: primary + " answers read-only: its manager demoted it"})
		}
		h.mu.Lock()
		switch {
		case ok:
			h.failing = false
			prev = start
		case !h.failing:
			h.failing, h.from = true, start
			ctl.cfg.Emit(probeFailed(start, prev, primary))
		}
		h.mu.Unlock()
	}
}

// followers emits a repoint event for each replica newly seen streaming
// from primary, and sync_restored the first time one of them is
// synchronous.
func (o *Observer) followers(ctx context.Context, cs *cluster.Conns, primary string, seen map[string]bool, syncSeen *bool) {
	ctl := o.ctl
	conn, err := cs.Get(ctx, primary)
	if err != nil {
		return
	}
	qctx, cancel := context.WithTimeout(ctx, observerProbeTimeout)
	defer cancel()
	rows, err := conn.Query(qctx, `SELECT application_name, sync_state FROM pg_stat_replication WHERE state = 'streaming'`)
	if err != nil {
		cs.Drop(primary)
		return
	}
	type row struct{ name, state string }
	var got []row
	for rows.Next() {
		var r row
		if rows.Scan(&r.name, &r.state) == nil {
			got = append(got, r)
		}
	}
	if rows.Err() != nil {
		return
	}
	now := ctl.now()
	for _, r := range got {
		if !seen[r.name] {
			seen[r.name] = true
			ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventRepoint, Node: r.name, Detail: "now streams from " + primary})
		}
		if !*syncSeen && (r.state == "sync" || r.state == "quorum") {
			*syncSeen = true
			ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventSyncRestored, Node: primary, Detail: r.name + " is " + r.state})
		}
	}
}

var (
	_ Manager = (*Controller)(nil)
	_ Manager = (*Observer)(nil)
)

// probeFailed is the probe_failed event of a probe of node that started
// at start, the last one to succeed having started at prev (<0: none).
func probeFailed(start, prev time.Duration, node string) result.Event {
	e := result.Event{Ms: msOf(start), Kind: result.EventProbeFailed, Node: node}
	if prev >= 0 {
		p := msOf(prev)
		e.PrevProbeMs = &p
	}
	return e
}
