package clientpath

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a process the path started: the leader of its own process
// group, stopped through the group. HAProxy (-db) and PgBouncer (no -d)
// run in the foreground and fork nothing, so the group is the process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
	// exitedAt is when the process was reaped; read it after done.
	exitedAt time.Time
}

// spawn starts bin with args as cred (nil: as this process), in a new
// process group, stdout and stderr appended to logPath. The process dies
// with the harness (SIGKILL on parent death), as cluster/local's servers do.
func spawn(name, bin string, args []string, logPath string, cred *syscall.Credential) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	defer f.Close() // the child has its own copy
	cmd := exec.Command(bin, args...)
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		p.exitedAt = time.Now()
		close(p.done)
	}()
	return p, nil
}

// pid is the process id (and process group id).
func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited (and been reaped).
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the group (HAProxy and PgBouncer both stop at
// once on it, closing their connections), then SIGKILL after grace. A
// paused group (SIGSTOP) is continued first, so that it can take the
// SIGTERM.
func (p *proc) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGCONT)
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		return fmt.Errorf("%s (pid %d) still running after SIGKILL", p.name, p.pid())
	}
}

// failed describes why the process exited during start, with the end of
// its log.
func (p *proc) failed() error {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return fmt.Errorf("%s exited during start (%v): %s", p.name, p.err, strings.Join(lines, " | "))
}

// runAs is the credential the proxies run with: the user named (default
// postgres) when this process is root, as cluster/local runs its servers
// (PgBouncer refuses to run as root), nil otherwise.
func runAs(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if name == "" {
		name = "postgres"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("PgBouncer refuses to run as root and the user %q to run it as does not exist: %w", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// reachable checks that the user of cred may enter dir: every directory
// from the root down must let it search (x), by owner, group or others.
func reachable(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		mode := st.Mode().Perm()
		var ok2 bool
		switch {
		case sys.Uid == cred.Uid:
			ok2 = mode&0o100 != 0
		case sys.Gid == cred.Gid:
			ok2 = mode&0o010 != 0
		default:
			ok2 = mode&0o001 != 0
		}
		if !ok2 {
			return fmt.Errorf("%s is not searchable by uid %d, which runs the proxies: use a Dir it can reach (default: %s)", d, cred.Uid, os.TempDir())
		}
		if d == "/" || d == "." {
			return nil
		}
	}
}

// dialable reports whether something accepts TCP connections on addr.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
