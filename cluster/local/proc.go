package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
)

// proc is a process group the backend started. Every process it spawns is
// the leader of its own group; a postmaster's children each make a session
// of their own, so a node is its postmaster's group and every process
// descended from it, or, with the freezer, its cgroup.
type proc struct {
	cmd  *exec.Cmd
	pgid int
	cg   *freezer.Cgroup // the node's cgroup; nil: signals reach the node
	done chan struct{}
	err  error

	mu      sync.Mutex
	killed  []int     // descendants sent SIGKILL, for groupGone
	landed  time.Time // when the last kill stopped the whole node
	dataDir string    // a postmaster's, for its shared memory
}

// registry holds every process group started by this package, so a forced
// exit (second Ctrl-C) can kill them without knowing about clusters.
var registry = struct {
	sync.Mutex
	procs map[int]*proc
}{procs: map[int]*proc{}}

// KillAll kills every process this package started and that has not
// exited yet, with their descendants, then removes the shared memory of
// the killed servers. It is meant for a forced exit: it waits for the
// processes to die for 3 seconds at most.
func KillAll() error {
	registry.Lock()
	procs := make([]*proc, 0, len(registry.procs))
	for _, p := range registry.procs {
		procs = append(procs, p)
	}
	registry.Unlock()
	for _, p := range procs {
		p.kill()
	}
	deadline := time.Now().Add(3 * time.Second)
	var errs []error
	for _, p := range procs {
		if !p.wait(time.Until(deadline)) || !p.groupGone(time.Until(deadline)) {
			errs = append(errs, fmt.Errorf("processes of group %d still alive after SIGKILL", p.pgid))
			continue
		}
		p.mu.Lock()
		dataDir := p.dataDir
		p.mu.Unlock()
		if dataDir != "" {
			if err := removeShm(dataDir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// spawn starts name with args as the server user, in a new process group
// and, unless cg is nil, in the cgroup cg, with stdout and stderr to out.
func (b *Backend) spawn(name string, args []string, env []string, out io.Writer, cg *freezer.Cgroup) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = append(b.baseEnv(), env...)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,
		Pdeathsig: syscall.SIGKILL, // the harness dying takes its servers along
	}
	if b.cred != nil {
		cmd.SysProcAttr.Credential = b.cred
	}
	start := cmd.Start
	if cg != nil {
		start = func() error { return cg.Start(cmd) }
	}
	if err := start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, pgid: cmd.Process.Pid, cg: cg, done: make(chan struct{})}
	registry.Lock()
	registry.procs[p.pgid] = p
	registry.Unlock()
	go func() {
		p.err = cmd.Wait()
		registry.Lock()
		delete(registry.procs, p.pgid)
		registry.Unlock()
		close(p.done)
	}()
	return p, nil
}

// run runs a command to completion as the server user, killing its whole
// group if ctx ends first.
func (b *Backend) run(ctx context.Context, name string, args []string, env []string) ([]byte, error) {
	var out lockedBuffer
	p, err := b.spawn(name, args, env, &out, nil)
	if err != nil {
		return nil, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
		<-p.done
		return out.Bytes(), fmt.Errorf("%s: interrupted", name)
	}
	if p.err != nil {
		return out.Bytes(), fmt.Errorf("%s: %w: %s", name, p.err, lastLines(out.Bytes(), 5))
	}
	return out.Bytes(), nil
}

// PostgreSQL's children each call setsid(): they are not in the
// postmaster's process group. So a node is the postmaster's group plus
// every process descended from it, found in /proc. With the freezer, the
// node's cgroup holds them all and stops them all in one step. Without it,
// to act on all of them at once, the postmaster is stopped first (it forks
// nothing while stopped), then the signal goes to every process of the
// tree: the backends run on until the scan of /proc reaches them.

// kill sends SIGKILL to the postmaster and all its descendants at once,
// as when a machine loses power, and remembers them for groupGone and
// when they stopped. With the freezer it acts on whatever is left in the
// node's cgroup even when the postmaster has exited.
func (p *proc) kill() {
	if p.cg != nil {
		landed, pids, err := p.cg.Kill()
		p.mu.Lock()
		p.landed = landed
		p.killed = append(p.killed, pids...)
		p.mu.Unlock()
		if err == nil {
			return
		}
		// A cgroup that would not freeze or thaw: signal as well.
	}
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.pgid, syscall.SIGSTOP)
	// A signal takes effect asynchronously: until the postmaster has
	// stopped it may still fork a backend (clients reconnect all the
	// time), which the scan below could miss and which would survive it.
	waitStopped(p.pgid, 100*time.Millisecond)
	tree := descendants(p.pgid)
	for _, pid := range tree {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	landed := time.Now()
	if err := syscall.Kill(-p.pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		_ = p.cmd.Process.Kill()
	}
	for _, pid := range tree {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	p.mu.Lock()
	p.killed = append(p.killed, tree...)
	if p.cg == nil {
		p.landed = landed
	}
	p.mu.Unlock()
}

// waitStopped waits until pid is stopped or gone, up to d. Once it is
// stopped, every child it forked is in /proc: fork returns to the parent
// only after the child exists.
func waitStopped(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		st, ok := readStat(pid)
		if !ok || st.exited() || st.state == 'T' || st.state == 't' || time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// pause stops every process of the node: freezes its cgroup, or sends
// SIGSTOP to the tree.
func (p *proc) pause() error {
	if p.cg != nil {
		return p.cg.Freeze()
	}
	return p.signal(syscall.SIGSTOP)
}

// resume lets a paused node run again.
func (p *proc) resume() error {
	if p.cg != nil {
		return p.cg.Thaw()
	}
	return p.signal(syscall.SIGCONT)
}

// signal sends sig to the postmaster's group and every descendant: SIGSTOP
// freezes the whole node (postmaster first), SIGCONT thaws it
// (postmaster last).
func (p *proc) signal(sig syscall.Signal) error {
	if sig == syscall.SIGCONT {
		for _, pid := range descendants(p.pgid) {
			_ = syscall.Kill(pid, sig)
		}
		return syscall.Kill(-p.pgid, sig)
	}
	if err := syscall.Kill(-p.pgid, sig); err != nil {
		return err
	}
	for _, pid := range descendants(p.pgid) {
		_ = syscall.Kill(pid, sig)
	}
	return nil
}

// descendants lists every live process descended from pid, read from /proc.
func descendants(root int) []int {
	children := map[int][]int{}
	eachProc(func(pid int, st procStat) {
		if !st.exited() {
			children[st.ppid] = append(children[st.ppid], pid)
		}
	})
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// procStat is what /proc/<pid>/stat says of a process.
type procStat struct {
	state   byte // 'R', 'S', 'Z', ...
	ppid    int
	pgrp    int
	session int
	start   uint64 // clock ticks after boot
}

// exited reports whether the process has exited: a zombie (dead, not yet
// reaped by its parent) has.
func (s procStat) exited() bool { return s.state == 'Z' || s.state == 'X' }

// readStat reads /proc/<pid>/stat; false when the process does not exist.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// pid (comm) state ppid pgrp session ... starttime (the 22nd) ...;
	// comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	var st procStat
	st.state = f[0][0]
	var e1, e2, e3, e4 error
	st.ppid, e1 = strconv.Atoi(f[1])
	st.pgrp, e2 = strconv.Atoi(f[2])
	st.session, e3 = strconv.Atoi(f[3])
	st.start, e4 = strconv.ParseUint(f[19], 10, 64)
	return st, e1 == nil && e2 == nil && e3 == nil && e4 == nil
}

// alive reports whether pid runs: a zombie does not.
func alive(pid int) bool {
	st, ok := readStat(pid)
	return ok && !st.exited()
}

// groupLive reports whether any process of group pgid runs. kill(-pgid, 0)
// is not enough: it succeeds while a zombie of the group is left, and a
// zombie is gone for every purpose but its parent's wait.
func groupLive(pgid int) bool {
	if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
		return false
	}
	found := false
	eachProc(func(pid int, st procStat) {
		if st.pgrp == pgid && !st.exited() {
			found = true
		}
	})
	return found
}

// eachProc calls fn for every process in /proc.
func eachProc(fn func(pid int, st procStat)) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			fn(pid, st)
		}
	}
}

// running reports whether the group leader has not exited.
func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the group leader to exit, up to d.
func (p *proc) wait(d time.Duration) bool {
	if !p.running() {
		return true
	}
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// groupGone waits until no process of the group is left running
// (backends exit a little after the postmaster), up to d; zombies count as
// gone. Then it reaps the orphans the node left to this process.
func (p *proc) groupGone(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		p.mu.Lock()
		left := 0
		for _, pid := range p.killed {
			if alive(pid) {
				left++
			}
		}
		p.mu.Unlock()
		if p.cg != nil && !p.cg.Empty() {
			left++
		}
		if left == 0 && !groupLive(p.pgid) {
			reapOrphans()
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	return len(p), nil
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.buf...)
}

func lastLines(b []byte, n int) string {
	lines := splitLines(string(b))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := ""
	for i, l := range lines {
		if i > 0 {
			out += " | "
		}
		out += l
	}
	return out
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
