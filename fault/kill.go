package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Kill crashes a node: every process of it killed at once, as when a
// machine loses power. With for: the node starts again afterwards.
type Kill struct {
	Target string `yaml:"node"`
}

func init() {
	register(Kind{Name: "kill", New: func() Spec { return &Kill{} },
		Runs: func(a cluster.Abilities) bool { return a.Kill }})
}

func (Kill) Kind() string        { return "kill" }
func (f Kill) Describe() string  { return "kill " + f.Target }
func (f Kill) Node() string      { return f.Target }
func (f Kill) Targets() []string { return []string{f.Target} }

// Lasting is false: the kill is one act; the node stays down to the end
// unless a for: starts it again (drawn then as a window).
func (Kill) Lasting() bool { return false }

func (f Kill) Validate(c Check) { c.Node("node", f.Target) }

func (f Kill) Inject(ctx context.Context, e Env) (Heal, error) {
	k, ok := e.Cluster.(cluster.Killer)
	if !ok {
		return Heal{}, fmt.Errorf("the backend cannot kill a node")
	}
	if err := k.Kill(ctx, f.Target); err != nil {
		return Heal{}, err
	}
	e.MarkDown(f.Target)
	return Heal{Do: startAgain(e, f.Target), KeepAtEnd: true}, nil
}

// LandedAt is when the kill stopped every process of the node, where the
// backend can tell.
func (f Kill) LandedAt(e Env) (time.Time, bool) {
	if l, ok := e.Cluster.(cluster.Lander); ok {
		return l.Landed(f.Target)
	}
	return time.Time{}, false
}

// TookEffect waits until the node refuses connections.
func (f Kill) TookEffect(ctx context.Context, e Env) error {
	return waitRefused(ctx, e.Cluster, f.Target)
}

// Healed waits until the node started again answers queries.
func (f Kill) Healed(ctx context.Context, e Env) error {
	return waitAnswers(ctx, e.Cluster, f.Target)
}
