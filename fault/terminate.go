package fault

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Terminate ends backends of a node with pg_terminate_backend(): the
// connections of a client group, or the node's walsenders (a primary's or
// a cascading standby's), or its walreceiver (a standby's). One act: the
// clients reconnect, the standby connects and streams again. It needs only
// SQL, so every backend can do it.
type Terminate struct {
	Target string `yaml:"node"`
	// Backends is writers, readers, controller, walsender or walreceiver.
	Backends string `yaml:"backends"`
}

// TerminateBackends lists what a terminate fault may end.
var TerminateBackends = append(append([]string(nil), ClientNames...), "walsender", "walreceiver")

// terminateApps is the application_name each client group's connections
// carry (workload/writer.go, workload/reader.go, failover/failover.go).
var terminateApps = map[string][]string{
	ClientWriters:    {"pgbench-ha-writer"},
	ClientReaders:    {"pgbench-ha-reader"},
	ClientController: {"pgbench-ha-health", "pgbench-ha-failover"},
}

func init() {
	register(Kind{Name: "terminate", New: func() Spec { return &Terminate{} }, Once: true})
}

func (Terminate) Kind() string        { return "terminate" }
func (f Terminate) Describe() string  { return fmt.Sprintf("terminate %s on %s", f.Backends, f.Target) }
func (f Terminate) Node() string      { return f.Target }
func (f Terminate) Targets() []string { return []string{f.Target} }
func (Terminate) Lasting() bool       { return false }

func (f Terminate) Validate(c Check) {
	c.Node("node", f.Target)
	if c.Required("backends", "one of "+strings.Join(TerminateBackends, ", ")) {
		c.Enum("backends", f.Backends, "backend to terminate", TerminateBackends)
	}
}

// Inject terminates the backends; it fails when there were none to end,
// so a scenario that terminates nothing says so. A walreceiver is an
// auxiliary process that pg_terminate_backend() cannot signal: its
// connection is ended from the other side, by terminating the walsenders
// that serve the node (application_name is the standby's name) on every
// other node.
func (f Terminate) Inject(ctx context.Context, e Env) (Heal, error) {
	n := 0
	if f.Backends == "walreceiver" {
		for _, node := range e.Cluster.Nodes() {
			if node.Name == f.Target {
				continue
			}
			k, err := terminate(ctx, e.Cluster, node.Name, "walsender", []string{f.Target})
			if err != nil {
				return Heal{}, err
			}
			n += k
		}
	} else {
		k, err := terminate(ctx, e.Cluster, f.Target, f.Backends, terminateApps[f.Backends])
		if err != nil {
			return Heal{}, err
		}
		n = k
	}
	if n == 0 {
		return Heal{}, fmt.Errorf("terminate %s on %s: no such backend", f.Backends, f.Target)
	}
	return Heal{}, nil
}

// terminate ends, on node, the backends of backendType (all of them, or
// only those whose application_name is in apps when apps is set), or, with
// no such type, those of apps; it returns how many it ended.
func terminate(ctx context.Context, c cluster.Cluster, node, backendType string, apps []string) (int, error) {
	conn, err := pgx.Connect(ctx, c.ConnString(node, cluster.Admin))
	if err != nil {
		return 0, fmt.Errorf("terminate on %s: %s", node, cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE pid <> pg_backend_pid()
		  AND (backend_type = $1 AND ($2::text[] IS NULL OR application_name = ANY($2))
		       OR backend_type = 'client backend' AND application_name = ANY($2))`, backendType, apps).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("terminate %s on %s: %w", backendType, node, err)
	}
	return n, nil
}
