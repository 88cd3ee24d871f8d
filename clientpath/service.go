package clientpath

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errClosed is returned by what a closed path can no longer do.
var errClosed = errors.New("clientpath: the path is closed")

// service is one process of the path that faults may take: HAProxy, or
// one PgBouncer. Its fields but procs, paused and landed are set by Start
// and fixed after it; those three change under Path.mu.
type service struct {
	// name names its files, its log and its errors: "haproxy",
	// "pgbouncer" (in front of HAProxy), "pgbouncer-replica1" (in front
	// of a node).
	name string
	kind string // HAProxy or PgBouncer
	bin  string
	args []string
	// ports are where it listens, which the clients use: a restart takes
	// them again.
	ports []int
	// procs are the processes started for it, the current one last.
	procs []*proc
	// ready: its current process served (Path.ready) once; paused: it
	// is stopped (SIGSTOP) by Pause.
	ready, paused bool
	// landed is when the processes of the last Kill were reaped.
	landed time.Time
}

// cur is the service's current process, nil before the first start.
func (s *service) cur() *proc {
	if len(s.procs) == 0 {
		return nil
	}
	return s.procs[len(s.procs)-1]
}

// running reports whether the current process runs.
func (s *service) running() bool {
	pr := s.cur()
	return pr != nil && !pr.exited()
}

// serving reports whether s runs and is not paused; false for nil.
func (p *Path) serving(s *service) bool {
	if s == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return s.running() && s.ready && !s.paused
}

// Services lists the names the path's processes may be faulted by:
// HAProxy ("haproxy") when it runs one, PgBouncer ("pgbouncer") when it
// runs any; none on a direct path.
func (p *Path) Services() []string {
	var out []string
	if p.haproxy != nil {
		out = append(out, HAProxy)
	}
	if len(p.bouncers) > 0 {
		out = append(out, PgBouncer)
	}
	return out
}

// services are the processes name stands for: HAProxy ("haproxy"), or
// PgBouncer ("pgbouncer": the one in front of HAProxy, or every one in
// front of a node).
func (p *Path) services(op, name string) ([]*service, error) {
	switch {
	case name == HAProxy && p.haproxy != nil:
		return []*service{p.haproxy}, nil
	case name == PgBouncer && len(p.bouncers) > 0:
		return append([]*service(nil), p.bouncers...), nil
	}
	return nil, fmt.Errorf("clientpath: %s %s: no such process on this path (client path %s; it has: %s)",
		op, name, p.cfg.Kind, orNone(p.Services()))
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// note appends a line to s's log, so that the log tells the faults from
// crashes.
func (p *Path) note(s *service, format string, args ...any) {
	f, err := os.OpenFile(p.logPath(s.name), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s pgbench-ha clientpath: %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

// begin starts a fault on the services name stands for: the fault
// operations one at a time, the path not closed. The caller calls the
// returned end.
func (p *Path) begin(op, name string) (svcs []*service, end func(), err error) {
	svcs, err = p.services(op, name)
	if err != nil {
		return nil, nil, err
	}
	p.ops.Lock()
	if p.isClosed() {
		p.ops.Unlock()
		return nil, nil, fmt.Errorf("clientpath: %s %s: %w", op, name, errClosed)
	}
	return svcs, p.ops.Unlock, nil
}

// signalRunning sends sig to the process group of each of svcs, after
// checking under mu that every one runs; then for each: what it did
// (paused, via mark). It returns the processes signalled.
func (p *Path) signalRunning(op string, svcs []*service, sigs []syscall.Signal, mark func(s *service)) ([]*proc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isClosed() {
		return nil, fmt.Errorf("clientpath: %s: %w", op, errClosed)
	}
	var down []string
	for _, s := range svcs {
		if !s.running() {
			down = append(down, s.name)
		}
	}
	if len(down) > 0 {
		return nil, fmt.Errorf("clientpath: %s: %s not running (killed or stopped before, and not started again)", op, strings.Join(down, ", "))
	}
	var procs []*proc
	for _, s := range svcs {
		pr := s.cur()
		for _, sig := range sigs {
			if err := syscall.Kill(-pr.pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
				return procs, fmt.Errorf("clientpath: %s %s (pid %d): %w", op, s.name, pr.pid(), err)
			}
		}
		p.note(s, "%s (pid %d)", op, pr.pid())
		if mark != nil {
			mark(s)
		}
		procs = append(procs, pr)
	}
	return procs, nil
}

// waitExited waits until every process of procs has exited and been
// reaped, up to limit.
func waitExited(ctx context.Context, op string, procs []*proc, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	for _, pr := range procs {
		select {
		case <-pr.done:
		case <-ctx.Done():
			return fmt.Errorf("clientpath: %s: %s (pid %d) not exited yet: %w", op, pr.name, pr.pid(), ctx.Err())
		case <-t.C:
			return fmt.Errorf("clientpath: %s: %s (pid %d) still running after %v", op, pr.name, pr.pid(), limit)
		}
	}
	return nil
}

// exitLimit bounds the wait for a process signalled to exit: SIGKILL
// takes a moment, and HAProxy and PgBouncer both stop at once on SIGTERM.
const exitLimit = 10 * time.Second

// Kill crashes the process name stands for, as its machine losing power
// would: SIGKILL to its process group ("pgbouncer" with a PgBouncer in
// front of each node: every one of them, at once). It returns once each
// is reaped; Landed tells when. Clients' connections through it break,
// new ones are refused until Start. A paused process dies too.
func (p *Path) Kill(ctx context.Context, name string) error {
	svcs, end, err := p.begin("kill", name)
	if err != nil {
		return err
	}
	defer end()
	op := "kill " + name
	procs, err := p.signalRunning(op, svcs, []syscall.Signal{syscall.SIGKILL}, func(s *service) { s.paused = false })
	if err == nil {
		err = waitExited(ctx, op, procs, exitLimit)
	}
	if err != nil {
		return err
	}
	var landed time.Time
	for _, pr := range procs {
		if pr.exitedAt.After(landed) {
			landed = pr.exitedAt
		}
	}
	p.mu.Lock()
	for _, s := range svcs {
		s.landed = landed
	}
	p.mu.Unlock()
	return nil
}

// Landed is when the last Kill of name had every process it killed
// reaped (so dead, its sockets closed): the moment the kill landed,
// which clients see later, when their connections fail. False before
// any Kill of name.
func (p *Path) Landed(name string) (time.Time, bool) {
	svcs, err := p.services("landed", name)
	if err != nil {
		return time.Time{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var at time.Time
	for _, s := range svcs {
		if s.landed.IsZero() {
			return time.Time{}, false
		}
		if s.landed.After(at) {
			at = s.landed
		}
	}
	return at, true
}

// Stop shuts the process name stands for down: SIGTERM (HAProxy and
// PgBouncer both stop at once on it, closing their clients'
// connections), or with immediate SIGKILL. A paused process is continued
// to take the SIGTERM. It returns once each has exited.
func (p *Path) Stop(ctx context.Context, name string, immediate bool) error {
	svcs, end, err := p.begin("stop", name)
	if err != nil {
		return err
	}
	defer end()
	op := "stop " + name
	sigs := []syscall.Signal{syscall.SIGTERM, syscall.SIGCONT}
	if immediate {
		sigs = []syscall.Signal{syscall.SIGKILL}
		op += " (immediate)"
	}
	procs, err := p.signalRunning(op, svcs, sigs, func(s *service) { s.paused = false })
	if err != nil {
		return err
	}
	return waitExited(ctx, op, procs, exitLimit)
}

// Start starts the process name stands for again after a Kill or a Stop,
// with the same configuration file, so on the same ports (the clients'
// addresses do not change), and returns once it serves: HAProxy with
// every server checked once, PgBouncer listening. A process that runs
// already is left as it is. A port another process took meanwhile is an
// error: the clients could not reach it there. On error nothing it
// started runs.
func (p *Path) Start(ctx context.Context, name string) error {
	svcs, end, err := p.begin("start", name)
	if err != nil {
		return err
	}
	defer end()
	var errs []error
	for _, s := range svcs {
		p.mu.Lock()
		running := s.running()
		p.mu.Unlock()
		if running {
			continue
		}
		if err := portsFree(s); err != nil {
			errs = append(errs, fmt.Errorf("clientpath: start %s: %w", s.name, err))
			continue
		}
		p.note(s, "start again on port(s) %s", portList(s.ports))
		if pr, err := p.launch(ctx, s); err != nil {
			if pr != nil && pr.exited() {
				if perr := portsFree(s); perr != nil {
					err = perr // a port taken between the check and the bind
				}
			}
			errs = append(errs, fmt.Errorf("clientpath: start %s: %w", s.name, err))
		}
	}
	return errors.Join(errs...)
}

// portsFree checks that s's ports are free to bind again.
func portsFree(s *service) error {
	for _, port := range s.ports {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("its port %s, where the clients reach it, was taken meanwhile: %w", addr, err)
		}
		_ = l.Close()
	}
	return nil
}

func portList(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return strings.Join(s, ", ")
}

// Pause freezes the process name stands for: SIGSTOP to its process
// group. Its clients' connections stay open and nothing answers; new
// connections wait in the listen backlog. It returns once each process
// is stopped. Pausing a paused process does nothing.
func (p *Path) Pause(ctx context.Context, name string) error {
	svcs, end, err := p.begin("pause", name)
	if err != nil {
		return err
	}
	defer end()
	op := "pause " + name
	procs, err := p.signalRunning(op, svcs, []syscall.Signal{syscall.SIGSTOP}, func(s *service) { s.paused = true })
	if err != nil {
		return err
	}
	for _, pr := range procs {
		if err := waitState(ctx, pr, 'T', 2*time.Second); err != nil {
			return fmt.Errorf("clientpath: %s: %w", op, err)
		}
	}
	return nil
}

// Resume thaws a paused process: SIGCONT to its process group. Resuming
// one that runs unpaused does nothing; one that was killed or stopped
// meanwhile is an error.
func (p *Path) Resume(ctx context.Context, name string) error {
	svcs, end, err := p.begin("resume", name)
	if err != nil {
		return err
	}
	defer end()
	_, err = p.signalRunning("resume "+name, svcs, []syscall.Signal{syscall.SIGCONT}, func(s *service) { s.paused = false })
	return err
}

// waitState waits until pr's state (/proc/<pid>/stat) is state, up to
// limit: a signal is delivered asynchronously.
func waitState(ctx context.Context, pr *proc, state byte, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	path := "/proc/" + strconv.Itoa(pr.pid()) + "/stat"
	for {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // no /proc: the signal was sent
		}
		if i := strings.LastIndexByte(string(b), ')'); i >= 0 && i+2 < len(b) && b[i+2] == state {
			return nil
		}
		if pr.exited() {
			return fmt.Errorf("%s (pid %d) exited", pr.name, pr.pid())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s (pid %d) not in state %c after %v", pr.name, pr.pid(), state, limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}
