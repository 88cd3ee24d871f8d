package local

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"

	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
	"github.com/pgbench-ha/pgbench-ha/internal/netcut"
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
	// Nor a file that happens to share the prefix (a binary, say).
	if err := os.WriteFile(filepath.Join(tmp, "pgbench-ha-file"), []byte("x"), 0o755); err != nil {
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
	harnessPid0 := harnessPid
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
	// The dead harness's cgroup, when it had the freezer (this process
	// has it too then); the machine may hold other runs' cgroups.
	withFreezer, _ := live.Freezer()
	deadCgroups := func(found []Leftover) (n int) {
		for _, l := range found {
			if l.Kind == "cgroup" && l.PID == harnessPid0 && !l.Alive {
				n++
			}
		}
		return n
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
		case l.Kind == "cgroup", l.Kind == "rules": // other runs' too
		default:
			t.Errorf("unexpected %+v", l)
		}
	}
	if len(segs) != 2 || len(dirs) != 1 {
		t.Fatalf("dry run found segments %v and dirs %v, want 2 and %s", segs, dirs, root)
	}
	if n := deadCgroups(found); withFreezer && n != 1 {
		t.Errorf("dry run found %d cgroups of the dead harness %d, want 1: %+v", n, harnessPid0, found)
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
		if l.Removed && (l.Kind != "cgroup" && l.Kind != "rules" || l.PID == harnessPid0) {
			removed++
		}
	}
	want := 3
	if withFreezer {
		want = 4
	}
	if removed != want {
		t.Errorf("removed %d, want 2 segments, 1 dir and with the freezer 1 cgroup: %+v", removed, found)
	}
	if withFreezer {
		runs, _ := filepath.Glob(filepath.Join(freezer.Mount, freezer.Top, strconv.Itoa(harnessPid0)+"-*"))
		if len(runs) > 0 {
			t.Errorf("the dead harness's cgroups left after Cleanup: %v", runs)
		}
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

// TestCleanupCgroups: the cgroups of a dead run go, the processes frozen
// in them killed first; a live run's are kept, and a dry run touches
// nothing.
func TestCleanupCgroups(t *testing.T) {
	me, ok := readStat(os.Getpid())
	if !ok {
		t.Fatal("read /proc/self/stat")
	}
	// This process with another start time: a harness that is gone.
	dead := testFreezer(t, fmt.Sprintf("%d-%d-cleanup", os.Getpid(), me.start+1))
	live := testFreezer(t, fmt.Sprintf("%d-%d-cleanup", os.Getpid(), me.start))
	f, err := freezer.New(dead, "c.primary")
	if err != nil {
		t.Fatal(err)
	}
	sleep := exec.Command("sleep", "60")
	if err := f.Start(sleep); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- sleep.Wait() }()
	t.Cleanup(func() {
		_ = sleep.Process.Kill() // the process this test started, by pid
		_ = f.Thaw()
	})
	if pids, err := f.Procs(); err != nil || !slices.Equal(pids, []int{sleep.Process.Pid}) {
		t.Fatalf("cgroup holds %v (%v), want the sleep %d", pids, err, sleep.Process.Pid)
	}
	if err := f.Freeze(); err != nil { // its harness died while it was paused
		t.Fatal(err)
	}
	if _, err := freezer.New(live, "c.primary"); err != nil {
		t.Fatal(err)
	}

	find := func(found []Leftover, dir string) Leftover {
		t.Helper()
		for _, l := range found {
			if strings.HasPrefix(l.Name, dir) {
				return l
			}
		}
		t.Fatalf("%s not found in %+v", dir, found)
		return Leftover{}
	}
	found, err := cleanupCgroups(freezer.Mount, true)
	if err != nil {
		t.Fatal(err)
	}
	if l := find(found, dead); l.Alive || l.Removed || !strings.Contains(l.Name, "1 processes to kill") {
		t.Errorf("dry run: dead run's cgroup: %+v", l)
	}
	if l := find(found, live); !l.Alive || l.Removed {
		t.Errorf("dry run: live run's cgroup: %+v", l)
	}
	if !fileExists(f.Dir()) || !alive(sleep.Process.Pid) {
		t.Fatal("the dry run removed a cgroup or killed its process")
	}

	found, err = cleanupCgroups(freezer.Mount, false)
	if err != nil {
		t.Fatal(err)
	}
	if l := find(found, dead); !l.Removed || !strings.Contains(l.Name, "1 processes killed") {
		t.Errorf("dead run's cgroup: %+v", l)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the frozen process of the dead run still runs")
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("dead run's cgroup %s left: %v", dead, err)
	}
	if l := find(found, live); !l.Alive || l.Removed || !fileExists(filepath.Join(live, "c.primary")) {
		t.Errorf("live run's cgroup: %+v", l)
	}
}

// TestKillLeftProcesses: a process the run started (its environment
// carries the run's mark) whose command line names the dead run's temp dir
// is listed by a dry run and killed by a real one; one that names the dir
// without the mark (a user's tail -f of a server log) and one of another
// run are left alone.
func TestKillLeftProcesses(t *testing.T) {
	root := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	start := func(arg0 string, env ...string) *exec.Cmd {
		// sleep itself, its argv[0] naming the dir: no shell whose child
		// would outlive it, orphaned, when the shell is killed.
		cmd := &exec.Cmd{Path: sleep, Args: []string{arg0, "60"}, Env: append([]string{"PATH=/usr/bin:/bin"}, env...)}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = cmd.Wait() }()
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // the processes this test started, by pid
		return cmd
	}
	left := start(filepath.Join(root, "v0", "primary.yml"), RunEnv(root))
	users := start(filepath.Join(root, "v0", "primary.log"))
	other := start(root+"-other/v0/primary.yml", RunEnv(root+"-other"))
	found := killLeftProcesses(root, 1, true)
	if len(found) != 1 || found[0].Kind != "process" || found[0].Removed || !strings.HasPrefix(found[0].Name, strconv.Itoa(left.Process.Pid)+" ") {
		t.Fatalf("dry run found %+v, want the one process %d", found, left.Process.Pid)
	}
	if !alive(left.Process.Pid) {
		t.Fatal("the dry run killed it")
	}
	found = killLeftProcesses(root, 1, false)
	if len(found) != 1 || !found[0].Removed || found[0].Err != nil {
		t.Fatalf("found %+v, want the one process killed", found)
	}
	if alive(left.Process.Pid) || !alive(other.Process.Pid) || !alive(users.Process.Pid) {
		t.Errorf("alive: the run's %v (want false), another run's %v, a user's naming the dir %v (want true)",
			alive(left.Process.Pid), alive(other.Process.Pid), alive(users.Process.Pid))
	}
}

// TestCleanupCuts: a dead run's node-cut rules and cgroup v2 directory
// are removed, rules first; a live run's are kept; a dry run and what is
// no run's are left alone.
func TestCleanupCuts(t *testing.T) {
	t.Parallel()
	me, ok := readStat(os.Getpid())
	if !ok {
		t.Fatal("read /proc/self/stat")
	}
	dead := fmt.Sprintf("%d-%d-1234", os.Getpid(), me.start+1)
	live := fmt.Sprintf("%d-%d-5678", os.Getpid(), me.start)
	left := []netcut.Leftover{
		{Kind: "cgroup", Name: "/cg/pgbench-ha/" + dead, Run: dead},
		{Kind: "rules", Name: "iptables chains PGBHA-1", Run: dead},
		{Kind: "rules", Name: "iptables chains PGBHA-2", Run: live},
		{Kind: "cgroup", Name: "/cg/pgbench-ha/junk", Run: "junk"},
	}
	list := func() ([]netcut.Leftover, error) { return slices.Clone(left), nil }
	var removed []string
	remove := func(l netcut.Leftover) error { removed = append(removed, l.Name); return nil }
	found, err := cleanupCuts(list, remove, true)
	if err != nil || len(removed) > 0 || len(found) != 3 {
		t.Fatalf("dry run: found %+v, removed %q, %v", found, removed, err)
	}
	found, err = cleanupCuts(list, remove, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"iptables chains PGBHA-1", "/cg/pgbench-ha/" + dead}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for _, l := range found {
		if l.PID != os.Getpid() || l.Alive != (l.Name == "iptables chains PGBHA-2") || l.Removed == l.Alive {
			t.Errorf("found %+v", l)
		}
	}
}
