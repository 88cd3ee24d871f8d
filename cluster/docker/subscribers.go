package docker

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Logical subscribers (Spec.Subscribers): each a container of its own on
// the cluster's private network, of the cluster's image, labelled with
// the cluster so that Down and Close remove it with the nodes. A
// subscriber is not a node: not in Nodes, never faulted or promoted.

var _ cluster.Subscriberer = (*Cluster)(nil)

// startSubscriber makes n's data directory from the template, starts it
// and gives it the cluster's roles and passwords.
func (c *Cluster) startSubscriber(ctx context.Context, n *node, t *template, conf string) error {
	if err := c.b.copyTemplate(ctx, n.ct.id, t); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	err := c.b.writeFiles(ctx, n.ct.id, dataDir,
		file{name: "pg_hba.conf", body: []byte(cluster.HBA("samenet")), mode: 0o600, uid: c.img.uid, gid: c.img.gid},
		file{name: "postgresql.conf", body: []byte(conf), mode: 0o600, uid: c.img.uid, gid: c.img.gid})
	if err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	if err := c.start(ctx, n); err != nil {
		return err
	}
	// As the template's superuser, whose password the setup changes.
	cfg, err := pgx.ParseConfig(cluster.Passwords{Admin: t.adminPassword}.ConnString("127.0.0.1", n.ct.hostPort, cluster.Admin))
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 5 * time.Second
	cfg.RuntimeParams["application_name"] = "pgbench-ha-admin"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %s", n.name, cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	if _, err := c.pw.Setup(ctx, conn, nil); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	return nil
}

// Subscribers lists the logical subscribers as the harness reaches them:
// 127.0.0.1 and each container's published port.
func (c *Cluster) Subscribers() []cluster.Node {
	out := make([]cluster.Node, 0, len(c.subs))
	for _, n := range c.subs {
		sn := cluster.Node{Name: n.name, Host: "127.0.0.1"}
		if n.ct != nil {
			sn.Port = n.ct.hostPort
		}
		out = append(out, sn)
	}
	return out
}

// SubscriberConnInfo is how a subscriber's subscription reaches node, as
// the admin user: node's container name on the private network, port
// 5432. A connection attempt gives up after 5 s: a killed container's
// address is gone from the network, and a connect to it is not refused
// but hangs, which would keep the apply worker from trying again.
func (c *Cluster) SubscriberConnInfo(subscriber, node string) string {
	n, err := c.node(node)
	if err != nil || n.ct == nil {
		return ""
	}
	return c.pw.ConnString(n.ct.name, 5432, cluster.Admin) + " connect_timeout=5"
}
