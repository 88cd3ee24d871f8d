package summary

import (
	"fmt"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/numtext"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Model holds the settings the outage model reads: the failover
// manager's and the client path's. docs/failover-model.md derives each
// term and gives its sources.
type Model struct {
	Mode string // promote or patroni
	// promote: the controller's health probe.
	DetectAfter, ProbeInterval time.Duration
	// patroni: the leader key's ttl, the HA loop's period, and how long
	// a crashed leader's PostgreSQL may take to start before failing over.
	TTL, LoopWait, PrimaryStartTimeout time.Duration
	// RetryTimeout is how long Patroni retries the DCS before it gives
	// up; FailsafeMode keeps a leader cut off the DCS the leader while
	// every member answers it; StoreMembers is the number of etcd members.
	RetryTimeout time.Duration
	FailsafeMode bool
	StoreMembers int
	// SyncStrict is Patroni's synchronous_mode_strict: the new leader
	// commits nothing until a standby streams from it.
	SyncStrict bool
	// Path is the client path: direct, haproxy or pgbouncer (in front of
	// HAProxy or of each node: PgBouncerNodes).
	Path           string
	PgBouncerNodes bool
	// HAProxy's health check: every Inter, Rise successes to mark a
	// server up.
	Inter time.Duration
	Rise  int
}

// Fault kinds and processes the model covers.
const (
	procNode     = ""         // the whole node
	procPostgres = "postgres" // PostgreSQL alone, its manager alive
	// ProcStore is the "process" of a partition that cuts the primary
	// off every member of its manager's store (etcd), nothing else.
	ProcStore = "store"
)

// Promotion's range: a standby's pg_promote() until it accepts writes.
// 46-72 ms measured by hand on an idle 2-core machine, up to a second on a
// loaded one; Patroni adds its leader race (asking every member's REST API
// how far it got), bounded by its 2 s member timeout.
const (
	promoteLow         = 30 * time.Millisecond
	promoteHigh        = time.Second
	patroniPromoteHigh = 3 * time.Second
	// crashRecovery bounds a PostgreSQL restart after a crash on this
	// kind of machine: the WAL since the last checkpoint replayed.
	crashRecoveryLow  = 100 * time.Millisecond
	crashRecoveryHigh = 5 * time.Second
	// walRetrieveRetry is PostgreSQL's default wal_retrieve_retry_interval:
	// how long a standby whose primary is gone waits before it tries the
	// WAL source again.
	walRetrieveRetry = 5 * time.Second
	// etcdLeaseCheck is how often etcd's lessor looks for expired leases.
	etcdLeaseCheck = 500 * time.Millisecond
)

// Predict is the outage range the settings give a fault on the primary:
// nil when the model does not cover the fault (a figure that is wrong is
// worse than none). process is the part of the node the fault hit ("" the
// whole node).
func Predict(m Model, kind, process string) *result.Prediction {
	var p result.Prediction
	add := func(name string, lo, hi time.Duration, rule string) {
		p.Terms = append(p.Terms, result.PredictionTerm{Name: name, LowMs: msOf(lo), HighMs: msOf(hi), Rule: rule})
		p.LowMs += msOf(lo)
		p.HighMs += msOf(hi)
	}
	dead := (kind == "kill" || kind == "pause") && process == procNode
	switch {
	case m.Mode == "promote" && (dead || kind == "stop"):
		p.Model = "promote: primary " + deadWord(kind)
		add("detection", m.DetectAfter, m.DetectAfter+m.ProbeInterval+min(max(m.DetectAfter/2, 50*time.Millisecond), time.Second),
			"detect_after .. detect_after + probe_interval + one probe's timeout")
		add("promotion", promoteLow, promoteHigh, "pg_promote() until writable")
	case m.Mode == "patroni" && dead:
		p.Model = "patroni: leader node " + deadWord(kind)
		add("leader key expiry", m.TTL-m.LoopWait, m.TTL+etcdLeaseCheck,
			"ttl - loop_wait .. ttl + 0.5 s: the leader renewed its key at most loop_wait before, and etcd revokes an expired lease at its next check (every 500 ms)")
		add("a replica takes the key", 0, m.LoopWait, "0 .. loop_wait: at once on etcd's watch, else its next HA loop")
		add("promotion", promoteLow, patroniPromoteHigh, "leader race and pg_ctl promote")
		if m.SyncStrict {
			add("a standby synchronous to the new leader", 0, m.LoopWait+walRetrieveRetry,
				"synchronous_mode_strict: 0 .. loop_wait + wal_retrieve_retry_interval (5 s): a standby's Patroni points it at the new leader at its next loop, and its startup process tries the new primary_conninfo at its next WAL retrieval retry")
		}
	case m.Mode == "patroni" && kind == "kill" && process == procPostgres:
		p.Model = "patroni: leader's PostgreSQL crashed, Patroni alive"
		add("Patroni notices", 0, m.LoopWait, "0 .. loop_wait: its next HA loop")
		add("restart in place", crashRecoveryLow, min(crashRecoveryHigh, m.PrimaryStartTimeout),
			"crash recovery, failing over after primary_start_timeout")
	case m.Mode == "patroni" && process == ProcStore && (kind == "isolate" || kind == "partition" && !m.FailsafeMode):
		// The outage opens when the cut-off leader demotes itself, and
		// closes when a replica has taken its expired key and promoted.
		// Isolated, it cannot reach the members' /failsafe either:
		// failsafe_mode changes nothing.
		p.Model = "patroni: leader cut off etcd, failsafe_mode off"
		if kind == "isolate" {
			p.Model = "patroni: leader isolated (cut off etcd and its replicas)"
		}
		add("the cut-off leader goes on until it demotes itself", -(m.RetryTimeout + m.LoopWait), -m.RetryTimeout,
			"minus retry_timeout .. retry_timeout + loop_wait: its next HA loop fails to renew the key, after retrying for retry_timeout")
		add("leader key expiry", m.TTL-m.LoopWait, m.TTL+etcdLeaseCheck,
			"ttl - loop_wait .. ttl + 0.5 s after the cut, as for a dead leader")
		add("a replica takes the key", 0, m.LoopWait, "0 .. loop_wait")
		add("promotion", promoteLow, patroniPromoteHigh, "leader race and pg_ctl promote")
	default:
		return nil
	}
	switch m.Path {
	case "haproxy", "pgbouncer":
		if m.Path == "pgbouncer" && m.PgBouncerNodes {
			break // PgBouncer per node: the client finds the primary itself
		}
		rise := max(m.Rise, 1)
		add("HAProxy marks the new primary up", time.Duration(rise-1)*m.Inter, time.Duration(rise)*m.Inter,
			"(rise - 1) × inter .. rise × inter")
	}
	return &p
}

func deadWord(kind string) string {
	switch kind {
	case "pause":
		return "hung (paused)"
	case "stop":
		return "stopped"
	}
	return "killed"
}

// Judge sets the measured outage (ms) against p's range, filling its
// verdict and sentence.
func Judge(p *result.Prediction, measuredMs float64) {
	if p == nil {
		return
	}
	rng := fmt.Sprintf("%s–%s ms", numtext.Thousands(int64(p.LowMs+0.5)), numtext.Thousands(int64(p.HighMs+0.5)))
	got := numtext.Thousands(int64(measuredMs+0.5)) + " ms"
	switch {
	case measuredMs < p.LowMs:
		p.Verdict = result.VerdictBelow
		p.Sentence = fmt.Sprintf("The write outage, %s, is shorter than the settings predict (%s): something ended it before the model's steps could, or the fault did not hit as modelled.", got, rng)
	case measuredMs > p.HighMs:
		p.Verdict = result.VerdictAbove
		p.Sentence = fmt.Sprintf("The write outage, %s, is longer than the settings predict (%s): a step took longer than its settings allow; the timeline shows which.", got, rng)
	default:
		p.Verdict = result.VerdictWithin
		p.Sentence = fmt.Sprintf("The settings explain the write outage: %s, within the %s they predict.", got, rng)
	}
}
