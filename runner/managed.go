package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/clientpath"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/external"
	"github.com/pgbench-ha/pgbench-ha/cluster/patroni"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/summary"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// patroniOptions are a scenario's Patroni settings.
func patroniOptions(s *scenario.Scenario) patroni.Options {
	f := s.Failover
	return patroni.Options{
		TTL: f.TTLSeconds, LoopWait: f.LoopWaitSeconds, RetryTimeout: f.RetryTimeoutSeconds,
		MaximumLagOnFailover: f.MaximumLagOnFailoverBytes,
		SynchronousMode:      f.SynchronousMode, SynchronousModeStrict: f.SynchronousModeStrict,
		FailsafeMode: f.FailsafeMode, PrimaryStartTimeout: f.PrimaryStartTimeoutSeconds,
		EtcdMembers: f.EtcdMembers,
	}
}

// backendFor is the backend that builds the variant's cluster: the run's,
// or, under failover.mode patroni, a Patroni backend with the variant's
// settings, which close must release.
func backendFor(opts Options, s *scenario.Scenario) (be cluster.Backend, close func(), err error) {
	if s.Failover.Mode != scenario.FailoverPatroni {
		return opts.Backend, func() {}, nil
	}
	pb, err := patroni.New(patroniOptions(s))
	if err != nil {
		return nil, nil, err
	}
	return pb, func() { _ = pb.Close() }, nil
}

// ExternalConfig is the external backend's configuration from the
// scenario's external section, the nodes in topology order.
func ExternalConfig(s *scenario.Scenario) external.Config {
	x := s.External
	cfg := external.Config{Write: x.Write, Database: x.Database, User: x.User, Schema: x.Schema,
		Hooks: x.Hooks.Commands, HookTimeout: x.Hooks.Timeout.D(), EffectTimeout: x.Hooks.EffectTimeout.D()}
	for _, name := range s.NodeNames() {
		if n, ok := x.Node(name); ok {
			cfg.Nodes = append(cfg.Nodes, external.Node{Name: n.Name, DSN: n.DSN, Member: n.Member, Env: n.Env})
		}
	}
	return cfg
}

// manager is the failover manager of the scenario's mode, nil for none:
// the harness's own controller, or an observer of Patroni's failovers
// (their leader key in etcd).
func manager(c cluster.Cluster, roles *cluster.Roles, s *scenario.Scenario, cfg failover.Config) failover.Manager {
	switch s.Failover.Mode {
	case scenario.FailoverPromote:
		return failover.New(c, roles, cfg)
	case scenario.FailoverPatroni:
		if pc, ok := c.(*patroni.Cluster); ok {
			src := &failover.EtcdLeader{Endpoints: pc.EtcdEndpoints(), Key: pc.Namespace() + pc.Scope() + "/leader"}
			return failover.NewObserver(c, roles, src, cfg)
		}
	case scenario.FailoverExternal:
		// A manager the harness cannot ask: the nodes say which is
		// primary.
		src := failover.NewWritableNode(c)
		return &closingManager{Observer: failover.NewObserver(c, roles, src, cfg), src: src}
	}
	return nil
}

// closingManager is an Observer of a leader source that holds
// connections, closed when the observer returns.
type closingManager struct {
	*failover.Observer
	src interface{ Close() }
}

func (m *closingManager) Run(ctx context.Context) {
	defer m.src.Close()
	m.Observer.Run(ctx)
}

// managerHistory records, as manager events, the promotions the failover
// manager itself recorded during the run: Patroni's /history, each new
// timeline with when its history file was written on the node promoted.
// A manager that cannot say gets an error event.
func managerHistory(ctx context.Context, c cluster.Cluster, start time.Time, emit func(result.Event)) {
	hc, ok := c.(cluster.Historian)
	if !ok {
		return
	}
	hctx, cancel := context.WithTimeout(ctx, historyTimeout)
	defer cancel()
	hs, err := hc.History(hctx)
	if err != nil {
		emit(result.Event{Ms: msSince(start, time.Now()), Kind: result.EventError, Detail: hc.Manager() + ": " + cluster.Redact(err.Error())})
		return
	}
	for _, h := range hs {
		if h.At.IsZero() || h.At.Before(start) {
			continue
		}
		detail := fmt.Sprintf("%s: timeline %d began on %s", hc.Manager(), h.Timeline+1, h.Leader)
		switch {
		case h.LSN != 0:
			detail += fmt.Sprintf(" (%s; timeline %d ended at %X/%X)", h.Reason, h.Timeline, h.LSN>>32, uint32(h.LSN))
		case h.Reason != "":
			detail += " (" + h.Reason + ")"
		}
		emit(result.Event{Ms: msSince(start, h.At), Kind: result.EventManager, Node: h.Leader, Detail: detail})
	}
}

// historyTimeout bounds the read of the manager's history: Patroni's
// REST API, or an external cluster's history hook (bounded by its own
// hook timeout too).
const historyTimeout = 60 * time.Second

// msSince is t as ms of the run's clock.
func msSince(start, t time.Time) float64 { return float64(t.Sub(start).Microseconds()) / 1000 }

// outageModel is the settings the outage model reads; none without a
// failover manager.
func outageModel(s *scenario.Scenario) summary.Model {
	f := s.Failover
	if f.Mode != scenario.FailoverPromote && f.Mode != scenario.FailoverPatroni {
		return summary.Model{}
	}
	m := summary.Model{Mode: f.Mode, DetectAfter: f.DetectAfter.D(), ProbeInterval: f.ProbeInterval.D(),
		TTL: time.Duration(f.TTLSeconds) * time.Second, LoopWait: time.Duration(f.LoopWaitSeconds) * time.Second,
		PrimaryStartTimeout: time.Duration(f.PrimaryStartTimeoutSeconds) * time.Second, SyncStrict: f.SynchronousModeStrict,
		RetryTimeout: time.Duration(f.RetryTimeoutSeconds) * time.Second, FailsafeMode: f.FailsafeMode,
		StoreMembers: storeMembers(s),
		Path:         pathKind(s), PgBouncerNodes: s.Client.HasPgBouncer() && !s.Client.HasHAProxy()}
	if s.Client.HasHAProxy() {
		m.Inter, m.Rise = s.Client.HAProxy.Inter.D(), s.Client.HAProxy.Rise
	}
	return m
}

// storeMembers is the number of etcd members of a Patroni variant, 0
// otherwise.
func storeMembers(s *scenario.Scenario) int {
	n := 0
	for _, name := range s.Services() {
		if strings.HasPrefix(name, "etcd") {
			n++
		}
	}
	return n
}

func pathKind(s *scenario.Scenario) string {
	if s.Client.Path == "" {
		return scenario.PathDirect
	}
	return s.Client.Path
}

// clientPath is what stands between the writers and the nodes, and how
// the writers reach it.
type clientPath struct {
	path  *clientpath.Path
	agent *clientpath.Agent
	// dsn is the writers' host and port part: the nodes' multi-host
	// string on a direct path.
	dsn string
	// endpoint is the whole connection string of a cluster's own write
	// endpoint (cluster.Endpoint), which dsn then does not apply to.
	endpoint string
	// unnamed: a pooler that hands transactions to any server connection
	// (the insert cannot be prepared); serverNode: the node is asked of
	// the server, the connection's address naming a proxy.
	unnamed, serverNode bool
	haproxy             bool // HAProxy is on the path
}

// close stops the path's processes and the health agent.
func (cp *clientPath) close() {
	if cp.path != nil {
		_ = cp.path.Close()
	}
	if cp.agent != nil {
		_ = cp.agent.Close()
	}
}

// startPath starts the scenario's client path before the workload: for
// HAProxy, health checks against Patroni's REST API or, without Patroni,
// a health agent of the harness's that asks each node whether it is in
// recovery. writerNodes are the nodes as the writers reach them on a
// direct path.
func startPath(ctx context.Context, c cluster.Cluster, s *scenario.Scenario, logDir string, writerNodes []cluster.Node) (*clientPath, error) {
	kind := pathKind(s)
	cp := &clientPath{dsn: cluster.MultiHost(writerNodes)}
	if ep, ok := c.(cluster.Endpoint); ok {
		// The cluster's own endpoint is the path: the server names the
		// node that took a write.
		cp.endpoint, cp.serverNode = ep.WriteConnString(), true
		return cp, nil
	}
	if kind == scenario.PathDirect {
		return cp, nil
	}
	app, err := pgx.ParseConfig(c.ConnString(scenario.PrimaryName, cluster.App))
	if err != nil {
		return nil, fmt.Errorf("client path: %s", cluster.Redact(err.Error()))
	}
	cfg := clientpath.Config{Kind: kind, Nodes: c.Nodes(), User: app.User, Password: app.Password, LogDir: logDir}
	if s.Client.HasHAProxy() {
		cp.haproxy = true
		cfg.Inter, cfg.Fall, cfg.Rise = s.Client.HAProxy.Inter.D(), s.Client.HAProxy.Fall, s.Client.HAProxy.Rise
		if pc, ok := c.(*patroni.Cluster); ok {
			cfg.Check = pc.RESTURL
		} else {
			agent, err := clientpath.NewAgent(c.Nodes(), func(n string) string { return c.ConnString(n, cluster.Admin) })
			if err != nil {
				return nil, fmt.Errorf("client path: %w", err)
			}
			cp.agent = agent
			cfg.Check = agent.URL
		}
	}
	if s.Client.HasPgBouncer() {
		cfg.PoolMode, cfg.PoolSize, cfg.InFrontOf = s.Client.PgBouncer.PoolMode, s.Client.PgBouncer.PoolSize, s.Client.PgBouncer.InFrontOf
		cp.unnamed = cfg.PoolMode != clientpath.Session
	}
	p, err := clientpath.Start(ctx, cfg)
	if err != nil {
		cp.close()
		return nil, fmt.Errorf("client path: %w", err)
	}
	cp.path = p
	cp.serverNode = true
	if host, port := p.WriteAddr(); host != "" {
		cp.dsn = fmt.Sprintf("host=%s port=%d", host, port)
	} else {
		cp.dsn = cluster.MultiHost(p.Nodes())
	}
	return cp, nil
}

// watch records HAProxy's changes of mind as events, until ctx ends.
func (cp *clientPath) watch(ctx context.Context, start time.Time, emit func(result.Event)) {
	if cp.path == nil || !cp.haproxy {
		return
	}
	_ = cp.path.Watch(ctx, 20*time.Millisecond, func(ev clientpath.Event) {
		if ev.Prev == "" {
			return // the first report of a server: no change
		}
		emit(result.Event{Ms: float64(ev.At.Sub(start).Microseconds()) / 1000, Kind: result.EventProxy, Node: ev.Server,
			Detail: fmt.Sprintf("HAProxy %s backend: %s %s (was %s)", ev.Backend, ev.Server, ev.State, ev.Prev)})
	})
}

// writeDSN is the writers' connection string.
func (cp *clientPath) writeDSN(c cluster.Cluster) string {
	if cp.endpoint != "" {
		return cp.endpoint
	}
	return cp.dsn + " " + appCreds(c)
}

// writerConfig points the writers at the client path.
func (cp *clientPath) writerConfig(w *workload.Config) {
	w.Unnamed, w.ServerNode = cp.unnamed, cp.serverNode
}
