// Package cluster defines a PostgreSQL primary/replica cluster as the rest of
// the harness sees it, and the Backend interface that builds one. Backends
// live in sub-packages (local); optional abilities such as killing a node are
// separate interfaces discovered by type assertion, so a backend that cannot
// do a fault says so by not implementing it.
//
//	b, err := local.New(local.Options{})
//	c, err := b.Up(ctx, cluster.Spec{Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}})
//	defer c.Down(context.Background())
//	conn, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
package cluster

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/redact"
)

// User selects the role a connection string logs in as.
type User int

const (
	// Admin is the superuser the harness uses for probes, promotion, audit.
	Admin User = iota
	// App is the unprivileged role the workload writes with.
	App
)

// Node is one PostgreSQL server of a cluster, as the harness reaches it.
type Node struct {
	Name string // "primary", "replica1", ...
	Host string // address the harness connects to
	Port int
}

// ReplicaSpec describes one standby to build.
type ReplicaSpec struct {
	Name string
	Slot string // physical replication slot name; "" for none
}

// Spec is what a backend builds: a primary named "primary" and its replicas.
type Spec struct {
	// ID names the cluster's resources (directories, logs), e.g. "v0".
	ID       string
	Replicas []ReplicaSpec
	// Settings per node name: postgresql.conf values on top of the
	// harness's own (port, listen addresses, replication).
	Settings map[string]map[string]string
	// SyncStandbyNames is the primary's synchronous_standby_names.
	SyncStandbyNames string
	// LogDir receives one server log per node, kept after Down.
	LogDir string
	// Network asks for a cluster whose links can be faulted (Networker):
	// replication and client connections through per-link proxies.
	Network bool
	// Clients names the client groups that connect through their own
	// links when Network is set (e.g. "writers", "readers", "controller").
	Clients []string
	// Subscribers names servers of their own to start beside the nodes,
	// empty, for logical replication from the primary (Subscriberer).
	Subscribers []string
	// Image is the container image the nodes run, on a backend that runs
	// images (docker); "" for the backend's default.
	Image string
	// ArchiveDir, when set, turns WAL archiving on on every node
	// (archive_mode on, so a promoted standby archives too; the settings
	// give archive_timeout): completed segments are archived during the
	// run into a folder the servers can reach, and moved here, owned by
	// the harness's user, by Down. A cluster kept running keeps archiving
	// into its own folder.
	ArchiveDir string
}

// Backend builds clusters. Up may be called several times (once per
// variant); Close releases what the backend shares between clusters.
// Methods are safe for concurrent use.
type Backend interface {
	Name() string
	// ServerVersion is the PostgreSQL version the clusters run.
	ServerVersion() string
	// Up builds and starts a cluster and returns once every replica is
	// streaming. On error nothing it started is left running.
	Up(ctx context.Context, spec Spec) (Cluster, error)
	Close() error
}

// Cluster is a running cluster. Methods are safe for concurrent use.
type Cluster interface {
	// Nodes lists the nodes, the initial primary first.
	Nodes() []Node
	// ConnString is a libpq keyword/value string reaching node as user.
	// It holds a password: never print it unredacted (see Redact).
	ConnString(node string, user User) string
	// PrimaryConnInfo is the primary_conninfo a standby uses to stream
	// from upstream, as seen from the standby's side of the network.
	PrimaryConnInfo(standby, upstream string) string
	// Down stops every process of the cluster and removes its data,
	// keeping only the logs. It is safe to call more than once.
	Down(ctx context.Context) error
}

// Versioner is a Cluster that says which PostgreSQL version it runs,
// when that may differ from its backend's (a docker cluster of an image
// of its own, Spec.Image).
type Versioner interface {
	ServerVersion() string
}

// Keeper is a Cluster that can outlive the harness (run --keep). Keep
// leaves its running nodes running, reachable without the harness, and
// writes how to reach them, passwords included, to a file only its owner
// can read, outside the run folder; Down is then a no-op. pgbench-ha
// cleanup stops it and removes it.
type Keeper interface {
	Keep(ctx context.Context, primary string) (Kept, error)
}

// Kept is a cluster left running after the run.
type Kept struct {
	// File holds the connection details (mode 0600).
	File string
	// Nodes are the nodes left running; Primary the one that was primary.
	Nodes   []Node
	Primary string
}

// KeptNode is one node of a kept cluster, as its file gives it.
type KeptNode struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
	// Role is primary or replica, as the harness last knew it.
	Role string `json:"role"`
	// Admin and App are libpq connection strings, passwords included.
	Admin string `json:"admin"`
	App   string `json:"app"`
}

// WALReader is a Cluster whose nodes' WAL the harness can read with
// PostgreSQL's own tools, also after a node died: WALDir is the node's
// pg_wal directory, BinDir where pg_waldump is.
type WALReader interface {
	WALDir(node string) (string, error)
	BinDir() string
}

// Lander is a Cluster that can tell when the last Kill of a node landed:
// the moment every process of it had stopped (a local node's cgroup
// frozen), which a client sees only later, when connections fail.
type Lander interface {
	Landed(node string) (time.Time, bool)
}

// Killer is a Cluster that can crash a node: every process of the node
// killed at once, as when a machine loses power.
type Killer interface {
	Kill(ctx context.Context, node string) error
}

// Redact hides passwords in a libpq connection string, a connection URL,
// or a message that contains one (redact.String).
func Redact(s string) string { return redact.String(s) }

// MultiHost joins the hosts and ports of nodes into one libpq keyword
// string prefix, "host=a,b port=1,2".
func MultiHost(nodes []Node) string {
	hosts := make([]string, len(nodes))
	ports := make([]string, len(nodes))
	for i, n := range nodes {
		hosts[i] = n.Host
		ports[i] = strconv.Itoa(n.Port)
	}
	return "host=" + strings.Join(hosts, ",") + " port=" + strings.Join(ports, ",")
}

// Stopper is a Cluster that can shut a node down (fast: SIGINT to the
// postmaster, a clean shutdown with a checkpoint; immediate: SIGQUIT, crash
// recovery at the next start) and start a stopped or killed node again.
// Start returns once the node accepts connections.
type Stopper interface {
	Stop(ctx context.Context, node string, immediate bool) error
	Start(ctx context.Context, node string) error
}

// Pauser is a Cluster that can freeze every process of a node (SIGSTOP of
// the process group, the cgroup freezer of docker pause) and thaw it.
type Pauser interface {
	Pause(ctx context.Context, node string) error
	Resume(ctx context.Context, node string) error
}

// Directions of a toxic on a link. A link is every connection the from
// side opens to the to side; upstream is the data from -> to (queries, a
// standby's feedback), downstream the data to -> from (answers, WAL).
const (
	Upstream   = "upstream"
	Downstream = "downstream"
)

// Toxic kinds.
const (
	ToxicBlackhole = "blackhole" // data vanishes, connections hang (a partition)
	ToxicLatency   = "latency"   // each chunk delayed by Latency ± Jitter
	ToxicBandwidth = "bandwidth" // at most RateKBps
	ToxicReset     = "reset"     // connections reset (TCP RST)
)

// Toxic is one network condition on one direction of a link.
type Toxic struct {
	Name      string // unique on the link; RemoveToxic takes it
	Kind      string // ToxicBlackhole, ToxicLatency, ToxicBandwidth, ToxicReset
	Direction string // Upstream or Downstream
	Latency   time.Duration
	Jitter    time.Duration
	RateKBps  int64
}

// Networker is a Cluster built with Spec.Network: every connection a node
// or a client group opens to a node goes through a per-link proxy, so
// links can be cut, slowed or reset one at a time and one way.
type Networker interface {
	// ClientConnString is ConnString through the link from the client
	// group client (one of Spec.Clients) to node; "" when the cluster was
	// built without Spec.Network or client is not one of its groups.
	ClientConnString(client, node string, u User) string
	// Links lists every link: (from, to) for from a node or a client
	// group and to a node, from != to; or, on a backend with StoreLinks,
	// from a node to an etcd member.
	Links() [][2]string
	AddToxic(ctx context.Context, from, to string, t Toxic) error
	RemoveToxic(ctx context.Context, from, to, name string) error
}

// Abilities says what a backend's clusters can do to their nodes and
// links, so that a fault they cannot do is refused before anything starts
// rather than at minute 3. Each fault kind says which it needs.
type Abilities struct {
	Kill  bool // Killer
	Stop  bool // Stopper
	Pause bool // Pauser
	// Links: with Spec.Network every link goes through a proxy
	// (Networker): links can be cut, slowed or reset one at a time.
	Links bool
	// NodeCuts: links between nodes can be cut (NodePartitioner).
	NodeCuts bool
	// ClientLinks: client groups (writers, readers, controller) have
	// links of their own that a network fault may name.
	ClientLinks bool
	// StoreLinks: with Spec.Network the links from the nodes to the
	// failover manager's store (etcd members) go through proxies
	// (Networker), and only those: a partition can cut a node off the
	// store, and off another node only with NodeCuts as well (then a
	// link fault places toxics on the proxied links and cuts the node
	// pairs no proxy joins).
	StoreLinks bool
	// Processes: one process of a node can be killed apart from the rest
	// (PostgreSQL alone while Patroni lives, or Patroni alone), and
	// started again (fault.ProcessKiller).
	Processes bool
	// Switchover: a planned switchover through the failover manager
	// (fault.Switchoverer).
	Switchover bool
	// Services: Kill, Stop/Start and Pause/Resume also take the names of
	// the services the backend runs beside the nodes (the etcd members,
	// etcd1..). haproxy and pgbouncer are the client path's, which the
	// runner faults itself on any backend.
	Services bool
}

// Able is a Backend that says what its clusters can do. A backend that is
// not one can only run faults that need nothing but SQL.
type Able interface {
	Abilities() Abilities
}

// Subscriberer is a Cluster built with Spec.Subscribers: each subscriber
// is a server of its own (not a node: not in Nodes, never a primary of
// the cluster), reached with ConnString by its name. SubscriberConnInfo
// is how a subscriber's subscription reaches node as the admin user (a
// libpq string holding a password).
type Subscriberer interface {
	Subscribers() []Node
	SubscriberConnInfo(subscriber, node string) string
}

// Promoter is a Cluster that promotes a standby its own way (an external
// cluster's promote hook: pg_ctl promote, kubectl cnpg promote) rather
// than by pg_promote() over SQL. Promote returns when the way returned;
// the node becoming writable is observed apart.
type Promoter interface {
	Promote(ctx context.Context, node string) error
}

// Endpoint is a Cluster whose applications write through an address of
// its own (a service, a VIP, the user's HAProxy or PgBouncer) rather than
// to the nodes: the writers connect there.
type Endpoint interface {
	// WriteConnString is a libpq keyword/value string reaching the write
	// endpoint as the App user.
	WriteConnString() string
	// ServerAddr is "host:port" as node's server sees itself
	// (inet_server_addr(), inet_server_port()), so that a write through
	// the endpoint is credited to the node that took it; "" if unknown.
	ServerAddr(node string) string
}

// NodePartitioner is a Cluster that can cut links between nodes (not
// client groups): data between a and b vanishes, both ways or one way.
type NodePartitioner interface {
	// Cut drops packets from node `from` to node `to` (one way); Heal
	// removes every cut.
	Cut(ctx context.Context, from, to string) error
	Heal(ctx context.Context) error
}

// CutAller is a NodePartitioner that can make several cuts in one step,
// so that a partition lands at once rather than link by link.
type CutAller interface {
	CutAll(ctx context.Context, cuts [][2]string) error
}
