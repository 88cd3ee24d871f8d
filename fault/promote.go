package fault

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Promote promotes a standby: an operator's manual failover, or, in a
// test, the outside manager's part. One act. The cluster's own way when
// it has one (cluster.Promoter: an external cluster's promote hook),
// else pg_promote() over SQL, so every backend can do it. Under
// failover.mode none or external only: under promote or patroni the
// manager decides which node is primary and would race the fault.
type Promote struct {
	Target string `yaml:"node"`
}

func init() {
	register(Kind{Name: "promote", New: func() Spec { return &Promote{} }, Once: true})
}

func (Promote) Kind() string        { return "promote" }
func (f Promote) Describe() string  { return "promote " + f.Target }
func (f Promote) Node() string      { return f.Target }
func (f Promote) Targets() []string { return []string{f.Target} }
func (Promote) Lasting() bool       { return false }

// promoteModes are the failover modes under which nobody but the fault
// promotes (none), or the manager is outside the harness (external).
var promoteModes = []string{"none", "external"}

func (f Promote) Validate(c Check) {
	if m := c.Mode(); !slices.Contains(promoteModes, m) {
		c.Problem("", "under failover.mode %s the manager decides which node is primary and would race a promote fault; promote applies under failover.mode %s", m, strings.Join(promoteModes, " or "))
	}
	// The nodes are listed the initial primary first.
	nodes := c.Nodes()
	if len(nodes) == 0 {
		return
	}
	primary, replicas := nodes[0], strings.Join(nodes[1:], ", ")
	if replicas == "" {
		replicas = "none in this scenario"
	}
	if !c.Required("node", "a replica: "+replicas) {
		return
	}
	c.Node("node", f.Target)
	if f.Target == primary {
		c.Problem("node", "%s is the primary; promote names a replica: %s", f.Target, replicas)
	}
}

// Inject asks for the promotion and returns without waiting for it:
// TookEffect waits.
func (f Promote) Inject(ctx context.Context, e Env) (Heal, error) {
	if p, ok := e.Cluster.(cluster.Promoter); ok {
		if err := p.Promote(ctx, f.Target); err != nil {
			return Heal{}, fmt.Errorf("%s: %w", f.Describe(), err)
		}
		return Heal{}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, effectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, e.Cluster.ConnString(f.Target, cluster.Admin))
	if err != nil {
		return Heal{}, fmt.Errorf("%s: %s", f.Describe(), cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	var signalled bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(wait => false)").Scan(&signalled); err != nil {
		return Heal{}, fmt.Errorf("%s: %w", f.Describe(), err)
	}
	if !signalled {
		return Heal{}, fmt.Errorf("%s: pg_promote() could not signal the postmaster", f.Describe())
	}
	return Heal{}, nil
}

// TookEffect waits until the node answers out of recovery, and then
// names it primary in the harness's roles: under failover.mode none
// nobody else would (under external the observer does the same, and a
// second Promote of the same node changes nothing).
func (f Promote) TookEffect(ctx context.Context, e Env) error {
	if err := waitWritable(ctx, e.Cluster, f.Target); err != nil {
		return err
	}
	if e.Roles != nil && e.Roles.Primary() != f.Target {
		e.Roles.Promote(f.Target)
	}
	return nil
}

// waitWritable waits until the node answers pg_is_in_recovery() = false.
func waitWritable(ctx context.Context, c cluster.Cluster, node string) error {
	wait := effectWait(c)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	cs := cluster.NewConns(c, "pgbench-ha-fault", time.Second)
	defer cs.Close()
	last := "it did not answer"
	for {
		if conn, err := cs.Get(ctx, node); err != nil {
			last = "it does not answer: " + cluster.Redact(err.Error())
		} else {
			var inRecovery bool
			qctx, qcancel := context.WithTimeout(ctx, time.Second)
			err := conn.QueryRow(qctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery)
			qcancel()
			switch {
			case err != nil:
				cs.Drop(node)
				last = "it does not answer: " + cluster.Redact(err.Error())
			case !inRecovery:
				return nil
			default:
				last = "it is still in recovery"
			}
		}
		if !sleep(ctx, 10*pollEvery) {
			return fmt.Errorf("%s is not writable after %s: %s", node, wait, last)
		}
	}
}
