package runner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// ErrNotSupported is wrapped by Unsupported's error.
var ErrNotSupported = errors.New("not yet supported by this build")

// Unsupported refuses, before anything starts, a scenario whose variants
// need what the scenario format knows and this runner does not run yet:
// failover.mode patroni and a client path other than direct. It names
// each variant and key. Remove it (and its calls in Run and the CLI's
// run) once Patroni, HAProxy and PgBouncer are integrated.
func Unsupported(s *scenario.Scenario) error {
	plans := scenario.Expand(s)
	var order []string
	variants := map[string][]string{} // what is refused -> the variants
	for _, p := range plans {
		vs := p.Scenario
		var keys []string
		if vs.Failover.Mode == scenario.FailoverPatroni {
			keys = append(keys, "failover.mode patroni")
		}
		if vs.Client.Path != "" && vs.Client.Path != scenario.PathDirect {
			keys = append(keys, "client.path "+vs.Client.Path)
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
	return fmt.Errorf("%s: %s is %w: it runs failover.mode none or promote with client.path direct", s.File, strings.Join(probs, "; "), ErrNotSupported)
}
