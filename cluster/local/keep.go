package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// A kept cluster (run --keep) must outlive the harness, whose servers die
// with it (Pdeathsig). Keep restarts each running node with pg_ctl, which
// detaches the server from the harness, and writes the connection details
// to keptPrefix<cluster>.json in the backend's temp dir. That dir and its
// marker stay when the backend closes; once the harness is gone, Cleanup
// stops the kept servers and removes the dir.

// keptPrefix starts the name of a kept cluster's file in the temp dir.
const keptPrefix = "kept-"

var _ cluster.Keeper = (*Cluster)(nil)

// Keep leaves the cluster running after the harness exits: every running
// node is shut down (fast) and started again detached, on the same port
// and data directory; nodes that are down stay down. The link proxies, if
// any, end with the harness: standbys streaming through them would stop,
// so a cluster with link proxies is not kept.
func (c *Cluster) Keep(ctx context.Context, primary string) (_ cluster.Kept, err error) {
	if c.net != nil {
		return cluster.Kept{}, errors.New("keep: the cluster's links run through proxies in the harness, which end with it")
	}
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		return cluster.Kept{}, errors.New("keep: the cluster is down")
	}
	c.mu.Unlock()
	var running []*node
	for _, n := range c.nodes {
		if n.proc != nil && n.proc.running() {
			running = append(running, n)
		}
	}
	if len(running) == 0 {
		return cluster.Kept{}, errors.New("keep: no node is running")
	}
	// Standbys first, so none of them logs the primary going away.
	for i := len(running) - 1; i >= 0; i-- {
		if err := c.Stop(ctx, running[i].name, false); err != nil {
			return cluster.Kept{}, fmt.Errorf("keep: %w", err)
		}
	}
	kept := cluster.Kept{Primary: primary}
	var nodes []cluster.KeptNode
	var started []string
	defer func() {
		if err != nil {
			// Down cannot see detached servers: stop them here.
			_, _ = stopServers(started, false)
		}
	}()
	for _, n := range running {
		started = append(started, n.dataDir)
		if err := c.startDetached(ctx, n); err != nil {
			return kept, fmt.Errorf("keep: %w", err)
		}
		if c.archive != "" {
			// Archiving goes on, archive_timeout honoured (see
			// wakeCheckpointer).
			conn, err := connectSocket(ctx, n.sockDir, n.port)
			if err != nil {
				return kept, fmt.Errorf("keep: %w", err)
			}
			err = wakeCheckpointer(ctx, conn)
			conn.Close(context.Background())
			if err != nil {
				return kept, fmt.Errorf("keep: %w", err)
			}
		}
		role := "replica"
		if n.name == primary {
			role = "primary"
		}
		kept.Nodes = append(kept.Nodes, cluster.Node{Name: n.name, Host: "127.0.0.1", Port: n.port})
		nodes = append(nodes, cluster.KeptNode{Name: n.name, Host: "127.0.0.1", Port: n.port, Role: role,
			Admin: c.pw.ConnString("127.0.0.1", n.port, cluster.Admin), App: c.pw.ConnString("127.0.0.1", n.port, cluster.App)})
	}
	b, err := json.MarshalIndent(struct {
		Cluster string             `json:"cluster"`
		Nodes   []cluster.KeptNode `json:"nodes"`
		Remove  string             `json:"remove"`
	}{filepath.Base(c.dir), nodes, "pgbench-ha cleanup"}, "", "  ")
	if err != nil {
		return kept, err
	}
	kept.File = filepath.Join(c.b.root, keptPrefix+filepath.Base(c.dir)+".json")
	if err := os.WriteFile(kept.File, append(b, '\n'), 0o600); err != nil {
		return kept, fmt.Errorf("keep: %w", err)
	}
	c.mu.Lock()
	c.down = true // Down leaves it be
	c.mu.Unlock()
	for _, n := range c.nodes {
		if n.logFile != nil {
			n.logFile.Close()
			n.logFile = nil
		}
	}
	c.b.keep(c.dir)
	return kept, nil
}

// startDetached starts n with pg_ctl: the server leaves the harness's
// process tree and session. It logs to the node's log file, opened here
// (the server user may not reach the run folder) and handed down as
// pg_ctl's output, which the server inherits.
func (c *Cluster) startDetached(ctx context.Context, n *node) error {
	if err := removeShm(n.dataDir); err != nil {
		return err
	}
	log, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("server log: %w", err)
	}
	defer log.Close()
	p, err := c.b.spawn(filepath.Join(c.b.binDir, "pg_ctl"), []string{"start", "-w", "-t", "60", "-D", n.dataDir}, nil, log, nil)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		p.kill()
		<-p.done
		return ctx.Err()
	}
	if p.err != nil {
		return fmt.Errorf("start %s detached: pg_ctl: %w; see %s", n.name, p.err, n.logPath)
	}
	return nil
}

// keep marks dir, a cluster dir in the temp dir, as kept: Close leaves it
// and the marker.
func (b *Backend) keep(dir string) {
	b.mu.Lock()
	b.kept = append(b.kept, dir)
	b.mu.Unlock()
}

// closeKept removes everything of the temp dir but the marker, the kept
// clusters and their files.
func (b *Backend) closeKept() error {
	entries, err := os.ReadDir(b.root)
	if err != nil {
		return err
	}
	keep := map[string]bool{markerName: true}
	for _, d := range b.kept {
		keep[filepath.Base(d)] = true
		keep[keptPrefix+filepath.Base(d)+".json"] = true
	}
	var errs []error
	for _, e := range entries {
		if !keep[e.Name()] {
			errs = append(errs, os.RemoveAll(filepath.Join(b.root, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// stopKept stops the servers a kept cluster of root left running: each
// postmaster named by a postmaster.pid under root whose process still
// runs that data dir gets a fast shutdown, then, after 30 s, SIGKILL with
// its descendants. It returns the servers it stopped (with dryRun, would
// stop).
func stopKept(root string, dryRun bool) ([]Leftover, error) {
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "postmaster.pid"))
	dirs := make([]string, len(files))
	for i, f := range files {
		dirs[i] = filepath.Dir(f)
	}
	return stopServers(dirs, dryRun)
}

// stopServers stops the servers running the data dirs, as stopKept.
func stopServers(dataDirs []string, dryRun bool) ([]Leftover, error) {
	var out []Leftover
	var errs []error
	for _, dataDir := range dataDirs {
		pid, ok := keptServer(dataDir)
		if !ok {
			continue
		}
		l := Leftover{Kind: "server", Name: fmt.Sprintf("postgres %d of %s", pid, dataDir)}
		if dryRun {
			out = append(out, l)
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGINT)
		if !waitGone(pid, 30*time.Second) {
			tree := descendants(pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			for _, p := range tree {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
			if !waitGone(pid, 5*time.Second) {
				l.Err = errors.New("still running after SIGKILL")
				errs = append(errs, fmt.Errorf("%s: %w", l.Name, l.Err))
			}
		}
		l.Removed = l.Err == nil
		out = append(out, l)
	}
	return out, errors.Join(errs...)
}

// keptServer is the pid of the postmaster running dataDir, if its
// postmaster.pid names a live process started with that data directory
// (its command line, which anyone may read where its working directory
// may not be: a container without CAP_SYS_PTRACE), never another process
// that reused the pid.
func keptServer(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !slices.Contains(strings.Split(string(cmdline), "\x00"), filepath.Clean(dataDir)) {
		return 0, false
	}
	return pid, alive(pid)
}

// waitGone waits until pid has exited, up to d.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// hasKept reports whether root holds a kept cluster.
func hasKept(root string) bool {
	m, _ := filepath.Glob(filepath.Join(root, keptPrefix+"*.json"))
	return len(m) > 0
}
