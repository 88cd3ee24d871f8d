package local

import (
	"context"
	"errors"
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/linknet"
)

// ErrNoNetwork means a link fault was asked of a cluster built without
// Spec.Network: its connections do not go through proxies.
var ErrNoNetwork = errors.New("cluster built without Network (set Spec.Network to fault links)")

var _ cluster.Networker = (*Cluster)(nil)

// network holds the proxies of a cluster built with Spec.Network: one per
// link, that is per ordered pair (from, to) where from is a node or a
// client group and to a node (linknet).
type network struct {
	*linknet.Network
	clients map[string]bool
}

// newNetwork starts a proxy for every link between nodes (first) and from
// every client group to every node. On error nothing is left listening.
func newNetwork(nodes []*node, clients []string) (*network, error) {
	nodeNames := map[string]bool{}
	for _, n := range nodes {
		nodeNames[n.name] = true
	}
	nw := &network{clients: map[string]bool{}}
	for _, c := range clients {
		switch {
		case c == "":
			return nil, errors.New("network: empty client group name")
		case nodeNames[c]:
			return nil, fmt.Errorf("network: client group %q has the name of a node", c)
		case nw.clients[c]:
			return nil, fmt.Errorf("network: client group %q named twice", c)
		}
		nw.clients[c] = true
	}
	froms := make([]string, 0, len(nodes)+len(clients))
	for _, n := range nodes {
		froms = append(froms, n.name)
	}
	froms = append(froms, clients...)
	var links []linknet.Link
	for _, from := range froms {
		for _, to := range nodes {
			if from != to.name {
				links = append(links, linknet.Link{From: from, To: to.name, Port: to.port})
			}
		}
	}
	var err error
	if nw.Network, err = linknet.New(links); err != nil {
		return nil, err
	}
	return nw, nil
}

// linkPort is the port that from reaches to on: the link's proxy when the
// cluster has one, else to's own port.
func (c *Cluster) linkPort(from string, to *node) int {
	if c.net != nil {
		if p, ok := c.net.Port(from, to.name); ok {
			return p
		}
	}
	return to.port
}

// ClientConnString is ConnString through the link from the client group
// client to node; "" if either is unknown or the cluster was built
// without Spec.Network.
func (c *Cluster) ClientConnString(client, node string, u cluster.User) string {
	if c.net == nil || !c.net.clients[client] {
		return ""
	}
	p, ok := c.net.Port(client, node)
	if !ok {
		return ""
	}
	return c.pw.ConnString("127.0.0.1", p, u)
}

// Links lists every link, (from, to): between nodes first, then from each
// client group; nil for a cluster built without Spec.Network.
func (c *Cluster) Links() [][2]string {
	if c.net == nil {
		return nil
	}
	return c.net.Links()
}

// AddToxic puts t on the link from -> to (linknet.Network.AddToxic).
func (c *Cluster) AddToxic(ctx context.Context, from, to string, t cluster.Toxic) error {
	if c.net == nil {
		return fmt.Errorf("add toxic %q: %w", t.Name, ErrNoNetwork)
	}
	return c.net.AddToxic(ctx, from, to, t)
}

// RemoveToxic takes the toxic named name off the link from -> to
// (linknet.Network.RemoveToxic).
func (c *Cluster) RemoveToxic(ctx context.Context, from, to, name string) error {
	if c.net == nil {
		return fmt.Errorf("remove toxic %q: %w", name, ErrNoNetwork)
	}
	return c.net.RemoveToxic(ctx, from, to, name)
}
