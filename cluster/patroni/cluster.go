package patroni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/linknet"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
	"github.com/pgbench-ha/pgbench-ha/internal/netcut"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
)

// Namespace is Patroni's default namespace, every cluster's.
const namespace = "/service/"

// node is one Patroni and the PostgreSQL it runs.
type node struct {
	name     string
	pgPort   int
	restPort int
	dataDir  string
	config   string // the Patroni configuration file
	pgLogDir string // PostgreSQL's logging_collector writes here
	logPath  string // Patroni's own log
	logFile  *os.File
	cg       *freezer.Cgroup
	patroni  *proc
	landed   time.Time // when the last Kill stopped it
}

// member is one etcd member.
type member struct {
	name       string
	clientPort int
	peerPort   int
	dataDir    string
	args       []string
	logFile    *os.File
	cg         *freezer.Cgroup
	etcd       *proc
	landed     time.Time
}

// Cluster is a running Patroni cluster. Methods are safe for concurrent
// use.
type Cluster struct {
	b       *Backend
	dir     string
	scope   string
	logDir  string
	pw      cluster.Passwords
	nodes   []*node
	members []*member
	// net proxies the links from every node to every etcd member (each
	// Patroni reaches etcd through its own proxies) when the cluster was
	// built with spec.Network; nil otherwise.
	net *linknet.Network
	// cuts cuts the links between nodes (each node's processes in a
	// cgroup v2 directory of its own, iptables rules on them) when the
	// cluster was built with spec.Network on a backend that can; nil
	// otherwise.
	cuts *netcut.Net

	mu   sync.Mutex
	down bool
}

var (
	_ cluster.Cluster         = (*Cluster)(nil)
	_ cluster.Killer          = (*Cluster)(nil)
	_ cluster.Stopper         = (*Cluster)(nil)
	_ cluster.Pauser          = (*Cluster)(nil)
	_ cluster.Lander          = (*Cluster)(nil)
	_ cluster.Networker       = (*Cluster)(nil)
	_ cluster.NodePartitioner = (*Cluster)(nil)
	_ cluster.CutAller        = (*Cluster)(nil)
)

// harnessParams are the PostgreSQL parameters of every node, under the
// scenario's (bootstrap.dcs: the same on every node).
var harnessParams = map[string]string{
	"wal_level":                    "replica",
	"max_wal_senders":              "10",
	"max_replication_slots":        "10",
	"hot_standby":                  "on",
	"password_encryption":          "scram-sha-256",
	"wal_receiver_status_interval": "1s",
	"logging_collector":            "on",
	"log_filename":                 "postgresql.log",
	"log_file_mode":                "0644",
	"log_rotation_age":             "0",
	"log_rotation_size":            "0",
	"log_line_prefix":              "%m [%p] %q%u@%d ",
	"log_checkpoints":              "on",
}

// Up starts etcd, then the Patroni of the node named "primary", waits
// until it holds the leader key and takes writes, creates the app role,
// then starts the replicas' Patronis (each clones itself with
// pg_basebackup) and returns once every replica streams.
//
// spec.Settings["primary"] become bootstrap.dcs.postgresql.parameters, the
// whole cluster's; another node's own settings go to its local
// postgresql.parameters. Replication slots are Patroni's (use_slots: one
// per member, named after it), whatever spec.Replicas' Slot says, and so
// is synchronous_standby_names: spec.SyncStandbyNames is refused unless
// Options.SynchronousMode is set, and then Up waits for a synchronous
// standby.
func (b *Backend) Up(ctx context.Context, spec cluster.Spec) (cl cluster.Cluster, err error) {
	if spec.SyncStandbyNames != "" && !b.opts.SynchronousMode {
		return nil, fmt.Errorf("patroni backend: synchronous_standby_names %q: Patroni manages it; set synchronous_mode instead", spec.SyncStandbyNames)
	}
	id := spec.ID
	if id == "" {
		id = "c" + strconv.FormatInt(time.Now().UnixNano()%1e6, 10)
	}
	c := &Cluster{b: b, dir: filepath.Join(b.root, id), scope: id, logDir: spec.LogDir, pw: cluster.NewPasswords()}
	defer func() {
		if err != nil {
			_ = c.Down(context.Background())
		}
	}()
	if c.logDir == "" {
		c.logDir = filepath.Join(c.dir, "logs")
	}
	for _, d := range []string{c.dir, filepath.Join(c.dir, "log")} {
		if err := b.mkdirOwned(d); err != nil {
			return nil, fmt.Errorf("cluster dir: %w", err)
		}
	}
	if err := os.MkdirAll(c.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("log dir: %w", err)
	}
	if err := c.startEtcd(ctx); err != nil {
		return nil, err
	}
	names := []string{"primary"}
	for _, r := range spec.Replicas {
		names = append(names, r.Name)
	}
	if spec.Network {
		if err := c.startNetwork(names); err != nil {
			return nil, err
		}
	}
	for i, name := range names {
		n, err := c.newNode(i, name, spec.Settings)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
	}
	if spec.Network && b.cuts != nil {
		// Before any node starts: its processes are born in their cgroup
		// and every connection is marked with the node that opened it.
		var nodes []netcut.Node
		for _, n := range c.nodes {
			nodes = append(nodes, netcut.Node{Name: n.name, Ports: []int{n.pgPort, n.restPort}})
		}
		if c.cuts, err = b.cuts.Net(c.scope, nodes); err != nil {
			return nil, err
		}
	}

	pp, err := c.startPatroni(c.nodes[0])
	if err != nil {
		return nil, err
	}
	conn, err := c.waitLeader(ctx, c.nodes[0], pp)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	// The replicas clone themselves first: under synchronous_mode_strict
	// the leader commits nothing until a standby is synchronous.
	for _, n := range c.nodes[1:] {
		if _, err := c.startPatroni(n); err != nil {
			return nil, err
		}
	}
	// Patroni made the superuser's and the replication role's passwords;
	// the app role is the harness's.
	for _, q := range []string{
		"CREATE ROLE " + cluster.AppRole + " LOGIN PASSWORD " + pgquote.Literal(c.pw.App),
		"GRANT CREATE ON SCHEMA public TO " + cluster.AppRole,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("primary setup: %s", cluster.Redact(err.Error()))
		}
	}
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&lsn); err != nil {
		return nil, fmt.Errorf("primary setup: %w", err)
	}
	if err := cluster.WaitStreaming(ctx, conn, spec.Replicas, lsn); err != nil {
		return nil, err
	}
	if b.opts.SynchronousMode && len(spec.Replicas) > 0 {
		if err := waitSync(ctx, conn); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// startNetwork starts a proxy for the link from each node to each etcd
// member: a partition can then cut one node's Patroni off etcd while the
// others, and the clients, still reach it. The links between nodes are
// not proxied (Patroni hands every replica the leader's one address):
// Cut cuts them with iptables (netcut).
func (c *Cluster) startNetwork(nodes []string) error {
	var links []linknet.Link
	for _, n := range nodes {
		for _, m := range c.members {
			links = append(links, linknet.Link{From: n, To: m.name, Port: m.clientPort})
		}
	}
	nw, err := linknet.New(links)
	if err != nil {
		return err
	}
	c.net = nw
	return nil
}

// mkdirOwned makes a 0700 directory owned by the server user.
func (b *Backend) mkdirOwned(p string) error {
	if err := os.MkdirAll(p, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(p, 0o700); err != nil {
		return err
	}
	return os.Chown(p, b.uid, b.gid)
}

// writeOwned writes a 0600 file owned by the server user.
func (b *Backend) writeOwned(p string, data []byte) error {
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return err
	}
	return os.Chown(p, b.uid, b.gid)
}

// startEtcd starts the etcd members and waits until each is healthy.
func (c *Cluster) startEtcd(ctx context.Context) error {
	var peers []string
	for i := range c.b.opts.EtcdMembers {
		m := &member{name: "etcd" + strconv.Itoa(i+1), dataDir: filepath.Join(c.dir, "etcd"+strconv.Itoa(i+1))}
		var err error
		if m.clientPort, err = local.FreePort(); err != nil {
			return err
		}
		if m.peerPort, err = local.FreePort(); err != nil {
			return err
		}
		peers = append(peers, fmt.Sprintf("%s=http://127.0.0.1:%d", m.name, m.peerPort))
		c.members = append(c.members, m)
	}
	for _, m := range c.members {
		client := fmt.Sprintf("http://127.0.0.1:%d", m.clientPort)
		peer := fmt.Sprintf("http://127.0.0.1:%d", m.peerPort)
		m.args = []string{"--name", m.name, "--data-dir", m.dataDir,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(peers, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", filepath.Base(c.b.root) + "-" + c.scope,
			"--enable-v2=true", "--logger", "zap", "--log-outputs", "stderr"}
		if err := c.b.mkdirOwned(m.dataDir); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(c.logDir, m.name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("etcd log: %w", err)
		}
		m.logFile = f
		if m.cg, err = freezer.New(c.b.freezer, c.scope+"."+m.name); err != nil {
			return err
		}
		if err := c.spawnEtcd(m); err != nil {
			return err
		}
	}
	for _, m := range c.members {
		if err := c.waitEtcd(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// spawnEtcd starts m, unless it runs.
func (c *Cluster) spawnEtcd(m *member) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return errors.New("cluster is down")
	}
	if m.etcd.running() {
		return nil
	}
	p, err := c.b.spawn(c.b.opts.EtcdPath, m.args, m.logFile, m.cg, "")
	if err != nil {
		return err
	}
	m.etcd = p
	return nil
}

// waitEtcd waits until the member says it is healthy (up to 60 s).
func (c *Cluster) waitEtcd(ctx context.Context, m *member) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/health", m.clientPort)
	c.mu.Lock()
	p := m.etcd
	c.mu.Unlock()
	return poll(ctx, 60*time.Second, "etcd member "+m.name+" healthy", func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("etcd member %s exited: %v (see %s.log)", m.name, p.err, m.name)
		}
		code, body := httpGet(ctx, url)
		return code == 200 && strings.Contains(body, `"true"`), nil
	})
}

// newNode lays out a node: ports, directories, Patroni's configuration.
func (c *Cluster) newNode(i int, name string, settings map[string]map[string]string) (*node, error) {
	n := &node{name: name, dataDir: filepath.Join(c.dir, name), config: filepath.Join(c.dir, name+".yml"),
		pgLogDir: filepath.Join(c.dir, "log", name), logPath: filepath.Join(c.logDir, name+".patroni.log")}
	var err error
	if n.pgPort, err = local.FreePort(); err != nil {
		return nil, err
	}
	if n.restPort, err = local.FreePort(); err != nil {
		return nil, err
	}
	sockDir := filepath.Join(c.dir, "s"+strconv.Itoa(i))
	for _, d := range []string{sockDir, n.pgLogDir} {
		if err := c.b.mkdirOwned(d); err != nil {
			return nil, err
		}
	}
	own := map[string]string{}
	for k, v := range settings[name] {
		if name == "primary" || settings["primary"][k] != v {
			own[k] = v
		}
	}
	own["unix_socket_directories"] = sockDir
	own["log_directory"] = n.pgLogDir
	// cluster_name is Patroni's: it starts PostgreSQL with the scope.
	conf, err := json.MarshalIndent(c.patroniConfig(n, settings["primary"], own), "", "  ")
	if err != nil {
		return nil, err
	}
	// JSON is YAML: Patroni reads it as its configuration file.
	if err := c.b.writeOwned(n.config, conf); err != nil {
		return nil, fmt.Errorf("patroni config: %w", err)
	}
	if n.cg, err = freezer.New(c.b.freezer, c.scope+"."+name); err != nil {
		return nil, err
	}
	return n, nil
}

// patroniConfig is node n's Patroni configuration: clusterParams go to
// bootstrap.dcs (every node's), own to its local postgresql.parameters.
func (c *Cluster) patroniConfig(n *node, clusterParams, own map[string]string) map[string]any {
	o := c.b.opts
	params := map[string]string{}
	for k, v := range harnessParams {
		params[k] = v
	}
	for k, v := range clusterParams {
		params[k] = v
	}
	var hosts []string
	for _, m := range c.members {
		port := m.clientPort
		if c.net != nil {
			port, _ = c.net.Port(n.name, m.name)
		}
		hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", port))
	}
	etcd := map[string]any{"hosts": hosts, "protocol": "http"}
	if c.net != nil {
		// The hosts are this node's proxies: Patroni must not look the
		// members up and go round them.
		etcd["use_proxies"] = true
	}
	rest := fmt.Sprintf("127.0.0.1:%d", n.restPort)
	pg := fmt.Sprintf("127.0.0.1:%d", n.pgPort)
	return map[string]any{
		"scope":     c.scope,
		"namespace": namespace,
		"name":      n.name,
		"restapi":   map[string]any{"listen": rest, "connect_address": rest},
		"etcd3":     etcd,
		"bootstrap": map[string]any{
			"dcs": map[string]any{
				"ttl":                     o.TTL,
				"loop_wait":               o.LoopWait,
				"retry_timeout":           o.RetryTimeout,
				"maximum_lag_on_failover": o.MaximumLagOnFailover,
				"synchronous_mode":        o.SynchronousMode,
				"synchronous_mode_strict": o.SynchronousModeStrict,
				"failsafe_mode":           o.FailsafeMode,
				"primary_start_timeout":   o.PrimaryStartTimeout,
				"postgresql": map[string]any{
					// A killed primary that comes back has WAL the new
					// leader never had: pg_rewind makes it a replica.
					"use_pg_rewind": true,
					// Patroni keeps a physical slot per member on the
					// leader (named after it), so spec.Replicas' Slot is
					// not used: the slots follow the leader on failover.
					"use_slots":  true,
					"parameters": params,
				},
			},
			"initdb": []any{map[string]string{"encoding": "UTF8"}, map[string]string{"locale": "C"}},
		},
		"postgresql": map[string]any{
			"listen":          pg,
			"connect_address": pg,
			"data_dir":        n.dataDir,
			"bin_dir":         c.b.opts.BinDir,
			"pgpass":          filepath.Join(c.dir, n.name+".pgpass"),
			"authentication": map[string]any{
				"superuser":   map[string]string{"username": cluster.AdminRole, "password": c.pw.Admin},
				"replication": map[string]string{"username": cluster.ReplicationRole, "password": c.pw.Replication},
			},
			"parameters": own,
			"pg_hba": []string{
				"local all all trust",
				"host all all 127.0.0.1/32 scram-sha-256",
				"host replication " + cluster.ReplicationRole + " 127.0.0.1/32 scram-sha-256",
			},
			"basebackup": []any{map[string]string{"checkpoint": "fast"}},
			// When pg_rewind cannot make a failed primary a replica,
			// clone it afresh rather than leave it out.
			"remove_data_directory_on_rewind_failure":     true,
			"remove_data_directory_on_diverged_timelines": true,
		},
		"watchdog": map[string]any{"mode": "off"},
	}
}

// startPatroni starts n's Patroni, unless it runs (then it returns the
// running one).
func (c *Cluster) startPatroni(n *node) (*proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.down {
		return nil, errors.New("cluster is down")
	}
	if n.patroni.running() {
		return n.patroni, nil
	}
	if n.logFile == nil {
		f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("patroni log: %w", err)
		}
		n.logFile = f
	}
	var cg2 string
	if c.cuts != nil {
		cg2 = c.cuts.Dir(n.name)
	}
	p, err := c.b.spawn(c.b.opts.PatroniPath, []string{n.config}, n.logFile, n.cg, cg2)
	if err != nil {
		return nil, err
	}
	n.patroni = p
	return p, nil
}

// waitLeader waits until n's Patroni holds the leader key (its REST API's
// /primary says 200) and its PostgreSQL takes writes, and returns an
// admin connection to it.
func (c *Cluster) waitLeader(ctx context.Context, n *node, p *proc) (*pgx.Conn, error) {
	url := c.RESTURL(n.name) + "/primary"
	var conn *pgx.Conn
	err := poll(ctx, 120*time.Second, n.name+" leader and writable", func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("patroni of %s exited: %v (see %s)", n.name, p.err, n.logPath)
		}
		if code, _ := httpGet(ctx, url); code != 200 {
			return false, nil
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		cn, err := pgx.Connect(cctx, c.ConnString(n.name, cluster.Admin))
		if err != nil {
			return false, nil
		}
		var ro string
		if err := cn.QueryRow(cctx, "SHOW transaction_read_only").Scan(&ro); err != nil || ro != "off" {
			cn.Close(context.Background())
			return false, nil
		}
		conn = cn
		return true, nil
	})
	return conn, err
}

// waitSync waits until a standby is synchronous (Patroni's
// synchronous_mode names one once it streams).
func waitSync(ctx context.Context, conn *pgx.Conn) error {
	return poll(ctx, 60*time.Second, "a synchronous standby", func() (bool, error) {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')").Scan(&n)
		return err == nil && n > 0, err
	})
}

// poll calls cond every 20 ms until it is true or fails, up to d.
func poll(ctx context.Context, d time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waited %s for %s", d, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// httpGet returns the status code and body of a GET (0 when it failed).
func httpGet(ctx context.Context, url string) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body)
}

// Nodes lists the nodes, the initial primary first.
func (c *Cluster) Nodes() []cluster.Node {
	out := make([]cluster.Node, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = cluster.Node{Name: n.name, Host: "127.0.0.1", Port: n.pgPort}
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

func (c *Cluster) member(name string) *member {
	for _, m := range c.members {
		if m.name == name {
			return m
		}
	}
	return nil
}

// ConnString reaches node as u over TCP, with the user's password.
func (c *Cluster) ConnString(name string, u cluster.User) string {
	n, err := c.node(name)
	if err != nil {
		return ""
	}
	return c.pw.ConnString("127.0.0.1", n.pgPort, u)
}

// PrimaryConnInfo is "": Patroni writes every replica's primary_conninfo
// itself, and points it at whichever member leads.
func (c *Cluster) PrimaryConnInfo(standby, upstream string) string { return "" }

// RESTURL is the base URL of node's Patroni REST API
// ("http://127.0.0.1:8009": /primary, /replica, /cluster, /history,
// /switchover); "" for no such node.
func (c *Cluster) RESTURL(name string) string {
	n, err := c.node(name)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("http://127.0.0.1:%d", n.restPort)
}

// EtcdEndpoints are the etcd members' client URLs ("http://127.0.0.1:port").
func (c *Cluster) EtcdEndpoints() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = fmt.Sprintf("http://127.0.0.1:%d", m.clientPort)
	}
	return out
}

// Members names the etcd members, "etcd1".."etcdN": Kill, Stop, Start,
// Pause and Resume take them as they take node names.
func (c *Cluster) Members() []string {
	out := make([]string, len(c.members))
	for i, m := range c.members {
		out[i] = m.name
	}
	return out
}

// Scope is Patroni's scope, the cluster's name in the DCS (spec.ID).
func (c *Cluster) Scope() string { return c.scope }

// Namespace is Patroni's namespace: the leader key is
// Namespace()+Scope()+"/leader".
func (c *Cluster) Namespace() string { return namespace }

// Settings are the backend's effective settings (Patroni's defaults
// filled in).
func (c *Cluster) Settings() Options { return c.b.opts }

// ClientConnString is "": client groups have no links of their own here.
func (c *Cluster) ClientConnString(client, node string, u cluster.User) string { return "" }

// Links lists the links from each node to each etcd member, nil for a
// cluster built without spec.Network.
func (c *Cluster) Links() [][2]string {
	if c.net == nil {
		return nil
	}
	return c.net.Links()
}

// AddToxic puts t on the link from node from to etcd member to.
func (c *Cluster) AddToxic(ctx context.Context, from, to string, t cluster.Toxic) error {
	if c.net == nil {
		return fmt.Errorf("add toxic %q: %w", t.Name, local.ErrNoNetwork)
	}
	return c.net.AddToxic(ctx, from, to, t)
}

// RemoveToxic takes the toxic named name off the link from -> to.
func (c *Cluster) RemoveToxic(ctx context.Context, from, to, name string) error {
	if c.net == nil {
		return fmt.Errorf("remove toxic %q: %w", name, local.ErrNoNetwork)
	}
	return c.net.RemoveToxic(ctx, from, to, name)
}

// Landed is when the last Kill of node (or etcd member) had stopped every
// process of it: its cgroup frozen.
func (c *Cluster) Landed(name string) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if m := c.member(name); m != nil {
		return m.landed, !m.landed.IsZero()
	}
	n, err := c.node(name)
	if err != nil || n.landed.IsZero() {
		return time.Time{}, false
	}
	return n.landed, true
}
