// Package probe samples a running cluster into time series: replication
// lag as the primary reports it (bytes behind and the server's own time
// lags from pg_stat_replication), and end-to-end visibility, a heartbeat
// row written on the primary and polled on each replica.
//
//	s := probe.New(c, roles, probe.Config{Start: t0, LagInterval: 100 * time.Millisecond})
//	s.Init(ctx)          // creates the heartbeat table
//	go s.Run(ctx)        // until ctx ends
//	series := s.Series() // after Run returned
package probe

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Config configures the samplers.
type Config struct {
	Start             time.Time     // offsets are measured from here
	LagInterval       time.Duration // pg_stat_replication and visibility samples
	HeartbeatInterval time.Duration
	// Subscribers are the logical subscribers (cluster.Subscriberer),
	// sampled every LagInterval and kept out of the replicas' figures.
	Subscribers []string
	// Archive samples the current primary's WAL archiver every
	// LagInterval (topology.archive).
	Archive bool
}

// HeartbeatSchema is the table heartbeats go to. tli is the timeline the
// writing primary was on, so two writable primaries show as two timelines.
const HeartbeatSchema = `CREATE TABLE IF NOT EXISTS pgbench_ha_heartbeat (
	seq        bigint PRIMARY KEY,
	node       text NOT NULL,
	tli        text NOT NULL,
	written_at timestamptz NOT NULL DEFAULT clock_timestamp()
)`

// Sampler runs the probes. Series and the summaries are read after Run.
type Sampler struct {
	c     cluster.Cluster
	roles *cluster.Roles
	cfg   Config

	mu       sync.Mutex
	repl     []result.ReplicationPoint
	wal      []result.WALPoint
	subs     []result.SubscriberPoint
	archived []result.ArchivePoint
	hb       beats
	hbCh     chan struct{} // closed and replaced at every acknowledged heartbeat
	worstLag float64       // live: worst replay lag bytes at the last sample
	worstVis float64       // live: worst visibility ms at the last sample

	queries atomic.Int64 // sent to the nodes: heartbeats, polls, samples
	polls   atomic.Int64 // of which visibility polls
}

// Queries returns how many queries the probes sent so far, and how many
// of them were visibility polls: what measuring costs the servers. It
// may be called while Run runs.
func (s *Sampler) Queries() (all, polls int64) {
	return s.queries.Load(), s.polls.Load()
}

// New returns a sampler for c.
func New(c cluster.Cluster, roles *cluster.Roles, cfg Config) *Sampler {
	if cfg.LagInterval <= 0 {
		cfg.LagInterval = 100 * time.Millisecond
	}
	if cfg.HeartbeatInterval <= 0 {
		cfg.HeartbeatInterval = 100 * time.Millisecond
	}
	return &Sampler{c: c, roles: roles, cfg: cfg, hbCh: make(chan struct{}), hb: newBeats()}
}

// Init creates the heartbeat table on the primary.
func (s *Sampler) Init(ctx context.Context) error {
	cs := cluster.NewConns(s.c, "pgbench-ha-probe", 5*time.Second)
	defer cs.Close()
	conn, err := cs.Get(ctx, s.roles.Primary())
	if err != nil {
		return fmt.Errorf("heartbeat table: %w", err)
	}
	if _, err := conn.Exec(ctx, HeartbeatSchema); err != nil {
		return fmt.Errorf("heartbeat table: %w", err)
	}
	return nil
}

func (s *Sampler) now() time.Duration { return time.Since(s.cfg.Start) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Run samples until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.heartbeats(ctx) }()
	go func() { defer wg.Done(); s.replication(ctx) }()
	if len(s.cfg.Subscribers) > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); s.subscribers(ctx) }()
	}
	if s.cfg.Archive {
		wg.Add(1)
		go func() { defer wg.Done(); s.archive(ctx) }()
	}
	// One visibility poller per node that may ever be a replica, and one
	// on the primary itself: the same polling of a heartbeat that is
	// already there measures the method's own floor.
	for _, n := range s.c.Nodes() {
		wg.Add(1)
		go func(node string) {
			defer wg.Done()
			s.visibility(ctx, node, func() (string, bool) { return node, s.isReplica(node) })
		}(n.Name)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.visibility(ctx, floorKey, func() (string, bool) { return s.roles.Primary(), true })
	}()
	wg.Wait()
}

// floorKey keeps the primary's own visibility apart from the replicas'.
const floorKey = "\x00floor"

// Floor returns the visibility latencies (ms) of the heartbeats polled on
// the primary itself: the floor of the method (the poll's wake-up and
// query), to set beside the replicas' figures.
func (s *Sampler) Floor() []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []float64
	for _, a := range s.hb.attempts {
		if l, ok := s.hb.latency[floorKey][a.id]; ok {
			out = append(out, ms(l))
		}
	}
	return out
}

// heartbeats writes one row per interval on whichever node is primary.
// Every attempt has its own id, acknowledged or not, so a row that
// committed without its ack never blocks a later one. The session commits
// with synchronous_commit = local, so its ack is the local commit, the
// moment replication starts from.
func (s *Sampler) heartbeats(ctx context.Context) {
	cs := cluster.NewConns(s.c, "pgbench-ha-heartbeat", time.Second)
	defer cs.Close()
	t := time.NewTicker(s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		primary := s.roles.Primary()
		s.mu.Lock()
		id := s.hb.begin(s.roles.Replicas())
		s.mu.Unlock()
		conn, err := cs.Get(ctx, primary)
		if err == nil {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			s.queries.Add(1)
			_, err = conn.Exec(qctx, `SET synchronous_commit = local;
			INSERT INTO pgbench_ha_heartbeat (seq, node, tli) VALUES (`+fmt.Sprint(id)+`, '`+primary+`',
			substring(pg_walfile_name(pg_current_wal_lsn()), 1, 8))`)
			cancel()
			if err != nil {
				cs.Drop(primary)
			}
		}
		at := s.now()
		s.mu.Lock()
		s.hb.end(id, at, err == nil)
		if err == nil {
			close(s.hbCh)
			s.hbCh = make(chan struct{})
		}
		s.mu.Unlock()
	}
}

// visibility polls the node target names, while it names one, for the
// heartbeats it has not shown yet: every 1 ms while an acknowledged one is
// outstanding and young, then at 2% of its age, so the resolution is about
// 1 ms or 2%, whichever is larger. What it finds is kept under key.
//
// The floor poller (key floorKey, on the primary itself) measures a
// heartbeat only right after its ack, at most every floorEvery: the
// method's floor needs samples, not every heartbeat, and on a machine
// where a query costs about as much CPU as a write, every poll is taken
// from the workload. Its polls still settle every heartbeat in between,
// so heartbeats lost in a failover are all counted.
func (s *Sampler) visibility(ctx context.Context, key string, target func() (string, bool)) {
	cs := cluster.NewConns(s.c, "pgbench-ha-visibility", time.Second)
	defer cs.Close()
	last := ""                            // the node polled last
	woken, lastPoll := false, -floorEvery // the floor poller: just after an ack, and when it polled last
	for ctx.Err() == nil {
		node, ok := target()
		if !ok {
			// Not a replica now; roles change rarely, and a wake-up on
			// this machine costs about what a write does.
			if !sleep(ctx, 50*time.Millisecond) {
				return
			}
			continue
		}
		if last != "" && node != last {
			// A new primary: what it lacks of the heartbeats already
			// settled on the old one is lost.
			if !s.recheck(ctx, cs, key, node) {
				sleep(ctx, 20*time.Millisecond)
				continue
			}
		}
		last = node
		s.mu.Lock()
		seen, wake := s.hb.seen[key], s.hbCh
		_, _, waiting := s.hb.oldestAcked(seen)
		only := int64(0) // charge a latency to this heartbeat only; 0: to all
		if key == floorKey {
			only = s.hb.newestAcked()
			waiting = waiting && woken && s.now()-lastPoll >= floorEvery
		}
		s.mu.Unlock()
		if !waiting {
			woken = false
			select {
			case <-ctx.Done():
				return
			case <-wake:
				woken = true
			case <-time.After(50 * time.Millisecond): // roles may change
			}
			continue
		}
		conn, err := cs.Get(ctx, node)
		if err != nil {
			sleep(ctx, 20*time.Millisecond)
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		s.queries.Add(1)
		s.polls.Add(1)
		lastPoll = s.now()
		present, err := presentAfter(qctx, conn, seen)
		cancel()
		at := s.now()
		if err != nil {
			cs.Drop(node)
			sleep(ctx, 5*time.Millisecond)
			continue
		}
		s.mu.Lock()
		s.hb.saw(key, present, at, only)
		_, oldest, waiting := s.hb.oldestAcked(s.hb.seen[key])
		s.mu.Unlock()
		if key == floorKey {
			woken = false
			continue
		}
		if waiting {
			wait := (at - oldest) / 50
			if wait < time.Millisecond {
				wait = time.Millisecond
			}
			sleep(ctx, wait)
		}
	}
}

// floorEvery is how often at most the floor poller measures a heartbeat.
const floorEvery = 250 * time.Millisecond

// recheck reads which of the heartbeats settled under key node holds,
// and settles the others as lost; false when it could not read them.
func (s *Sampler) recheck(ctx context.Context, cs *cluster.Conns, key, node string) bool {
	conn, err := cs.Get(ctx, node)
	if err != nil {
		return false
	}
	s.mu.Lock()
	seen := s.hb.seen[key]
	s.mu.Unlock()
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s.queries.Add(1)
	rows, err := conn.Query(qctx, "SELECT seq FROM pgbench_ha_heartbeat WHERE seq <= $1", seen)
	if err != nil {
		cs.Drop(node)
		return false
	}
	present, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		cs.Drop(node)
		return false
	}
	s.mu.Lock()
	s.hb.moved(key, present)
	s.mu.Unlock()
	return true
}

// presentAfter lists the heartbeat ids above seen that the node holds.
func presentAfter(ctx context.Context, conn *pgx.Conn, seen int64) ([]int64, error) {
	rows, err := conn.Query(ctx, "SELECT seq FROM pgbench_ha_heartbeat WHERE seq > $1 ORDER BY seq", seen)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

func (s *Sampler) isReplica(node string) bool {
	for _, r := range s.roles.Replicas() {
		if r == node {
			return true
		}
	}
	return false
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

// replicationSQL measures each standby's lag in bytes against the
// primary's flush position: a walsender sends only flushed WAL, so the
// primary's own unflushed WAL (under synchronous_commit = off) is not the
// standby's lag; it is sampled apart.
const replicationSQL = `SELECT application_name, state,
	coalesce(pg_wal_lsn_diff(pg_current_wal_flush_lsn(), sent_lsn), 0)::float8,
	coalesce(pg_wal_lsn_diff(pg_current_wal_flush_lsn(), write_lsn), 0)::float8,
	coalesce(pg_wal_lsn_diff(pg_current_wal_flush_lsn(), flush_lsn), 0)::float8,
	coalesce(pg_wal_lsn_diff(pg_current_wal_flush_lsn(), replay_lsn), 0)::float8,
	(extract(epoch FROM write_lag) * 1000)::float8,
	(extract(epoch FROM flush_lag) * 1000)::float8,
	(extract(epoch FROM replay_lag) * 1000)::float8,
	pg_wal_lsn_diff(pg_current_wal_lsn(), pg_current_wal_flush_lsn())::float8
FROM pg_stat_replication`

// replication samples pg_stat_replication on the primary, the size of
// its pg_wal and what each slot retains, once per interval, in one round
// trip (a batch of three queries).
func (s *Sampler) replication(ctx context.Context) {
	cs := cluster.NewConns(s.c, "pgbench-ha-lag", time.Second)
	defer cs.Close()
	t := time.NewTicker(s.cfg.LagInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := s.now()
		s.sampleVisibility(at)
		primary := s.roles.Primary()
		conn, err := cs.Get(ctx, primary)
		if err != nil {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		s.queries.Add(3)
		pts, wp, walErr, err := s.sampleReplication(qctx, conn, primary, at)
		cancel()
		if err != nil {
			cs.Drop(primary)
			continue
		}
		worst := 0.0
		for _, p := range pts {
			worst = max(worst, p.ReplayBytes)
		}
		s.mu.Lock()
		s.repl = append(s.repl, pts...)
		s.worstLag = worst
		if walErr == nil {
			s.wal = append(s.wal, wp)
		}
		s.mu.Unlock()
	}
}

// sampleReplication sends replicationSQL, walSQL and slotsSQL to node in
// one batch and reads the replicas' points (subscribers left out) and
// the WAL point. walErr says the WAL point could not be read (a role
// without pg_ls_waldir on a user's cluster): the replicas' points stand.
func (s *Sampler) sampleReplication(ctx context.Context, conn *pgx.Conn, node string, at time.Duration) (pts []result.ReplicationPoint, wp result.WALPoint, walErr, err error) {
	wp = result.WALPoint{Ms: ms(at), Node: node, Slots: []result.SlotPoint{}}
	var batch pgx.Batch
	batch.Queue(replicationSQL)
	batch.Queue(walSQL)
	batch.Queue(slotsSQL)
	br := conn.SendBatch(ctx, &batch)
	defer br.Close()

	rows, err := br.Query()
	if err != nil {
		return nil, wp, nil, err
	}
	for rows.Next() {
		p := result.ReplicationPoint{Ms: ms(at)}
		var state *string
		if err := rows.Scan(&p.Replica, &state, &p.SentBytes, &p.WriteBytes, &p.FlushBytes, &p.ReplayBytes,
			&p.WriteLagMs, &p.FlushLagMs, &p.ReplayLagMs, &p.UnflushedBytes); err != nil {
			rows.Close()
			return nil, wp, nil, err
		}
		if state != nil {
			p.State = *state
		}
		if slices.Contains(s.cfg.Subscribers, p.Replica) {
			continue // a subscription's walsender: not a replica
		}
		pts = append(pts, p)
	}
	if err := rows.Err(); err != nil {
		return nil, wp, nil, err
	}
	if err := br.QueryRow().Scan(&wp.PgWalBytes); err != nil {
		return pts, wp, err, nil
	}
	rows, err = br.Query()
	if err != nil {
		return pts, wp, err, nil
	}
	for rows.Next() {
		var sp result.SlotPoint
		if err := rows.Scan(&sp.Slot, &sp.Active, &sp.WalStatus, &sp.SafeWalBytes, &sp.RetainedBytes); err != nil {
			rows.Close()
			return pts, wp, err, nil
		}
		wp.Slots = append(wp.Slots, sp)
	}
	if err := rows.Err(); err != nil {
		return pts, wp, err, nil
	}
	return pts, wp, nil, br.Close()
}

const walSQL = `SELECT coalesce((SELECT sum(size) FROM pg_ls_waldir()), 0)::float8`

const slotsSQL = `SELECT slot_name, active, coalesce(wal_status, ''), safe_wal_size::float8,
	coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::float8
FROM pg_replication_slots ORDER BY slot_name`

// WAL returns the sampled WAL retention series.
func (s *Sampler) WAL() []result.WALPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]result.WALPoint(nil), s.wal...)
}

// sampleVisibility keeps, for the live display only, the worst replica's
// visibility: the age of the oldest acknowledged heartbeat it has not
// shown yet, or the latency of the last one it showed.
func (s *Sampler) sampleVisibility(at time.Duration) {
	reps := s.roles.Replicas()
	s.mu.Lock()
	defer s.mu.Unlock()
	worst := time.Duration(0)
	for _, r := range reps {
		v := s.hb.last[r]
		if _, oldest, ok := s.hb.oldestAcked(s.hb.seen[r]); ok && at-oldest > v {
			v = at - oldest
		}
		worst = max(worst, v)
	}
	s.worstVis = ms(worst)
}

// Live returns the worst replica's replay lag in bytes and visibility in
// ms at the last sample, for progress display.
func (s *Sampler) Live() (lagBytes, visMs float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.worstLag, s.worstVis
}

// Series returns the sampled series: replication samples, and a
// visibility point per heartbeat attempt and replica.
func (s *Sampler) Series() (repl []result.ReplicationPoint, vis []result.VisibilityPoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]result.ReplicationPoint(nil), s.repl...), s.hb.series()
}

// Heartbeats returns how many heartbeats a primary acknowledged, and how
// many of them the primary polled later did not hold while it held a
// later one: lost in a failover.
func (s *Sampler) Heartbeats() (acked, lost int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.hb.attempts {
		if a.acked {
			acked++
		}
	}
	return acked, int64(len(s.hb.lost[floorKey]))
}
