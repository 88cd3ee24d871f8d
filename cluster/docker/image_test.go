package docker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// TestImagePerCluster: a cluster of an image other than the backend's
// default (Spec.Image) runs that image's server, with its own template,
// and its logical subscriber beside it: a server of its own, not a node,
// reachable from the harness, subscribing to the primary by the
// connection string it is given (the primary's container name on the
// private network); removed with the cluster.
func TestImagePerCluster(t *testing.T) {
	b := newBackend(t) // the default image: LocalImage (15)
	v17, err := b.ProbeImage(LocalImage17)
	if errors.Is(err, ErrNoImage) {
		testgate.Missing(t, testgate.RequireDocker, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v17, "17.") || strings.HasPrefix(b.ServerVersion(), "17.") {
		t.Fatalf("versions: default %s, %s %s", b.ServerVersion(), LocalImage17, v17)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	logical := map[string]string{"wal_level": "logical"}
	cl, err := b.Up(ctx, cluster.Spec{ID: "img", Image: LocalImage17, LogDir: t.TempDir(),
		Replicas: []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}}, Subscribers: []string{"sub1"},
		Settings: map[string]map[string]string{"primary": logical, "replica1": logical}})
	if err != nil {
		t.Fatal(err)
	}
	c := cl.(*Cluster)
	defer c.Down(context.Background())
	if c.ServerVersion() != v17 || c.Image() != LocalImage17 || len(c.Nodes()) != 2 {
		t.Fatalf("cluster: %s of %s, nodes %v", c.ServerVersion(), c.Image(), c.Nodes())
	}
	subs := c.Subscribers()
	if len(subs) != 1 || subs[0].Name != "sub1" || subs[0].Port == 0 {
		t.Fatalf("subscribers: %v", subs)
	}
	// Every server answers with the image's version.
	for _, n := range []string{"primary", "replica1", "sub1"} {
		conn, err := c.connect(ctx, n, cluster.Admin, 5*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		var v string
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil || !strings.HasPrefix(v, "17.") {
			t.Errorf("%s runs %q (%v)", n, v, err)
		}
		conn.Close(context.Background())
	}
	p, err := c.connect(ctx, "primary", cluster.Admin, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	sub, err := c.connect(ctx, "sub1", cluster.Admin, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close(context.Background())
	for _, q := range []string{"CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)", "CREATE PUBLICATION p FOR TABLE t"} {
		if _, err := p.Exec(ctx, q); err != nil {
			t.Fatalf("primary: %s: %v", q, err)
		}
	}
	for _, q := range []string{"CREATE TABLE t (id int PRIMARY KEY)",
		"CREATE SUBSCRIPTION s CONNECTION " + pgquote.Literal(c.SubscriberConnInfo("sub1", "primary")) + " PUBLICATION p"} {
		if _, err := sub.Exec(ctx, q); err != nil {
			t.Fatalf("sub1: %s", cluster.Redact(err.Error()))
		}
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		var n int
		if err := sub.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription copied nothing in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := c.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	left, err := b.listContainers(context.Background(), map[string]string{LabelRun: b.runID, LabelCluster: c.id})
	if err != nil || len(left) > 0 {
		t.Errorf("left after Down: %v %v", left, err)
	}
}
