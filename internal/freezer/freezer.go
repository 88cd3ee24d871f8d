// Package freezer runs processes in cgroups of the cgroup v1 freezer, as
// docker pause uses it, so that a whole process tree (a PostgreSQL node,
// a Patroni with the server it runs) can be stopped or killed in one step.
// Writing FROZEN to a cgroup's freezer.state stops all of it at once,
// processes in sessions of their own included, where signals reach the
// processes one by one and miss those forked meanwhile.
//
// A backend opens one cgroup per run under the freezer hierarchy,
//
//	/sys/fs/cgroup/freezer/pgbench-ha/<pid>-<start>-<suffix>/<cluster>.<node>
//
// whose name tells its harness process (pid and start time), so a cleanup
// can tell a dead run's from a live one's, then one cgroup per node in it:
//
//	run, err := freezer.Open(freezer.Mount, freezer.RunName(root))
//	cg, err := freezer.New(run, "v0.primary")
//	err = cg.Start(cmd) // cmd and everything it forks are born in cg
//	landed, pids, err := cg.Kill()
//	err = freezer.Close(run)
//
// Without a writable freezer hierarchy (a container with a read-only
// /sys/fs/cgroup, a harness that is not root, cgroup v2 only) Open says
// why, and the caller signals process trees instead.
package freezer

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

// Mount is where the freezer hierarchy is mounted.
const Mount = "/sys/fs/cgroup/freezer"

// Top holds the runs' cgroups under the mount.
const Top = "pgbench-ha"

// cgroupSuperMagic is the statfs type of a cgroup v1 hierarchy.
const cgroupSuperMagic = 0x27e0eb

// freezeTimeout bounds the wait for a cgroup to read FROZEN.
const freezeTimeout = 5 * time.Second

// RunName names the run cgroup of the backend whose temp dir is root
// ("pgbench-ha-<suffix>") after this process: <pid>-<start>-<suffix>,
// start being the process's start time in clock ticks after boot.
func RunName(root string) string {
	return fmt.Sprintf("%d-%d-%s", os.Getpid(), selfStart(), strings.TrimPrefix(filepath.Base(root), "pgbench-ha-"))
}

// selfStart is this process's start time (the 22nd field of its stat).
func selfStart() uint64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0
	}
	n, _ := strconv.ParseUint(f[19], 10, 64)
	return n
}

// Open makes the run's cgroup, named run, in the freezer hierarchy
// mounted at mount, and returns its path; the error says why the freezer
// cannot be used.
func Open(mount, run string) (string, error) {
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
	top := filepath.Join(mount, Top)
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
	if _, err := os.Stat(filepath.Join(dir, "freezer.state")); err != nil {
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

// Close removes the run's cgroup dir, its nodes' first (their processes
// must be gone), and the top directory if no other run uses it.
func Close(dir string) error {
	nodes, _ := os.ReadDir(dir)
	var errs []error
	for _, n := range nodes {
		if n.IsDir() {
			if err := Remove(filepath.Join(dir, n.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := Remove(dir); err != nil {
		errs = append(errs, err)
	}
	_ = os.Remove(filepath.Dir(dir)) // busy while another run has its cgroup there
	return errors.Join(errs...)
}

// Remove removes an empty cgroup; gone already is fine.
func Remove(dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	return nil
}

// Cgroup is one node's cgroup. Its methods may be called concurrently.
type Cgroup struct {
	dir string
}

// New makes the cgroup name in the run's cgroup dir run (made already is
// fine).
func New(run, name string) (*Cgroup, error) {
	dir := filepath.Join(run, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("freezer: %w", err)
	}
	return &Cgroup{dir: dir}, nil
}

// At is the cgroup at dir, which exists (Cleanup's look at a dead run).
func At(dir string) *Cgroup { return &Cgroup{dir: dir} }

// Dir is the cgroup's directory.
func (f *Cgroup) Dir() string { return f.dir }

// Start starts cmd in the cgroup. The thread that forks joins the cgroup
// for the fork and leaves it after, so that the child is born in it:
// moving the child in after it started would miss what it forks first.
func (f *Cgroup) Start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	go func() {
		// Unlocked only once back home: a goroutine that ends locked ends
		// its thread, so no other goroutine ever runs in the node's cgroup.
		runtime.LockOSThread()
		home, err := threadCgroup()
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

// threadCgroup is the freezer cgroup the calling thread runs in.
func threadCgroup() (string, error) {
	b, err := os.ReadFile("/proc/thread-self/cgroup")
	if err != nil {
		return "", fmt.Errorf("freezer: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && f[1] == "freezer" {
			return filepath.Join(Mount, f[2]), nil
		}
	}
	return "", errors.New("freezer: this thread is in no freezer cgroup")
}

// Freeze stops every process of the cgroup and waits until all are
// stopped.
func (f *Cgroup) Freeze() error {
	return f.setState("FROZEN")
}

// Thaw lets the processes of the cgroup run again.
func (f *Cgroup) Thaw() error {
	return f.setState("THAWED")
}

func (f *Cgroup) setState(state string) error {
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

// Procs lists the processes in the cgroup, never this one.
func (f *Cgroup) Procs() ([]int, error) {
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

// Kill freezes the cgroup, sends SIGKILL to each of its processes, and
// thaws it, so that they die: a frozen process does not act on a signal
// until thawed. It returns when the freeze completed, the moment the node
// stopped, and the processes it killed.
func (f *Cgroup) Kill() (time.Time, []int, error) {
	ferr := f.Freeze()
	landed := time.Now()
	pids, err := f.Procs()
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	terr := f.Thaw()
	return landed, pids, errors.Join(ferr, err, terr)
}

// Empty reports whether no process is left in the cgroup. A process that
// exited leaves it at once, before its parent reaps it.
func (f *Cgroup) Empty() bool {
	pids, err := f.Procs()
	return err == nil && len(pids) == 0
}

// Remove removes the cgroup; its processes must be gone.
func (f *Cgroup) Remove() error {
	return Remove(f.dir)
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
