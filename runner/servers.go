package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// FailoverSlotsMajor is the first PostgreSQL major version with failover
// slots: a logical slot synchronized to the standbys
// (sync_replication_slots), so that a subscription can follow a promoted
// standby.
const FailoverSlotsMajor = 17

// imageProber is a backend that runs images of the user's choosing
// (topology.image) and can say which server each has (docker).
type imageProber interface {
	ProbeImage(image string) (version string, err error)
}

// serverVersion is the version a variant of s runs on be: its image's,
// probed (and cached by the backend), when it names one.
func serverVersion(be cluster.Backend, s *scenario.Scenario) (string, error) {
	if s.Topology.Image != "" {
		if ip, ok := be.(imageProber); ok {
			return ip.ProbeImage(s.Topology.Image)
		}
	}
	return be.ServerVersion(), nil
}

// ServerVersions lists the server versions the plans run on be, each
// once, in plan order (the backend's own when no plan names an image).
func ServerVersions(be cluster.Backend, plans []scenario.Plan) []string {
	var out []string
	for _, p := range plans {
		v, err := serverVersion(be, p.Scenario)
		if err != nil || v == "" {
			v = be.ServerVersion()
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// majorOf is the major version of a server version ("17.6" -> 17,
// "17beta1" -> 17), 0 when unknown.
func majorOf(version string) int {
	v := strings.TrimSpace(version)
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, _ := strconv.Atoi(v[:i])
	return n
}

// CheckServers checks, before anything starts, that each variant's server
// can run what the scenario asks of it on be: topology.image only on a
// backend that runs images; each image there and usable (a probe error,
// errors.Is docker.ErrNoImage and the like); failover slots asked for
// (topology.subscribers[].failover_slots: true) only on PostgreSQL 17
// and later, and with the standbys' physical slots. A problem of the
// scenario is a *scenario.Errors naming the file and line.
func CheckServers(s *scenario.Scenario, be cluster.Backend) error {
	if err := scenario.ImageProblem(s, be.Name()); err != nil {
		return err
	}
	var probs scenario.Errors
	seen := map[string]bool{}
	plans := scenario.Expand(s)
	for _, p := range plans {
		vs := p.Scenario
		runs := "the server runs"
		if len(plans) > 1 {
			runs = "variant " + p.Name + " runs"
		}
		version, err := serverVersion(be, vs)
		if err != nil {
			return fmt.Errorf("variant %s: %w", p.Name, err)
		}
		for i, sub := range vs.Topology.Subscribers {
			if sub.FailoverSlots == nil || !*sub.FailoverSlots {
				continue
			}
			var msg string
			switch {
			case majorOf(version) < FailoverSlotsMajor:
				msg = fmt.Sprintf("topology.subscribers[%d].failover_slots is true, but %s PostgreSQL %s: failover slots need PostgreSQL %d or later; "+
					"set false, or leave it out (on where the server has them)", i, runs, orUnknown(version), FailoverSlotsMajor)
			case !vs.SlotsEnabled():
				msg = fmt.Sprintf("topology.subscribers[%d].failover_slots is true, but topology.slots is false: a failover slot is synchronized only to standbys streaming through physical slots; "+
					"set topology.slots true, or failover_slots false", i)
			default:
				continue
			}
			if seen[msg] {
				continue
			}
			seen[msg] = true
			probs = append(probs, scenario.Problem{File: s.File, Line: sub.FailoverSlotsLine, Msg: msg})
		}
	}
	if len(probs) > 0 {
		return &probs
	}
	return nil
}

func orUnknown(v string) string {
	if v == "" {
		return "(version unknown)"
	}
	return v
}

// IsScenarioProblem reports whether err, from CheckServers, is the
// scenario's (rather than the machine's: no docker, no image).
func IsScenarioProblem(err error) bool {
	var se *scenario.Errors
	return errors.As(err, &se)
}

// subscriberPlan is one logical subscriber as a variant runs it.
type subscriberPlan struct {
	name     string
	failover bool // its slot is a failover slot
}

// subscriberPlans says, for a variant of s on a server of version, which
// subscribers' slots are failover slots: those that ask, and by default
// every one where the server has them (17 and later) and the standbys
// stream through physical slots.
func subscriberPlans(s *scenario.Scenario, version string) []subscriberPlan {
	var out []subscriberPlan
	can := majorOf(version) >= FailoverSlotsMajor && s.SlotsEnabled()
	for _, sub := range s.Topology.Subscribers {
		on := can
		if sub.FailoverSlots != nil {
			on = can && *sub.FailoverSlots
		}
		out = append(out, subscriberPlan{name: sub.Name, failover: on})
	}
	return out
}

// failoverSlotSettings adds to the spec's settings what failover slots
// need, where the scenario did not set them itself: every standby
// synchronizes the logical failover slots from its upstream
// (sync_replication_slots, which needs hot_standby_feedback, and dbname
// in primary_conninfo, which every backend's has), and the primary sends
// logical changes only once the standbys' physical slots have them
// (synchronized_standby_slots), so that a promoted standby's slot is
// never behind its subscriber. A standby's own synchronized_standby_slots
// is empty: once promoted it has none of those slots, and a logical
// walsender would wait for them for ever.
func failoverSlotSettings(spec *cluster.Spec, primary string) {
	var slots []string
	for _, r := range spec.Replicas {
		if r.Slot != "" {
			slots = append(slots, r.Slot)
		}
	}
	set := func(node, k, v string) {
		m := spec.Settings[node]
		if m == nil {
			m = map[string]string{}
			spec.Settings[node] = m
		}
		if _, ok := m[k]; !ok {
			m[k] = v
		}
	}
	nodes := []string{primary}
	for _, r := range spec.Replicas {
		nodes = append(nodes, r.Name)
	}
	for _, n := range nodes {
		set(n, "sync_replication_slots", "on")
		set(n, "hot_standby_feedback", "on")
	}
	set(primary, "synchronized_standby_slots", strings.Join(slots, ","))
	for _, r := range spec.Replicas {
		set(r.Name, "synchronized_standby_slots", "")
	}
}

// prepareServer fits the spec of a variant of s to its server: the image
// it names, the version it runs (recorded in the variant's topology), and
// failover slots for the subscribers that have them (their settings). It
// returns the subscribers as the variant runs them.
func prepareServer(be cluster.Backend, s *scenario.Scenario, spec *cluster.Spec, v *result.Variant) ([]subscriberPlan, error) {
	spec.Image = s.Topology.Image
	version, err := serverVersion(be, s)
	if err != nil {
		return nil, err
	}
	v.Topology.PostgresVersion, v.Topology.Image = version, s.Topology.Image
	plans := subscriberPlans(s, version)
	for _, p := range plans {
		if p.failover {
			failoverSlotSettings(spec, scenario.PrimaryName)
			// The primary's effective settings, as the result shows them.
			settings := map[string]string{}
			for k, val := range v.Topology.Settings {
				settings[k] = val
			}
			for k, val := range spec.Settings[scenario.PrimaryName] {
				settings[k] = val
			}
			v.Topology.Settings = settings
			break
		}
	}
	return plans, nil
}

// subscriberSummaries adds to the variant's subscriber summaries whether
// each had a failover slot and the re-pointings after promotions.
func subscriberSummaries(v *result.Variant, plans []subscriberPlan, f *follower) {
	for i := range v.Summary.Subscribers {
		s := &v.Summary.Subscribers[i]
		for _, p := range plans {
			if p.name == s.Name {
				s.FailoverSlot = p.failover
			}
		}
		s.Follows = f.of(s.Name)
	}
}

// waitFailoverReady waits until every standby has each failover slot
// synchronized and persistent (PostgreSQL 17: synced, and no longer
// temporary: "sync-ready"): a standby promoted before that drops the
// slot, and the subscription could not follow. The slot sync worker
// takes a few of its cycles for a new slot (until the slot's catalog
// xmin on the primary passes the standby's), seconds.
func waitFailoverReady(ctx context.Context, c cluster.Cluster, plans []subscriberPlan) error {
	var slots []string
	for _, p := range plans {
		if p.failover {
			slots = append(slots, p.name)
		}
	}
	if len(slots) == 0 {
		return nil
	}
	cs := cluster.NewConns(c, "pgbench-ha-load", 5*time.Second)
	defer cs.Close()
	deadline := time.Now().Add(120 * time.Second)
	for _, n := range c.Nodes() {
		if n.Name == scenario.PrimaryName {
			continue
		}
		for _, slot := range slots {
			for {
				conn, err := cs.Get(ctx, n.Name)
				if err != nil {
					return fmt.Errorf("failover slot %s on %s: %w", slot, n.Name, err)
				}
				var ready bool
				err = conn.QueryRow(ctx, "SELECT coalesce((SELECT synced AND NOT temporary FROM pg_replication_slots WHERE slot_name = $1), false)", slot).Scan(&ready)
				if err != nil {
					return fmt.Errorf("failover slot %s on %s: %w", slot, n.Name, err)
				}
				if ready {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("failover slot %s: not synchronized to %s after 120s (see its server log: the slot sync worker says why)", slot, n.Name)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
	return nil
}
