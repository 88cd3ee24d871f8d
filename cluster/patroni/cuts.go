package patroni

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/cluster/local"
)

// Cut drops the data node from sends to node to (one way), whoever opened
// the connection: each node's Patroni and PostgreSQL run in a cgroup v2
// directory of its own, and iptables drops what from's cgroup sends on
// loopback to to's PostgreSQL and REST ports, and on the connections to's
// processes opened (marked when they opened them). Connections hang, as
// in a real partition; new ones to to are not refused, they time out. The
// harness's own connections, HAProxy's and PgBouncer's, are not cut, nor
// are the links to etcd (AddToxic cuts those).
func (c *Cluster) Cut(ctx context.Context, from, to string) error {
	if c.cuts == nil {
		return fmt.Errorf("cut %s -> %s: %w (or the backend cannot cut links between nodes here)", from, to, local.ErrNoNetwork)
	}
	if _, err := c.node(from); err != nil {
		return fmt.Errorf("cut %s -> %s: %w", from, to, err)
	}
	if _, err := c.node(to); err != nil {
		return fmt.Errorf("cut %s -> %s: %w", from, to, err)
	}
	return c.cuts.Cut(from, to)
}

// Heal removes every Cut.
func (c *Cluster) Heal(ctx context.Context) error {
	if c.cuts == nil {
		return nil
	}
	return c.cuts.Heal()
}

// removeCuts removes the cluster's rules (cuts and marks); Down calls it
// first, so that no stop waits on a cut link.
func (c *Cluster) removeCuts() error {
	if c.cuts == nil {
		return nil
	}
	return c.cuts.RemoveRules()
}

// removeCutCgroups removes the nodes' cgroup v2 directories, once their
// processes are gone.
func (c *Cluster) removeCutCgroups() error {
	if c.cuts == nil {
		return nil
	}
	return errors.Join(c.cuts.RemoveRules(), c.cuts.RemoveCgroups())
}
