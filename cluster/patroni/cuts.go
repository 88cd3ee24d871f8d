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
	return c.CutAll(ctx, [][2]string{{from, to}})
}

// CutAll makes every cut (from, to) as Cut does, in one step (one
// iptables transaction).
func (c *Cluster) CutAll(ctx context.Context, cuts [][2]string) error {
	if c.cuts == nil {
		return fmt.Errorf("cut: %w (or the backend cannot cut links between nodes here)", local.ErrNoNetwork)
	}
	for _, cut := range cuts {
		for _, name := range cut {
			if _, err := c.node(name); err != nil {
				return fmt.Errorf("cut %s -> %s: %w", cut[0], cut[1], err)
			}
		}
	}
	return c.cuts.CutAll(cuts)
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
