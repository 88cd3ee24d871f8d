package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	dc "github.com/ory/dockertest/v3/docker"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Paths inside every container.
const (
	homeDir = "/pgbench-ha"
	dataDir = homeDir + "/data" // the data directory, 0700, owned by postgres
	runDir  = homeDir + "/run"  // the server's socket directory, 0700
)

// node is one server of a docker cluster.
type node struct {
	name string
	ct   *container
	log  *logWriter
	path string // log file on the host; "" when the spec has no LogDir
	srv  *server
}

// Cluster is a running docker cluster: one container per node on the
// backend's private network.
type Cluster struct {
	b     *Backend
	img   *image // the image its containers run
	id    string
	nodes []*node
	subs  []*node // logical subscribers (Spec.Subscribers): not nodes
	pw    cluster.Passwords

	mu        sync.Mutex
	down      bool
	cuts      []cut // iptables rules Cut added, removed by Heal
	BringUpMs float64
}

var (
	_ cluster.Cluster = (*Cluster)(nil)
	_ cluster.Killer  = (*Cluster)(nil)
	_ cluster.Stopper = (*Cluster)(nil)
	_ cluster.Pauser  = (*Cluster)(nil)
)

var nodeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Up builds the cluster: a container per node (created in parallel), the
// backend's initdb template copied into each (made by the first Up, in its
// primary's container), roles and slots on the primary, then the standbys
// started in parallel, and returns once every standby is streaming and
// has replayed the setup. On error (and when ctx ends) every container it
// created is removed.
//
// A standby needs no base backup: the template is a cleanly shut down data
// directory and the primary a copy of it not yet started, so a copy of the
// template is what a base backup of the primary would give (see the local
// backend's Up). The standbys start once the setup SQL has run, so the
// replication role and their slots exist when they first connect.
func (b *Backend) Up(ctx context.Context, spec cluster.Spec) (cl cluster.Cluster, err error) {
	start := time.Now()
	// spec.Network needs nothing more: links between nodes are cut with
	// iptables in the containers (NodePartitioner); client groups connect
	// from the host and have no links of their own.
	names := []string{"primary"}
	for _, r := range spec.Replicas {
		names = append(names, r.Name)
	}
	seen := map[string]bool{}
	for _, n := range append(append([]string(nil), names...), spec.Subscribers...) {
		if !nodeNameRE.MatchString(n) || seen[n] {
			return nil, fmt.Errorf("docker backend: node name %q is not usable as a container name, or repeated", n)
		}
		seen[n] = true
	}
	img, err := b.image(spec.Image)
	if err != nil {
		return nil, err
	}
	network, err := b.ensureNetwork()
	if err != nil {
		return nil, err
	}
	id := spec.ID
	if id == "" {
		id = "c"
	}
	c := &Cluster{
		b:   b,
		img: img,
		id:  b.clusterID(id),
		pw:  cluster.NewPasswords(),
	}
	defer func() {
		if err != nil {
			_ = c.Down(context.Background())
			if b.checkOpen() != nil && !errors.Is(err, ErrClosed) {
				err = fmt.Errorf("%w (%v)", ErrClosed, err)
			}
			if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
				err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			}
		}
	}()
	if spec.LogDir != "" {
		if err := os.MkdirAll(spec.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("log dir: %w", err)
		}
	}
	for i, name := range append(append([]string(nil), names...), spec.Subscribers...) {
		n := &node{name: name, log: newLogWriter()}
		if spec.LogDir != "" {
			n.path = filepath.Join(spec.LogDir, name+".log")
			f, err := os.OpenFile(n.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return nil, fmt.Errorf("server log: %w", err)
			}
			n.log.f = f
		}
		if i < len(names) {
			c.nodes = append(c.nodes, n)
		} else {
			c.subs = append(c.subs, n)
		}
	}

	// A container per node, each with its data and socket directories.
	// The standbys' are created, and their data directories made, while
	// the primary's is made and the primary starts.
	newContainer := func(n *node) error {
		ct, err := b.createContainer(ctx, containerSpec{
			image:    img.id,
			name:     b.resourceName(c.id + "-" + n.name),
			hostname: n.name,
			labels:   map[string]string{LabelCluster: c.id, LabelNode: n.name},
			network:  network.Name,
			publish:  true,
		})
		if err != nil {
			return err
		}
		c.mu.Lock()
		n.ct = ct
		c.mu.Unlock()
		return b.writeFiles(ctx, ct.id, "/",
			file{name: "pgbench-ha", dir: true, mode: 0o755},
			file{name: "pgbench-ha/data", dir: true, mode: 0o700, uid: img.uid, gid: img.gid},
			file{name: "pgbench-ha/run", dir: true, mode: 0o700, uid: img.uid, gid: img.gid})
	}
	// Nothing Up started in the background runs on once it returns (and
	// its deferred Down runs).
	var bg sync.WaitGroup
	defer bg.Wait()
	var createErr error
	created := make(chan struct{})
	bg.Add(1)
	go func() {
		defer bg.Done()
		defer close(created)
		createErr = c.parallel(append(append([]*node(nil), c.nodes[1:]...), c.subs...), newContainer)
	}()

	// The primary: the template, access rules, settings.
	p := c.nodes[0]
	if err := newContainer(p); err != nil {
		return nil, err
	}
	tmpl, err := c.template(ctx, p)
	if err != nil {
		return nil, err
	}
	// Every address inside the container: the private network. A
	// standby's settings come after the primary's, as a base backup would
	// have copied the primary's postgresql.conf.
	listen := cluster.Listen{Addresses: "*", Port: 5432, SocketDir: runDir}
	primaryConf := string(tmpl.conf) + cluster.ServerConf(p.name, listen, nil, spec.Settings[p.name])
	slots := map[string]string{}
	for _, r := range spec.Replicas {
		slots[r.Name] = r.Slot
	}
	var prepareErr error
	prepared := make(chan struct{})
	bg.Add(1)
	go func() {
		defer bg.Done()
		defer close(prepared)
		if <-created; createErr != nil {
			prepareErr = createErr
			return
		}
		prepareErr = c.parallel(c.nodes[1:], func(n *node) error {
			conf := primaryConf + cluster.ServerConf(n.name, listen, nil, spec.Settings[n.name])
			return c.prepareStandby(ctx, n, tmpl, slots[n.name], conf)
		})
	}()
	// samenet: the containers' own subnets; the harness arrives through
	// the gateway.
	err = c.b.writeFiles(ctx, p.ct.id, dataDir,
		file{name: "pg_hba.conf", body: []byte(cluster.HBA("samenet")), mode: 0o600, uid: c.img.uid, gid: c.img.gid},
		file{name: "postgresql.conf", body: []byte(primaryConf), mode: 0o600, uid: c.img.uid, gid: c.img.gid})
	if err != nil {
		return nil, err
	}
	if err := c.start(ctx, p); err != nil {
		return nil, err
	}
	// As the template's superuser, whose password the setup changes.
	cfg, err := pgx.ParseConfig(cluster.Passwords{Admin: tmpl.adminPassword}.ConnString("127.0.0.1", p.ct.hostPort, cluster.Admin))
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = 5 * time.Second
	cfg.RuntimeParams["application_name"] = "pgbench-ha-admin"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to primary: %s", cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	setupLSN, err := c.pw.Setup(ctx, conn, spec.Replicas)
	if err != nil {
		return nil, err
	}

	// The standbys, started in parallel.
	if <-prepared; prepareErr != nil {
		return nil, prepareErr
	}
	if err := c.parallel(c.nodes[1:], func(n *node) error { return c.start(ctx, n) }); err != nil {
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
	if err := c.parallel(c.subs, func(n *node) error {
		conf := string(tmpl.conf) + cluster.ServerConf(n.name, listen, map[string]string{"wal_level": "logical"}, nil)
		return c.startSubscriber(ctx, n, tmpl, conf)
	}); err != nil {
		return nil, err
	}
	c.BringUpMs = float64(time.Since(start).Microseconds()) / 1000
	return c, nil
}

// parallel runs f for each node at once and joins the errors.
func (c *Cluster) parallel(nodes []*node, f func(*node) error) error {
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(n)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// env is the environment of every process the harness runs in a
// container.
var env = []string{"LC_ALL=C", "LANG=C", "TZ=UTC"}

// run runs a tool of the server's bin dir in n's container as the postgres
// user and fails with its last lines of output.
func (c *Cluster) run(ctx context.Context, n *node, extraEnv []string, tool string, args ...string) error {
	var out bytes.Buffer
	cmd := append([]string{path.Join(c.img.binDir, tool)}, args...)
	code, err := c.b.exec(ctx, n.ct.id, "postgres", append(append([]string(nil), env...), extraEnv...), cmd, nil, &out)
	if err != nil {
		return fmt.Errorf("%s on %s: %w", tool, n.name, err)
	}
	if code != 0 {
		return fmt.Errorf("%s on %s: exit status %d: %s", tool, n.name, code, cluster.Redact(lastLines(out.Bytes(), 5)))
	}
	return nil
}

// initdb initializes n's data directory, the superuser's password
// adminPassword; the file it comes from is removed right after.
func (c *Cluster) initdb(ctx context.Context, n *node, adminPassword string) error {
	pw := file{name: "initdb.pw", body: []byte(adminPassword + "\n"), mode: 0o600, uid: c.img.uid, gid: c.img.gid}
	if err := c.b.writeFiles(ctx, n.ct.id, runDir, pw); err != nil {
		return err
	}
	args := append([]string{"-D", dataDir, "--pwfile", runDir + "/initdb.pw"}, cluster.InitdbArgs()...)
	err := c.run(ctx, n, nil, "initdb", args...)
	if _, rmErr := c.b.exec(ctx, n.ct.id, "postgres", nil, []string{"rm", "-f", runDir + "/initdb.pw"}, nil, nil); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// prepareStandby makes n's data directory a standby of the primary, not
// started: the template (see Up) with conf as its postgresql.conf,
// streaming through slot if not "", its password in the passfile
// primary_conninfo names.
func (c *Cluster) prepareStandby(ctx context.Context, n *node, t *template, slot, conf string) error {
	if err := c.b.copyTemplate(ctx, n.ct.id, t); err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	auto := cluster.StandbyConf(c.PrimaryConnInfo(n.name, "primary"), slot)
	return c.b.writeFiles(ctx, n.ct.id, dataDir,
		file{name: "pg_hba.conf", body: []byte(cluster.HBA("samenet")), mode: 0o600, uid: c.img.uid, gid: c.img.gid},
		file{name: "postgresql.conf", body: []byte(conf), mode: 0o600, uid: c.img.uid, gid: c.img.gid},
		file{name: "postgresql.auto.conf", body: []byte(auto), mode: 0o600, uid: c.img.uid, gid: c.img.gid},
		file{name: cluster.PassFileName, body: []byte(c.pw.PassFile()), mode: 0o600, uid: c.img.uid, gid: c.img.gid},
		file{name: "standby.signal", mode: 0o600, uid: c.img.uid, gid: c.img.gid})
}

// start runs postgres in n's container and waits until it accepts
// connections on the published port.
func (c *Cluster) start(ctx context.Context, n *node) error {
	select {
	case <-n.log.ready: // from an earlier start
	default:
	}
	srv, err := c.b.execServer(n.ct.id, "postgres", env, []string{path.Join(c.img.binDir, "postgres"), "-D", dataDir}, n.log)
	if err != nil {
		return fmt.Errorf("start %s: %w", n.name, err)
	}
	c.mu.Lock()
	n.srv = srv
	c.mu.Unlock()
	// Each refused attempt during startup costs a FATAL line in the
	// server log: poll with a growing interval, and at once when the
	// server logs that it is ready.
	interval := 10 * time.Millisecond
	deadline := time.Now().Add(60 * time.Second)
	for {
		if !srv.running() {
			return fmt.Errorf("start %s: postgres exited: %s%s", n.name, n.log.last(3), c.seeLog(n))
		}
		conn, err := c.connect(ctx, n.name, cluster.Admin, time.Second)
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		// A login refused for its password is a server accepting
		// connections: a new node's superuser still has the template's
		// password until the setup SQL (and on a standby its replay).
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "28P01" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start %s: not accepting connections after 60s: %s%s", n.name, cluster.Redact(err.Error()), c.seeLog(n))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-n.log.ready:
		case <-srv.done:
		case <-time.After(interval):
		}
		interval = min(2*interval, 200*time.Millisecond)
	}
}

func (c *Cluster) seeLog(n *node) string {
	if n.path == "" {
		return ""
	}
	return "; see " + n.path
}

// connect opens a connection to a node's published port.
func (c *Cluster) connect(ctx context.Context, name string, u cluster.User, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(c.ConnString(name, u))
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = timeout
	cfg.RuntimeParams["application_name"] = "pgbench-ha-admin"
	return pgx.ConnectConfig(ctx, cfg)
}

// Nodes lists the nodes, the primary first, as the harness reaches them:
// 127.0.0.1 and each container's published port.
func (c *Cluster) Nodes() []cluster.Node {
	out := make([]cluster.Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = cluster.Node{Name: n.name, Host: "127.0.0.1"}
		if n.ct != nil {
			out[i].Port = n.ct.hostPort
		}
	}
	return out
}

func (c *Cluster) node(name string) (*node, error) {
	for _, n := range append(append([]*node(nil), c.nodes...), c.subs...) {
		if n.name == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node %q", name)
}

// ConnString reaches node's published port on 127.0.0.1 as user.
func (c *Cluster) ConnString(name string, u cluster.User) string {
	n, err := c.node(name)
	if err != nil || n.ct == nil {
		return ""
	}
	return c.pw.ConnString("127.0.0.1", n.ct.hostPort, u)
}

// PrimaryConnInfo is what standby streams from upstream with: upstream's
// container name on the private network, port 5432.
func (c *Cluster) PrimaryConnInfo(standby, upstream string) string {
	n, err := c.node(upstream)
	if err != nil || n.ct == nil {
		return ""
	}
	return c.pw.StreamConnInfo(n.ct.name, 5432, standby, dataDir+"/"+cluster.PassFileName)
}

// LogPath is the server log of a node on the host ("" without a LogDir).
func (c *Cluster) LogPath(name string) string {
	if n, err := c.node(name); err == nil {
		return n.path
	}
	return ""
}

// ContainerName is the name of a node's container, also its host name
// on the private network.
func (c *Cluster) ContainerName(name string) string {
	if n, err := c.node(name); err == nil && n.ct != nil {
		return n.ct.name
	}
	return ""
}

// running returns the node if its server runs.
func (c *Cluster) running(name string) (*node, *server, error) {
	n, err := c.node(name)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	srv, down := n.srv, c.down
	c.mu.Unlock()
	if down {
		return n, nil, fmt.Errorf("%s: the cluster is down", name)
	}
	if !srv.running() {
		return n, nil, fmt.Errorf("%s is not running", name)
	}
	return n, srv, nil
}

// Kill crashes a node: docker kill, SIGKILL to the container's first
// process, which takes every process of the container with it at once.
// It returns once the server's processes are gone.
func (c *Cluster) Kill(ctx context.Context, name string) error {
	n, srv, err := c.running(name)
	if err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	if err := c.b.pool.Client.KillContainer(dc.KillContainerOptions{ID: n.ct.id, Signal: dc.SIGKILL, Context: ctx}); err != nil {
		return fmt.Errorf("kill %s: %w", name, err)
	}
	if !srv.wait(10 * time.Second) {
		return fmt.Errorf("kill %s: the server's output did not end 10s after docker kill", name)
	}
	return c.waitContainer(ctx, n, false, 10*time.Second)
}

// waitContainer waits until the container's running state is want.
func (c *Cluster) waitContainer(ctx context.Context, n *node, want bool, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		ct, err := c.b.pool.Client.InspectContainerWithContext(n.ct.id, ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", n.name, err)
		}
		if ct.State.Running == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: container still %s after %s", n.name, ct.State.StateString(), d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Stop shuts a node's server down with pg_ctl inside its container: fast
// (SIGINT: clean, with a checkpoint) or immediate (SIGQUIT: crash
// recovery at the next start). The container keeps running. It returns
// once the server has exited.
func (c *Cluster) Stop(ctx context.Context, name string, immediate bool) error {
	n, srv, err := c.running(name)
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	mode := "fast"
	if immediate {
		mode = "immediate"
	}
	if err := c.run(ctx, n, nil, "pg_ctl", "stop", "-D", dataDir, "-m", mode, "-w", "-t", "60"); err != nil {
		return fmt.Errorf("stop %s: %w", name, err)
	}
	select {
	case <-srv.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return fmt.Errorf("stop %s: pg_ctl returned but the server's output did not end%s", name, c.seeLog(n))
	}
}

// Start starts a stopped or killed node again (its container first, if it
// was killed) with the same data and published port, and waits until it
// accepts connections, after crash recovery if it was killed.
func (c *Cluster) Start(ctx context.Context, name string) error {
	n, err := c.node(name)
	if err != nil {
		return err
	}
	c.mu.Lock()
	srv, down := n.srv, c.down
	c.mu.Unlock()
	if down {
		return fmt.Errorf("start %s: the cluster is down", name)
	}
	if srv.running() {
		return fmt.Errorf("start %s: already running", name)
	}
	ct, err := c.b.pool.Client.InspectContainerWithContext(n.ct.id, ctx)
	if err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	if !ct.State.Running {
		if err := c.b.pool.Client.StartContainerWithContext(n.ct.id, nil, ctx); err != nil {
			return fmt.Errorf("start %s: container: %w", name, err)
		}
	}
	return c.start(ctx, n)
}

// Pause freezes every process of the node (docker pause, the cgroup
// freezer): connections stay open and nothing answers.
func (c *Cluster) Pause(ctx context.Context, name string) error {
	n, _, err := c.running(name)
	if err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	if err := c.b.pool.Client.PauseContainer(n.ct.id); err != nil {
		return fmt.Errorf("pause %s: %w", name, err)
	}
	return nil
}

// Resume thaws a paused node (docker unpause).
func (c *Cluster) Resume(ctx context.Context, name string) error {
	n, _, err := c.running(name)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := c.b.pool.Client.UnpauseContainer(n.ct.id); err != nil {
		return fmt.Errorf("resume %s: %w", name, err)
	}
	return nil
}

// Down removes the cluster's containers (with force: every server dies
// at once) and closes the logs, which stay in the log dir. It is safe to
// call more than once.
func (c *Cluster) Down(ctx context.Context) error {
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		return nil
	}
	c.down = true
	c.mu.Unlock()
	all := append(append([]*node(nil), c.nodes...), c.subs...)
	var ids []string
	for _, n := range all {
		if n.ct != nil {
			ids = append(ids, n.ct.id)
		}
	}
	// Also containers whose creation was interrupted before it answered.
	found, lerr := c.b.listContainers(ctx, map[string]string{LabelRun: c.b.runID, LabelCluster: c.id})
	for _, f := range found {
		ids = append(ids, f.ID)
	}
	errs := []error{lerr, c.b.removeContainers(ctx, ids)}
	for _, n := range all {
		c.mu.Lock()
		srv := n.srv
		c.mu.Unlock()
		if srv != nil && !srv.wait(5*time.Second) {
			_ = srv.cw.Close()
		}
		if err := n.log.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
