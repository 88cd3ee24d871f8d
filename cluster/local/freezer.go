package local

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The cgroup v1 freezer, as docker pause uses it. Each node's postmaster
// starts in a cgroup of its own, and every process it forks is born
// there: the node is that cgroup. Writing FROZEN to its freezer.state
// stops all of it in one step, backends in sessions of their own
// included, where signals reach the processes one by one and miss those
// forked meanwhile. Without a writable freezer hierarchy (a container with
// a read-only /sys/fs/cgroup, a harness that is not root, cgroup v2 only)
// the backend signals the process tree instead.
//
//	/sys/fs/cgroup/freezer/pgbench-ha/<pid>-<start>-<backend>/<cluster>.<node>
//
// The run's directory names its harness (pid and start time, as the temp
// dir's marker does), so Cleanup can tell a dead run's from a live one's.

// freezerMount is where the freezer hierarchy is mounted.
const freezerMount = "/sys/fs/cgroup/freezer"

// freezerTop holds the runs' cgroups under the mount.
const freezerTop = "pgbench-ha"

// cgroupSuperMagic is the statfs type of a cgroup v1 hierarchy.
const cgroupSuperMagic = 0x27e0eb

// freezeTimeout bounds the wait for a cgroup to read FROZEN.
const freezeTimeout = 5 * time.Second

// freezerRunName names the cgroup of the backend whose temp dir is root
// after this process, as its marker does: <pid>-<start>-<suffix of root>.
func freezerRunName(root string) string {
	st, _ := readStat(os.Getpid())
	return fmt.Sprintf("%d-%d-%s", os.Getpid(), st.start, strings.TrimPrefix(filepath.Base(root), "pgbench-ha-"))
}

// openFreezer makes the run's cgroup, named run, in the freezer hierarchy
// mounted at mount, and returns its path; the error says why the freezer
// cannot be used.
func openFreezer(mount, run string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(mount, &st); err != nil {
		return "", fmt.Errorf("freezer: %w", err)
	}
	if st.Type != cgroupSuperMagic {
		return "", fmt.Errorf("freezer: %s is not a cgroup v1 hierarchy", mount)
	}
	if !mountedWith(mount, "freezer") {
		return "", fmt.Errorf("freezer: %s is not a freezer hierarchy", mount)
	}
	top := filepath.Join(mount, freezerTop)
	dir := filepath.Join(top, run)
	// Another run may remove top between the two: try again.
	var err error
	for range 3 {
		if err = os.Mkdir(top, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			break
		}
		if err = os.Mkdir(dir, 0o755); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return "", fmt.Errorf("freezer: %w", err)
	}
	if !fileExists(filepath.Join(dir, "freezer.state")) {
		_ = os.Remove(dir)
		_ = os.Remove(top)
		return "", fmt.Errorf("freezer: %s is not a freezer hierarchy", mount)
	}
	return dir, nil
}

// mountedWith reports whether /proc/self/mounts has a cgroup mounted at
// mount with the controller among its options.
func mountedWith(mount, controller string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == mount && f[2] == "cgroup" && slices.Contains(strings.Split(f[3], ","), controller) {
			return true
		}
	}
	return false
}

// closeFreezer removes the run's cgroup, its nodes' first (their
// processes must be gone), and the top directory if no other run uses it.
func closeFreezer(dir string) error {
	nodes, _ := os.ReadDir(dir)
	var errs []error
	for _, n := range nodes {
		if n.IsDir() {
			if err := removeCgroup(filepath.Join(dir, n.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := removeCgroup(dir); err != nil {
		errs = append(errs, err)
	}
	_ = os.Remove(filepath.Dir(dir)) // busy while another run has its cgroup there
	return errors.Join(errs...)
}

// removeCgroup removes an empty cgroup; gone already is fine.
func removeCgroup(dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// freezer is one node's cgroup.
type freezer struct {
	dir string
}

// newFreezer makes the cgroup name in the run's cgroup dir.
func newFreezer(run, name string) (*freezer, error) {
	dir := filepath.Join(run, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("freezer: %w", err)
	}
	return &freezer{dir: dir}, nil
}

// start starts cmd in the cgroup. The thread that forks joins the cgroup
// for the fork and leaves it after, so that the child is born in it:
// moving the child in after it started would miss what it forks first.
func (f *freezer) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		// Unlocked only once back home: a goroutine that ends locked ends
		// its thread, so no other goroutine ever runs in the node's cgroup.
		runtime.LockOSThread()
		home, err := threadFreezerCgroup()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		tid := strconv.Itoa(unix.Gettid())
		if err := writeFile(filepath.Join(f.dir, "tasks"), tid); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("freezer: join %s: %w", f.dir, err)
			return
		}
		err = cmd.Start()
		if herr := writeFile(filepath.Join(home, "tasks"), tid); herr != nil {
			if err == nil {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}
			errc <- fmt.Errorf("freezer: leave %s: %w", f.dir, herr)
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// threadFreezerCgroup is the freezer cgroup the calling thread runs in.
func threadFreezerCgroup() (string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "", fmt.Errorf("freezer: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && f[1] == "freezer" {
			return filepath.Join(freezerMount, f[2]), nil
		}
	}
	return "", errors.New("freezer: this thread is in no freezer cgroup")
}

// freeze stops every process of the cgroup and waits until all are
// stopped.
func (f *freezer) freeze() error {
	return f.setState("FROZEN")
}

// thaw lets the processes of the cgroup run again.
func (f *freezer) thaw() error {
	return f.setState("THAWED")
}

func (f *freezer) setState(state string) error {
	p := filepath.Join(f.dir, "freezer.state")
	if err := writeFile(p, state); err != nil {
		return fmt.Errorf("freezer: %w", err)
	}
	start := time.Now()
	lastWrite := start
	for {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("freezer: %w", err)
		}
		if string(bytes.TrimSpace(b)) == state {
			return nil
		}
		now := time.Now()
		if now.Sub(start) > freezeTimeout {
			return fmt.Errorf("freezer: %s still %s %s after writing %s", f.dir, bytes.TrimSpace(b), freezeTimeout, state)
		}
		// Reading the state is what moves it from FREEZING to FROZEN: a
		// short sleep between reads, not to see it late. Spinning instead
		// takes a CPU from the very processes that must reach the freezer.
		time.Sleep(100 * time.Microsecond)
		// A process that was not stopped yet (in the kernel, or
		// forking) is asked again by writing the state again.
		if state == "FROZEN" && now.Sub(lastWrite) > time.Millisecond {
			_ = writeFile(p, state)
			lastWrite = now
		}
	}
}

// procs lists the processes in the cgroup, never this one.
func (f *freezer) procs() ([]int, error) {
	b, err := os.ReadFile(filepath.Join(f.dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	me := os.Getpid()
	var out []int
	for _, s := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(s); err == nil && pid != me {
			out = append(out, pid)
		}
	}
	return out, nil
}

// kill freezes the cgroup, sends SIGKILL to each of its processes, and
// thaws it, so that they die: a frozen process does not act on a signal
// until thawed. It returns when the freeze completed, the moment the node
// stopped, and the processes it killed.
func (f *freezer) kill() (time.Time, []int, error) {
	ferr := f.freeze()
	landed := time.Now()
	pids, err := f.procs()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	terr := f.thaw()
	return landed, pids, errors.Join(ferr, err, terr)
}

// empty reports whether no process is left in the cgroup. A process that
// exited leaves it at once, before its parent reaps it.
func (f *freezer) empty() bool {
	pids, err := f.procs()
	return err == nil && len(pids) == 0
}

// remove removes the cgroup; its processes must be gone.
func (f *freezer) remove() error {
	return removeCgroup(f.dir)
}

func writeFile(p, s string) error {
	fh, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fh.WriteString(s)
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}
