package local

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
	"github.com/pgbench-ha/pgbench-ha/internal/netcut"
)

// A harness killed outright (SIGKILL, a crash) leaves its backend's temp
// dir and, once its servers die with it, their shared memory segments:
// nobody removes them. Each backend's temp dir holds a marker naming the
// harness process, so Cleanup can tell a dead run's leftovers from a live
// run's and from anything else on the machine.

// markerName is the file in a backend's temp dir that names its harness.
const markerName = "harness"

// harness identifies a process across pid reuse: pid, start time, boot.
type harness struct {
	pid   int
	start uint64
	boot  string
}

func bootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// writeMarker records this process as the harness of root.
func writeMarker(root string) error {
	st, ok := readStat(os.Getpid())
	if !ok {
		return errors.New("read /proc/self/stat")
	}
	line := fmt.Sprintf("%d %d %s\n", os.Getpid(), st.start, bootID())
	return os.WriteFile(filepath.Join(root, markerName), []byte(line), 0o644)
}

// readMarker reads the harness of root; the error wraps fs.ErrNotExist
// when root has no marker.
func readMarker(root string) (harness, error) {
	b, err := os.ReadFile(filepath.Join(root, markerName))
	if err != nil {
		return harness{}, err
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		return harness{}, fmt.Errorf("%s: not a harness marker", filepath.Join(root, markerName))
	}
	var h harness
	var e1, e2 error
	h.pid, e1 = strconv.Atoi(f[0])
	h.start, e2 = strconv.ParseUint(f[1], 10, 64)
	h.boot = f[2]
	if e1 != nil || e2 != nil {
		return harness{}, fmt.Errorf("%s: not a harness marker", filepath.Join(root, markerName))
	}
	return h, nil
}

// running reports whether the harness process still runs.
func (h harness) running() bool {
	if h.boot != bootID() {
		return false
	}
	st, ok := readStat(h.pid)
	return ok && !st.exited() && st.start == h.start
}

// CleanupOptions configure Cleanup.
type CleanupOptions struct {
	// TempDir is where backends made their temp dirs; empty means
	// os.TempDir(), as for Options.TempDir.
	TempDir string
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
}

// Leftover is a kept cluster's server, a process whose command line
// names a dead run's temp dir, a shared memory segment, a
// backend's temp dir (data directories and logs not kept elsewhere), its
// freezer or cgroup v2 cgroups, or its iptables rules that a run left
// behind.
type Leftover struct {
	Kind string // "server", "process", "segment", "directory", "cgroup" or "rules"
	Name string // the segment's id and key and its data dir, or the dir
	PID  int    // the run's harness process
	// Alive says the harness still runs: its temp dir is kept.
	Alive   bool
	Removed bool
	Err     error
}

// Cleanup removes what local runs whose harness is gone left behind: their
// freezer cgroups (killing the processes left in them, frozen), the
// processes left running whose command line names one of their temp dirs
// and whose environment marks them as the run's (a Patroni backend's
// orphaned servers), the shared memory segments of
// their servers, then their temp dirs, and last the cgroup v2
// directories and iptables rules of their node cuts (netcut). Only the
// temp dirs with a harness marker are looked at, and only a segment named
// in one of their postmaster.pid files, with the same key, made by that
// postmaster and attached by no process, is removed: never another
// PostgreSQL's. A temp dir is removed once none of its segments is left.
// Run as root, segments are removed as their owner. It returns everything
// it found, removed or kept.
func Cleanup(opts CleanupOptions) ([]Leftover, error) {
	tmp := opts.TempDir
	if tmp == "" {
		tmp = os.TempDir()
	}
	roots, err := filepath.Glob(filepath.Join(tmp, "pgbench-ha-*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(roots)
	// Cgroups first: a frozen server left in one holds its segment.
	found, err := cleanupCgroups(freezer.Mount, opts.DryRun)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	for _, root := range roots {
		if fi, err := os.Lstat(root); err != nil || !fi.IsDir() {
			continue // a file of that name: not a backend's
		}
		h, err := readMarker(root)
		if errors.Is(err, fs.ErrNotExist) {
			continue // not a backend's, or one from before markers
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if h.running() {
			found = append(found, Leftover{Kind: "directory", Name: root, PID: h.pid, Alive: true})
			continue
		}
		if hasKept(root) {
			// A kept cluster: its servers run on, detached.
			servers, err := stopKept(root, opts.DryRun)
			for i := range servers {
				servers[i].PID = h.pid
			}
			found = append(found, servers...)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if opts.DryRun {
				found = append(found, Leftover{Kind: "directory", Name: root, PID: h.pid})
				continue
			}
		}
		procs := killLeftProcesses(root, h.pid, opts.DryRun)
		found = append(found, procs...)
		for _, l := range procs {
			if l.Err != nil {
				errs = append(errs, l.Err)
			}
		}
		segs, err := deadSegments(root, h.pid)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		kept := 0
		for i := range segs {
			l := &segs[i]
			switch {
			case l.seg.nattch > 0:
				l.Err = fmt.Errorf("%d processes still attached (a server of the run still runs?)", l.seg.nattch)
			case !opts.DryRun:
				if l.Err = removeSegment(l.seg); l.Err == nil {
					l.Removed = true
				}
			}
			if l.Err != nil {
				kept++
				errs = append(errs, l.Err)
			}
			found = append(found, l.Leftover)
		}
		dir := Leftover{Kind: "directory", Name: root, PID: h.pid}
		switch {
		case kept > 0:
			dir.Err = fmt.Errorf("%d of its shared memory segments are left", kept)
		case opts.DryRun:
		default:
			if dir.Err = os.RemoveAll(root); dir.Err == nil {
				dir.Removed = true
			} else {
				errs = append(errs, dir.Err)
			}
		}
		found = append(found, dir)
	}
	// Last, once their processes are gone: the cgroup v2 directories and
	// iptables rules of the Patroni backend's node cuts (netcut).
	cuts, err := cleanupCuts(netcut.Leftovers, netcut.Remove, opts.DryRun)
	found = append(found, cuts...)
	if err != nil {
		errs = append(errs, err)
	}
	return found, errors.Join(errs...)
}

// cleanupCuts removes the rules and cgroup v2 directories that runs
// whose harness is gone left (list finds them, remove removes one); a
// live run's are listed and kept.
func cleanupCuts(list func() ([]netcut.Leftover, error), remove func(netcut.Leftover) error, dryRun bool) ([]Leftover, error) {
	left, err := list()
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}
	// Rules first: they hold the cgroups they match on.
	sort.SliceStable(left, func(i, j int) bool { return left[i].Kind == "rules" && left[j].Kind != "rules" })
	var found []Leftover
	for _, l := range left {
		h, ok := runHarness(l.Run)
		if !ok {
			continue // not a run's
		}
		f := Leftover{Kind: l.Kind, Name: l.Name, PID: h.pid}
		switch {
		case h.running():
			f.Alive = true
		case dryRun:
		default:
			if f.Err = remove(l); f.Err == nil {
				f.Removed = true
			} else {
				errs = append(errs, f.Err)
			}
		}
		found = append(found, f)
	}
	return found, errors.Join(errs...)
}

type deadSegment struct {
	Leftover
	seg segment
}

// deadSegments lists the segments that the servers of a backend's temp dir
// left: <root>/<cluster>/<node>/postmaster.pid, and the template's.
func deadSegments(root string, pid int) ([]deadSegment, error) {
	files, _ := filepath.Glob(filepath.Join(root, "*", "postmaster.pid"))
	nodes, _ := filepath.Glob(filepath.Join(root, "*", "*", "postmaster.pid"))
	var out []deadSegment
	for _, f := range append(files, nodes...) {
		dataDir := filepath.Dir(f)
		pf, err := readPidFile(dataDir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		seg, ok, err := serverSegment(pf)
		if err != nil {
			return nil, err
		}
		if ok {
			name := fmt.Sprintf("%d (key %d) of %s", seg.id, seg.key, dataDir)
			out = append(out, deadSegment{Leftover{Kind: "segment", Name: name, PID: pid}, seg})
		}
	}
	return out, nil
}

// cleanupCgroups removes the cgroups of runs whose harness is gone, in
// the freezer hierarchy mounted at mount. A run whose harness died while
// a node was frozen (paused) left its processes there, frozen: those are
// killed first, being of a dead run. A live run's cgroup is listed and
// kept.
func cleanupCgroups(mount string, dryRun bool) ([]Leftover, error) {
	top := filepath.Join(mount, freezer.Top)
	runs, err := os.ReadDir(top)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("freezer: %w", err)
	}
	var found []Leftover
	var errs []error
	for _, r := range runs {
		h, ok := runHarness(r.Name())
		if !r.IsDir() || !ok {
			continue // not a run's
		}
		dir := filepath.Join(top, r.Name())
		l := Leftover{Kind: "cgroup", Name: dir, PID: h.pid}
		if h.running() {
			l.Alive = true
			found = append(found, l)
			continue
		}
		nodes, _ := os.ReadDir(dir)
		var procs int
		var lerrs []error
		for _, n := range nodes {
			if !n.IsDir() {
				continue
			}
			f := freezer.At(filepath.Join(dir, n.Name()))
			pids, err := f.Procs()
			if err != nil {
				lerrs = append(lerrs, err)
				continue
			}
			procs += len(pids)
			if dryRun {
				continue
			}
			if len(pids) > 0 {
				if _, _, err := f.Kill(); err != nil {
					lerrs = append(lerrs, err)
				}
				deadline := time.Now().Add(5 * time.Second)
				for !f.Empty() && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}
			if err := f.Remove(); err != nil {
				lerrs = append(lerrs, err)
			}
		}
		if procs > 0 {
			verb := "killed"
			if dryRun {
				verb = "to kill"
			}
			l.Name = fmt.Sprintf("%s (%d processes %s)", dir, procs, verb)
		}
		if !dryRun && len(lerrs) == 0 {
			if err := freezer.Remove(dir); err != nil {
				lerrs = append(lerrs, err)
			}
		}
		if l.Err = errors.Join(lerrs...); l.Err != nil {
			errs = append(errs, l.Err)
		} else if !dryRun {
			l.Removed = true
		}
		found = append(found, l)
	}
	if !dryRun {
		_ = os.Remove(top) // busy while a run has its cgroup there
	}
	return found, errors.Join(errs...)
}

// runHarness reads the harness from a run's cgroup name (freezer.RunName).
func runHarness(name string) (harness, bool) {
	f := strings.SplitN(name, "-", 3)
	if len(f) != 3 {
		return harness{}, false
	}
	pid, e1 := strconv.Atoi(f[0])
	start, e2 := strconv.ParseUint(f[1], 10, 64)
	if e1 != nil || e2 != nil {
		return harness{}, false
	}
	// A cgroup does not outlive a reboot: its harness ran in this boot.
	return harness{pid: pid, start: start, boot: bootID()}, true
}

// WriteMarker records this process as the harness of root, a temp dir
// named $TMPDIR/pgbench-ha-*, so that Cleanup treats it as a local
// backend's: another backend that lays its data out the same way
// (<root>/<cluster>/<node>/postmaster.pid) and names its cgroups with
// freezer.RunName(root) gets its leftovers removed by Cleanup too.
func WriteMarker(root string) error { return writeMarker(root) }

// runEnvKey names the environment variable every process a backend
// starts carries, its value the run's temp dir: inherited by whatever
// those processes start (Patroni passes its environment on to the
// PostgreSQL it starts), and by nothing else.
const runEnvKey = "PGBENCH_HA_RUN"

// RunEnv is the environment entry that marks a process as started by the
// run whose temp dir is root. A backend that starts processes which may
// outlive it (cluster/patroni) puts it in their environment, so that
// Cleanup finds them.
func RunEnv(root string) string { return runEnvKey + "=" + filepath.Clean(root) }

// startedBy reports whether process p's environment marks it as started
// by the run whose temp dir is root.
func startedBy(p int, root string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/environ")
	if err != nil {
		return false
	}
	want := RunEnv(root)
	for _, kv := range strings.Split(string(b), "\x00") {
		if kv == want {
			return true
		}
	}
	return false
}

// killLeftProcesses kills the processes of a dead run that it started and
// that did not die with it (servers started by a manager such as Patroni,
// which orphans them): those whose environment carries the run's mark
// (RunEnv) and whose command line names its temp dir root. A process that
// merely names the dir (a shell script, a tail -f of a server's log) is
// not the run's and is left alone. They are SIGKILLed; it waits up to 5 s
// for them to go.
func killLeftProcesses(root string, pid int, dryRun bool) []Leftover {
	var found []Leftover
	var pids []int
	me := os.Getpid()
	eachProc(func(p int, st procStat) {
		if p == me || st.exited() {
			return
		}
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
		if err != nil || !strings.Contains(string(b), root+"/") || !startedBy(p, root) {
			return
		}
		name := fmt.Sprintf("%d %s", p, strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " ")))
		found = append(found, Leftover{Kind: "process", Name: name, PID: pid})
		pids = append(pids, p)
	})
	if dryRun {
		return found
	}
	for i, p := range pids {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			found[i].Err = err
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for i, p := range pids {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if found[i].Err == nil {
			if alive(p) {
				found[i].Err = fmt.Errorf("process %d still alive after SIGKILL", p)
			} else {
				found[i].Removed = true
			}
		}
	}
	reapOrphans()
	return found
}
