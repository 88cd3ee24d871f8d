// Package failover decides who promotes a replica when the primary fails.
// With mode "promote" the harness is the failover manager: a health probe
// on the primary, a detection time, promotion of the most advanced replica
// with pg_promote(), and the other replicas repointed to the new primary
// without a restart (primary_conninfo reloaded).
//
//	ctl := failover.New(c, roles, failover.Config{DetectAfter: time.Second, Start: t0, Emit: emit})
//	go ctl.Run(ctx)
package failover

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Config configures the controller.
type Config struct {
	DetectAfter   time.Duration // the primary fails its probe this long → dead
	ProbeInterval time.Duration
	Repoint       bool
	Slots         bool            // create slots for the repointed replicas
	Sync          map[string]bool // replicas that were synchronous, preferred on a tie
	Start         time.Time
	// SyncAfter gives the new primary's synchronous_standby_names for the
	// standbys that follow it ("" or nil: it stays asynchronous).
	SyncAfter func(survivors []string) string
	// Client is the client group whose links the controller uses
	// ("controller"); empty connects directly.
	Client string
	// Emit records an event on the run's clock. It must be safe for
	// concurrent use.
	Emit func(result.Event)
}

// Failover is one failover: the primary the controller found dead and
// what it did about it, offsets from Start.
type Failover struct {
	FirstFailure time.Duration // start of the first failing probe
	Detected     time.Duration
	PromoteStart time.Duration
	PromoteDone  time.Duration
	OldPrimary   string
	NewPrimary   string
	Repointed    []string
	Promoted     bool
	// SyncRestored is when the new primary was made synchronous again; 0
	// when it was not.
	SyncRestored time.Duration
	Err          error
}

// Timeline is what the controller saw and did. Its Failover fields are
// the first failover's (the headline figures); Failovers lists every
// failover in order, the first included.
type Timeline struct {
	Failover
	Failovers []Failover
}

// Controller is the harness's own failover manager.
type Controller struct {
	c     cluster.Cluster
	roles *cluster.Roles
	cfg   Config
	done  chan struct{} // Run returned
	// failedOver is closed once the first failover is over (promoted,
	// repointed, synchronous again, or failed), while Run goes on
	// probing the new primary and watching the old one for a split brain.
	failedOver chan struct{}
	// watchers are the split brain watches of the demoted primaries; they
	// run until runCtx, Run's context, ends.
	watchers sync.WaitGroup
	runCtx   context.Context
	mu       sync.Mutex
	tl       Timeline // under mu
}

// New returns a controller; Run starts it.
func New(c cluster.Cluster, roles *cluster.Roles, cfg Config) *Controller {
	if cfg.ProbeInterval <= 0 {
		cfg.ProbeInterval = 10 * time.Millisecond
	}
	if cfg.Emit == nil {
		cfg.Emit = func(result.Event) {}
	}
	return &Controller{c: c, roles: roles, cfg: cfg, done: make(chan struct{}), failedOver: make(chan struct{})}
}

func (ctl *Controller) now() time.Duration { return time.Since(ctl.cfg.Start) }

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// failoverLimit bounds a failover that goes on after the run has ended.
const failoverLimit = 20 * time.Second

// Run probes whichever node is primary now until it has failed for
// DetectAfter, then promotes the most advanced surviving replica, and goes
// on probing the new primary: a failure of that one promotes again, as
// long as a replica is left. Every demoted primary is watched for a split
// brain until the end. It returns when ctx ends, once a failover under
// way is over.
func (ctl *Controller) Run(ctx context.Context) {
	defer close(ctl.done)
	defer ctl.watchers.Wait()
	ctl.runCtx = ctx
	// The controller is a client like the others: with link proxies it
	// sits on its own links and sees the partitions a scenario makes.
	cs := cluster.NewConns(ctl.c, "pgbench-ha-health", min(max(ctl.cfg.DetectAfter/2, 50*time.Millisecond), time.Second)).Via(ctl.cfg.Client)
	defer cs.Close()
	// Connections to the replicas are opened now, so choosing and
	// promoting one costs no connection set-up at failover time.
	rcs := cluster.NewConns(ctl.c, "pgbench-ha-failover", time.Second).Via(ctl.cfg.Client)
	defer rcs.Close()
	for _, r := range ctl.roles.Replicas() {
		_, _ = rcs.Get(ctx, r)
	}
	// So are the health probe's, to the primary and to every node that
	// may become one, with time to spare: a new connection within the
	// probe's short timeout, while a run's clients all connect at once
	// or through a container's published port, can fail on a node that
	// answers, and a primary taken for dead is a failover that should
	// never have happened (or, after a promotion, a new primary given up
	// for lost while it takes writes).
	for _, n := range append([]string{ctl.roles.Primary()}, ctl.roles.Replicas()...) {
		_, _ = cs.Open(ctx, n, time.Second)
	}
	t := time.NewTicker(ctl.cfg.ProbeInterval)
	defer t.Stop()
	failing := false
	var since time.Duration
	prev := time.Duration(-1) // start of the last probe that succeeded
	// stuck is the primary found dead with nothing promoted in its place,
	// and the replicas there were then: no promotion is tried again until
	// it answers or those change (a replica started again).
	var stuck, stuckReplicas string
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		primary := ctl.roles.Primary()
		// A failing probe counts from when it started, not from when it
		// gave up (its timeout later, for a node that hangs).
		probeStart := ctl.now()
		if ctl.healthy(ctx, cs, primary, ctl.cfg.DetectAfter/2+10*time.Millisecond) {
			failing = false
			stuck = ""
			prev = probeStart
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if primary == stuck && strings.Join(ctl.roles.Replicas(), ",") == stuckReplicas {
			continue
		}
		now := ctl.now()
		if !failing {
			failing, since = true, probeStart
			ctl.cfg.Emit(probeFailed(since, prev, primary))
		}
		if now-since < ctl.cfg.DetectAfter {
			continue
		}
		failing = false
		f := Failover{FirstFailure: since, Detected: now, OldPrimary: primary}
		ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventDetected, Node: primary,
			Detail: fmt.Sprintf("health probe failing for %s", (now - since).Round(time.Millisecond))})
		ctl.roles.MarkDown(primary)
		// A failover once started finishes, also when the run ends
		// meanwhile: cut off, it could leave a promoted node that the
		// roles, and so the audit, do not name.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), failoverLimit)
		err := ctl.promote(pctx, rcs, primary, &f)
		cancel()
		if err != nil {
			f.Err = err
			ctl.cfg.Emit(result.Event{Ms: msOf(ctl.now()), Kind: result.EventError, Node: primary, Detail: "failover: " + err.Error()})
		}
		ctl.record(f)
		if f.Promoted {
			stuck = ""
			continue
		}
		if ctx.Err() != nil {
			return
		}
		stuck, stuckReplicas = primary, strings.Join(ctl.roles.Replicas(), ",")
		ctl.cfg.Emit(result.Event{Ms: msOf(ctl.now()), Kind: result.EventNoPrimary, Node: primary,
			Detail: "no primary left: " + ctl.downList() + " down, nothing promoted"})
	}
}

// record adds a finished failover to the timeline; the first one is the
// headline and ends FailedOver's wait.
func (ctl *Controller) record(f Failover) {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	ctl.tl.Failovers = append(ctl.tl.Failovers, f)
	if len(ctl.tl.Failovers) == 1 {
		ctl.tl.Failover = f
		close(ctl.failedOver)
	}
}

// timeline is a copy of the timeline so far.
func (ctl *Controller) timeline() Timeline {
	ctl.mu.Lock()
	defer ctl.mu.Unlock()
	tl := ctl.tl
	tl.Failovers = append([]Failover(nil), tl.Failovers...)
	return tl
}

// downList names the nodes believed down, in cluster order.
func (ctl *Controller) downList() string {
	var down []string
	for _, n := range ctl.c.Nodes() {
		if ctl.roles.IsDown(n.Name) {
			down = append(down, n.Name)
		}
	}
	return strings.Join(down, ", ")
}

// Wait blocks until Run has returned (its context ended) and gives the
// timeline.
func (ctl *Controller) Wait() Timeline {
	<-ctl.done
	return ctl.timeline()
}

// FailedOver blocks until the first failover is over (or Run has
// returned without one) and gives the timeline so far; Run goes on
// probing the new primary, and watching the old one for a split brain,
// until its context ends.
func (ctl *Controller) FailedOver() Timeline {
	select {
	case <-ctl.failedOver:
	case <-ctl.done:
	}
	return ctl.timeline()
}

// healthy reports whether node answers an empty query within timeout.
func (ctl *Controller) healthy(ctx context.Context, cs *cluster.Conns, node string, timeout time.Duration) bool {
	conn, err := cs.Get(ctx, node)
	if err != nil {
		return false
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := conn.Exec(qctx, ";"); err != nil {
		cs.Drop(node)
		return false
	}
	return true
}

// answers reports whether node answers within timeout, and whether it is
// in recovery (a standby, or a primary its manager demoted).
func (ctl *Controller) answers(ctx context.Context, cs *cluster.Conns, node string, timeout time.Duration) (ok, inRecovery bool) {
	conn, err := cs.Get(ctx, node)
	if err != nil {
		return false, false
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := conn.QueryRow(qctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		cs.Drop(node)
		return false, false
	}
	return true, inRecovery
}

type candidate struct {
	name    string
	receive uint64
	replay  uint64
	order   int
}

// candidateTimeout bounds the question to each replica of how much WAL it
// has, when choosing which to promote.
const candidateTimeout = time.Second

// promote picks the replica that received the most WAL, promotes it and
// waits until it accepts writes, then repoints the others.
func (ctl *Controller) promote(ctx context.Context, cs *cluster.Conns, old string, f *Failover) error {
	// WAL the dead primary sent may still be in a replica's socket: until
	// the replicas' positions stand still, the most advanced may not be
	// known, and promoting another leaves it ahead of the new timeline,
	// unable to follow.
	// Those that did not answer the first time are not asked again: a
	// stalled replica must not hold the failover up.
	cands, unreachable := ctl.candidates(ctx, cs, ctl.roles.Replicas())
	for round := 1; round <= stableRounds && len(cands) > 0; round++ {
		if !sleep(ctx, stableWait) {
			return ctx.Err()
		}
		names := make([]string, len(cands))
		for i, c := range cands {
			names[i] = c.name
		}
		next, gone := ctl.candidates(ctx, cs, names)
		stable := sameReceive(cands, next)
		cands, unreachable = next, append(unreachable, gone...)
		if stable {
			break
		}
	}
	return ctl.promoteBest(ctx, cs, old, f, cands, unreachable)
}

// The replicas' positions are read every stableWait until two readings
// agree, at most stableRounds times.
const (
	stableWait   = 5 * time.Millisecond
	stableRounds = 20
)

// sameReceive reports whether a and b hold the same replicas at the same
// positions.
func sameReceive(a, b []candidate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].name != b[i].name || a[i].receive != b[i].receive {
			return false
		}
	}
	return true
}

// candidates asks each replica how much WAL it has; those that do not
// answer are unreachable.
func (ctl *Controller) candidates(ctx context.Context, cs *cluster.Conns, replicas []string) ([]candidate, []string) {
	var cands []candidate
	var unreachable []string
	for i, r := range replicas {
		conn, err := cs.Get(ctx, r)
		if err != nil {
			unreachable = append(unreachable, r)
			continue
		}
		var recv, replay pgtype.Text
		// A stalled replica must not stall the failover: it is passed over.
		qctx, cancel := context.WithTimeout(ctx, candidateTimeout)
		err = conn.QueryRow(qctx, "SELECT pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text").Scan(&recv, &replay)
		cancel()
		if err != nil {
			cs.Drop(r) // a later failover connects again
			unreachable = append(unreachable, r)
			continue
		}
		c := candidate{name: r, receive: parseLSN(recv.String), replay: parseLSN(replay.String), order: i}
		if c.replay > c.receive {
			c.receive = c.replay
		}
		cands = append(cands, c)
	}
	return cands, unreachable
}

// promoteBest promotes the most advanced of cands, waits until it accepts
// writes, then repoints the others.
func (ctl *Controller) promoteBest(ctx context.Context, cs *cluster.Conns, old string, f *Failover, cands []candidate, unreachable []string) error {
	if len(cands) == 0 && len(unreachable) == 0 {
		return fmt.Errorf("no replica left to promote")
	}
	if len(cands) == 0 {
		return fmt.Errorf("no replica reachable to promote (tried %s)", strings.Join(unreachable, ", "))
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].receive != cands[j].receive {
			return cands[i].receive > cands[j].receive
		}
		if ctl.cfg.Sync[cands[i].name] != ctl.cfg.Sync[cands[j].name] {
			return ctl.cfg.Sync[cands[i].name]
		}
		return cands[i].order < cands[j].order
	})
	best := cands[0]
	conn, err := cs.Get(ctx, best.name)
	if err != nil {
		return fmt.Errorf("promote %s: %w", best.name, err)
	}
	f.PromoteStart = ctl.now()
	ctl.cfg.Emit(result.Event{Ms: msOf(f.PromoteStart), Kind: result.EventPromoteStart, Node: best.name,
		Detail: fmt.Sprintf("most advanced replica: received %s", formatLSN(best.receive))})
	// A cluster that promotes its own way (an external cluster's promote
	// hook) does; else pg_promote().
	if p, ok := ctl.c.(cluster.Promoter); ok {
		if err := p.Promote(ctx, best.name); err != nil {
			return fmt.Errorf("promote %s: %w", best.name, err)
		}
	} else if _, err := conn.Exec(ctx, "SELECT pg_promote(wait => false)"); err != nil {
		return fmt.Errorf("promote %s: %w", best.name, err)
	}
	// pg_promote(wait => true) polls every 100 ms; poll faster ourselves.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
			return fmt.Errorf("promote %s: %w", best.name, err)
		}
		if !inRecovery {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("promote %s: still in recovery after 60s", best.name)
		}
		if !sleep(ctx, time.Millisecond) {
			return ctx.Err()
		}
	}
	f.PromoteDone = ctl.now()
	f.NewPrimary = best.name
	f.Promoted = true
	ctl.roles.Promote(best.name)
	// The old primary is watched from its demotion on, not from the
	// end of the repoints and the synchronous restore.
	ctl.watchers.Add(1)
	// Until the run ends, not the failover (whose context outlives it).
	go func() { defer ctl.watchers.Done(); ctl.watchOld(ctl.runCtx, old) }()
	ctl.cfg.Emit(result.Event{Ms: msOf(f.PromoteDone), Kind: result.EventPromoteDone, Node: best.name,
		Detail: fmt.Sprintf("promoted in %s", (f.PromoteDone - f.PromoteStart).Round(100*time.Microsecond))})
	if !ctl.cfg.Repoint {
		return nil
	}
	for _, c := range cands[1:] {
		if err := ctl.repoint(ctx, cs, c.name, best.name); err != nil {
			ctl.cfg.Emit(result.Event{Ms: msOf(ctl.now()), Kind: result.EventError, Node: c.name, Detail: err.Error()})
			continue
		}
		f.Repointed = append(f.Repointed, c.name)
		ctl.cfg.Emit(result.Event{Ms: msOf(ctl.now()), Kind: result.EventRepoint, Node: c.name, Detail: "now streams from " + best.name})
	}
	return ctl.restoreSync(ctx, cs, best.name, f)
}

// syncWait bounds the wait for a standby to stream from the new primary
// before synchronous replication is restored.
const syncWait = 10 * time.Second

// restoreSync makes the new primary synchronous again, by the scenario's
// rule, once one of the standbys that follow it streams from it (as
// Patroni's synchronous_mode does): until then its commits are local.
func (ctl *Controller) restoreSync(ctx context.Context, cs *cluster.Conns, primary string, f *Failover) error {
	if ctl.cfg.SyncAfter == nil || len(f.Repointed) == 0 {
		return nil // no standby follows it: nothing to be synchronous with
	}
	names := ctl.cfg.SyncAfter(f.Repointed)
	if names == "" {
		return nil
	}
	conn, err := cs.Get(ctx, primary)
	if err != nil {
		return fmt.Errorf("restore synchronous replication on %s: %w", primary, err)
	}
	deadline := time.Now().Add(syncWait)
	for {
		var streaming bool
		err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_replication
			WHERE state = 'streaming' AND application_name = ANY($1))`, f.Repointed).Scan(&streaming)
		if err != nil {
			return fmt.Errorf("restore synchronous replication on %s: %w", primary, err)
		}
		if streaming {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restore synchronous replication on %s: no standby (%s) streams from it after %s; it stays asynchronous",
				primary, strings.Join(f.Repointed, ", "), syncWait)
		}
		if !sleep(ctx, time.Millisecond) {
			return ctx.Err()
		}
	}
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+pgquote.Literal(names)); err != nil {
		return fmt.Errorf("restore synchronous replication on %s: %w", primary, err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("restore synchronous replication on %s: reload: %w", primary, err)
	}
	f.SyncRestored = ctl.now()
	ctl.cfg.Emit(result.Event{Ms: msOf(f.SyncRestored), Kind: result.EventSyncRestored, Node: primary,
		Detail: "synchronous_standby_names = '" + names + "'"})
	return nil
}

// splitBrainPoll is how often an old primary is asked whether it is
// writable, from its demotion to the end of the run.
const splitBrainPoll = 50 * time.Millisecond

// watchOld asks a demoted primary directly (the harness's own view, not
// the controller's links), from its demotion until ctx ends, whether it
// is a writable primary: at once (it may never have died: a partition, a
// stall) and later (a restart, a healed partition). Each span in which it
// is writable beside the primary of the moment is a split brain, recorded
// as a split_brain event and a split_brain_end event (none when it lasts
// to the end).
func (ctl *Controller) watchOld(ctx context.Context, old string) {
	cs := cluster.NewConns(ctl.c, "pgbench-ha-observer", 500*time.Millisecond)
	defer cs.Close()
	writable := false
	for {
		now := ctl.now()
		w := ctl.writable(ctx, cs, old)
		if ctx.Err() != nil {
			return
		}
		switch {
		case w && !writable:
			ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventSplitBrain, Node: old,
				Detail: fmt.Sprintf("%s is a writable primary beside %s", old, ctl.roles.Primary())})
		case !w && writable:
			ctl.cfg.Emit(result.Event{Ms: msOf(now), Kind: result.EventSplitBrainEnd, Node: old,
				Detail: fmt.Sprintf("%s is no longer a writable primary", old)})
		}
		writable = w
		if !sleep(ctx, splitBrainPoll) {
			return
		}
	}
}

// writable reports whether node answers as a primary out of recovery.
func (ctl *Controller) writable(ctx context.Context, cs *cluster.Conns, node string) bool {
	ok, inRecovery := ctl.answers(ctx, cs, node, 500*time.Millisecond)
	return ok && !inRecovery
}

// repoint makes replica stream from upstream by reloading its
// primary_conninfo (PostgreSQL 13+ needs no restart for that).
func (ctl *Controller) repoint(ctx context.Context, cs *cluster.Conns, replica, upstream string) error {
	if ctl.cfg.Slots {
		up, err := cs.Get(ctx, upstream)
		if err != nil {
			return fmt.Errorf("repoint %s: %w", replica, err)
		}
		if _, err := up.Exec(ctx, `SELECT pg_create_physical_replication_slot($1, true)
			WHERE NOT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)`, replica); err != nil {
			return fmt.Errorf("repoint %s: slot on %s: %w", replica, upstream, err)
		}
	}
	conn, err := cs.Get(ctx, replica)
	if err != nil {
		return fmt.Errorf("repoint %s: %w", replica, err)
	}
	info := ctl.c.PrimaryConnInfo(replica, upstream)
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET primary_conninfo = "+pgquote.Literal(info)); err != nil {
		return fmt.Errorf("repoint %s: %s", replica, cluster.Redact(err.Error()))
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("repoint %s: reload: %w", replica, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// parseLSN parses "16/B374D848"; "" is 0.
func parseLSN(s string) uint64 {
	var hi, lo uint64
	if _, err := fmt.Sscanf(s, "%X/%X", &hi, &lo); err != nil {
		return 0
	}
	return hi<<32 | lo
}

func formatLSN(v uint64) string { return fmt.Sprintf("%X/%X", v>>32, v&0xffffffff) }
