package patroni

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
)

// proc is a Patroni or an etcd the backend started: the leader of its own
// process group, in its component's cgroup (which also holds the
// PostgreSQL a Patroni starts).
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawn starts name with args as the server user, in a new process group
// and in the cgroup cg, stdout and stderr to out. The harness dying takes
// it along (Pdeathsig); a PostgreSQL Patroni started survives it and is
// left to cleanup. With cg2, a cgroup v2 directory (a node's, whose links
// netcut cuts), the process is also born in that: clone3 with
// CLONE_INTO_CGROUP, from the thread that cg.Start placed in the freezer
// cgroup, so that it is in both from its first instruction and so is
// everything it forks.
func (b *Backend) spawn(name string, args []string, out io.Writer, cg *freezer.Cgroup, cg2 string) (*proc, error) {
	cmd := exec.Command(name, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "LANG=C.UTF-8", "TZ=UTC", "HOME=" + b.root, local.RunEnv(b.root)}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if b.cred != nil {
		cmd.SysProcAttr.Credential = b.cred
	}
	if cg2 != "" {
		dir, err := os.Open(cg2)
		if err != nil {
			return nil, fmt.Errorf("start %s: cgroup: %w", name, err)
		}
		defer dir.Close()
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(dir.Fd())
	}
	if err := cg.Start(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// running reports whether the process has not exited.
func (p *proc) running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// wait waits for the process to exit, up to d.
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

// signal sends sig to the process's group.
func (p *proc) signal(sig syscall.Signal) {
	if p.running() {
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
}

// postmasterPID reads the postmaster's pid from dataDir/postmaster.pid; 0
// when there is none or it has exited.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(dataDir + "/postmaster.pid")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || !alive(pid) {
		return 0
	}
	return pid
}

// statOf reads state and parent of pid from /proc/<pid>/stat.
func statOf(pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}

// alive reports whether pid runs: a zombie does not.
func alive(pid int) bool {
	st, _, ok := statOf(pid)
	return ok && st != 'Z' && st != 'X'
}

// tree is pid and every live process descended from it, from /proc.
func tree(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ppid, ok := statOf(pid); ok && st != 'Z' && st != 'X' {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// waitEmpty waits until no process is left in cg, up to d.
func waitEmpty(cg *freezer.Cgroup, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !cg.Empty() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return true
}
