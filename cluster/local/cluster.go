package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
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
	cg      *freezer  // its cgroup, once started; nil without the freezer
	landed  time.Time // when the last Kill stopped it
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
}

var (
	_ cluster.Cluster = (*Cluster)(nil)
	_ cluster.Killer  = (*Cluster)(nil)

	_ cluster.WALReader = (*Cluster)(nil)
	_ cluster.Lander    = (*Cluster)(nil)
)

// Up builds the cluster: copy the template into the primary, start it,
// create roles and slots, clone each replica with pg_basebackup in
// parallel, start them, and wait until each is streaming.
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
	if spec.LogDir != "" {
		if err := os.MkdirAll(spec.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("log dir: %w", err)
		}
	}
	names := []string{"primary"}
	for _, r := range spec.Replicas {
		names = append(names, r.Name)
	}
	for i, name := range names {
		port, err := freePort()
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
		c.nodes = append(c.nodes, n)
	}
	if spec.Network {
		if c.net, err = newNetwork(c.nodes, spec.Clients); err != nil {
			return nil, err
		}
	}

	// The primary, from the template.
	p := c.nodes[0]
	if err := b.copyTree(tmpl, p.dataDir); err != nil {
		return nil, fmt.Errorf("copy template: %w", err)
	}
	if err := os.Chmod(p.dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := c.writeOwned(filepath.Join(p.dataDir, "pg_hba.conf"), cluster.HBA("127.0.0.1/32")); err != nil {
		return nil, err
	}
	if err := c.appendConf(p, spec.Settings[p.name]); err != nil {
		return nil, err
	}
	if err := c.start(ctx, p); err != nil {
		return nil, err
	}
	conn, err := connectSocket(ctx, p.sockDir, p.port)
	if err != nil {
		return nil, fmt.Errorf("connect to primary: %w", err)
	}
	for _, q := range c.pw.SetupSQL(spec.Replicas) {
		if _, err := conn.Exec(ctx, q); err != nil {
			conn.Close(ctx)
			return nil, fmt.Errorf("primary setup: %s", cluster.Redact(err.Error()))
		}
	}

	// Replicas, cloned in parallel.
	var wg sync.WaitGroup
	errs := make([]error, len(spec.Replicas))
	for i, r := range spec.Replicas {
		wg.Add(1)
		go func(i int, r cluster.ReplicaSpec) {
			defer wg.Done()
			errs[i] = c.cloneReplica(ctx, c.nodes[i+1], r, spec.Settings[r.Name])
		}(i, r)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	err = cluster.WaitStreaming(ctx, conn, spec.Replicas)
	if err == nil && spec.SyncStandbyNames != "" {
		err = cluster.SetSyncNames(ctx, conn, spec.SyncStandbyNames)
	}
	conn.Close(context.Background())
	if err != nil {
		return nil, err
	}
	c.BringUpMs = float64(time.Since(start).Microseconds()) / 1000
	return c, nil
}

// cloneReplica takes a base backup of the primary into n and starts it as
// a standby streaming from the primary.
func (c *Cluster) cloneReplica(ctx context.Context, n *node, r cluster.ReplicaSpec, settings map[string]string) error {
	args := cluster.BaseBackupArgs("127.0.0.1", c.nodes[0].port, n.dataDir, r.Slot)
	if _, err := c.b.run(ctx, filepath.Join(c.b.binDir, "pg_basebackup"), args, c.pw.BaseBackupEnv()); err != nil {
		return fmt.Errorf("clone %s: %s", n.name, cluster.Redact(err.Error()))
	}
	if err := os.Chmod(n.dataDir, 0o700); err != nil {
		return err
	}
	if err := c.appendConf(n, settings); err != nil {
		return err
	}
	if err := c.writeOwned(filepath.Join(n.dataDir, cluster.PassFileName), c.pw.PassFile()); err != nil {
		return err
	}
	auto := cluster.StandbyConf(c.PrimaryConnInfo(n.name, "primary"), r.Slot)
	if err := c.writeOwned(filepath.Join(n.dataDir, "postgresql.auto.conf"), auto); err != nil {
		return err
	}
	if err := c.writeOwned(filepath.Join(n.dataDir, "standby.signal"), ""); err != nil {
		return err
	}
	return c.start(ctx, n)
}

func (c *Cluster) writeOwned(path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Chown(path, c.b.uid, c.b.gid)
}

// appendConf appends cluster.ServerConf to the node's postgresql.conf.
func (c *Cluster) appendConf(n *node, scenario map[string]string) error {
	conf := cluster.ServerConf(n.name, cluster.Listen{Addresses: "127.0.0.1", Port: n.port, SocketDir: n.sockDir},
		// Dynamic shared memory in files of the data dir, not /dev/shm: a
		// killed node's segments go with its data dir instead of leaking.
		map[string]string{"dynamic_shared_memory_type": "mmap"}, scenario)
	f, err := os.OpenFile(filepath.Join(n.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// start starts the node's postmaster and waits until it accepts
// connections on its socket.
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
		n.cg, _ = newFreezer(c.b.freezer, filepath.Base(c.dir)+"."+n.name)
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
		if !p.running() {
			return fmt.Errorf("start %s: postgres exited (%v); see %s", n.name, p.err, n.logPath)
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := connectSocket(cctx, n.sockDir, n.port)
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start %s: not accepting connections after 60s: %v; see %s", n.name, err, n.logPath)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// Nodes lists the nodes, the primary first.
func (c *Cluster) Nodes() []cluster.Node {
	out := make([]cluster.Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = cluster.Node{Name: n.name, Host: "127.0.0.1", Port: n.port}
	}
	return out
}

func (c *Cluster) node(name string) (*node, error) {
	for _, n := range c.nodes {
		if n.name == name {
			return n, nil
		}
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
	c.mu.Unlock()
	var errs []error
	if c.net != nil {
		c.net.stop()
	}
	for _, n := range c.nodes {
		if n.proc != nil {
			if n.proc.running() || n.cg != nil {
				n.proc.kill()
			}
			if !n.proc.wait(10*time.Second) || !n.proc.groupGone(10*time.Second) {
				errs = append(errs, fmt.Errorf("down %s: processes of group %d did not exit", n.name, n.proc.pgid))
			} else if err := removeShm(n.dataDir); err != nil {
				errs = append(errs, fmt.Errorf("down %s: %w", n.name, err))
			} else if n.cg != nil {
				if err := n.cg.remove(); err != nil {
					errs = append(errs, fmt.Errorf("down %s: %w", n.name, err))
				}
			}
		} else if n.cg != nil {
			if err := n.cg.remove(); err != nil {
				errs = append(errs, fmt.Errorf("down %s: %w", n.name, err))
			}
		}
		if n.logFile != nil {
			n.logFile.Close()
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
	return c.start(ctx, n)
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
