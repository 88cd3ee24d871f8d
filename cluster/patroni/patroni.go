package patroni

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
	"github.com/pgbench-ha/pgbench-ha/internal/netcut"
)

// ErrMissing means a binary the backend needs (patroni, etcd, the
// PostgreSQL server binaries) was not found.
var ErrMissing = errors.New("patroni backend: binary not found")

// ErrNoFreezer means the cgroup v1 freezer the backend needs cannot be
// used here (not mounted, read-only, or the harness is not root).
var ErrNoFreezer = errors.New("patroni backend: no cgroup v1 freezer")

// installHint says how to get the binaries.
const installHint = "install them (Debian/Ubuntu: apt-get install -y patroni etcd-server postgresql-15, or run `make setup`)"

// Patroni's defaults (patroni/config.py) and its rules for the three
// timing settings.
const (
	DefaultTTL                  = 30
	DefaultLoopWait             = 10
	DefaultRetryTimeout         = 10
	DefaultMaximumLagOnFailover = 1048576
	DefaultPrimaryStartTimeout  = 300
)

// Options configure the backend. The Patroni settings go to every
// cluster's bootstrap.dcs; a zero value means Patroni's default (so
// PrimaryStartTimeout 0, "fail over at once", cannot be asked for).
type Options struct {
	TTL                   int   // seconds the leader key lives; >= 20
	LoopWait              int   // seconds between HA loops; >= 1
	RetryTimeout          int   // seconds DCS and PostgreSQL operations are retried; >= 3
	MaximumLagOnFailover  int64 // bytes a replica may lag and still be promoted
	SynchronousMode       bool  // Patroni manages synchronous_standby_names
	SynchronousModeStrict bool  // no writes without a synchronous standby
	FailsafeMode          bool  // a leader keeps its role while the DCS is down, if every member says so
	PrimaryStartTimeout   int   // seconds a crashed primary may take to recover before a failover

	// EtcdMembers is 1 or 3; 0 means 1.
	EtcdMembers int

	// BinDir holds the PostgreSQL server binaries; empty: found as the
	// local backend finds them (local.FindBinDir).
	BinDir string
	// PatroniPath and EtcdPath are the two programs; empty: patroni and
	// etcd in PATH, else /usr/bin.
	PatroniPath string
	EtcdPath    string
	// TempDir is where the backend's temp dir goes; empty: os.TempDir().
	TempDir string
	// RunAs is the system user that runs Patroni, PostgreSQL and etcd
	// when the harness is root; default "postgres".
	RunAs string
}

// Backend runs Patroni clusters as local processes.
type Backend struct {
	opts    Options // defaults filled in, paths found
	version string
	root    string
	cred    *syscall.Credential
	uid     int
	gid     int
	freezer string // the run's cgroup
	// cuts is the run's cgroup v2 directory, where the nodes' cgroups
	// whose links Cut cuts go; nil when this machine cannot cut links
	// between nodes (cutsErr says why).
	cuts    *netcut.Run
	cutsErr error
}

// withDefaults fills in Patroni's defaults.
func (o Options) withDefaults() Options {
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.LoopWait == 0 {
		o.LoopWait = DefaultLoopWait
	}
	if o.RetryTimeout == 0 {
		o.RetryTimeout = DefaultRetryTimeout
	}
	if o.MaximumLagOnFailover == 0 {
		o.MaximumLagOnFailover = DefaultMaximumLagOnFailover
	}
	if o.PrimaryStartTimeout == 0 {
		o.PrimaryStartTimeout = DefaultPrimaryStartTimeout
	}
	if o.EtcdMembers == 0 {
		o.EtcdMembers = 1
	}
	return o
}

// validate checks the settings against Patroni's rules (which Patroni
// would otherwise silently correct, so a run would measure other settings
// than it says): ttl >= 20, loop_wait >= 1, retry_timeout >= 3,
// loop_wait + 2*retry_timeout <= ttl.
func (o Options) validate() error {
	var errs []error
	if o.TTL < 20 {
		errs = append(errs, fmt.Errorf("ttl %d: Patroni needs at least 20", o.TTL))
	}
	if o.LoopWait < 1 {
		errs = append(errs, fmt.Errorf("loop_wait %d: Patroni needs at least 1", o.LoopWait))
	}
	if o.RetryTimeout < 3 {
		errs = append(errs, fmt.Errorf("retry_timeout %d: Patroni needs at least 3", o.RetryTimeout))
	}
	if o.LoopWait+2*o.RetryTimeout > o.TTL {
		errs = append(errs, fmt.Errorf("loop_wait %d + 2 * retry_timeout %d > ttl %d: Patroni needs loop_wait + 2*retry_timeout <= ttl", o.LoopWait, o.RetryTimeout, o.TTL))
	}
	if o.MaximumLagOnFailover < 0 || o.PrimaryStartTimeout < 0 {
		errs = append(errs, errors.New("maximum_lag_on_failover and primary_start_timeout must not be negative"))
	}
	if o.EtcdMembers != 1 && o.EtcdMembers != 3 {
		errs = append(errs, fmt.Errorf("etcd members %d: 1 or 3", o.EtcdMembers))
	}
	if o.SynchronousModeStrict && !o.SynchronousMode {
		errs = append(errs, errors.New("synchronous_mode_strict needs synchronous_mode"))
	}
	return errors.Join(errs...)
}

// findProgram resolves a program: the explicit path, else PATH, else
// /usr/bin.
func findProgram(explicit, name string) (string, error) {
	if explicit != "" {
		if st, err := os.Stat(explicit); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("%w: %s is not an executable %s; %s", ErrMissing, explicit, name, installHint)
		}
		return explicit, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/bin", name)
	if st, err := os.Stat(p); err == nil && !st.IsDir() {
		return p, nil
	}
	return "", fmt.Errorf("%w: %s not in PATH nor /usr/bin; %s", ErrMissing, name, installHint)
}

// New finds patroni, etcd and the PostgreSQL binaries, checks the
// settings, and prepares a private temp dir and cgroup; nothing is
// started. Call Close.
func New(opts Options) (*Backend, error) {
	o := opts.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("patroni backend: %w", err)
	}
	var err error
	if o.PatroniPath, err = findProgram(o.PatroniPath, "patroni"); err != nil {
		return nil, err
	}
	if o.EtcdPath, err = findProgram(o.EtcdPath, "etcd"); err != nil {
		return nil, err
	}
	if o.BinDir, err = local.FindBinDir(o.BinDir); err != nil {
		return nil, fmt.Errorf("%w (%v); %s", ErrMissing, err, installHint)
	}
	out, err := exec.Command(filepath.Join(o.BinDir, "postgres"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", filepath.Join(o.BinDir, "postgres"), err)
	}
	b := &Backend{opts: o, version: cluster.ParseServerVersion(string(out)), uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() == 0 {
		name := o.RunAs
		if name == "" {
			name = "postgres"
		}
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("Patroni and PostgreSQL refuse to run as root and the user %q to run them as does not exist: %w", name, err)
		}
		b.uid, _ = strconv.Atoi(u.Uid)
		b.gid, _ = strconv.Atoi(u.Gid)
		b.cred = &syscall.Credential{Uid: uint32(b.uid), Gid: uint32(b.gid), NoSetGroups: true}
	}
	root, err := os.MkdirTemp(o.TempDir, "pgbench-ha-")
	if err != nil {
		return nil, fmt.Errorf("patroni backend: %w", err)
	}
	if err := os.Chmod(root, 0o700); err == nil {
		err = os.Chown(root, b.uid, b.gid)
	}
	if err == nil {
		err = local.WriteMarker(root)
	}
	if err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("patroni backend: %s: %w", root, err)
	}
	b.root = root
	if b.freezer, err = freezer.Open(freezer.Mount, freezer.RunName(root)); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("%w (run as root where %s is writable): %v", ErrNoFreezer, freezer.Mount, err)
	}
	// Links between nodes: iptables on cgroup v2, if the machine has both.
	b.cuts, b.cutsErr = netcut.Open(filepath.Base(b.freezer))
	// Patroni double-forks its postmaster: orphans come to the harness,
	// which reaps them.
	local.AdoptOrphans()
	return b, nil
}

// Name is "patroni".
func (b *Backend) Name() string { return "patroni" }

// ServerVersion is the version of the PostgreSQL server binaries.
func (b *Backend) ServerVersion() string { return b.version }

// Settings are the effective options: Patroni's defaults filled in, the
// programs' paths found.
func (b *Backend) Settings() Options { return b.opts }

// Close removes the backend's temp dir and cgroup. Clusters must be down.
func (b *Backend) Close() error {
	if b.root == "" {
		return nil
	}
	var ferr error
	if b.cuts != nil {
		ferr = b.cuts.Close()
		b.cuts = nil
	}
	if b.freezer != "" {
		ferr = errors.Join(ferr, freezer.Close(b.freezer))
		b.freezer = ""
	}
	err := os.RemoveAll(b.root)
	b.root = ""
	return errors.Join(ferr, err)
}

var (
	_ cluster.Backend = (*Backend)(nil)
	_ cluster.Able    = (*Backend)(nil)
)

// Abilities: Patroni clusters kill, stop and pause nodes (and etcd
// members); of the links, those from the nodes to the etcd members go
// through proxies (StoreLinks), and those between nodes are cut with
// iptables (NodeCuts) where the machine can (NodeCutsErr).
func (b *Backend) Abilities() cluster.Abilities {
	// Services: the etcd members (haproxy and pgbouncer are the client
	// path's, see runner).
	return cluster.Abilities{Kill: true, Stop: true, Pause: true, Processes: true, Switchover: true, Services: true,
		StoreLinks: true, NodeCuts: b.cuts != nil}
}

// NodeCutsErr says why links between nodes cannot be cut here (no
// iptables, no cgroup v2 hierarchy, no cgroup match), nil when they can.
func (b *Backend) NodeCutsErr() error { return b.cutsErr }
