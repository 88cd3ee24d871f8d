package local

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// TestMain runs this test binary as a helper harness when
// TestCleanupAfterHarnessKilled asks for one.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PGBENCH_HA_TEST_HARNESS_TMP"); dir != "" {
		if err := helperHarness(dir); err != nil {
			fmt.Fprintln(os.Stderr, "helper harness:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// helperHarness starts a cluster with a backend in dir, says so on
// stdout, and waits a minute to be killed.
func helperHarness(dir string) error {
	b, err := New(Options{TempDir: dir})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := b.Up(ctx, cluster.Spec{ID: "k", Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}})
	if err != nil {
		return err
	}
	fmt.Printf("ready %s\n", c.(*Cluster).dir)
	time.Sleep(time.Minute)
	return nil
}

// TestCleanupAfterHarnessKilled: a harness killed with SIGKILL takes its
// servers along, but nobody removes their shared memory or their temp
// dir; Cleanup does, and only for runs whose harness is gone.
func TestCleanupAfterHarnessKilled(t *testing.T) {
	b := newBackend(t) // skips without PostgreSQL; a live run in tmp below
	adoptOrphans()     // the killed harness's orphans come here
	tmp, err := os.MkdirTemp("", "cleanup-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil { // the server user goes through it
		t.Fatal(err)
	}
	live, err := New(Options{TempDir: tmp, BinDir: b.BinDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Close() })
	// Not a backend's: no marker.
	other := filepath.Join(tmp, "pgbench-ha-other")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}

	// The harness runs in a session of its own, as a harness started by
	// a CI job would be, under a shell that waits for it: this test
	// process is neither its parent nor in its session, and adopts its
	// servers when it dies.
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skipf("setsid missing: %v", err)
	}
	sh := exec.Command("sh", "-c", `setsid "$0" & echo "pid $!"; wait`, os.Args[0])
	sh.Env = append(os.Environ(), "PGBENCH_HA_TEST_HARNESS_TMP="+tmp)
	sh.Stderr = os.Stderr
	out, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	harnessPid := 0
	t.Cleanup(func() {
		if harnessPid > 0 {
			_ = syscall.Kill(harnessPid, syscall.SIGKILL) // the harness this test started, by pid
		}
		_ = sh.Wait()
	})
	sc := bufio.NewScanner(out)
	var clusterDir string
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "pid" {
			harnessPid, _ = strconv.Atoi(f[1])
		}
		if len(f) == 2 && f[0] == "ready" {
			clusterDir = f[1]
			break
		}
	}
	if clusterDir == "" || harnessPid == 0 {
		t.Fatal("the helper harness did not start its cluster")
	}
	var ids []int
	for _, node := range []string{"primary", "replica1"} {
		_, id := shmOf(t, filepath.Join(clusterDir, node))
		ids = append(ids, id)
	}
	if err := syscall.Kill(harnessPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	harnessPid = 0
	if err := sh.Wait(); err != nil {
		t.Fatalf("the shell around the harness: %v", err)
	}

	// The servers die with their harness (the postmasters at once, their
	// children when they notice); their segments stay.
	deadline := time.Now().Add(20 * time.Second)
	for {
		attached := 0
		for _, id := range ids {
			seg, ok := findSegment(t, id)
			if !ok {
				t.Fatalf("segment %d gone before Cleanup: nothing to test", id)
			}
			attached += seg.nattch
		}
		if attached == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes still attached to the dead run's segments", attached)
		}
		time.Sleep(20 * time.Millisecond)
	}
	root := filepath.Dir(clusterDir)

	found, err := Cleanup(CleanupOptions{TempDir: tmp, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var segs, dirs []string
	for _, l := range found {
		if l.Removed {
			t.Errorf("dry run removed %+v", l)
		}
		switch {
		case l.Kind == "segment":
			segs = append(segs, l.Name)
		case l.Name == root && !l.Alive:
			dirs = append(dirs, l.Name)
		case l.Name == live.root && l.Alive:
		default:
			t.Errorf("unexpected %+v", l)
		}
	}
	if len(segs) != 2 || len(dirs) != 1 {
		t.Fatalf("dry run found segments %v and dirs %v, want 2 and %s", segs, dirs, root)
	}
	for _, id := range ids {
		if _, ok := findSegment(t, id); !ok {
			t.Errorf("dry run removed segment %d", id)
		}
	}

	found, err = Cleanup(CleanupOptions{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	for _, l := range found {
		if l.Removed {
			removed++
		}
	}
	if removed != 3 {
		t.Errorf("removed %d, want 2 segments and 1 dir: %+v", removed, found)
	}
	for _, id := range ids {
		if seg, ok := findSegment(t, id); ok {
			t.Errorf("segment %d left after Cleanup: %+v", id, seg)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("dead run's dir %s after Cleanup: %v", root, err)
	}
	for _, d := range []string{live.root, other} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("%s removed: %v", d, err)
		}
	}
	reapOrphans()
	if z := ownZombies(); len(z) > 0 {
		t.Errorf("zombies left by the killed harness's servers: %v", z)
	}
}
