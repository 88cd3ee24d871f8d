package fault

import (
	"context"
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Pause freezes every process of a node (SIGSTOP, the cgroup freezer) and
// thaws it after for:, or when the workload ends. The node may also be a
// service (an etcd member, haproxy, pgbouncer; see Check.Services).
type Pause struct {
	Target string `yaml:"node"`
}

func init() {
	register(Kind{Name: "pause", New: func() Spec { return &Pause{} },
		Runs: func(a cluster.Abilities) bool { return a.Pause }})
}

func (Pause) Kind() string        { return "pause" }
func (f Pause) Describe() string  { return "pause " + f.Target }
func (f Pause) Node() string      { return f.Target }
func (f Pause) Targets() []string { return []string{f.Target} }
func (Pause) Lasting() bool       { return true }
func (f Pause) Validate(c Check)  { c.Target("node", f.Target) }

// Refuse says why a backend cannot pause a service.
func (f Pause) Refuse(a cluster.Abilities, backend string) string {
	return refuseService(a, backend, "pause", f.Target)
}

func (f Pause) Inject(ctx context.Context, e Env) (Heal, error) {
	p, ok := e.Cluster.(cluster.Pauser)
	if !ok {
		return Heal{}, fmt.Errorf("the backend cannot pause a node")
	}
	if err := p.Pause(ctx, f.Target); err != nil {
		return Heal{}, err
	}
	return Heal{Do: func(ctx context.Context) error { return p.Resume(ctx, f.Target) }}, nil
}
