package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/fault"
)

// Backend names.
const (
	BackendLocal  = "local"
	BackendDocker = "docker"
	// BackendExternal is a cluster the user runs: the harness connects,
	// observes and writes to its own schema; faults are the user's hooks.
	BackendExternal = "external"
)

// Backends lists the backends a scenario may name.
var Backends = []string{BackendLocal, BackendDocker, BackendExternal}

// Sync methods: how synchronous_standby_names picks the standbys a commit
// waits for.
const (
	SyncFirst = "first" // FIRST n (...): the first n connected, by priority
	SyncAny   = "any"   // ANY n (...): any n, quorum
)

// SyncMethods lists the valid topology.sync_method values.
var SyncMethods = []string{SyncFirst, SyncAny}

// Arrival processes of the workload.
const (
	ArrivalPoisson = "poisson"
	ArrivalUniform = "uniform"
)

// Arrivals lists the valid workload.arrival values.
var Arrivals = []string{ArrivalPoisson, ArrivalUniform}

// FailoverModes lists the valid failover.mode values.
var FailoverModes = []string{FailoverNone, FailoverPromote, FailoverPatroni, FailoverExternal}

// ClientPaths lists the valid client.path values.
var ClientPaths = []string{PathDirect, PathHAProxy, PathPgBouncer}

// PoolModes lists the valid client.pgbouncer.pool_mode values.
var PoolModes = []string{PoolSession, PoolTransaction, PoolStatement}

// InFrontOfs lists the valid client.pgbouncer.in_front_of values.
var InFrontOfs = []string{InFrontOfHAProxy, InFrontOfNodes}

// Patroni's defaults (its dynamic configuration's) and the least values
// it takes (patroni/validator.py and docs/dynamic_configuration.rst).
const (
	DefaultTTLSeconds                 = 30
	DefaultLoopWaitSeconds            = 10
	DefaultRetryTimeoutSeconds        = 10
	DefaultMaximumLagOnFailoverBytes  = 1048576
	DefaultPrimaryStartTimeoutSeconds = 300
	DefaultEtcdMembers                = 1
	MinTTLSeconds                     = 20
	MinLoopWaitSeconds                = 1
	MinRetryTimeoutSeconds            = 3
)

// Defaults of the client path.
const (
	DefaultClientPath    = PathDirect
	DefaultHAProxyInter  = Duration(3 * time.Second)
	DefaultHAProxyFall   = 3
	DefaultHAProxyRise   = 2
	DefaultPoolMode      = PoolTransaction
	DefaultPoolSize      = 20
	DefaultInFrontOf     = InFrontOfHAProxy
	maxPoolSize          = 10000
	maxHAProxyFallOrRise = 1000
)

// Defaults applied to keys a scenario leaves out.
const (
	DefaultSeed              = 1
	DefaultBackend           = BackendLocal
	DefaultSyncMethod        = SyncFirst
	DefaultWriters           = 8
	DefaultArrival           = ArrivalPoisson
	DefaultMaxQueue          = 100000
	DefaultFailoverMode      = FailoverNone
	DefaultDetectAfter       = Duration(time.Second)
	DefaultProbeInterval     = Duration(10 * time.Millisecond)
	DefaultLagInterval       = Duration(100 * time.Millisecond)
	DefaultHeartbeatInterval = Duration(100 * time.Millisecond)
	DefaultAuditTimeout      = Duration(30 * time.Second)
)

// Limits checked by validation.
const (
	// MinProbeInterval is the shortest lag_interval and heartbeat_interval.
	MinProbeInterval = Duration(10 * time.Millisecond)
	// MaxVariants is the most plans a matrix may expand to.
	MaxVariants = 1000
	// maxNameLen bounds scenario and replica names.
	maxNameLen = 63
)

var (
	// nameRE is what a scenario name must match; it names a directory.
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	// replicaNameRE is what a replica name must match; it is also its
	// application_name, replication slot name and directory name.
	replicaNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// validate applies defaults to s and records every problem left.
func (d *decoder) validate(s *Scenario) {
	d.validateTop(s)
	d.validateTopology(s)
	d.validateWorkload(s)
	d.validateFaults(s)
	d.validateReads(s)
	d.validateRepeat(s)
	d.validateFailover(s)
	d.validateClient(s)
	d.validateExternal(s)
	d.validateProbes(s)
	d.validateMatrix(s)
	d.validateThresholds(s)
	d.validateDrills(s)
}

// seen reports whether path was written in the file (with or without a
// value).
func (d *decoder) seen(path string) bool {
	_, ok := d.pos[path]
	return ok
}

// required records a problem when path is missing or empty, and reports
// whether it has a usable value.
func (d *decoder) required(path, want string) bool {
	switch {
	case d.set[path]:
		return true
	case !d.seen(path):
		parent := parentPath(path)
		key := path[len(parent):]
		if len(key) > 0 && key[0] == '.' {
			key = key[1:]
		}
		if parent == "" {
			d.problem(d.at(""), "missing required key %q (%s)", key, want)
		} else {
			d.problemAt(parent, "missing required key %q (%s)", key, want)
		}
	case d.nulls[path]:
		d.problemAt(path, "needs a value (%s)", want)
	}
	return false
}

// enum records a problem when the value at path is not one of valid.
func (d *decoder) enum(path, value, what string, valid []string) {
	if !slices.Contains(valid, value) {
		d.problemAt(path, "%q is not a valid %s%s; valid: %s", clip(value), what, didYouMean(value, valid), quoteList(valid))
	}
}

func (d *decoder) validateTop(s *Scenario) {
	if d.required("name", "lower-case letters, digits, '.', '_' and '-'") {
		if !nameRE.MatchString(s.Name) || len(s.Name) > maxNameLen {
			d.problemAt("name", "%q is not a valid name; use at most %d lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (it names the results directory)", clip(s.Name), maxNameLen)
		}
	}
	if !d.set["seed"] {
		s.Seed = DefaultSeed
	}
	if d.required("duration", "a Go duration such as 30s or 2m") && s.Duration <= 0 {
		d.problemAt("duration", "must be positive, got %s", s.Duration)
	}
	if d.set["backend"] {
		d.enum("backend", s.Backend, "backend", Backends)
	} else {
		s.Backend = DefaultBackend
	}
}

func (d *decoder) validateTopology(s *Scenario) {
	t := &s.Topology
	const tp = "topology"
	firstLine := map[string]int{}
	nsync := 0
	for i := range t.Replicas {
		r := &t.Replicas[i]
		rp := index(tp+".replicas", i)
		np := rp + ".name"
		if r.Sync {
			nsync++
		}
		if !d.set[np] {
			if d.nulls[np] {
				d.problemAt(np, "needs a value, or leave the key out for %q", fmt.Sprintf("replica%d", i+1))
			}
			r.Name = fmt.Sprintf("replica%d", i+1)
		} else {
			switch {
			case r.Name == PrimaryName:
				d.problemAt(np, "%q is the name of the primary; choose another", r.Name)
				continue
			case fault.IsService(r.Name):
				d.problemAt(np, "%q is the name of a service a fault may target (etcd1.., haproxy, pgbouncer); choose another", r.Name)
				continue
			case !replicaNameRE.MatchString(r.Name) || len(r.Name) > maxNameLen:
				d.problemAt(np, "%q is not a valid replica name; use at most %d lower-case letters, digits and '_', starting with a letter (it is also the replication slot name)", clip(r.Name), maxNameLen)
				continue
			}
		}
		line := d.at(rp).Line
		if first, dup := firstLine[r.Name]; dup {
			d.problemAt(rp, "duplicate replica name %q (first at line %d)", r.Name, first)
			continue
		}
		firstLine[r.Name] = line
	}
	if d.set[tp+".sync_method"] {
		d.enum(tp+".sync_method", t.SyncMethod, "sync_method", SyncMethods)
	} else {
		t.SyncMethod = DefaultSyncMethod
	}
	if d.set[tp+".sync_count"] {
		switch {
		case nsync == 0:
			d.problemAt(tp+".sync_count", "is %d but no replica has sync: true", t.SyncCount)
		case t.SyncCount < 1:
			d.problemAt(tp+".sync_count", "must be between 1 and %d (the number of sync replicas), got %d", nsync, t.SyncCount)
		case t.SyncCount > nsync:
			d.problemAt(tp+".sync_count", "is %d, larger than the number of sync replicas (%d)", t.SyncCount, nsync)
		}
	} else {
		t.SyncCount = nsync
	}
	if t.Slots == nil {
		yes := true
		t.Slots = &yes
	}
	d.validateSubscribers(s, firstLine)
	d.validateArchive(s)
	d.validateImage(s)
}

// ArchiveSettings are the settings topology.archive sets on every node; a
// scenario that has it may not set them itself (archive_library would
// take archiving away from archive_command).
var ArchiveSettings = []string{"archive_mode", "archive_command", "archive_timeout", "archive_library"}

// maxArchiveTimeout is the largest archive_timeout PostgreSQL takes
// (INT_MAX seconds).
const maxArchiveTimeout = Duration(1<<31-1) * Duration(time.Second)

// validateArchive checks topology.archive's timeout, and that no settings
// of the scenario's own would archive another way.
func (d *decoder) validateArchive(s *Scenario) {
	t := &s.Topology
	if t.Archive == nil {
		return
	}
	const ap = "topology.archive"
	if tp := ap + ".timeout"; d.set[tp] {
		switch to := t.Archive.Timeout; {
		case to < 0:
			d.problemAt(tp, "must not be negative, got %s; 0 (the default) is no archive_timeout", to)
		case to%Duration(time.Second) != 0:
			d.problemAt(tp, "%s is not whole seconds, archive_timeout's unit; use 0 (none) or a value such as 1s or 60s", to)
		case to > maxArchiveTimeout:
			d.problemAt(tp, "%s is more than archive_timeout takes (%d s)", to, int64(maxArchiveTimeout/Duration(time.Second)))
		}
	}
	check := func(path string, settings map[string]string) {
		for _, name := range ArchiveSettings {
			if _, ok := settings[name]; ok {
				d.problemAt(path+"."+name, "is set by topology.archive on every node; remove it (archive_timeout is topology.archive.timeout), or remove topology.archive to archive your own way")
			}
		}
	}
	check("topology.settings", t.Settings)
	check("topology.primary_settings", t.PrimarySettings)
	for i, r := range t.Replicas {
		check(index("topology.replicas", i)+".settings", r.Settings)
	}
	for _, ax := range s.Matrix {
		if !ax.Path && slices.Contains(ArchiveSettings, ax.Setting) {
			d.problemAt("matrix."+ax.Setting, "%s is set by topology.archive on every node; vary topology.archive.timeout instead, or remove topology.archive", ax.Setting)
		}
	}
}

// ArchiveEnabled reports whether the scenario archives WAL
// (topology.archive).
func (s *Scenario) ArchiveEnabled() bool { return s.Topology.Archive != nil }

// validateSubscribers names the subscribers, each apart from the nodes,
// and checks that no node's wal_level keeps logical decoding out.
func (d *decoder) validateSubscribers(s *Scenario, taken map[string]int) {
	t := &s.Topology
	if len(t.Subscribers) == 0 {
		return
	}
	for i := range t.Subscribers {
		sub := &t.Subscribers[i]
		sp := index("topology.subscribers", i)
		np := sp + ".name"
		if !d.set[np] {
			sub.Name = fmt.Sprintf("sub%d", i+1)
		} else if sub.Name == PrimaryName || !replicaNameRE.MatchString(sub.Name) || len(sub.Name) > maxNameLen || fault.IsService(sub.Name) {
			d.problemAt(np, "%q is not a valid subscriber name; use at most %d lower-case letters, digits and '_', starting with a letter, not primary or a service's name (it is also the subscription's and its slot's name)", clip(sub.Name), maxNameLen)
			continue
		}
		if first, dup := taken[sub.Name]; dup {
			d.problemAt(sp, "%q is already the name of a replica or subscriber (line %d)", sub.Name, first)
			continue
		}
		taken[sub.Name] = d.at(sp).Line
	}
	check := func(path string, settings map[string]string) {
		if v, ok := settings["wal_level"]; ok && v != "logical" {
			d.problemAt(path+".wal_level", "is %s, but topology.subscribers need logical decoding on every node that may be primary: set logical or remove it", v)
		}
	}
	check("topology.settings", t.Settings)
	check("topology.primary_settings", t.PrimarySettings)
	for i, r := range t.Replicas {
		check(index("topology.replicas", i)+".settings", r.Settings)
	}
}

// SubscriberNames lists the logical subscribers' names, in order.
func (s *Scenario) SubscriberNames() []string {
	var out []string
	for _, sub := range s.Topology.Subscribers {
		out = append(out, sub.Name)
	}
	return out
}

func (d *decoder) validateWorkload(s *Scenario) {
	w := &s.Workload
	const wp = "workload"
	if d.set[wp+".writers"] {
		if w.Writers < 1 {
			d.problemAt(wp+".writers", "must be at least 1, got %d", w.Writers)
		}
	} else {
		w.Writers = DefaultWriters
	}
	if d.set[wp+".rate"] && w.Rate < 0 {
		d.problemAt(wp+".rate", "must not be negative, got %g (0 means as fast as possible)", w.Rate)
	}
	if d.set[wp+".arrival"] {
		d.enum(wp+".arrival", w.Arrival, "arrival", Arrivals)
	} else {
		w.Arrival = DefaultArrival
	}
	if d.set[wp+".initial_orders"] && w.InitialOrders < 0 {
		d.problemAt(wp+".initial_orders", "must not be negative, got %d", w.InitialOrders)
	}
	if d.set[wp+".max_queue"] {
		if w.MaxQueue < 0 {
			d.problemAt(wp+".max_queue", "must not be negative, got %d", w.MaxQueue)
		}
	} else {
		w.MaxQueue = DefaultMaxQueue
	}
	durOK := d.set["duration"] && s.Duration > 0
	for i, b := range w.Bursts {
		bp := index(wp+".bursts", i)
		if !d.set[bp] {
			continue
		}
		atOK := d.required(bp+".at", "a duration such as 10s")
		lenOK := d.required(bp+".duration", "a duration such as 5s")
		if d.required(bp+".rate", "transactions per second, 0 for as fast as possible") && b.Rate < 0 {
			d.problemAt(bp+".rate", "must not be negative, got %g (0 means as fast as possible)", b.Rate)
		}
		if atOK && b.At < 0 {
			d.problemAt(bp+".at", "must not be negative, got %s", b.At)
			atOK = false
		}
		if lenOK && b.Duration <= 0 {
			d.problemAt(bp+".duration", "must be positive, got %s", b.Duration)
			lenOK = false
		}
		if atOK && lenOK && durOK && (b.At >= s.Duration || b.Duration > s.Duration-b.At) {
			d.problemAt(bp, "burst at %s for %s ends at %s, after the scenario's duration %s; a burst must end by %s", b.At, b.Duration, endOf(b), s.Duration, s.Duration)
		}
	}
}

func (d *decoder) validateRepeat(s *Scenario) {
	r := &s.Repeat
	if d.set["repeat.times"] && (r.Times < 1 || r.Times > 100) {
		d.problemAt("repeat.times", "must be between 1 and 100, got %d", r.Times)
	}
	if r.Times < 1 {
		r.Times = 1
	}
	if r.Jitter < 0 {
		d.problemAt("repeat.jitter", "must not be negative, got %s", r.Jitter)
	}
}

func (d *decoder) validateReads(s *Scenario) {
	r := s.Workload.Reads
	if r == nil {
		return
	}
	const rp = "workload.reads"
	if d.required(rp+".rate", "reads per second per node, such as 200") && r.Rate <= 0 {
		d.problemAt(rp+".rate", "must be positive, got %g", r.Rate)
	}
	nodes := s.NodeNames()
	for i, n := range r.Nodes {
		if !slices.Contains(nodes, n) {
			d.problemAt(index(rp+".nodes", i), "no node named %q%s; nodes: %s", clip(n), didYouMean(n, nodes), quoteList(nodes))
		}
	}
	if len(r.Nodes) == 0 {
		for _, rep := range s.Topology.Replicas {
			r.Nodes = append(r.Nodes, rep.Name)
		}
	}
}

func (d *decoder) validateFaults(s *Scenario) {
	nodes := s.NodeNames()
	durOK := d.set["duration"] && s.Duration > 0
	kinds := fault.Names()
	for i, f := range s.Faults {
		fp := index("faults", i)
		if !d.set[fp] {
			continue
		}
		if d.required(fp+".at", "a duration from the start, such as 18s") {
			switch {
			case f.At < 0:
				d.problemAt(fp+".at", "must not be negative, got %s", f.At)
			case durOK && f.At >= s.Duration:
				d.problemAt(fp+".at", "%s is not within the scenario's duration; a fault must fire at or after 0s and before %s", f.At, s.Duration)
			}
		}
		if d.required(fp+".kind", "one of "+quoteList(kinds)) && f.Spec == nil {
			d.enum(fp+".kind", d.kindNames[fp], "fault kind", kinds)
		}
		if f.Spec == nil {
			continue
		}
		if k, _ := fault.Lookup(f.Kind()); k.Once && d.set[fp+".for"] {
			d.problemAt(fp+".for", "%q does not apply to a %s fault", "for", f.Kind())
		} else if d.set[fp+".for"] && f.For <= 0 {
			d.problemAt(fp+".for", "must be positive, got %s", f.For)
		}
		f.Spec.Validate(faultCheck{d: d, fp: fp, nodes: nodes, patroni: s.Failover.Mode == FailoverPatroni, services: s.Services(),
			mode: s.Failover.Mode, backend: s.Backend})
	}
}

// Services lists the services beside the nodes that a kill, stop or
// pause may target: etcd1..etcdN under failover.mode patroni, haproxy and
// pgbouncer when the client path goes through them.
func (s *Scenario) Services() []string {
	var out []string
	if s.Failover.Mode == FailoverPatroni {
		n := s.Failover.EtcdMembers
		if n != 1 && n != 3 {
			n = DefaultEtcdMembers
		}
		for i := 1; i <= n; i++ {
			out = append(out, fault.EtcdMember(i))
		}
	}
	if s.Client.HasHAProxy() {
		out = append(out, fault.ServiceHAProxy)
	}
	if s.Client.HasPgBouncer() {
		out = append(out, fault.ServicePgBouncer)
	}
	return out
}

// faultCheck is the fault.Check of one fault: keys relative to it.
type faultCheck struct {
	d        *decoder
	fp       string
	nodes    []string
	patroni  bool
	services []string
	mode     string
	backend  string
}

func (c faultCheck) path(key string) string {
	if key == "" {
		return c.fp
	}
	return c.fp + "." + key
}

func (c faultCheck) Set(key string) bool { return c.d.set[c.path(key)] }
func (c faultCheck) Problem(key, format string, args ...any) {
	c.d.problemAt(c.path(key), format, args...)
}
func (c faultCheck) Required(key, want string) bool { return c.d.required(c.path(key), want) }
func (c faultCheck) Enum(key, value, what string, valid []string) {
	c.d.enum(c.path(key), value, what, valid)
}
func (c faultCheck) Nodes() []string   { return c.nodes }
func (c faultCheck) Clients() []string { return ClientNames }
func (c faultCheck) Patroni() bool     { return c.patroni }
func (c faultCheck) Mode() string {
	if c.mode == "" {
		return FailoverNone
	}
	return c.mode
}
func (c faultCheck) Backend() string    { return c.backend }
func (c faultCheck) Services() []string { return c.services }

func (c faultCheck) Target(key, value string) {
	valid := append(slices.Clone(c.nodes), c.services...)
	if !c.Required(key, "one of "+quoteList(valid)) || slices.Contains(valid, value) {
		return
	}
	why := ""
	switch {
	case fault.IsService(value) && strings.HasPrefix(value, "etcd") && !c.patroni:
		why = "; etcd members are there under failover.mode patroni only"
	case fault.IsService(value) && strings.HasPrefix(value, "etcd"):
		why = "; failover.etcd_members says how many etcd members there are"
	case value == fault.ServiceHAProxy || value == fault.ServicePgBouncer:
		why = fmt.Sprintf("; %s is there when client.path goes through it", value)
	}
	if len(c.services) == 0 {
		c.d.problemAt(c.path(key), "no node named %q%s%s; nodes: %s", clip(value), didYouMean(value, c.nodes), why, quoteList(c.nodes))
		return
	}
	c.d.problemAt(c.path(key), "no node or service named %q%s%s; valid: %s", clip(value), didYouMean(value, valid), why, quoteList(valid))
}

func (c faultCheck) Known(key string, names, valid []string, what string) {
	for i, n := range names {
		if !slices.Contains(valid, n) {
			c.d.problemAt(index(c.path(key), i), "no %s named %q%s; valid: %s", what, clip(n), didYouMean(n, valid), quoteList(valid))
		}
	}
}

func (c faultCheck) Node(key, value string) {
	if c.Required(key, "one of "+quoteList(c.nodes)) && !slices.Contains(c.nodes, value) {
		why := ""
		if slices.Contains(c.services, value) {
			why = fmt.Sprintf("; %s may be the node of kill, stop and pause only", value)
		}
		c.d.problemAt(c.path(key), "no node named %q%s%s; nodes: %s", clip(value), didYouMean(value, c.nodes), why, quoteList(c.nodes))
	}
}

func (d *decoder) validateFailover(s *Scenario) {
	f := &s.Failover
	const fp = "failover"
	if d.set[fp+".mode"] {
		d.enum(fp+".mode", f.Mode, "failover mode", FailoverModes)
		if f.Mode == FailoverPromote && len(s.Topology.Replicas) == 0 {
			d.problemAt(fp+".mode", "promote needs at least one replica in topology.replicas")
		}
	} else {
		f.Mode = DefaultFailoverMode
	}
	if f.Mode == FailoverPatroni {
		d.validatePatroni(s)
		return
	}
	for _, k := range patroniKeys {
		if d.seen(fp + "." + k) {
			d.problemAt(fp+"."+k, "applies under failover.mode patroni only; failover.mode is %s", f.Mode)
		}
	}
	d.validatePromote(s)
}

// validatePromote checks the keys of failover.mode promote (and none).
func (d *decoder) validatePromote(s *Scenario) {
	f := &s.Failover
	const fp = "failover"
	if d.set[fp+".detect_after"] {
		if f.DetectAfter <= 0 {
			d.problemAt(fp+".detect_after", "must be positive, got %s", f.DetectAfter)
		}
	} else {
		f.DetectAfter = DefaultDetectAfter
	}
	if d.set[fp+".probe_interval"] {
		if f.ProbeInterval <= 0 {
			d.problemAt(fp+".probe_interval", "must be positive, got %s", f.ProbeInterval)
		}
	} else {
		f.ProbeInterval = DefaultProbeInterval
	}
	if f.Repoint == nil {
		yes := true
		f.Repoint = &yes
	}
	if d.set[fp+".synchronous"] {
		d.enum(fp+".synchronous", f.Synchronous, "failover.synchronous", []string{SyncKeep, SyncDrop})
	} else {
		f.Synchronous = SyncKeep
	}
}

// patroniOnlyNot says, for each promote key that makes no sense under
// Patroni, what Patroni does instead.
var patroniOnlyNot = map[string]string{
	"detect_after": "Patroni declares the primary dead by its leader lock: use ttl, loop_wait and retry_timeout",
	"repoint":      "Patroni makes the replicas follow the new leader itself",
	"synchronous":  "Patroni keeps synchronous replication by synchronous_mode: use synchronous_mode (and synchronous_mode_strict)",
}

// validatePatroni checks failover under mode patroni: Patroni's own
// rules, and the promote keys that do not apply. probe_interval applies:
// the harness still watches the nodes for the timeline.
func (d *decoder) validatePatroni(s *Scenario) {
	f := &s.Failover
	const fp = "failover"
	for _, k := range promoteKeys {
		if why, ok := patroniOnlyNot[k]; ok && d.seen(fp+"."+k) {
			d.problemAt(fp+"."+k, "does not apply under failover.mode patroni: %s", why)
		}
	}
	if d.set[fp+".probe_interval"] {
		if f.ProbeInterval <= 0 {
			d.problemAt(fp+".probe_interval", "must be positive, got %s", f.ProbeInterval)
		}
	} else {
		f.ProbeInterval = DefaultProbeInterval
	}
	f.DetectAfter = 0
	f.Repoint = nil
	least := func(key string, v *int, def, min int) bool {
		p := fp + "." + key
		if !d.set[p] {
			*v = def
			return !d.seen(p) || d.nulls[p] // a bad value is reported already
		}
		if *v < min {
			d.problemAt(p, "must be at least %d (Patroni's least %s), got %d", min, key, *v)
			return false
		}
		return true
	}
	ttlOK := least("ttl", &f.TTLSeconds, DefaultTTLSeconds, MinTTLSeconds)
	waitOK := least("loop_wait", &f.LoopWaitSeconds, DefaultLoopWaitSeconds, MinLoopWaitSeconds)
	retryOK := least("retry_timeout", &f.RetryTimeoutSeconds, DefaultRetryTimeoutSeconds, MinRetryTimeoutSeconds)
	if ttlOK && waitOK && retryOK && f.LoopWaitSeconds+2*f.RetryTimeoutSeconds > f.TTLSeconds {
		at := fp
		for _, k := range []string{"ttl", "retry_timeout", "loop_wait"} {
			if d.set[fp+"."+k] {
				at = fp + "." + k
				break
			}
		}
		d.problemAt(at, "loop_wait (%d) + 2 × retry_timeout (%d) = %d is more than ttl (%d); Patroni requires loop_wait + 2 × retry_timeout <= ttl: raise ttl to %d or lower the others",
			f.LoopWaitSeconds, f.RetryTimeoutSeconds, f.LoopWaitSeconds+2*f.RetryTimeoutSeconds, f.TTLSeconds, f.LoopWaitSeconds+2*f.RetryTimeoutSeconds)
	}
	if d.set[fp+".maximum_lag_on_failover"] {
		if f.MaximumLagOnFailoverBytes < 0 {
			d.problemAt(fp+".maximum_lag_on_failover", "must not be negative, got %d (bytes)", f.MaximumLagOnFailoverBytes)
		}
	} else {
		f.MaximumLagOnFailoverBytes = DefaultMaximumLagOnFailoverBytes
	}
	if d.set[fp+".primary_start_timeout"] {
		if f.PrimaryStartTimeoutSeconds < 0 {
			d.problemAt(fp+".primary_start_timeout", "must not be negative, got %d (seconds; 0 fails over at once)", f.PrimaryStartTimeoutSeconds)
		}
	} else {
		f.PrimaryStartTimeoutSeconds = DefaultPrimaryStartTimeoutSeconds
	}
	if d.set[fp+".etcd_members"] {
		if f.EtcdMembers != 1 && f.EtcdMembers != 3 {
			d.problemAt(fp+".etcd_members", "must be 1 or 3, got %d", f.EtcdMembers)
		}
	} else {
		f.EtcdMembers = DefaultEtcdMembers
	}
	sync := s.SyncReplicas()
	if d.set[fp+".synchronous_mode"] {
		if !f.SynchronousMode && len(sync) > 0 {
			d.problemAt(fp+".synchronous_mode", "is false, but topology.replicas has sync: true (%s); under patroni, Patroni names the synchronous standbys: set synchronous_mode: true or drop sync: true", quoteList(sync))
		}
	} else {
		f.SynchronousMode = len(sync) > 0
	}
	if f.SynchronousModeStrict && !f.SynchronousMode {
		d.problemAt(fp+".synchronous_mode_strict", "needs synchronous_mode: true (with a synchronous standby or a replica with sync: true)")
	}
	if d.set["topology.sync_method"] && s.Topology.SyncMethod == SyncAny {
		d.problemAt("topology.sync_method", "any (quorum) is not supported under failover.mode patroni: Patroni's synchronous_mode takes the first sync_count standbys it chooses; use first")
	}
}

// validateClient checks the client path and applies its defaults.
func (d *decoder) validateClient(s *Scenario) {
	c := &s.Client
	const cp = "client"
	if d.set[cp+".path"] {
		d.enum(cp+".path", c.Path, "client path", ClientPaths)
	} else {
		c.Path = DefaultClientPath
	}
	if d.set[cp+".pgbouncer.in_front_of"] {
		d.enum(cp+".pgbouncer.in_front_of", c.PgBouncer.InFrontOf, "in_front_of", InFrontOfs)
	}
	if c.HasPgBouncer() {
		b := &c.PgBouncer
		if d.set[cp+".pgbouncer.pool_mode"] {
			d.enum(cp+".pgbouncer.pool_mode", b.PoolMode, "pool_mode", PoolModes)
		} else {
			b.PoolMode = DefaultPoolMode
		}
		if d.set[cp+".pgbouncer.pool_size"] {
			if b.PoolSize < 1 || b.PoolSize > maxPoolSize {
				d.problemAt(cp+".pgbouncer.pool_size", "must be between 1 and %d, got %d", maxPoolSize, b.PoolSize)
			}
		} else {
			b.PoolSize = DefaultPoolSize
		}
		if !d.set[cp+".pgbouncer.in_front_of"] {
			b.InFrontOf = DefaultInFrontOf
		}
	} else if d.seen(cp+".pgbouncer") && !d.clientVaries {
		d.problemAt(cp+".pgbouncer", "applies when client.path is pgbouncer; client.path is %s", c.Path)
	}
	if c.HasHAProxy() {
		h := &c.HAProxy
		if d.set[cp+".haproxy.inter"] {
			if h.Inter <= 0 || h.Inter%Duration(time.Millisecond) != 0 {
				d.problemAt(cp+".haproxy.inter", "must be a positive whole number of milliseconds (HAProxy's unit), got %s", h.Inter)
			}
		} else {
			h.Inter = DefaultHAProxyInter
		}
		count := func(key string, v *int, def int) {
			p := cp + ".haproxy." + key
			if !d.set[p] {
				*v = def
			} else if *v < 1 || *v > maxHAProxyFallOrRise {
				d.problemAt(p, "must be between 1 and %d checks, got %d", maxHAProxyFallOrRise, *v)
			}
		}
		count("fall", &h.Fall, DefaultHAProxyFall)
		count("rise", &h.Rise, DefaultHAProxyRise)
	} else if d.seen(cp+".haproxy") && !d.clientVaries {
		d.problemAt(cp+".haproxy", "applies when the client path goes through HAProxy (client.path haproxy, or pgbouncer with in_front_of: haproxy); client.path is %s", clientPathText(c))
	}
}

// clientPathText names the client path for messages.
func clientPathText(c *Client) string {
	if c.Path == PathPgBouncer {
		return "pgbouncer in front of " + c.PgBouncer.InFrontOf
	}
	return c.Path
}

func (d *decoder) validateProbes(s *Scenario) {
	p := &s.Probes
	interval := func(key string, v *Duration, def Duration) {
		path := "probes." + key
		if !d.set[path] {
			*v = def
			return
		}
		if *v < MinProbeInterval {
			d.problemAt(path, "must be at least %s, got %s", MinProbeInterval, *v)
		}
	}
	interval("lag_interval", &p.LagInterval, DefaultLagInterval)
	interval("heartbeat_interval", &p.HeartbeatInterval, DefaultHeartbeatInterval)
	if d.set["probes.audit_timeout"] {
		if p.AuditTimeout <= 0 {
			d.problemAt("probes.audit_timeout", "must be positive, got %s", p.AuditTimeout)
		}
	} else {
		p.AuditTimeout = DefaultAuditTimeout
	}
}

func (d *decoder) validateMatrix(s *Scenario) {
	n := 1
	for _, ax := range s.Matrix {
		n *= len(ax.Values)
		if n > MaxVariants {
			d.problemAt("matrix", "expands to more than %d variants; use fewer values or axes", MaxVariants)
			return
		}
	}
}

// endOf returns when b ends, saturating instead of overflowing.
func endOf(b Burst) Duration {
	if b.Duration > Duration(1<<63-1)-b.At {
		return Duration(1<<63 - 1)
	}
	return b.At + b.Duration
}
