package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// TestOpenFreezer: the freezer is used only where a freezer hierarchy is
// mounted and this process may make cgroups in it; anywhere else the
// backend falls back to signals and leaves nothing behind.
func TestOpenFreezer(t *testing.T) {
	notCgroup := t.TempDir()
	tests := []struct {
		name    string
		mount   string
		wantErr string // "" when the freezer is used
	}{
		{"nothing mounted", filepath.Join(t.TempDir(), "freezer"), "no such file"},
		{"a plain directory", notCgroup, "not a cgroup v1 hierarchy"},
		{"another controller", "/sys/fs/cgroup/pids", "not a freezer hierarchy"},
		{"the freezer", freezerMount, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.mount, "/sys/") {
				if _, err := os.Stat(filepath.Join(tc.mount, "cgroup.procs")); err != nil {
					t.Skipf("no cgroup v1 hierarchy at %s", tc.mount)
				}
				if os.Geteuid() != 0 {
					t.Skip("not root: no cgroup can be made")
				}
			}
			run := fmt.Sprintf("test-%d", time.Now().UnixNano())
			dir, err := openFreezer(tc.mount, run)
			if tc.wantErr == "" {
				if err != nil {
					// A read-only /sys/fs/cgroup, as in a job container.
					t.Skipf("freezer not writable here: %v", err)
				}
				if !fileExists(filepath.Join(dir, "freezer.state")) {
					t.Fatalf("%s: no freezer.state", dir)
				}
				if err := closeFreezer(dir); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("%s left behind: %v", dir, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("openFreezer(%s) = %q, %v; want an error with %q", tc.mount, dir, err, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(tc.mount, freezerTop)); !os.IsNotExist(err) {
				t.Errorf("%s left behind: %v", filepath.Join(tc.mount, freezerTop), err)
			}
		})
	}
	if entries, _ := os.ReadDir(notCgroup); len(entries) > 0 {
		t.Errorf("a plain directory got %v", entries)
	}
}

// testFreezer makes a run's cgroup named run for a test, or skips.
func testFreezer(t *testing.T, run string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("not root: no cgroup can be made")
	}
	dir, err := openFreezer(freezerMount, run)
	if err != nil {
		t.Skipf("no freezer: %v", err)
	}
	t.Cleanup(func() { _ = closeFreezer(dir) })
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
		pids, err := n.cg.procs()
		if err != nil {
			t.Fatal(err)
		}
		for _, pid := range tree {
			if !slices.Contains(pids, pid) && alive(pid) {
				t.Errorf("%s: process %d not in its cgroup %s (%v)", n.name, pid, n.cg.dir, pids)
			}
		}
		if len(tree) < 4 {
			t.Errorf("%s: only %v", n.name, tree)
		}
	}
	var dirs []string
	for _, n := range c.nodes {
		if n.cg == nil || filepath.Dir(n.cg.dir) != run {
			t.Fatalf("%s: no cgroup in %s: %+v", n.name, run, n.cg)
		}
		inCgroup(n)
		dirs = append(dirs, n.cg.dir)
	}
	if err := c.Kill(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	if !c.nodes[1].cg.empty() {
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
