package fault

import (
	"context"
	"fmt"
	"slices"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Stop modes.
const (
	StopFast      = "fast"      // SIGINT: a clean shutdown with a checkpoint
	StopImmediate = "immediate" // SIGQUIT: crash recovery at the next start
)

// Stop shuts a node down; with for: it starts again afterwards. The node
// may also be a service (an etcd member, haproxy, pgbouncer; see
// Check.Services), which stops cleanly: mode applies to PostgreSQL nodes.
type Stop struct {
	Target string `yaml:"node"`
	Mode   string `yaml:"mode"` // fast (default) or immediate
}

func init() {
	register(Kind{Name: "stop", New: func() Spec { return &Stop{} },
		Runs: func(a cluster.Abilities) bool { return a.Stop }})
}

func (Stop) Kind() string        { return "stop" }
func (f Stop) Describe() string  { return fmt.Sprintf("stop %s (%s)", f.Target, stopMode(f.Mode)) }
func (f Stop) Node() string      { return f.Target }
func (f Stop) Targets() []string { return []string{f.Target} }
func (Stop) Lasting() bool       { return true }

func (f Stop) Validate(c Check) {
	c.Target("node", f.Target)
	if !c.Set("mode") {
		return
	}
	if IsService(f.Target) && !slices.Contains(c.Nodes(), f.Target) {
		c.Problem("mode", "applies to a PostgreSQL node (pg_ctl's shutdown modes), not to %s; remove mode", f.Target)
		return
	}
	c.Enum("mode", f.Mode, "stop mode", []string{StopFast, StopImmediate})
}

// Refuse says why a backend cannot stop a service.
func (f Stop) Refuse(a cluster.Abilities, backend string) string {
	return refuseService(a, backend, "stop", f.Target)
}

func validateStop(c Check, node, mode string) {
	c.Node("node", node)
	if c.Set("mode") {
		c.Enum("mode", mode, "stop mode", []string{StopFast, StopImmediate})
	}
}

func stopMode(mode string) string {
	if mode == "" {
		return StopFast
	}
	return mode
}

func (f Stop) Inject(ctx context.Context, e Env) (Heal, error) {
	s, ok := e.Cluster.(cluster.Stopper)
	if !ok {
		return Heal{}, fmt.Errorf("the backend cannot stop a node")
	}
	if err := s.Stop(ctx, f.Target, f.Mode == StopImmediate); err != nil {
		return Heal{}, err
	}
	e.MarkDown(f.Target)
	return Heal{Do: startAgain(e, f.Target), KeepAtEnd: true}, nil
}

// TookEffect waits until the node refuses connections; a stopped
// service took effect when the stop returned.
func (f Stop) TookEffect(ctx context.Context, e Env) error {
	if IsService(f.Target) {
		return nil
	}
	return waitRefused(ctx, e.Cluster, f.Target)
}

// Healed waits until the node started again answers queries; a service
// is healed when its start returned.
func (f Stop) Healed(ctx context.Context, e Env) error {
	if IsService(f.Target) {
		return nil
	}
	return waitAnswers(ctx, e.Cluster, f.Target)
}
