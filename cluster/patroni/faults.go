package patroni

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
)

// Processes KillProcess takes.
const (
	ProcessPostgres = "postgres" // the postmaster and its children
	ProcessPatroni  = "patroni"  // Patroni alone
)

// component is a node or an etcd member: its cgroup and main process.
func (c *Cluster) component(name string) (*freezer.Cgroup, *proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, nil, errors.New("cluster is down")
	}
	if m := c.member(name); m != nil {
		return m.cg, m.etcd, nil
	}
	n, err := c.node(name)
	if err != nil {
		return nil, nil, fmt.Errorf("no node or etcd member %q", name)
	}
	return n.cg, n.patroni, nil
}

// Kill crashes a node (its Patroni and its PostgreSQL at once) or an etcd
// member ("etcd1"..): its cgroup frozen, every process in it SIGKILLed,
// thawed. It returns once they are all gone; Landed tells when they
// stopped.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	cg, p, err := c.component(name)
	if err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	landed, _, kerr := cg.Kill()
	c.mu.Lock()
	if m := c.member(name); m != nil {
		m.landed = landed
	} else if n, err := c.node(name); err == nil {
		n.landed = landed
	}
	c.mu.Unlock()
	if !waitEmpty(cg, 5*time.Second) || !p.wait(5*time.Second) {
		return errors.Join(kerr, fmt.Errorf("kill %s: processes left after SIGKILL", name))
	}
	return kerr
}

// Stop stops a node's Patroni, which stops its PostgreSQL (fast: SIGTERM
// to Patroni, which shuts the server down cleanly and, on the leader,
// releases the leader key), or an etcd member (SIGTERM). Immediate:
// SIGKILL to Patroni and SIGQUIT to the postmaster (an immediate
// shutdown; the leader key stays until its ttl runs out), SIGKILL to an
// etcd member. It returns once every process of it is gone.
func (c *Cluster) Stop(ctx context.Context, name string, immediate bool) error {
	cg, p, err := c.component(name)
	if err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	n, _ := c.node(name)
	switch {
	case !immediate:
		p.signal(syscall.SIGTERM)
	case n != nil:
		p.signal(syscall.SIGKILL)
		p.wait(5 * time.Second)
		if pid := postmasterPID(n.dataDir); pid != 0 {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
		}
	default:
		p.signal(syscall.SIGKILL)
	}
	err = poll(ctx, 120*time.Second, name+" stopped", func() (bool, error) {
		return !p.running() && cg.Empty(), nil
	})
	if err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	return nil
}

// Start starts a stopped or killed node's Patroni and returns once its
// PostgreSQL accepts connections (Patroni may first rewind it or clone it
// afresh), or starts an etcd member again and waits until it is healthy.
// Patroni running already is fine: Start then only waits.
func (c *Cluster) Start(ctx context.Context, name string) error {
	if _, _, err := c.component(name); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if m := c.member(name); m != nil {
		if err := c.spawnEtcd(m); err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		return c.waitEtcd(ctx, m)
	}
	n, _ := c.node(name)
	p, err := c.startPatroni(n)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	err = poll(ctx, 180*time.Second, name+" accepting connections", func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("patroni of %s exited: %v (see %s)", name, p.err, n.logPath)
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, c.ConnString(name, cluster.Admin))
		if err != nil {
			return false, nil
		}
		defer conn.Close(context.Background())
		return conn.Ping(cctx) == nil, nil
	})
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	return nil
}

// Pause freezes every process of a node (Patroni and PostgreSQL) or of an
// etcd member: a hung machine.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	cg, _, err := c.component(name)
	if err == nil {
		err = cg.Freeze()
	}
	if err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	return nil
}

// Resume thaws a paused node or etcd member.
func (c *Cluster) Resume(ctx context.Context, name string) error {
	cg, _, err := c.component(name)
	if err == nil {
		err = cg.Thaw()
	}
	if err != nil {
		return fmt.Errorf("resume %s: %w", name, err)
	}
	return nil
}

// KillProcess SIGKILLs one process of a node. ProcessPostgres: the
// postmaster and every process descended from it, at once (the node's
// cgroup frozen meanwhile); Patroni lives on and starts PostgreSQL again,
// or, on the leader, the others fail over once primary_start_timeout is
// spent. ProcessPatroni: Patroni alone; PostgreSQL keeps running, and a
// leader's key expires after its ttl (Start runs Patroni again, which
// takes the running server over).
func (c *Cluster) KillProcess(ctx context.Context, name, process string) error {
	cg, p, err := c.component(name)
	if err != nil {
		return fmt.Errorf("kill %s of %s: %w", process, name, err)
	}
	n, err := c.node(name)
	if err != nil {
		return fmt.Errorf("kill %s of %s: not a node", process, name)
	}
	switch process {
	case ProcessPatroni:
		if !p.running() {
			return fmt.Errorf("kill patroni of %s: not running", name)
		}
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		if !p.wait(5 * time.Second) {
			return fmt.Errorf("kill patroni of %s: still running after SIGKILL", name)
		}
		return nil
	case ProcessPostgres:
		if err := cg.Freeze(); err != nil {
			return fmt.Errorf("kill postgres of %s: %w", name, err)
		}
		pid := postmasterPID(n.dataDir)
		var pids []int
		if pid != 0 {
			pids = tree(pid)
			for _, q := range pids {
				_ = syscall.Kill(q, syscall.SIGKILL)
			}
		}
		if err := cg.Thaw(); err != nil {
			return fmt.Errorf("kill postgres of %s: %w", name, err)
		}
		if pid == 0 {
			return fmt.Errorf("kill postgres of %s: no postmaster running", name)
		}
		return poll(ctx, 5*time.Second, "postgres of "+name+" gone", func() (bool, error) {
			for _, q := range pids {
				if alive(q) {
					return false, nil
				}
			}
			return true, nil
		})
	}
	return fmt.Errorf("kill %q of %s: not a process (%s or %s)", process, name, ProcessPostgres, ProcessPatroni)
}

// Down stops every Patroni (which stops its PostgreSQL) and etcd member,
// kills what is left after a grace (at once if ctx ends), keeps the logs
// (each node's Patroni log and PostgreSQL log, each member's etcd log, in
// spec.LogDir) and removes the rest. Safe to call more than once.
func (c *Cluster) Down(ctx context.Context) error {
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		return nil
	}
	c.down = true
	c.mu.Unlock()
	if c.net != nil {
		// First: a Patroni behind a blackhole would wait out its
		// retry_timeout to stop; without its proxies it fails at once.
		c.net.Stop()
	}
	var errs []error
	// So too a node behind a cut; the marks go with the cuts.
	if err := c.removeCuts(); err != nil {
		errs = append(errs, err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func(n *node) {
			defer wg.Done()
			if err := c.stopNode(ctx, n); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(n)
	}
	wg.Wait()
	for _, m := range c.members {
		_ = m.cg.Thaw() // a paused member stops too
		m.etcd.signal(syscall.SIGTERM)
		graceful(ctx, func() bool { return !m.etcd.running() && m.cg.Empty() }, 10*time.Second)
		if err := killLeft(m.cg, m.name); err != nil {
			errs = append(errs, err)
		}
		m.etcd.wait(5 * time.Second)
		if m.logFile != nil {
			m.logFile.Close()
		}
		if err := m.cg.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range c.nodes {
		if err := local.RemoveShm(n.dataDir); err != nil {
			errs = append(errs, err)
		}
		if err := copyFile(filepath.Join(n.pgLogDir, "postgresql.log"), filepath.Join(c.logDir, n.name+".log")); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		if n.logFile != nil {
			n.logFile.Close()
		}
		if err := n.cg.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := c.removeCutCgroups(); err != nil {
		errs = append(errs, err)
	}
	// The logs stay when they are in spec.LogDir; else they were in the
	// cluster dir and go with it.
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// stopNode stops n's Patroni (SIGTERM: it stops PostgreSQL, fast), then
// a PostgreSQL left without its Patroni (SIGINT: fast shutdown), then
// kills whatever is left in its cgroup.
func (c *Cluster) stopNode(ctx context.Context, n *node) error {
	if n.cg == nil {
		return nil
	}
	_ = n.cg.Thaw() // a paused node stops too
	n.patroni.signal(syscall.SIGTERM)
	graceful(ctx, func() bool { return !n.patroni.running() }, 30*time.Second)
	if pid := postmasterPID(n.dataDir); pid != 0 {
		_ = syscall.Kill(pid, syscall.SIGINT)
	}
	graceful(ctx, func() bool { return n.cg.Empty() }, 10*time.Second)
	err := killLeft(n.cg, n.name)
	n.patroni.wait(5 * time.Second)
	return err
}

// graceful waits until done, up to d, or not at all once ctx ended.
func graceful(ctx context.Context, done func() bool, d time.Duration) {
	deadline := time.Now().Add(d)
	for !done() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}

// killLeft kills whatever is left in cg and waits until it is empty.
func killLeft(cg *freezer.Cgroup, name string) error {
	if cg.Empty() {
		return nil
	}
	_, _, err := cg.Kill()
	if !waitEmpty(cg, 5*time.Second) {
		return errors.Join(err, fmt.Errorf("down: processes of %s left after SIGKILL", name))
	}
	return err
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// StartProcess starts again what KillProcess killed. ProcessPatroni: Patroni
// runs again and takes the running server over (Start). ProcessPostgres:
// Patroni starts PostgreSQL itself; StartProcess waits until it accepts
// connections (or Patroni failed over and made it a replica).
func (c *Cluster) StartProcess(ctx context.Context, name, process string) error {
	switch process {
	case ProcessPatroni, ProcessPostgres:
		return c.Start(ctx, name)
	}
	return fmt.Errorf("start %s of %s: no such process (valid: %s, %s)", process, name, ProcessPostgres, ProcessPatroni)
}

// Switchover asks the leader's Patroni for a planned switchover
// (POST /switchover) to candidate, or to a replica of Patroni's choosing
// when candidate is "", and returns once Patroni accepted it.
func (c *Cluster) Switchover(ctx context.Context, candidate string) error {
	leader, err := c.leader(ctx)
	if err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	body, _ := json.Marshal(map[string]string{"leader": leader, "candidate": candidate})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.RESTURL(leader)+"/switchover", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("switchover: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("switchover from %s to %q: Patroni answered %s: %s", leader, candidate, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// leader is the node whose Patroni says it is the primary (REST /primary
// answers 200).
func (c *Cluster) leader(ctx context.Context) (string, error) {
	for _, n := range c.Nodes() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.RESTURL(n.Name)+"/primary", nil)
		if err != nil {
			return "", err
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := http.DefaultClient.Do(req.WithContext(cctx))
		if err == nil {
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return n.Name, nil
		}
	}
	return "", errors.New("no node's Patroni says it is the leader")
}

// Manager names the history in messages.
func (c *Cluster) Manager() string { return "Patroni's history" }

// History asks the nodes' REST APIs, in order, for Patroni's timeline
// history (GET /history), from the first that answers.
func (c *Cluster) History(ctx context.Context) ([]cluster.Promotion, error) {
	var lastErr error
	for _, n := range c.nodes {
		code, body := httpGet(ctx, c.RESTURL(n.name)+"/history")
		if code != http.StatusOK {
			lastErr = fmt.Errorf("%s: GET /history: %d %s", n.name, code, strings.TrimSpace(body))
			continue
		}
		h, err := cluster.ParsePatroniHistory([]byte(body))
		if err != nil {
			return nil, fmt.Errorf("%s: GET /history: %w", n.name, err)
		}
		return h, nil
	}
	return nil, lastErr
}
