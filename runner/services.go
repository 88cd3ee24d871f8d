package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/pgbench-ha/pgbench-ha/clientpath"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
)

// pathCluster is the cluster as a fault on the client path's HAProxy or
// PgBouncer sees it: Kill, Stop, Start, Pause, Resume and Landed of
// "haproxy" or "pgbouncer" go to the path, of any other name to the
// cluster (where it can). It is the fault.Env of those faults only (see
// clientPath.route): every other fault, and the controller, the probes
// and the audit, see the cluster itself, so that its other abilities
// (links, Patroni's processes and switchover, WAL) stay in sight.
type pathCluster struct {
	cluster.Cluster
	path *clientpath.Path
}

var (
	_ cluster.Killer  = (*pathCluster)(nil)
	_ cluster.Stopper = (*pathCluster)(nil)
	_ cluster.Pauser  = (*pathCluster)(nil)
	_ cluster.Lander  = (*pathCluster)(nil)
)

func (pc *pathCluster) Kill(ctx context.Context, node string) error {
	if fault.IsPathService(node) {
		return pc.path.Kill(ctx, node)
	}
	if k, ok := pc.Cluster.(cluster.Killer); ok {
		return k.Kill(ctx, node)
	}
	return fmt.Errorf("the backend cannot kill %s", node)
}

func (pc *pathCluster) Landed(node string) (time.Time, bool) {
	if fault.IsPathService(node) {
		return pc.path.Landed(node)
	}
	if l, ok := pc.Cluster.(cluster.Lander); ok {
		return l.Landed(node)
	}
	return time.Time{}, false
}

func (pc *pathCluster) Stop(ctx context.Context, node string, immediate bool) error {
	if fault.IsPathService(node) {
		return pc.path.Stop(ctx, node, immediate)
	}
	if s, ok := pc.Cluster.(cluster.Stopper); ok {
		return s.Stop(ctx, node, immediate)
	}
	return fmt.Errorf("the backend cannot stop %s", node)
}

func (pc *pathCluster) Start(ctx context.Context, node string) error {
	if fault.IsPathService(node) {
		return pc.path.Start(ctx, node)
	}
	if s, ok := pc.Cluster.(cluster.Stopper); ok {
		return s.Start(ctx, node)
	}
	return fmt.Errorf("the backend cannot start %s", node)
}

func (pc *pathCluster) Pause(ctx context.Context, node string) error {
	if fault.IsPathService(node) {
		return pc.path.Pause(ctx, node)
	}
	if p, ok := pc.Cluster.(cluster.Pauser); ok {
		return p.Pause(ctx, node)
	}
	return fmt.Errorf("the backend cannot pause %s", node)
}

func (pc *pathCluster) Resume(ctx context.Context, node string) error {
	if fault.IsPathService(node) {
		return pc.path.Resume(ctx, node)
	}
	if p, ok := pc.Cluster.(cluster.Pauser); ok {
		return p.Resume(ctx, node)
	}
	return fmt.Errorf("the backend cannot resume %s", node)
}

// route is the fault timeline's Route: a fault whose node is the path's
// HAProxy or PgBouncer acts on c through the path; nil (c itself) for the
// others, and for every fault on a path without processes.
func (cp *clientPath) route(c cluster.Cluster) func(fault.Spec) cluster.Cluster {
	if cp.path == nil {
		return nil
	}
	pc := &pathCluster{Cluster: c, path: cp.path}
	return func(s fault.Spec) cluster.Cluster {
		if fault.IsPathService(s.Node()) {
			return pc
		}
		return nil
	}
}
