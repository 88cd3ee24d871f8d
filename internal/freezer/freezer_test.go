package freezer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
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
		{"the freezer", Mount, ""},
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
			dir, err := Open(tc.mount, run)
			if tc.wantErr == "" {
				if err != nil {
					// A read-only /sys/fs/cgroup, as in a job container.
					t.Skipf("freezer not writable here: %v", err)
				}
				if _, err := os.Stat(filepath.Join(dir, "freezer.state")); err != nil {
					t.Fatalf("%s: no freezer.state", dir)
				}
				if err := Close(dir); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(dir); !os.IsNotExist(err) {
					t.Errorf("%s left behind: %v", dir, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Open(%s) = %q, %v; want an error with %q", tc.mount, dir, err, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(tc.mount, Top)); !os.IsNotExist(err) {
				t.Errorf("%s left behind: %v", filepath.Join(tc.mount, Top), err)
			}
		})
	}
	if entries, _ := os.ReadDir(notCgroup); len(entries) > 0 {
		t.Errorf("a plain directory got %v", entries)
	}
}

// TestKill: a process started in a cgroup and what it forks are there;
// Kill stops them all and leaves the cgroup empty, ready to be removed.
func TestKill(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: no cgroup can be made")
	}
	run, err := Open(Mount, fmt.Sprintf("test-%d", time.Now().UnixNano()))
	if err != nil {
		t.Skipf("no freezer: %v", err)
	}
	t.Cleanup(func() { _ = Close(run) })
	cg, err := New(run, "c.node")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "sleep 60 & sleep 60")
	if err := cg.Start(cmd); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // the process this test started
	deadline := time.Now().Add(5 * time.Second)
	var pids []int
	for time.Now().Before(deadline) {
		if pids, _ = cg.Procs(); len(pids) == 3 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if len(pids) != 3 || !slices.Contains(pids, cmd.Process.Pid) {
		t.Fatalf("cgroup holds %v, want the shell %d and its two sleeps", pids, cmd.Process.Pid)
	}
	landed, killed, err := cg.Kill()
	if err != nil || landed.IsZero() || len(killed) != 3 {
		t.Fatalf("Kill = %v, %v, %v", landed, killed, err)
	}
	<-exited
	for !cg.Empty() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(cg.Dir(), "c.node") && fileExists(cg.Dir()) {
		t.Errorf("%s left", cg.Dir())
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
