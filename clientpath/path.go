package clientpath

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
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
)

// Kinds of client path.
const (
	Direct    = "direct"    // the application connects to the nodes
	HAProxy   = "haproxy"   // through HAProxy's write and read ports
	PgBouncer = "pgbouncer" // through PgBouncer (see Config.InFrontOf)
)

// Where PgBouncer sits (Config.InFrontOf).
const (
	// FrontHAProxy is one PgBouncer in front of HAProxy's write port.
	FrontHAProxy = "haproxy"
	// FrontNodes is one PgBouncer per node; clients use a multi-host
	// connection string over Path.Nodes with target_session_attrs.
	FrontNodes = "nodes"
)

// Pool modes of PgBouncer.
const (
	Session     = "session"
	Transaction = "transaction"
	Statement   = "statement"
)

// Binaries used unless Config names others.
const (
	DefaultHAProxyBin   = "/usr/sbin/haproxy"
	DefaultPgBouncerBin = "/usr/sbin/pgbouncer"
)

// ErrNoHAProxy is returned by Servers and Watch on a path without HAProxy.
var ErrNoHAProxy = errors.New("clientpath: no HAProxy on this path")

// Config describes a client path.
type Config struct {
	// Kind is Direct, HAProxy or PgBouncer; "" is Direct.
	Kind string
	// Nodes are the cluster's nodes (name, host, port).
	Nodes []cluster.Node
	// Check gives a node's health-check base URL, "http://host:port":
	// HAProxy asks GET /primary and GET /replica there (Patroni's REST
	// API, or an Agent's URL). Needed when HAProxy runs.
	Check func(node string) string

	// HAProxy's checks: every Inter (default 3s), a server is marked
	// down after Fall failed checks in a row (default 3) and up after
	// Rise good ones (default 2), as in Patroni's haproxy.cfg.
	Inter      time.Duration
	Fall, Rise int

	// PgBouncer's pooling: PoolMode Session, Transaction (default) or
	// Statement; PoolSize server connections per user and database
	// (default 20).
	PoolMode string
	PoolSize int
	// InFrontOf is FrontHAProxy (default) or FrontNodes.
	InFrontOf string
	// User and Password are the role PgBouncer's clients log in as (the
	// harness's app role, cluster.AppRole) and its password: PgBouncer
	// checks clients with SCRAM against it and logs in to the servers
	// with it.
	User, Password string

	// Dir is where the path's private directory (configurations, the
	// stats socket, logs without LogDir) is made; default os.TempDir().
	// The user the proxies run as must be able to enter it.
	Dir string
	// LogDir, when set, receives haproxy.log and pgbouncer*.log, kept
	// after Close.
	LogDir string
	// RunAs is the system user the proxies run as when this process is
	// root (PgBouncer refuses to run as root); default "postgres".
	RunAs string
	// HAProxyBin and PgBouncerBin default to DefaultHAProxyBin and
	// DefaultPgBouncerBin.
	HAProxyBin, PgBouncerBin string
}

// withDefaults fills in what cfg leaves out.
func (cfg Config) withDefaults() Config {
	if cfg.Kind == "" {
		cfg.Kind = Direct
	}
	if cfg.Inter == 0 {
		cfg.Inter = 3 * time.Second
	}
	if cfg.Fall == 0 {
		cfg.Fall = 3
	}
	if cfg.Rise == 0 {
		cfg.Rise = 2
	}
	if cfg.PoolMode == "" {
		cfg.PoolMode = Transaction
	}
	if cfg.PoolSize == 0 {
		cfg.PoolSize = 20
	}
	if cfg.InFrontOf == "" {
		cfg.InFrontOf = FrontHAProxy
	}
	if cfg.HAProxyBin == "" {
		cfg.HAProxyBin = DefaultHAProxyBin
	}
	if cfg.PgBouncerBin == "" {
		cfg.PgBouncerBin = DefaultPgBouncerBin
	}
	if cfg.Dir == "" {
		cfg.Dir = os.TempDir()
	}
	return cfg
}

// haproxy reports whether the path runs HAProxy.
func (cfg Config) haproxy() bool {
	return cfg.Kind == HAProxy || (cfg.Kind == PgBouncer && cfg.InFrontOf == FrontHAProxy)
}

// validate lists every problem of a cfg with its defaults.
func (cfg Config) validate() error {
	var errs []error
	switch cfg.Kind {
	case Direct, HAProxy, PgBouncer:
	default:
		errs = append(errs, fmt.Errorf("kind %q: want %s, %s or %s", cfg.Kind, Direct, HAProxy, PgBouncer))
	}
	if len(cfg.Nodes) == 0 {
		errs = append(errs, errors.New("no nodes"))
	}
	seen := map[string]bool{}
	for _, n := range cfg.Nodes {
		if seen[n.Name] {
			errs = append(errs, fmt.Errorf("node %q twice", n.Name))
		}
		seen[n.Name] = true
	}
	if cfg.haproxy() && cfg.Check == nil {
		errs = append(errs, errors.New("HAProxy needs Check, the nodes' health-check URLs"))
	}
	if cfg.Inter < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("inter %v: at least 10ms", cfg.Inter))
	}
	if cfg.Fall < 1 || cfg.Rise < 1 {
		errs = append(errs, fmt.Errorf("fall %d, rise %d: at least 1", cfg.Fall, cfg.Rise))
	}
	if cfg.Kind == PgBouncer {
		switch cfg.PoolMode {
		case Session, Transaction, Statement:
		default:
			errs = append(errs, fmt.Errorf("pool mode %q: want %s, %s or %s", cfg.PoolMode, Session, Transaction, Statement))
		}
		if cfg.PoolSize < 1 {
			errs = append(errs, fmt.Errorf("pool size %d: at least 1", cfg.PoolSize))
		}
		switch cfg.InFrontOf {
		case FrontHAProxy, FrontNodes:
		default:
			errs = append(errs, fmt.Errorf("in front of %q: want %s or %s", cfg.InFrontOf, FrontHAProxy, FrontNodes))
		}
		if cfg.User == "" || cfg.Password == "" {
			errs = append(errs, errors.New("PgBouncer needs User and Password to log in with"))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("clientpath: %w", errors.Join(errs...))
	}
	return nil
}

// Path is a running client path. Its methods may be called concurrently.
type Path struct {
	cfg  Config
	dir  string // private, removed by Close
	cred *syscall.Credential

	// The path's processes, set by Start and fixed after it; their
	// processes and states change under mu (Kill, Start...).
	haproxy  *service // nil without HAProxy
	socket   string
	ports    haproxyPorts
	bouncers []*service

	writeHost, readHost string
	writePort, readPort int
	nodes               []cluster.Node

	// mu guards the services' processes and states, and orders a
	// process's start against Close; ops makes the faults one at a time.
	mu  sync.Mutex
	ops sync.Mutex

	closeOnce sync.Once
	closeErr  error
	closed    chan struct{}
}

// Start starts the path cfg describes and returns once it serves: HAProxy
// listening with the first check of every server done (so that no write
// reaches a replica it had not checked yet), each PgBouncer listening. On
// error, or when ctx ends first, nothing it started is left.
func Start(ctx context.Context, cfg Config) (_ *Path, err error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Path{cfg: cfg, closed: make(chan struct{})}
	if cfg.Kind == Direct {
		p.nodes = append([]cluster.Node(nil), cfg.Nodes...)
		return p, nil
	}
	defer func() {
		if err != nil {
			_ = p.Close()
		}
	}()
	if p.cred, err = runAs(cfg.RunAs); err != nil {
		return nil, err
	}
	if err := p.makeDir(); err != nil {
		return nil, err
	}
	if cfg.LogDir != "" {
		if err := os.MkdirAll(cfg.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("clientpath: log dir: %w", err)
		}
	}
	if cfg.haproxy() {
		if err := p.startHAProxy(ctx); err != nil {
			return nil, err
		}
		p.writeHost, p.writePort = "127.0.0.1", p.ports.write
		p.readHost, p.readPort = "127.0.0.1", p.ports.read
	}
	if cfg.Kind == PgBouncer {
		if cfg.InFrontOf == FrontHAProxy {
			port, err := p.startPgBouncer(ctx, "pgbouncer", "127.0.0.1", p.ports.write)
			if err != nil {
				return nil, err
			}
			p.writePort = port
		} else {
			p.writeHost, p.readHost = "", ""
			for _, n := range cfg.Nodes {
				port, err := p.startPgBouncer(ctx, "pgbouncer-"+n.Name, n.Host, n.Port)
				if err != nil {
					return nil, err
				}
				p.nodes = append(p.nodes, cluster.Node{Name: n.Name, Host: "127.0.0.1", Port: port})
			}
		}
	}
	return p, nil
}

// makeDir makes the path's private directory, owned by the user the
// proxies run as.
func (p *Path) makeDir() error {
	dir, err := os.MkdirTemp(p.cfg.Dir, "pgbench-ha-clientpath-")
	if err != nil {
		return fmt.Errorf("clientpath: %w", err)
	}
	p.dir = dir
	// The harness's marker: if the harness dies outright, pgbench-ha
	// cleanup stops the proxies (their command lines name this dir) and
	// removes it.
	if err := local.WriteMarker(dir); err != nil {
		return fmt.Errorf("clientpath: %w", err)
	}
	if p.cred != nil {
		if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return fmt.Errorf("clientpath: give %s to the proxies' user: %w", dir, err)
		}
		if err := reachable(dir, p.cred); err != nil {
			return fmt.Errorf("clientpath: %w", err)
		}
	}
	return nil
}

// writeFile writes a file of the private directory, readable by the
// proxies' user only.
func (p *Path) writeFile(name, content string) (string, error) {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return "", fmt.Errorf("clientpath: %w", err)
	}
	if p.cred != nil {
		if err := os.Chown(path, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
			return "", fmt.Errorf("clientpath: %w", err)
		}
	}
	return path, nil
}

// logPath is where the process name logs: LogDir, else the private dir.
func (p *Path) logPath(name string) string {
	if p.cfg.LogDir != "" {
		return filepath.Join(p.cfg.LogDir, name+".log")
	}
	return filepath.Join(p.dir, name+".log")
}

// startAttempts is how many times a proxy is started on fresh free ports:
// another process may take a port between freePort and the proxy's bind.
const startAttempts = 3

func (p *Path) startHAProxy(ctx context.Context) error {
	p.socket = filepath.Join(p.dir, "haproxy.sock")
	s := &service{name: HAProxy, kind: HAProxy, bin: p.cfg.HAProxyBin}
	p.haproxy = s
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		w, err1 := local.FreePort()
		r, err2 := local.FreePort()
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("clientpath: free port: %w", err)
		}
		ports := haproxyPorts{write: w, read: r}
		conf, err := haproxyConfig(p.cfg, ports, p.socket)
		if err != nil {
			return fmt.Errorf("clientpath: %w", err)
		}
		confPath, err := p.writeFile("haproxy.cfg", conf)
		if err != nil {
			return err
		}
		s.args, s.ports, p.ports = []string{"-db", "-f", confPath}, []int{w, r}, ports
		pr, err := p.launch(ctx, s)
		if err == nil {
			return nil
		}
		lastErr = err
		if pr == nil || !pr.exited() || ctx.Err() != nil {
			break
		}
	}
	return fmt.Errorf("clientpath: %w", lastErr)
}

// launch starts s's process with its arguments and waits until it
// serves (ready). On failure the process is stopped (and returned, nil
// when it could not be started). A path closed meanwhile starts nothing:
// the process is registered under mu, so that Close stops it.
func (p *Path) launch(ctx context.Context, s *service) (*proc, error) {
	p.mu.Lock()
	if p.isClosed() {
		p.mu.Unlock()
		return nil, errClosed
	}
	pr, err := spawn(s.name, s.bin, s.args, p.logPath(s.name), p.cred)
	if err == nil {
		s.procs = append(s.procs, pr)
		s.ready, s.paused = false, false
	}
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	// Close ends the wait: it stops the process.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := p.ready(ctx, s, pr); err != nil {
		_ = pr.stop(time.Second)
		if p.isClosed() {
			return pr, errClosed
		}
		return pr, err
	}
	p.mu.Lock()
	s.ready = true
	p.mu.Unlock()
	return pr, nil
}

// ready waits until s's process pr serves: HAProxy checked every server
// once, PgBouncer listening.
func (p *Path) ready(ctx context.Context, s *service, pr *proc) error {
	if s.kind == HAProxy {
		return p.waitHAProxy(ctx, pr)
	}
	return waitListening(ctx, pr, s.ports[0])
}

// waitHAProxy waits until HAProxy (pr) has checked every server once.
func (p *Path) waitHAProxy(ctx context.Context, pr *proc) error {
	limit := 2*p.cfg.Inter + 10*time.Second
	deadline := time.Now().Add(limit)
	var last string
	for {
		if pr.exited() {
			return pr.failed()
		}
		// HAProxy binds its listeners before it serves its stats socket:
		// no need to connect to them (each connection is logged).
		ready := false
		stats, err := showStat(ctx, p.socket)
		if err != nil {
			last = err.Error()
		} else {
			ready = len(stats) == 2*len(p.cfg.Nodes)
			for _, s := range stats {
				if !s.checked() {
					ready = false
					last = fmt.Sprintf("%s/%s not checked yet", s.backend, s.server)
				}
			}
		}
		if ready {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("haproxy not ready after %v: %s (see %s)", limit, last, pr.log)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy start: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// startPgBouncer starts one PgBouncer (its files named name) forwarding
// to host:port and returns the port it listens on.
func (p *Path) startPgBouncer(ctx context.Context, name, host string, port int) (int, error) {
	auth, err := p.writeFile(name+".users", userlist(p.cfg.User, p.cfg.Password))
	if err != nil {
		return 0, err
	}
	s := &service{name: name, kind: PgBouncer, bin: p.cfg.PgBouncerBin}
	p.bouncers = append(p.bouncers, s)
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		listen, err := local.FreePort()
		if err != nil {
			return 0, fmt.Errorf("clientpath: free port: %w", err)
		}
		confPath, err := p.writeFile(name+".ini", pgbouncerConfig(p.cfg, listen, host, port, auth))
		if err != nil {
			return 0, err
		}
		s.args, s.ports = []string{confPath}, []int{listen}
		pr, err := p.launch(ctx, s)
		if err == nil {
			return listen, nil
		}
		lastErr = err
		if pr == nil || !pr.exited() || ctx.Err() != nil {
			break
		}
	}
	return 0, fmt.Errorf("clientpath: %w", lastErr)
}

// waitListening waits until pr accepts connections on port.
func waitListening(ctx context.Context, pr *proc, port int) error {
	deadline := time.Now().Add(10 * time.Second)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for {
		if pr.exited() {
			return pr.failed()
		}
		if dialable(addr) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening on %s after 10s (see %s)", pr.name, addr, pr.log)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s start: %w", pr.name, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Kind is the path's kind.
func (p *Path) Kind() string { return p.cfg.Kind }

// WriteAddr is where writes go: HAProxy's write port, or PgBouncer's in
// front of it; "", 0 when clients connect to Nodes with a multi-host
// connection string ("direct", PgBouncer per node).
func (p *Path) WriteAddr() (host string, port int) { return p.writeHost, p.writePort }

// ReadAddr is where reads go: HAProxy's read port (also with PgBouncer in
// front of HAProxy: PgBouncer pools the writes only); "", 0 when clients
// connect to Nodes.
func (p *Path) ReadAddr() (host string, port int) { return p.readHost, p.readPort }

// Nodes lists the nodes the path's clients connect to, for a multi-host
// connection string (cluster.MultiHost): the cluster's own nodes for
// "direct", one PgBouncer per node (under the node's name) for
// "pgbouncer" in front of the nodes, nil otherwise (use WriteAddr and
// ReadAddr).
func (p *Path) Nodes() []cluster.Node {
	return append([]cluster.Node(nil), p.nodes...)
}

// Servers reads HAProxy's runtime state: for each "backend/server" (such
// as "write/primary", "read/replica1") its state, Up or Down (or
// HAProxy's word for another, such as MAINT). UpServers picks a backend's
// servers that are up.
func (p *Path) Servers(ctx context.Context) (map[string]string, error) {
	if p.socket == "" {
		return nil, ErrNoHAProxy
	}
	stats, err := showStat(ctx, p.socket)
	if err != nil {
		return nil, err
	}
	return serversMap(stats), nil
}

// Watch reads HAProxy's state every interval and calls fn, from the
// calling goroutine, for each server whose state changed: first once for
// every server (Prev ""), then on each transition. It returns nil when
// ctx ends or the path is closed, and an error when the stats socket
// fails three times in a row while HAProxy runs. While a fault has HAProxy
// killed, stopped or paused it waits; once HAProxy is started again, it
// reports the changes from what the HAProxy before saw (a server HAProxy
// has not checked yet is left out until it is).
func (p *Path) Watch(ctx context.Context, interval time.Duration, fn func(ev Event)) error {
	if p.socket == "" {
		return ErrNoHAProxy
	}
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	prev := map[string]string{}
	fails := 0
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		stats, err := showStat(ctx, p.socket)
		now := time.Now()
		switch {
		case ctx.Err() != nil || p.isClosed():
			return nil
		case err != nil:
			if !p.serving(p.haproxy) {
				fails = 0 // down by a fault: no answer expected
				break
			}
			if fails++; fails >= 3 {
				return fmt.Errorf("clientpath watch: %w", err)
			}
		default:
			fails = 0
			for _, s := range stats {
				if !s.checked() {
					continue // a restarted HAProxy's state before its first check
				}
				key := s.backend + "/" + s.server
				if st := s.state(); prev[key] != st {
					fn(Event{At: now, Backend: s.backend, Server: s.server, State: st, Prev: prev[key], Check: s.check})
					prev[key] = st
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-p.closed:
			return nil
		case <-t.C:
		}
	}
}

func (p *Path) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// Close stops every process the path started, a paused one (SIGCONT
// first) or one started again after a fault included (SIGTERM, SIGKILL
// after 2s), and removes its private directory; logs in LogDir stay. A
// Start under way is ended. It is safe to call more than once.
func (p *Path) Close() error {
	p.closeOnce.Do(func() {
		// Under mu: no process starts after this.
		p.mu.Lock()
		close(p.closed)
		procs := p.procs()
		p.mu.Unlock()
		var errs []error
		// PgBouncer first (procs lists it first): its server
		// connections go through HAProxy. A paused process is continued,
		// a restarted one is the service's last.
		for _, pr := range procs {
			if err := pr.stop(2 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
		if p.dir != "" {
			if err := os.RemoveAll(p.dir); err != nil {
				errs = append(errs, err)
			}
		}
		p.closeErr = errors.Join(errs...)
	})
	return p.closeErr
}

// procs lists every process the path started, the PgBouncers' first,
// those that exited included. The caller holds mu.
func (p *Path) procs() []*proc {
	var out []*proc
	for _, b := range p.bouncers {
		out = append(out, b.procs...)
	}
	if p.haproxy != nil {
		out = append(out, p.haproxy.procs...)
	}
	return out
}

// pids lists the processes the path started, restarts included, for
// tests.
func (p *Path) pids() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for _, pr := range p.procs() {
		out = append(out, pr.pid())
	}
	return out
}
