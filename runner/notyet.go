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
	var probs []string
	for _, p := range scenario.Expand(s) {
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
		if len(s.Matrix) > 0 {
			what += " (variant " + p.Name + ")"
		}
		probs = append(probs, what)
	}
	if len(probs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s is %w: it runs failover.mode none or promote with client.path direct", s.File, strings.Join(probs, "; "), ErrNotSupported)
}
