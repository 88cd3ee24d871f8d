package scenario

import (
	"fmt"
	"time"
)

// Scenario is a decoded, validated scenario file with defaults applied.
type Scenario struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Seed        int64    `yaml:"seed"`     // default 1
	Duration    Duration `yaml:"duration"` // the measured workload window; required
	Backend     string   `yaml:"backend"`  // "local" (default)
	Topology    Topology `yaml:"topology"`
	Workload    Workload `yaml:"workload"`
	Faults      []Fault  `yaml:"faults"`
	Failover    Failover `yaml:"failover"`
	Probes      Probes   `yaml:"probes"`
	// Matrix is in file order; each axis is a setting and its values.
	Matrix []Axis `yaml:"-"`

	// File is the path the scenario was read from, Source its bytes.
	File   string `yaml:"-"`
	Source []byte `yaml:"-"`
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
}

// Burst sets the rate to Rate from At for Duration.
type Burst struct {
	At       Duration `yaml:"at"`
	Duration Duration `yaml:"duration"`
	Rate     float64  `yaml:"rate"` // 0 = unlimited during the burst
}

// Fault kinds.
const (
	FaultKill = "kill"
)

// FaultKinds lists the fault kinds this build knows, for error messages.
var FaultKinds = []string{FaultKill}

// Fault is one entry of the fault timeline.
type Fault struct {
	At   Duration `yaml:"at"`
	Kind string   `yaml:"kind"`
	Node string   `yaml:"node"`
	Line int      `yaml:"-"` // line in the scenario file, for messages
}

// Failover modes.
const (
	FailoverNone    = "none"
	FailoverPromote = "promote"
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
}

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

// Axis is one matrix dimension: a setting and the values it takes.
type Axis struct {
	Setting string
	Values  []string
	Line    int
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
	Scenario *Scenario
	Index    int               // 0-based position among the variants
	Name     string            // "synchronous_commit=on" or "default" without a matrix
	Values   map[string]string // the matrix values of this variant
	// ValueOrder lists the keys of Values in matrix order.
	ValueOrder []string
}
