package runner

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// ErrNotSupported is wrapped by Unsupported's error.
var ErrNotSupported = errors.New("not yet supported by this build")

// Unsupported refuses, before anything starts, a scenario whose variants
// need what the scenario format knows and this runner does not run yet:
// failover.mode patroni on a backend other than local; logical
// subscribers on the external backend; a client path other
// than direct with link faults naming client groups (their links' proxies
// sit between the clients and the nodes, where the path's proxy connects
// instead). It names each variant and what is refused. backend is the backend's name
// ("" when not known yet: the scenario's own).
func Unsupported(s *scenario.Scenario, backend string) error {
	if backend == "" {
		backend = s.Backend
	}
	plans := scenario.Expand(s)
	var order []string
	variants := map[string][]string{} // what is refused -> the variants
	for _, p := range plans {
		vs := p.Scenario
		var keys []string
		if vs.Failover.Mode == scenario.FailoverPatroni && backend != "" && backend != "local" {
			keys = append(keys, "failover.mode patroni on the "+backend+" backend (it runs on local)")
		}
		if len(vs.Topology.Subscribers) > 0 && (vs.Failover.Mode == scenario.FailoverPatroni || backend != "" && backend != "local" && backend != "docker") {
			where := "on the " + backend + " backend"
			if vs.Failover.Mode == scenario.FailoverPatroni {
				where = "under failover.mode patroni"
			}
			keys = append(keys, "topology.subscribers "+where+" (they run on the local and docker backends, without Patroni)")
		}
		if vs.ArchiveEnabled() && (vs.Failover.Mode == scenario.FailoverPatroni || backend != "" && backend != "local") {
			where := "on the " + backend + " backend"
			if vs.Failover.Mode == scenario.FailoverPatroni {
				where = "under failover.mode patroni"
			}
			keys = append(keys, "topology.archive "+where+" (WAL archiving runs on the local backend, without Patroni)")
		}
		if len(vs.Drills) > 0 && backend != "" && backend != "local" {
			keys = append(keys, "drills on the "+backend+" backend (they run on the local backend)")
		}
		if groups := clientLinkTargets(vs); pathKind(vs) != scenario.PathDirect && len(groups) > 0 {
			keys = append(keys, "client.path "+vs.Client.Path+" with faults on the links of client groups ("+strings.Join(groups, ", ")+")")
		}
		if len(keys) == 0 {
			continue
		}
		what := strings.Join(keys, " and ")
		if _, ok := variants[what]; !ok {
			order = append(order, what)
		}
		variants[what] = append(variants[what], p.Name)
	}
	if len(order) == 0 {
		return nil
	}
	var probs []string
	for _, what := range order {
		names := variants[what]
		switch {
		case len(names) == len(plans):
			// every variant: nothing to name
		case len(names) <= 3:
			what += " (variants " + strings.Join(names, "; ") + ")"
		default:
			what += fmt.Sprintf(" (variants %s and %d more)", strings.Join(names[:3], "; "), len(names)-3)
		}
		probs = append(probs, what)
	}
	return fmt.Errorf("%s: %s is %w", s.File, strings.Join(probs, "; "), ErrNotSupported)
}

// clientLinkTargets lists the client groups that s's link faults name.
func clientLinkTargets(s *scenario.Scenario) []string {
	var out []string
	for _, f := range s.Faults {
		if !f.IsNetwork() {
			continue
		}
		for _, t := range f.Spec.Targets() {
			if slices.Contains(fault.ClientNames, t) && !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	return out
}
