package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

var _ cluster.NodePartitioner = (*Cluster)(nil)

// cut is one iptables rule a Cut added: in the container of the node data
// goes to, packets from the other node's address are dropped.
type cut struct {
	from, to string
	ctID     string
	rule     []string // after -A / -D
}

// ip is the address of node's container on the run's private network.
func (c *Cluster) ip(ctx context.Context, n *node) (string, error) {
	ins, err := c.b.pool.Client.InspectContainerWithContext(n.ct.id, ctx)
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", n.ct.name, err)
	}
	if ins.NetworkSettings == nil {
		return "", fmt.Errorf("%s has no network", n.ct.name)
	}
	c.b.mu.Lock()
	var want string
	if c.b.network != nil {
		want = c.b.network.Name
	}
	c.b.mu.Unlock()
	for name, ep := range ins.NetworkSettings.Networks {
		if (want == "" || name == want) && ep.IPAddress != "" {
			return ep.IPAddress, nil
		}
	}
	return "", fmt.Errorf("%s has no address on the network %s", n.ct.name, want)
}

// iptables runs iptables as root in container id.
func (c *Cluster) iptables(ctx context.Context, id string, args ...string) error {
	var out bytes.Buffer
	code, err := c.b.exec(ctx, id, "root", nil, append([]string{"iptables", "-w"}, args...), nil, &out)
	if err != nil {
		return err
	}
	if code != 0 {
		return fmt.Errorf("iptables %s exited with %d: %s", strings.Join(args, " "), code, lastLines(out.Bytes(), 3))
	}
	return nil
}

// Cut drops every packet from node from to node to: an iptables rule in
// to's container drops what arrives from from's address on the private
// network. Connections between them hang, as in a real partition. The
// harness's own connections (from the host, through published ports) are
// not cut.
func (c *Cluster) Cut(ctx context.Context, from, to string) error {
	if from == to {
		return fmt.Errorf("cut %s -> %s: a node cannot be cut from itself", from, to)
	}
	nf, err := c.node(from)
	if err != nil {
		return err
	}
	nt, err := c.node(to)
	if err != nil {
		return err
	}
	if nf.ct == nil || nt.ct == nil {
		return fmt.Errorf("cut %s -> %s: no container", from, to)
	}
	src, err := c.ip(ctx, nf)
	if err != nil {
		return fmt.Errorf("cut %s -> %s: %w", from, to, err)
	}
	rule := []string{"INPUT", "-s", src, "-j", "DROP"}
	if err := c.iptables(ctx, nt.ct.id, append([]string{"-I"}, rule...)...); err != nil {
		return fmt.Errorf("cut %s -> %s: %w", from, to, err)
	}
	c.mu.Lock()
	c.cuts = append(c.cuts, cut{from: from, to: to, ctID: nt.ct.id, rule: rule})
	c.mu.Unlock()
	return nil
}

// Heal removes every rule Cut added. A rule that is gone already (its
// container was killed and started again) is not an error.
func (c *Cluster) Heal(ctx context.Context) error {
	c.mu.Lock()
	cuts := c.cuts
	c.cuts = nil
	c.mu.Unlock()
	var errs []error
	var keep []cut
	for _, k := range cuts {
		err := c.iptables(ctx, k.ctID, append([]string{"-D"}, k.rule...)...)
		if err == nil || strings.Contains(err.Error(), "does a matching rule exist") || isNoSuch(err) {
			continue
		}
		keep = append(keep, k)
		errs = append(errs, fmt.Errorf("heal %s -> %s: %w", k.from, k.to, err))
	}
	if len(keep) > 0 {
		c.mu.Lock()
		c.cuts = append(keep, c.cuts...)
		c.mu.Unlock()
	}
	return errors.Join(errs...)
}
