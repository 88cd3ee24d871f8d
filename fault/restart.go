package fault

import (
	"context"
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Restart stops a node and starts it again at once: one act.
type Restart struct {
	Target string `yaml:"node"`
	Mode   string `yaml:"mode"` // fast (default) or immediate
}

func init() {
	register(Kind{Name: "restart", New: func() Spec { return &Restart{} }, Once: true,
		Runs: func(a cluster.Abilities) bool { return a.Stop }})
}

func (Restart) Kind() string        { return "restart" }
func (f Restart) Describe() string  { return fmt.Sprintf("restart %s (%s)", f.Target, stopMode(f.Mode)) }
func (f Restart) Node() string      { return f.Target }
func (f Restart) Targets() []string { return []string{f.Target} }
func (Restart) Lasting() bool       { return false }
func (f Restart) Validate(c Check)  { validateStop(c, f.Target, f.Mode) }

func (f Restart) Inject(ctx context.Context, e Env) (Heal, error) {
	s, ok := e.Cluster.(cluster.Stopper)
	if !ok {
		return Heal{}, fmt.Errorf("the backend cannot stop a node")
	}
	if err := s.Stop(ctx, f.Target, f.Mode == StopImmediate); err != nil {
		return Heal{}, err
	}
	return Heal{}, s.Start(ctx, f.Target)
}
