package scenario

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Expand returns one Plan per combination of the matrix values of s: the
// cartesian product of the axes, the first axis varying slowest, values in
// file order. Without a matrix it returns a single plan named "default".
//
// Each plan's Scenario is the variant's own: with matrix paths
// (failover.ttl, faults[0].at) the scenario decoded and validated with
// the plan's values in place; without them, s itself (PostgreSQL settings
// apply through NodeSettings).
func Expand(s *Scenario) []Plan {
	if len(s.Matrix) == 0 {
		return []Plan{{Scenario: s, Index: 0, Name: "default", Values: map[string]string{}}}
	}
	total := 1
	for _, ax := range s.Matrix {
		total *= len(ax.Values)
	}
	if total == 0 {
		return nil
	}
	plans := make([]Plan, 0, min(total, MaxVariants))
	idx := make([]int, len(s.Matrix)) // the value index of each axis
	for i := range total {
		p := Plan{Scenario: s, Index: i, Values: make(map[string]string, len(s.Matrix))}
		parts := make([]string, len(s.Matrix))
		variant := 0 // the index of the combination of the path axes' values
		for a, ax := range s.Matrix {
			if ax.Path {
				variant = variant*len(ax.Values) + idx[a]
			}
		}
		if variant < len(s.variants) && s.variants[variant] != nil {
			p.Scenario = s.variants[variant]
		}
		for a, ax := range s.Matrix {
			v := ax.Values[idx[a]]
			p.Values[ax.Setting] = v
			p.ValueOrder = append(p.ValueOrder, ax.Setting)
			parts[a] = ax.Setting + "=" + v
		}
		p.Name = strings.Join(parts, ",")
		plans = append(plans, p)
		// Advance like an odometer: the last axis varies fastest.
		for a := len(idx) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < len(s.Matrix[a].Values) {
				break
			}
			idx[a] = 0
		}
	}
	return plans
}

// NodeNames returns the names of the cluster's nodes: "primary", then the
// replicas in order.
func (s *Scenario) NodeNames() []string {
	names := []string{PrimaryName}
	for _, r := range s.Topology.Replicas {
		names = append(names, r.Name)
	}
	return names
}

// SyncReplicas returns the names of the replicas with sync: true, in
// order.
func (s *Scenario) SyncReplicas() []string {
	var names []string
	for _, r := range s.Topology.Replicas {
		if r.Sync {
			names = append(names, r.Name)
		}
	}
	return names
}

// SlotsEnabled reports whether each replica gets a physical replication
// slot (topology.slots; true when unset).
func (s *Scenario) SlotsEnabled() bool {
	return s.Topology.Slots == nil || *s.Topology.Slots
}

// RepointEnabled reports whether the other replicas follow a promoted
// replica (failover.repoint; true when unset).
func (f Failover) RepointEnabled() bool {
	return f.Repoint == nil || *f.Repoint
}

// RateAt returns the target rate, in transactions per second, at offset t
// from the start of the workload: the rate of the last burst in the list
// that is active at t (At <= t < At+Duration), else workload.rate. Zero
// means unlimited.
func (s *Scenario) RateAt(t time.Duration) float64 {
	rate := s.Workload.Rate
	for _, b := range s.Workload.Bursts {
		if t >= b.At.D() && t-b.At.D() < b.Duration.D() {
			rate = b.Rate
		}
	}
	return rate
}

// Span is a stretch of the workload window: From inclusive to To
// exclusive, offsets from its start.
type Span struct{ From, To time.Duration }

// CapacitySpans returns where a paced workload (workload.rate > 0) runs
// at an unlimited rate, by RateAt: the bursts at rate 0 not overridden by
// a later burst, clipped to the window, adjacent ones merged, in time
// order. There every writer writes as fast as it can, so what the
// cluster takes there is its capacity. A workload at rate 0 has none: it
// is a closed loop throughout, and its throughput is its capacity.
func (s *Scenario) CapacitySpans() []Span {
	if s.Workload.Rate <= 0 {
		return nil
	}
	end := s.Duration.D()
	cuts := []time.Duration{0, end}
	for _, b := range s.Workload.Bursts {
		for _, t := range []time.Duration{b.At.D(), b.At.D() + b.Duration.D()} {
			if t > 0 && t < end {
				cuts = append(cuts, t)
			}
		}
	}
	slices.Sort(cuts)
	cuts = slices.Compact(cuts)
	var out []Span
	for i := 0; i+1 < len(cuts); i++ {
		from, to := cuts[i], cuts[i+1]
		if s.RateAt(from) != 0 {
			continue
		}
		if n := len(out); n > 0 && out[n-1].To == from {
			out[n-1].To = to
			continue
		}
		out = append(out, Span{from, to})
	}
	return out
}

// NodeSettings returns the postgresql.conf settings of node under p:
// topology.settings, then primary_settings (for the primary) or that
// replica's settings, then p's matrix values of PostgreSQL settings (not
// its matrix paths, which are in p.Scenario), later ones winning. Names
// are lower case. Settings the harness owns (port, primary_conninfo,
// synchronous_standby_names, ...) are never included; the harness adds
// them. A node name that is neither the primary nor a replica gets the
// settings common to all nodes.
func (p Plan) NodeSettings(node string) map[string]string {
	out := map[string]string{}
	add := func(m map[string]string) {
		for k, v := range m {
			if !IsHarnessSetting(k) {
				out[strings.ToLower(k)] = v
			}
		}
	}
	s := p.Scenario
	if len(s.Topology.Subscribers) > 0 {
		// Every node that may become the primary decodes for the
		// subscribers (a scenario's own wal_level is checked to agree).
		out["wal_level"] = "logical"
	}
	if a := s.Topology.Archive; a != nil {
		// Every node archives, so that a promoted standby does too; the
		// backend adds archive_command (validation keeps the scenario's
		// own archive settings out).
		out["archive_mode"] = "on"
		if a.Timeout > 0 {
			out["archive_timeout"] = fmt.Sprintf("%ds", int64(a.Timeout.D()/time.Second))
		}
	}
	add(s.Topology.Settings)
	if node == PrimaryName {
		add(s.Topology.PrimarySettings)
	} else {
		for _, r := range s.Topology.Replicas {
			if r.Name == node {
				add(r.Settings)
				break
			}
		}
	}
	for k, v := range p.Values {
		if !IsScenarioPath(k) && !IsHarnessSetting(k) {
			out[strings.ToLower(k)] = v
		}
	}
	return out
}

// SynchronousStandbyNames returns the primary's synchronous_standby_names
// for p, such as "FIRST 1 (replica1)" or "ANY 2 (replica1, replica2)", or
// "" when no replica is synchronous.
func (p Plan) SynchronousStandbyNames() string {
	return p.Scenario.syncNames(p.Scenario.SyncReplicas())
}

// SynchronousAfterFailover returns the synchronous_standby_names a
// promoted primary gets for the standbys that follow it (survivors, in
// topology order), by the topology's rule: the same method, the same count
// (at most the survivors), listing every survivor, the synchronous
// replicas among them first (so with FIRST n they are preferred). It
// is "" when the topology has no synchronous replica, when
// failover.synchronous is drop, or when no standby survives.
func (p Plan) SynchronousAfterFailover(survivors []string) string {
	s := p.Scenario
	if len(s.SyncReplicas()) == 0 || s.Failover.Synchronous == SyncDrop || len(survivors) == 0 {
		return ""
	}
	var first, rest []string
	for _, r := range s.Topology.Replicas {
		if !slices.Contains(survivors, r.Name) {
			continue
		}
		if r.Sync {
			first = append(first, r.Name)
		} else {
			rest = append(rest, r.Name)
		}
	}
	names := append(first, rest...)
	n := s.Topology.SyncCount
	if n <= 0 {
		n = len(s.SyncReplicas())
	}
	return s.syncNames(names, n)
}

// syncNames formats synchronous_standby_names for names; count, when
// given, is n in FIRST n / ANY n (default: topology.sync_count, at most
// the names).
func (s *Scenario) syncNames(names []string, count ...int) string {
	if len(names) == 0 {
		return ""
	}
	method := strings.ToUpper(s.Topology.SyncMethod)
	if method == "" {
		method = strings.ToUpper(DefaultSyncMethod)
	}
	n := s.Topology.SyncCount
	if len(count) > 0 {
		n = count[0]
	}
	if n <= 0 || n > len(names) {
		n = len(names)
	}
	quoted := make([]string, len(names))
	for i, name := range names {
		quoted[i] = quoteStandbyName(name)
	}
	return fmt.Sprintf("%s %d (%s)", method, n, strings.Join(quoted, ", "))
}

// plainStandbyName is a name synchronous_standby_names takes unquoted.
var plainStandbyName = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// quoteStandbyName double-quotes name for synchronous_standby_names when
// it is not a plain lower-case identifier or is one of the keywords FIRST
// and ANY.
func quoteStandbyName(name string) string {
	if plainStandbyName.MatchString(name) && name != "first" && name != "any" {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// Shifted returns the plan's scenario for repetition rep (0-based): a copy
// whose faults have moved by a jitter drawn from the seed, within
// ±Repeat.Jitter and kept inside the duration; and the shift. Repetition 0
// is never shifted.
func (p Plan) Shifted(rep int) (*Scenario, time.Duration) {
	s := p.Scenario
	if rep == 0 || s.Repeat.Jitter <= 0 || len(s.Faults) == 0 {
		return s, 0
	}
	rng := rand.New(rand.NewPCG(uint64(s.Seed), uint64(p.Index)<<32|uint64(rep)))
	j := s.Repeat.Jitter.D()
	shift := time.Duration(rng.Int64N(int64(2*j+1))) - j
	c := *s
	c.Faults = make([]Fault, len(s.Faults))
	for i, f := range s.Faults {
		at := f.At.D() + shift
		if at < 0 {
			at = 0
		}
		if at >= s.Duration.D() {
			at = s.Duration.D() - time.Millisecond
		}
		f.At = Duration(at)
		c.Faults[i] = f
	}
	return &c, shift
}
