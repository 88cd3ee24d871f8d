package fault

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Kill crashes a node: every process of it killed at once, as when a
// machine loses power. With for: the node starts again afterwards.
//
// Under failover.mode patroni, Process picks what dies: the whole node
// (default), PostgreSQL alone (Patroni lives and starts it again) or
// Patroni alone (PostgreSQL runs on, unmanaged). Target may also be a
// service (an etcd member, haproxy, pgbouncer; see Check.Services).
type Kill struct {
	Target  string `yaml:"node"`
	Process string `yaml:"process"` // node (default), postgres or patroni
}

func init() {
	register(Kind{Name: "kill", New: func() Spec { return &Kill{} },
		Runs: func(a cluster.Abilities) bool { return a.Kill }})
}

func (Kill) Kind() string { return "kill" }

func (f Kill) Describe() string {
	if f.isProcess() {
		return fmt.Sprintf("kill %s on %s", f.Process, f.Target)
	}
	return "kill " + f.Target
}

func (f Kill) Node() string      { return f.Target }
func (f Kill) Targets() []string { return []string{f.Target} }

// Lasting is false: the kill is one act; the node stays down to the end
// unless a for: starts it again (drawn then as a window).
func (Kill) Lasting() bool { return false }

// isProcess reports whether the kill takes one process, not the node.
func (f Kill) isProcess() bool {
	return f.Process == ProcessPostgres || f.Process == ProcessPatroni
}

func (f Kill) Validate(c Check) {
	c.Target("node", f.Target)
	if !c.Set("process") {
		return
	}
	if !c.Patroni() {
		c.Problem("process", "applies under failover.mode patroni only (PostgreSQL or Patroni alone); without Patroni a kill takes the whole node: remove process")
		return
	}
	c.Enum("process", f.Process, "process", Processes)
	if f.isProcess() && slices.Contains(c.Services(), f.Target) {
		c.Problem("process", "%s applies to a PostgreSQL node, not to %s; valid here: %s", f.Process, f.Target, ProcessNode)
	}
}

// Refuse says why a backend cannot do this kill: a service as the target,
// or one process of a node.
func (f Kill) Refuse(a cluster.Abilities, backend string) string {
	if why := refuseService(a, backend, "kill", f.Target); why != "" {
		return why
	}
	if f.isProcess() && !a.Processes {
		return fmt.Sprintf("kill with process: %s is not supported by the %s backend: it cannot kill one process of a node apart from the rest", f.Process, backend)
	}
	return ""
}

func (f Kill) Inject(ctx context.Context, e Env) (Heal, error) {
	if f.isProcess() {
		pk, ok := e.Cluster.(ProcessKiller)
		if !ok {
			return Heal{}, fmt.Errorf("the backend cannot kill %s alone", f.Process)
		}
		if err := pk.KillProcess(ctx, f.Target, f.Process); err != nil {
			return Heal{}, err
		}
		// The node is not marked down: its failover manager (or, for
		// postgres, Patroni on the node) decides what becomes of it.
		return Heal{Do: func(ctx context.Context) error { return pk.StartProcess(ctx, f.Target, f.Process) }, KeepAtEnd: true}, nil
	}
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

// LandedAt is when the kill stopped every process of the node (or the
// service: an etcd member, the client path's HAProxy or PgBouncer),
// where the backend can tell.
func (f Kill) LandedAt(e Env) (time.Time, bool) {
	if f.isProcess() {
		return time.Time{}, false
	}
	if l, ok := e.Cluster.(cluster.Lander); ok {
		return l.Landed(f.Target)
	}
	return time.Time{}, false
}

// TookEffect waits until the node refuses connections: when the node or
// its PostgreSQL was killed. A killed service or Patroni has no port the
// harness watches: the kill returned, so it took effect.
func (f Kill) TookEffect(ctx context.Context, e Env) error {
	if IsService(f.Target) || f.Process == ProcessPatroni {
		return nil
	}
	return waitRefused(ctx, e.Cluster, f.Target)
}

// Healed waits until the node started again answers queries.
func (f Kill) Healed(ctx context.Context, e Env) error {
	if IsService(f.Target) || f.Process == ProcessPatroni {
		return nil
	}
	return waitAnswers(ctx, e.Cluster, f.Target)
}
