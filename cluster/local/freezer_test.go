package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"

	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
)

// testFreezer makes a run's cgroup named run for a test, or skips.
func testFreezer(t *testing.T, run string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: no cgroup can be made")
	}
	dir, err := freezer.Open(freezer.Mount, run)
	if err != nil {
		t.Skipf("no freezer: %v", err)
	}
	t.Cleanup(func() { _ = freezer.Close(dir) })
	return dir
}

// TestCgroupsGoneAfterDown: every process of a node is in the node's
// cgroup, a killed and restarted node too; Down removes the nodes'
// cgroups, Close the run's.
func TestCgroupsGoneAfterDown(t *testing.T) {
	testgate.Integration(t)
	b, err := New(Options{})
	if errors.Is(err, ErrNoPostgres) {
		testgate.Missing(t, testgate.RequirePG, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			b.Close()
		}
	})
	if ok, why := b.Freezer(); !ok {
		t.Skipf("no freezer: %v", why)
	}
	run := b.freezer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := b.Up(ctx, cluster.Spec{ID: "g", Replicas: []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}}, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := cl.(*Cluster)
	inCgroup := func(n *node) {
		t.Helper()
		// The tree first, then the cgroup: a process forked in between
		// is in the cgroup's list and not in the tree, never the reverse.
		tree := append(descendants(n.proc.pgid), n.proc.pgid)
		pids, err := n.cg.Procs()
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range tree {
			if !slices.Contains(pids, pid) && alive(pid) {
				t.Errorf("%s: process %d not in its cgroup %s (%v)", n.name, pid, n.cg.Dir(), pids)
			}
		}
		if len(tree) < 4 {
			t.Errorf("%s: only %v", n.name, tree)
		}
	}
	var dirs []string
	for _, n := range c.nodes {
		if n.cg == nil || filepath.Dir(n.cg.Dir()) != run {
			t.Fatalf("%s: no cgroup in %s: %+v", n.name, run, n.cg)
		}
		inCgroup(n)
		dirs = append(dirs, n.cg.Dir())
	}
	if err := c.Kill(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	if !c.nodes[1].cg.Empty() {
		t.Error("killed replica1's cgroup still holds processes")
	}
	if err := c.Start(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	inCgroup(c.nodes[1])
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("node cgroup %s left after Down: %v", d, err)
		}
	}
	closed = true
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(run); !os.IsNotExist(err) {
		t.Errorf("run cgroup %s left after Close: %v", run, err)
	}
}
