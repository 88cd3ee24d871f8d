package fault

import (
	"context"
	"fmt"
	"regexp"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Services beside the nodes: what a real failover manager and a client
// path add to a cluster. A kill, stop or pause may take one as its node;
// a replica may not take one of these names.
const (
	ServiceHAProxy   = "haproxy"
	ServicePgBouncer = "pgbouncer"
)

// EtcdMember names the i-th etcd member (1-based): "etcd1".
func EtcdMember(i int) string { return fmt.Sprintf("etcd%d", i) }

var etcdRE = regexp.MustCompile(`^etcd[0-9]+$`)

// IsService reports whether name is a service's name (etcd1, etcd2, ...,
// haproxy, pgbouncer) rather than a PostgreSQL node's.
func IsService(name string) bool {
	return IsPathService(name) || etcdRE.MatchString(name)
}

// IsPathService reports whether name is one of the client path's
// services (haproxy, pgbouncer): the runner starts the path and faults
// them itself, on any backend, rather than the backend's cluster.
func IsPathService(name string) bool {
	return name == ServiceHAProxy || name == ServicePgBouncer
}

// What a kill under Patroni takes down.
const (
	ProcessNode     = "node"     // the whole machine: PostgreSQL and Patroni (default)
	ProcessPostgres = "postgres" // PostgreSQL alone; Patroni lives (and starts it again)
	ProcessPatroni  = "patroni"  // Patroni alone; PostgreSQL runs on, unmanaged
)

// Processes lists the valid values of a kill's process.
var Processes = []string{ProcessNode, ProcessPostgres, ProcessPatroni}

// ProcessKiller is a Cluster that can kill one process of a node apart
// from the rest (process is ProcessPostgres or ProcessPatroni), as
// SIGKILL does, and start it again. StartProcess of a process that is
// already running again (Patroni restarts PostgreSQL) is not an error.
// A backend that is one says so with cluster.Abilities.Processes.
type ProcessKiller interface {
	KillProcess(ctx context.Context, node, process string) error
	StartProcess(ctx context.Context, node, process string) error
}

// Switchoverer is a Cluster whose failover manager can hand the primary
// over in a planned way (Patroni's POST /switchover): to candidate, or,
// when candidate is "", to a replica of its choosing. It returns once
// the manager accepted the switchover. A backend that is one says so
// with cluster.Abilities.Switchover.
type Switchoverer interface {
	Switchover(ctx context.Context, candidate string) error
}

// refuseService is the Refuse of a kill, stop or pause: an etcd member as
// the target needs a backend that runs them beside the nodes, whose
// Killer, Stopper and Pauser take their names (Abilities.Services: the
// Patroni backend). haproxy and pgbouncer need the client path, which
// the runner starts and faults on any backend (and the scenario's
// validation checks that the path has them), not the backend.
func refuseService(a cluster.Abilities, backend, kind, target string) string {
	if !IsService(target) || IsPathService(target) || a.Services {
		return ""
	}
	return fmt.Sprintf("%s of %s is not supported by the %s backend: it runs no %s beside the nodes", kind, target, backend, target)
}
