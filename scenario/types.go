package scenario

import (
	"fmt"
	"time"

	"github.com/pgbench-ha/pgbench-ha/fault"
)

// Scenario is a decoded, validated scenario file with defaults applied.
type Scenario struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Seed        int64    `yaml:"seed"`     // default 1
	Duration    Duration `yaml:"duration"` // the measured workload window; required
	Backend     string   `yaml:"backend"`  // "local" (default), "docker" or "external"
	Topology    Topology `yaml:"topology"`
	Workload    Workload `yaml:"workload"`
	Faults      []Fault  `yaml:"faults"`
	Failover    Failover `yaml:"failover"`
	// Client is how the workload's clients reach the cluster: directly,
	// or through HAProxy and PgBouncer.
	Client Client `yaml:"client"`
	// External is how to reach a cluster of the user's (backend:
	// external).
	External External `yaml:"external"`
	Probes   Probes   `yaml:"probes"`
	// Repeat runs each variant several times, each on a fresh cluster with
	// the faults' moments jittered, so an outage is a distribution.
	Repeat Repeat `yaml:"repeat"`
	// Accident is an accidental DELETE during the run, and Drills the
	// restore drills timed and checked against the ledger (drills.go).
	Accident *Accident `yaml:"accident"`
	Drills   []Drill   `yaml:"drills"`
	// Matrix is in file order; each axis is a setting and its values.
	Matrix []Axis `yaml:"-"`
	// Thresholds are limits on the run's summary figures, checked after
	// the run, in file order.
	Thresholds []Threshold `yaml:"-"`

	// File is the path the scenario was read from, Source its bytes.
	File   string `yaml:"-"`
	Source []byte `yaml:"-"`

	// variants holds, when the matrix has axes that address the
	// scenario (failover.ttl, faults[0].at), one decoded and validated
	// scenario per combination of their values, the first such axis
	// varying slowest; Expand hands each plan its own.
	variants []*Scenario
}

// PrimaryName is the name of the initial primary node.
const PrimaryName = "primary"

// Topology describes the cluster: one primary and its standbys.
type Topology struct {
	// Replicas, in order; names default to replica1, replica2, ...
	Replicas []Replica `yaml:"replicas"`
	// SyncMethod is "first" (FIRST n, priority) or "any" (ANY n, quorum);
	// default first.
	SyncMethod string `yaml:"sync_method"`
	// SyncCount is n in FIRST n / ANY n; default: the number of sync replicas.
	SyncCount int `yaml:"sync_count"`
	// Slots gives each replica a physical replication slot; default true.
	Slots *bool `yaml:"slots"`
	// Settings are postgresql.conf settings for every node.
	Settings map[string]string `yaml:"settings"`
	// PrimarySettings apply to the primary only (after Settings).
	PrimarySettings map[string]string `yaml:"primary_settings"`
	// Subscribers are logical subscribers: servers of their own, each
	// subscribing to a publication of the harness's tables on the
	// primary; names default to sub1, sub2, ...
	Subscribers []Subscriber `yaml:"subscribers"`
	// Archive, when the key is there (even with no value), turns WAL
	// archiving on on every node (local backend): completed segments
	// are copied to the run folder, and the archiver is sampled on the
	// primary. Nil: no archiving.
	Archive *Archive `yaml:"archive"`
	// Image is the container image the nodes and subscribers run (docker
	// backend only); "" for the backend's (run --image). A matrix over it
	// runs the same scenario on several server versions side by side.
	Image string `yaml:"image"`
	// ImageLine is where Image is set in the file (0 when it is not), for
	// messages.
	ImageLine int `yaml:"-"`
}

// Archive is WAL archiving on every node.
type Archive struct {
	// Timeout is archive_timeout: a segment is switched (and archived)
	// at least this often while WAL is written; 0, the default, is none.
	// Whole seconds.
	Timeout Duration `yaml:"timeout"`
}

// Subscriber is one logical subscriber.
type Subscriber struct {
	Name string `yaml:"name"`
	// FailoverSlots: the subscription's slot is a failover slot
	// (PostgreSQL 17's CREATE SUBSCRIPTION ... WITH (failover = true),
	// synchronized to the standbys), so that the subscription can follow
	// a promoted standby. Nil: on where the server has them (17 and
	// later), off before; true on an older server is an error.
	FailoverSlots *bool `yaml:"failover_slots"`
	// FailoverSlotsLine is where FailoverSlots is set (0: not), for
	// messages.
	FailoverSlotsLine int `yaml:"-"`
}

// Replica is one standby.
type Replica struct {
	Name     string            `yaml:"name"`
	Sync     bool              `yaml:"sync"`     // listed in synchronous_standby_names
	Settings map[string]string `yaml:"settings"` // this node only
}

// Workload is the deterministic write workload.
type Workload struct {
	// Writers is the number of writer connections; default 8.
	Writers int `yaml:"writers"`
	// Rate is the target rate in transactions per second over all writers;
	// 0 means unlimited (closed loop, each writer as fast as it can).
	Rate float64 `yaml:"rate"`
	// Arrival is "poisson" (default, like pgbench --rate) or "uniform".
	Arrival string `yaml:"arrival"`
	// Bursts change the rate for a while.
	Bursts []Burst `yaml:"bursts"`
	// InitialOrders are loaded before the clock starts; default 0.
	InitialOrders int64 `yaml:"initial_orders"`
	// MaxQueue bounds writes waiting for a free writer; beyond it an arrival
	// is skipped and counted. Default 100000.
	MaxQueue int `yaml:"max_queue"`
	// Reads, when set, runs a reader on each of its nodes.
	Reads *Reads `yaml:"reads"`
}

// Repeat is how many times each variant runs, and how far (±) each
// repetition moves every fault's moment, chosen from the seed.
type Repeat struct {
	Times  int      `yaml:"times"`  // default 1
	Jitter Duration `yaml:"jitter"` // default 0
}

// Reads configures the readers: each read asks a node for the newest
// order acknowledged before the read was sent.
type Reads struct {
	Rate  float64  `yaml:"rate"`  // reads per second per node; required
	Nodes []string `yaml:"nodes"` // default: every replica
}

// Burst sets the rate to Rate from At for Duration.
type Burst struct {
	At       Duration `yaml:"at"`
	Duration Duration `yaml:"duration"`
	Rate     float64  `yaml:"rate"` // 0 = unlimited during the burst
}

// Client groups: connections that are not a node's, each with its own
// links to every node, so a partition can put them on a side.
const (
	ClientWriters    = fault.ClientWriters
	ClientReaders    = fault.ClientReaders
	ClientController = fault.ClientController
)

// ClientNames lists the client groups a fault may name.
var ClientNames = fault.ClientNames

// Fault is one entry of the fault timeline: when it fires, how long it
// lasts, and its kind with the kind's own parameters (package fault).
type Fault struct {
	At Duration `yaml:"at"`
	// For heals the fault after this long: a paused node resumes, a
	// killed or stopped node starts again, links are restored. Without it
	// a kill or stop lasts to the end of the run and every other fault is
	// healed when the workload ends.
	For Duration `yaml:"for"`
	// Spec is the fault's kind and parameters; nil only in a scenario
	// that failed validation (an unknown kind).
	Spec fault.Spec `yaml:"-"`
	Line int        `yaml:"-"` // line in the scenario file, for messages
}

// Kind is the fault's kind name, "" when unknown.
func (f Fault) Kind() string {
	if f.Spec == nil {
		return ""
	}
	return f.Spec.Kind()
}

// IsNetwork reports whether the fault acts on links.
func (f Fault) IsNetwork() bool {
	_, ok := f.Spec.(fault.Linker)
	return ok
}

// HasNetworkFaults reports whether any fault acts on links: the cluster is
// then built with a proxy on every link.
func (s *Scenario) HasNetworkFaults() bool {
	for _, f := range s.Faults {
		if f.IsNetwork() {
			return true
		}
	}
	return false
}

// Failover modes.
const (
	FailoverNone    = "none"
	FailoverPromote = "promote" // the harness promotes a replica
	FailoverPatroni = "patroni" // Patroni with etcd manages the cluster
	// FailoverExternal: a manager outside the harness (the external
	// cluster's own: Patroni, CloudNativePG, an operator's hook) fails
	// over; the harness observes which node answers as the primary.
	FailoverExternal = "external"
)

// Failover says who promotes a replica when the primary fails.
type Failover struct {
	// Mode is none (default) or promote (the harness promotes).
	Mode string `yaml:"mode"`
	// DetectAfter is how long the primary must fail its health probe
	// before it is declared dead; default 1s.
	DetectAfter Duration `yaml:"detect_after"`
	// ProbeInterval is the health probe period; default 10ms.
	ProbeInterval Duration `yaml:"probe_interval"`
	// Repoint makes the other replicas follow the new primary; default true.
	Repoint *bool `yaml:"repoint"`
	// Synchronous is what becomes of synchronous replication after a
	// promotion: keep (default; the new primary gets
	// synchronous_standby_names for the surviving standbys, by the
	// topology's rule, once one streams from it, as Patroni's
	// synchronous_mode does) or drop (it stays asynchronous).
	Synchronous string `yaml:"synchronous"`

	// Patroni's settings, under mode patroni only (a problem otherwise),
	// with Patroni's defaults applied under it and zero under the other
	// modes. Times are whole seconds written as integers, Patroni's own
	// unit. Patroni requires LoopWait + 2*RetryTimeout <= TTL.

	// TTLSeconds is the leader lock's TTL: how long before a failover
	// starts; default 30, at least 20.
	TTLSeconds int `yaml:"ttl"`
	// LoopWaitSeconds is how long Patroni's loop sleeps; default 10, at
	// least 1.
	LoopWaitSeconds int `yaml:"loop_wait"`
	// RetryTimeoutSeconds bounds DCS and PostgreSQL retries; default 10,
	// at least 3.
	RetryTimeoutSeconds int `yaml:"retry_timeout"`
	// MaximumLagOnFailoverBytes is how far behind a replica may be and
	// still be promoted; default 1048576, at least 0.
	MaximumLagOnFailoverBytes int64 `yaml:"maximum_lag_on_failover"`
	// SynchronousMode is Patroni's synchronous_mode; default true when a
	// topology replica has sync: true, else false. Patroni then names
	// the synchronous standbys (synchronous_node_count is the topology's
	// sync_count).
	SynchronousMode bool `yaml:"synchronous_mode"`
	// SynchronousModeStrict: no commits without a synchronous standby;
	// default false, needs SynchronousMode.
	SynchronousModeStrict bool `yaml:"synchronous_mode_strict"`
	// FailsafeMode keeps the primary when the DCS is gone but every
	// member answers; default false.
	FailsafeMode bool `yaml:"failsafe_mode"`
	// PrimaryStartTimeoutSeconds is how long a crashed primary may take
	// to recover before a failover; default 300, at least 0.
	PrimaryStartTimeoutSeconds int `yaml:"primary_start_timeout"`
	// EtcdMembers is the size of the etcd cluster, 1 or 3; default 1.
	// The members are fault targets etcd1..etcdN.
	EtcdMembers int `yaml:"etcd_members"`
}

// Client paths: how the workload's clients reach the cluster.
const (
	PathDirect    = "direct"    // a multi-host connection string to the nodes
	PathHAProxy   = "haproxy"   // HAProxy, which sends them to the primary
	PathPgBouncer = "pgbouncer" // PgBouncer, in front of HAProxy or the nodes
)

// Client is the client path.
type Client struct {
	// Path is direct (default), haproxy or pgbouncer.
	Path string `yaml:"path"`
	// HAProxy applies when the path goes through HAProxy: path haproxy,
	// or pgbouncer in front of haproxy. Defaults are applied then only.
	HAProxy HAProxy `yaml:"haproxy"`
	// PgBouncer applies to path pgbouncer only; defaults likewise.
	PgBouncer PgBouncer `yaml:"pgbouncer"`
}

// HasHAProxy reports whether the path goes through HAProxy.
func (c Client) HasHAProxy() bool {
	return c.Path == PathHAProxy || c.Path == PathPgBouncer && c.PgBouncer.InFrontOf != InFrontOfNodes
}

// HasPgBouncer reports whether the path goes through PgBouncer.
func (c Client) HasPgBouncer() bool { return c.Path == PathPgBouncer }

// HAProxy is HAProxy's health checking of the nodes (its server line's
// check inter, fall and rise).
type HAProxy struct {
	// Inter is the check interval; default 3s, whole milliseconds.
	Inter Duration `yaml:"inter"`
	// Fall is how many failed checks in a row take a server out; default
	// 3, at least 1.
	Fall int `yaml:"fall"`
	// Rise is how many passed checks in a row bring it back; default 2,
	// at least 1.
	Rise int `yaml:"rise"`
}

// PgBouncer pool modes.
const (
	PoolSession     = "session"
	PoolTransaction = "transaction"
	PoolStatement   = "statement"
)

// What PgBouncer sits in front of.
const (
	InFrontOfHAProxy = "haproxy" // PgBouncer -> HAProxy -> the primary
	InFrontOfNodes   = "nodes"   // PgBouncer -> the nodes directly
)

// PgBouncer is the PgBouncer of the client path.
type PgBouncer struct {
	// PoolMode is session, transaction (default) or statement.
	PoolMode string `yaml:"pool_mode"`
	// PoolSize is default_pool_size: server connections per database and
	// user; default 20, at least 1.
	PoolSize int `yaml:"pool_size"`
	// InFrontOf is haproxy (default) or nodes.
	InFrontOf string `yaml:"in_front_of"`
}

// What becomes of synchronous replication after a promotion.
const (
	SyncKeep = "keep"
	SyncDrop = "drop"
)

// Probes configures the samplers.
type Probes struct {
	// LagInterval is the pg_stat_replication sample period; default 100ms,
	// minimum 10ms.
	LagInterval Duration `yaml:"lag_interval"`
	// HeartbeatInterval is how often a heartbeat row is written on the
	// primary; default 100ms, minimum 10ms.
	HeartbeatInterval Duration `yaml:"heartbeat_interval"`
	// AuditTimeout bounds the wait for survivors to replay before the
	// audit; default 30s.
	AuditTimeout Duration `yaml:"audit_timeout"`
}

// Axis is one matrix dimension: a PostgreSQL setting, or a path to a
// scenario value (failover.ttl, faults[0].at), and the values it takes.
type Axis struct {
	// Setting is the matrix key as written, lower case: a setting name
	// or a path.
	Setting string
	Values  []string
	Line    int
	// Path is set when Setting addresses a scenario value: its first
	// segment is one of the scenario's sections (see IsScenarioPath).
	Path bool
}

// Duration is a time.Duration written as a Go duration string ("250ms",
// "1m30s") in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as a Go duration string, so that JSON and YAML
// encodings read like the scenario file ("250ms").
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string such as "250ms" or "1m30s".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("parse duration: %w", err)
	}
	*d = Duration(v)
	return nil
}

// Plan is one variant of a scenario: the scenario with one combination of
// matrix values applied.
type Plan struct {
	// Scenario is the variant's scenario: with matrix paths, decoded and
	// validated with the plan's values in place; otherwise the file's.
	// PostgreSQL settings of the matrix are not in it: see NodeSettings.
	Scenario *Scenario
	Index    int               // 0-based position among the variants
	Name     string            // "synchronous_commit=on" or "default" without a matrix
	Values   map[string]string // the matrix values of this variant, paths included
	// ValueOrder lists the keys of Values in matrix order.
	ValueOrder []string
}
