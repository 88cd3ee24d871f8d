package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
)

// node is one server of a local cluster.
type node struct {
	name    string
	port    int
	dataDir string
	sockDir string
	logPath string
	logFile *os.File
	proc    *proc
	cg      *freezer.Cgroup // its cgroup, once started; nil without the freezer
	landed  time.Time       // when the last Kill stopped it
	// sub: a logical subscriber, a server of its own beside the nodes.
	sub bool
}

// Cluster is a running local cluster.
type Cluster struct {
	b         *Backend
	dir       string
	nodes     []*node
	pw        cluster.Passwords
	mu        sync.Mutex
	down      bool
	BringUpMs float64
	net       *network // per-link proxies, with Spec.Network
	// archive is where the nodes archive WAL, in dir; archiveTo where
	// Down moves it (Spec.ArchiveDir). Both "" without archiving.
	archive, archiveTo string
	// primaryConf is the primary's postgresql.conf as Up wrote it; drill
	// servers (drill.go) start from it, and drills lists them (mu).
	primaryConf string
	drills      []*node
}

var (
	_ cluster.Cluster = (*Cluster)(nil)
	_ cluster.Killer  = (*Cluster)(nil)

	_ cluster.WALReader = (*Cluster)(nil)
	_ cluster.Lander    = (*Cluster)(nil)
)

// Up builds the cluster: copy the template into every node, start the
// primary and create roles and slots on it, then start the standbys in
// parallel and wait until each is streaming and has replayed the setup.
//
// A standby needs no base backup here: the template is a cleanly shut
// down data directory (checked when it is made or taken from the cache),
// and the primary is a copy of it that has not started yet, so a copy of
// the template is what a base backup of the primary would give: the same
// system identifier, timeline and checkpoint. The standby replays from
// that checkpoint whatever the primary writes once it runs, the setup SQL
// included (roles are in the WAL; slots are not, and stay on the
// primary). The standbys start only after the setup SQL, so the
// replication role, its password and their slots exist when they first
// connect; Up returns once they have replayed it, so that the cluster's
// passwords work on them too.
func (b *Backend) Up(ctx context.Context, spec cluster.Spec) (cl cluster.Cluster, err error) {
	start := time.Now()
	tmpl, err := b.template(ctx)
	if err != nil {
		return nil, err
	}
	id := spec.ID
	if id == "" {
		id = "c" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	}
	c := &Cluster{
		b:   b,
		dir: filepath.Join(b.root, id),
		pw:  cluster.NewPasswords(),
	}
	defer func() {
		if err != nil {
			_ = c.Down(context.Background())
		}
	}()
	if err := b.mkdirOwned(c.dir); err != nil {
		return nil, fmt.Errorf("cluster dir: %w", err)
	}
	if spec.ArchiveDir != "" {
		c.archive, c.archiveTo = filepath.Join(c.dir, "archive"), spec.ArchiveDir
		if err := b.mkdirOwned(c.archive); err != nil {
			return nil, fmt.Errorf("archive dir: %w", err)
		}
	}
	if spec.LogDir != "" {
		if err := os.MkdirAll(spec.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("log dir: %w", err)
		}
	}
	names := []string{"primary"}
	for _, r := range spec.Replicas {
		names = append(names, r.Name)
	}
	names = append(names, spec.Subscribers...)
	for i, name := range names {
		port, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("free port: %w", err)
		}
		n := &node{
			name:    name,
			port:    port,
			dataDir: filepath.Join(c.dir, name),
			sockDir: filepath.Join(c.dir, "s"+strconv.Itoa(i)),
		}
		if spec.LogDir != "" {
			n.logPath = filepath.Join(spec.LogDir, name+".log")
		} else {
			n.logPath = filepath.Join(c.dir, name+".log")
		}
		if err := b.mkdirOwned(n.sockDir); err != nil {
			return nil, err
		}
		n.sub = i > len(spec.Replicas)
		c.nodes = append(c.nodes, n)
	}
	if spec.Network {
		// The subscribers reach the primary directly: no link of theirs
		// is faulted.
		if c.net, err = newNetwork(c.nodes[:1+len(spec.Replicas)], spec.Clients); err != nil {
			return nil, err
		}
	}

	// Every node's postgresql.conf: the template's, the primary's settings,
	// and a standby's own after them (as a base backup would have copied
	// the primary's: a standby needs max_connections and the like at least
	// as high as the primary's).
	base, err := os.ReadFile(filepath.Join(tmpl, "postgresql.conf"))
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	p := c.nodes[0]
	primaryConf := string(base) + c.serverConf(p, spec.Settings[p.name])
	c.primaryConf = primaryConf

	// The standbys' data directories are made while the primary's is,
	// and while it starts.
	var wg sync.WaitGroup
	errs := make([]error, len(spec.Replicas))
	for i, r := range spec.Replicas {
		wg.Add(1)
		go func(i int, r cluster.ReplicaSpec) {
			defer wg.Done()
			n := c.nodes[i+1]
			errs[i] = c.prepareStandby(tmpl, n, r, primaryConf+c.serverConf(n, spec.Settings[r.Name]))
		}(i, r)
	}
	conn, setupLSN, err := c.startPrimary(ctx, tmpl, p, primaryConf, spec.Replicas)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if c.archive != "" {
		if err := wakeCheckpointer(ctx, conn); err != nil {
			return nil, err
		}
	}

	// The standbys, started in parallel.
	for i := range spec.Replicas {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = c.start(ctx, c.nodes[i+1])
		}(i)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := cluster.WaitStreaming(ctx, conn, spec.Replicas, setupLSN); err != nil {
		return nil, err
	}
	if spec.SyncStandbyNames != "" {
		if err := cluster.SetSyncNames(ctx, conn, spec.SyncStandbyNames); err != nil {
			return nil, err
		}
	}
	// The subscribers: servers of their own from the same template, with
	// the cluster's roles and passwords, empty.
	for _, n := range c.nodes[1+len(spec.Replicas):] {
		if err := c.startSubscriber(ctx, tmpl, n, string(base)+c.serverConf(n, map[string]string{"wal_level": "logical"})); err != nil {
			return nil, err
		}
	}
	c.BringUpMs = float64(time.Since(start).Microseconds()) / 1000
	return c, nil
}

// copyTemplate copies the template into n's data directory, with the
// access rules of every node and the postgresql.conf given.
func (c *Cluster) copyTemplate(tmpl string, n *node, conf string) error {
	if err := c.b.copyTree(tmpl, n.dataDir); err != nil {
		return fmt.Errorf("copy template to %s: %w", n.name, err)
	}
	if err := os.Chmod(n.dataDir, 0o700); err != nil {
		return err
	}
	if err := c.writeOwned(filepath.Join(n.dataDir, "pg_hba.conf"), cluster.HBA("127.0.0.1/32")); err != nil {
		return err
	}
	return c.writeOwned(filepath.Join(n.dataDir, "postgresql.conf"), conf)
}

// startPrimary makes the primary's data directory from the template,
// starts it, runs the setup SQL on it (roles, passwords, slots), and
// returns the admin connection and the WAL position the standbys must
// replay to have the setup.
func (c *Cluster) startPrimary(ctx context.Context, tmpl string, p *node, conf string, replicas []cluster.ReplicaSpec) (conn *pgx.Conn, lsn string, err error) {
	if err := c.copyTemplate(tmpl, p, conf); err != nil {
		return nil, "", err
	}
	if err := c.start(ctx, p); err != nil {
		return nil, "", err
	}
	conn, err = connectSocket(ctx, p.sockDir, p.port)
	if err != nil {
		return nil, "", fmt.Errorf("connect to primary: %w", err)
	}
	lsn, err = c.pw.Setup(ctx, conn, replicas)
	if err != nil {
		conn.Close(context.Background())
		return nil, "", err
	}
	return conn, lsn, nil
}

// startSubscriber makes n's data directory from the template, starts it
// and gives it the cluster's roles and passwords.
func (c *Cluster) startSubscriber(ctx context.Context, tmpl string, n *node, conf string) error {
	if err := c.copyTemplate(tmpl, n, conf); err != nil {
		return err
	}
	if err := c.start(ctx, n); err != nil {
		return err
	}
	conn, err := connectSocket(ctx, n.sockDir, n.port)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", n.name, err)
	}
	defer conn.Close(context.Background())
	if _, err := c.pw.Setup(ctx, conn, nil); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	return nil
}

// Subscribers lists the logical subscribers.
func (c *Cluster) Subscribers() []cluster.Node {
	var out []cluster.Node
	for _, n := range c.nodes {
		if n.sub {
			out = append(out, cluster.Node{Name: n.name, Host: "127.0.0.1", Port: n.port})
		}
	}
	return out
}

// SubscriberConnInfo is how a subscriber reaches node: directly, as the
// admin user.
func (c *Cluster) SubscriberConnInfo(subscriber, node string) string {
	return c.ConnString(node, cluster.Admin)
}

// prepareStandby makes n's data directory a standby of the primary, not
// started: a copy of the template (see Up) with conf as its
// postgresql.conf, streaming through n's slot if it has one, its password
// in the passfile primary_conninfo names.
func (c *Cluster) prepareStandby(tmpl string, n *node, r cluster.ReplicaSpec, conf string) error {
	if err := c.copyTemplate(tmpl, n, conf); err != nil {
		return err
	}
	if err := c.writeOwned(filepath.Join(n.dataDir, cluster.PassFileName), c.pw.PassFile()); err != nil {
		return err
	}
	auto := cluster.StandbyConf(c.PrimaryConnInfo(n.name, "primary"), r.Slot)
	if err := c.writeOwned(filepath.Join(n.dataDir, "postgresql.auto.conf"), auto); err != nil {
		return err
	}
	return c.writeOwned(filepath.Join(n.dataDir, "standby.signal"), "")
}

func (c *Cluster) writeOwned(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Chown(path, c.b.uid, c.b.gid)
}

// serverConf is what goes after the template's postgresql.conf for n:
// cluster.ServerConf with n's address, port and socket, and with
// archiving, every node's archive settings (not a subscriber's).
func (c *Cluster) serverConf(n *node, scenario map[string]string) string {
	// Dynamic shared memory in files of the data dir, not /dev/shm: a
	// killed node's segments go with its data dir instead of leaking.
	extra := map[string]string{"dynamic_shared_memory_type": "mmap"}
	if c.archive != "" && !n.sub {
		for k, v := range archiveSettings(c.archive) {
			extra[k] = v
		}
	}
	return cluster.ServerConf(n.name, cluster.Listen{Addresses: "127.0.0.1", Port: n.port, SocketDir: n.sockDir}, extra, scenario)
}

// start starts the node's postmaster and waits until it accepts
// connections: until its lock file says so, as pg_ctl -w reads it, but
// looked at every 2 ms rather than every 100 ms, and without connection
// attempts, each of which costs the starting server a backend and a FATAL
// line in its log.
func (c *Cluster) start(ctx context.Context, n *node) error {
	if n.logFile == nil {
		f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("server log: %w", err)
		}
		n.logFile = f
	}
	if n.cg == nil && c.b.freezer != "" {
		// Without its cgroup the node is signalled as without the freezer.
		n.cg, _ = freezer.New(c.b.freezer, filepath.Base(c.dir)+"."+n.name)
	}
	p, err := c.b.spawn(filepath.Join(c.b.binDir, "postgres"), []string{"-D", n.dataDir}, nil, n.logFile, n.cg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.dataDir = n.dataDir
	p.mu.Unlock()
	c.mu.Lock()
	n.proc = p
	c.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if serverReady(n.dataDir, p.pgid) {
			return nil
		}
		if !p.running() {
			tail, _ := os.ReadFile(n.logPath)
			return fmt.Errorf("start %s: postgres exited (%v): %s; see %s", n.name, p.err, lastLines(tail, 3), n.logPath)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start %s: not accepting connections after 60s; see %s", n.name, n.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// serverReady reports whether the postmaster pid accepts connections, by
// the status line of the lock file in its data directory (postmaster.pid,
// line 8): "ready", or "standby" for a standby without hot standby. A
// lock file of an earlier server (another pid) does not count.
func serverReady(dataDir string, pid int) bool {
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	lines := strings.Split(string(raw), "\n")
	if len(lines) < 8 || strings.TrimSpace(lines[0]) != strconv.Itoa(pid) {
		return false
	}
	st := strings.TrimSpace(lines[7])
	return st == "ready" || st == "standby"
}

// Nodes lists the nodes, the primary first.
func (c *Cluster) Nodes() []cluster.Node {
	out := make([]cluster.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		if !n.sub {
			out = append(out, cluster.Node{Name: n.name, Host: "127.0.0.1", Port: n.port})
		}
	}
	return out
}

func (c *Cluster) node(name string) (*node, error) {
	for _, n := range c.nodes {
		if n.name == name {
			return n, nil
		}
	}
	if n := c.drillServer(name); n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("no node %q", name)
}

// ConnString reaches node over TCP as user.
func (c *Cluster) ConnString(name string, u cluster.User) string {
	n, err := c.node(name)
	if err != nil {
		return ""
	}
	return c.pw.ConnString("127.0.0.1", n.port, u)
}

// PrimaryConnInfo is what standby streams from upstream with: through the
// link's proxy when the cluster has them.
func (c *Cluster) PrimaryConnInfo(standby, upstream string) string {
	n, err := c.node(upstream)
	if err != nil {
		return ""
	}
	s, err := c.node(standby)
	if err != nil {
		return ""
	}
	return c.pw.StreamConnInfo("127.0.0.1", c.linkPort(standby, n), standby, filepath.Join(s.dataDir, cluster.PassFileName))
}

// Landed is when the last Kill of a node stopped every process of it.
func (c *Cluster) Landed(name string) (time.Time, bool) {
	n, err := c.node(name)
	if err != nil {
		return time.Time{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.landed, !n.landed.IsZero()
}

// WALDir is the pg_wal directory of a node, running or not.
func (c *Cluster) WALDir(name string) (string, error) {
	n, err := c.node(name)
	if err != nil {
		return "", err
	}
	return filepath.Join(n.dataDir, "pg_wal"), nil
}

// BinDir is the directory of the server binaries.
func (c *Cluster) BinDir() string { return c.b.binDir }

// LogPath is the server log of a node.
func (c *Cluster) LogPath(name string) string {
	if n, err := c.node(name); err == nil {
		return n.logPath
	}
	return ""
}

// Kill crashes a node: every process of it stopped in one step (its
// cgroup frozen) and killed, as when a machine loses power; it returns
// once they are all gone, after removing the shared memory segment the
// dead postmaster left behind.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if p == nil || !p.running() {
		return fmt.Errorf("kill %s: not running", name)
	}
	p.kill()
	p.mu.Lock()
	landed := p.landed
	p.mu.Unlock()
	c.mu.Lock()
	n.landed = landed
	c.mu.Unlock()
	p.wait(10 * time.Second)
	if !p.groupGone(5 * time.Second) {
		return fmt.Errorf("kill %s: processes still alive 5s after SIGKILL", name)
	}
	if err := removeShm(n.dataDir); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	return nil
}

// Down kills every node's process group, removes shared memory and data.
// Logs stay in the log dir.
func (c *Cluster) Down(ctx context.Context) error {
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		return nil
	}
	c.down = true
	// The drill servers too (drill.go).
	all := append(append([]*node{}, c.nodes...), c.drills...)
	c.mu.Unlock()
	var errs []error
	if c.net != nil {
		c.net.Stop()
	}
	for _, n := range all {
		if n.proc != nil {
			if n.proc.running() || n.cg != nil {
				n.proc.kill()
			}
			if !n.proc.wait(10*time.Second) || !n.proc.groupGone(10*time.Second) {
				errs = append(errs, fmt.Errorf("down %s: processes of group %d did not exit", n.name, n.proc.pgid))
			} else if err := removeShm(n.dataDir); err != nil {
				errs = append(errs, fmt.Errorf("down %s: %w", n.name, err))
			} else if n.cg != nil {
				if err := n.cg.Remove(); err != nil {
					errs = append(errs, fmt.Errorf("down %s: %w", n.name, err))
				}
			}
		} else if n.cg != nil {
			if err := n.cg.Remove(); err != nil {
				errs = append(errs, fmt.Errorf("down %s: %w", n.name, err))
			}
		}
		if n.logFile != nil {
			n.logFile.Close()
		}
	}
	if c.archive != "" {
		// Every node is gone: nothing archives any more.
		if err := c.moveArchive(c.archive, c.archiveTo); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(c.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

var (
	_ cluster.Stopper = (*Cluster)(nil)
	_ cluster.Pauser  = (*Cluster)(nil)
)

func (c *Cluster) running(name string) (*node, *proc, error) {
	n, err := c.node(name)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if p == nil || !p.running() {
		return n, nil, fmt.Errorf("%s is not running", name)
	}
	return n, p, nil
}

// Stop shuts a node down: fast (SIGINT: clean, with a checkpoint) or
// immediate (SIGQUIT: no checkpoint, crash recovery at the next start).
// It returns once every process of the node has exited.
func (c *Cluster) Stop(ctx context.Context, name string, immediate bool) error {
	n, p, err := c.running(name)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	sig := syscall.SIGINT
	if immediate {
		sig = syscall.SIGQUIT
	}
	// Only the postmaster: it shuts its children down itself.
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(60 * time.Second):
		return fmt.Errorf("stop %s: still running 60s after %v; see %s", name, sig, n.logPath)
	}
	p.groupGone(10 * time.Second)
	return nil
}

// Start starts a stopped or killed node again on the same port and data
// directory and waits until it accepts connections (after crash recovery,
// if it was killed).
func (c *Cluster) Start(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	p := n.proc
	down := c.down
	c.mu.Unlock()
	if down {
		return fmt.Errorf("start %s: the cluster is down", name)
	}
	if p != nil && p.running() {
		return fmt.Errorf("start %s: already running", name)
	}
	if err := removeShm(n.dataDir); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if err := c.start(ctx, n); err != nil {
		return err
	}
	if c.archive != "" {
		conn, err := connectSocket(ctx, n.sockDir, n.port)
		if err != nil {
			return fmt.Errorf("start %s: %w", name, err)
		}
		defer conn.Close(context.Background())
		return wakeCheckpointer(ctx, conn)
	}
	return nil
}

// Pause freezes every process of the node (its cgroup frozen, as docker
// pause does, or without the freezer SIGSTOP to each): it holds its
// connections open and answers nothing. The kernel still completes TCP
// handshakes on its listen socket, up to the backlog.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	_, p, err := c.running(name)
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if err := p.pause(); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	return nil
}

// Resume thaws a paused node.
func (c *Cluster) Resume(ctx context.Context, name string) error {
	_, p, err := c.running(name)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := p.resume(); err != nil {
		return fmt.Errorf("resume %s: %w", name, err)
	}
	return nil
}
