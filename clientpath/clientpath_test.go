package clientpath

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// The checks of the integration tests: fast, so a failover is seen in
// about a second (the defaults, 3s/3/2, take 9 s to mark a primary down).
const (
	testInter = 200 * time.Millisecond
	testFall  = 3
	testRise  = 2
)

// fixture is a primary and one replica, an Agent checking them, and the
// app role's password.
type fixture struct {
	c     cluster.Cluster
	agent *Agent
	appPW string
	logs  string
}

func needBinaries(t *testing.T) {
	t.Helper()
	for _, b := range []string{DefaultHAProxyBin, DefaultPgBouncerBin} {
		if _, err := exec.LookPath(b); err != nil {
			testgate.Missing(t, testgate.RequirePG, fmt.Errorf("%s: %w (apt-get install haproxy pgbouncer)", b, err))
		}
	}
}

func newFixture(t *testing.T, id string) *fixture {
	t.Helper()
	testgate.Integration(t)
	needBinaries(t)
	b := localtest.Backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logs := t.TempDir()
	// A standby whose primary died retries streaming every 5s by default;
	// a promotion that lands in that wait may take as long.
	c, err := b.Up(ctx, cluster.Spec{ID: id, Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}, LogDir: logs,
		Settings: map[string]map[string]string{"replica1": {"wal_retrieve_retry_interval": "100ms"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	pc, err := pgx.ParseConfig(c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for _, q := range []string{
		"CREATE TABLE w (id bigserial PRIMARY KEY, node text NOT NULL)",
		"GRANT ALL ON w TO " + cluster.AppRole,
		"GRANT ALL ON SEQUENCE w_id_seq TO " + cluster.AppRole,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// The table must be on the replica before it is promoted.
	var lsn string
	if err := admin.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitStreaming(ctx, admin, []cluster.ReplicaSpec{{Name: "replica1"}}, lsn); err != nil {
		t.Fatal(err)
	}
	agent, err := NewAgent(c.Nodes(), func(n string) string { return c.ConnString(n, cluster.Admin) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	return &fixture{c: c, agent: agent, appPW: pc.Password, logs: logs}
}

// start starts a path and checks, at the end of the test, that Close
// leaves no process and no file but the logs.
func (f *fixture) start(t *testing.T, cfg Config) *Path {
	t.Helper()
	cfg.Nodes = f.c.Nodes()
	cfg.Check = f.agent.URL
	cfg.Inter, cfg.Fall, cfg.Rise = testInter, testFall, testRise
	cfg.User, cfg.Password = cluster.AppRole, f.appPW
	cfg.LogDir = f.logs
	if d := os.Getenv("CLIENTPATH_TEST_LOGS"); d != "" {
		cfg.LogDir = d
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	started := time.Now()
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s path up in %v", cfg.Kind, time.Since(started).Round(time.Millisecond))
	t.Cleanup(func() {
		pids, dir := p.pids(), p.dir
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := p.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
		checkGone(t, pids, dir)
	})
	return p
}

// checkGone fails t if a process of pids runs or dir exists.
func checkGone(t *testing.T, pids []int, dir string) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("pid %d still there after Close (kill 0: %v)", pid, err)
		}
	}
	if dir != "" {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after Close (%v)", dir, err)
		}
	}
}

// write inserts a row over a new connection to dsn and returns the node
// (cluster_name) that took it.
func write(ctx context.Context, dsn string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var node string
	err = conn.QueryRow(ctx, "INSERT INTO w (node) VALUES (current_setting('cluster_name')) RETURNING node").Scan(&node)
	return node, err
}

// read asks the node behind dsn its name and whether it is in recovery.
func read(ctx context.Context, dsn string) (string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", false, err
	}
	defer conn.Close(context.Background())
	var node string
	var rec bool
	err = conn.QueryRow(ctx, "SELECT current_setting('cluster_name'), pg_is_in_recovery()").Scan(&node, &rec)
	return node, rec, err
}

func (f *fixture) dsn(host string, port int, extra string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=disable connect_timeout=2 %s",
		host, port, cluster.AppRole, f.appPW, extra)
}

// failover kills the primary, promotes replica1 and returns when the
// kill landed and when the promotion was done.
func (f *fixture) failover(t *testing.T) (killed, promoted time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.c.(cluster.Killer).Kill(ctx, "primary"); err != nil {
		t.Fatal(err)
	}
	killed = time.Now()
	conn, err := pgx.Connect(ctx, f.c.ConnString("replica1", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote()").Scan(&ok); err != nil || !ok {
		t.Fatalf("promote replica1: %v %v", ok, err)
	}
	promoted = time.Now()
	t.Logf("replica1 promoted %v after the kill", promoted.Sub(killed).Round(time.Millisecond))
	return killed, promoted
}

// writeAgain writes through dsn until a write succeeds and returns the
// node that took it; the write must succeed within limit of the
// promotion (when HAProxy checks, the new primary's rise checks come
// after it, and the old primary's fall checks are under way since the
// kill, before it).
func writeAgain(t *testing.T, dsn string, killed, promoted time.Time, limit time.Duration) string {
	t.Helper()
	ctx := context.Background()
	since := promoted
	var last error
	for attempts := 0; ; attempts++ {
		node, err := write(ctx, dsn)
		if err == nil {
			t.Logf("write taken by %s %v after the kill, %v after the promotion (%d failed attempts, last: %v)",
				node, time.Since(killed).Round(time.Millisecond), time.Since(promoted).Round(time.Millisecond), attempts, last)
			if d := time.Since(since); d > limit {
				t.Errorf("writes back %v after the promotion, want within %v", d, limit)
			}
			return node
		}
		last = err
		if time.Since(since) > limit+10*time.Second {
			t.Fatalf("no write after %v: %v", time.Since(since), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// watcher collects a path's events.
type watcher struct {
	mu     sync.Mutex
	events []Event
	stop   context.CancelFunc
	done   chan error
}

func watch(p *Path) *watcher {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{stop: cancel, done: make(chan error, 1)}
	go func() {
		w.done <- p.Watch(ctx, 20*time.Millisecond, func(ev Event) {
			w.mu.Lock()
			w.events = append(w.events, ev)
			w.mu.Unlock()
		})
	}()
	return w
}

// wait stops the watcher once it saw an event matching every want
// ("backend/server state"), or after limit.
func (w *watcher) wait(t *testing.T, limit time.Duration, want ...string) []Event {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		w.mu.Lock()
		seen := map[string]bool{}
		for _, ev := range w.events {
			if ev.Prev != "" {
				seen[ev.Backend+"/"+ev.Server+" "+ev.State] = true
			}
		}
		evs := append([]Event(nil), w.events...)
		w.mu.Unlock()
		missing := 0
		for _, s := range want {
			if !seen[s] {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			w.stop()
			if err := <-w.done; err != nil {
				t.Errorf("watch: %v", err)
			}
			for _, ev := range evs {
				t.Logf("event %s %s/%s %s -> %s (%s)", ev.At.Format("15:04:05.000"), ev.Backend, ev.Server, ev.Prev, ev.State, ev.Check)
			}
			if missing > 0 {
				t.Errorf("watch: want transitions %v", want)
			}
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// failoverLimit is how long after the kill writes must be back through
// HAProxy: the old primary marked down (fall checks) and the new one up
// (rise checks, after its promotion), plus a margin for the promotion and
// a loaded machine.
var failoverLimit = testInter*testFall + testInter*testRise + 3*time.Second

// checkServers waits up to 3s (a first check that failed on a busy
// machine takes rise checks to mend) until Servers says what want does.
func checkServers(t *testing.T, p *Path, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := p.Servers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var wrong []string
		for k, v := range want {
			if got[k] != v {
				wrong = append(wrong, fmt.Sprintf("%s is %q, want %q", k, got[k], v))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Servers: %s (all: %v)", strings.Join(wrong, "; "), got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHAProxyFailover(t *testing.T) {
	f := newFixture(t, "hap")
	p := f.start(t, Config{Kind: HAProxy})
	ctx := context.Background()

	checkServers(t, p, map[string]string{
		"write/primary": Up, "write/replica1": Down, "read/primary": Down, "read/replica1": Up,
	})
	if up := UpServers(mustServers(t, p), WriteBackend); len(up) != 1 || up[0] != "primary" {
		t.Errorf("write backend up: %v, want [primary]", up)
	}
	wh, wp := p.WriteAddr()
	rh, rp := p.ReadAddr()
	if node, err := write(ctx, f.dsn(wh, wp, "")); err != nil || node != "primary" {
		t.Fatalf("write through HAProxy: %q %v, want primary", node, err)
	}
	if node, rec, err := read(ctx, f.dsn(rh, rp, "")); err != nil || node != "replica1" || !rec {
		t.Fatalf("read through HAProxy: %q in recovery %v, %v; want replica1 in recovery", node, rec, err)
	}

	w := watch(p)
	killed, promoted := f.failover(t)
	if node := writeAgain(t, f.dsn(wh, wp, ""), killed, promoted, failoverLimit); node != "replica1" {
		t.Errorf("write after failover taken by %s, want replica1", node)
	}
	w.wait(t, 5*time.Second, "write/primary DOWN", "write/replica1 UP", "read/replica1 DOWN")
	checkServers(t, p, map[string]string{
		"write/primary": Down, "write/replica1": Up, "read/primary": Down, "read/replica1": Down,
	})
}

func mustServers(t *testing.T, p *Path) map[string]string {
	t.Helper()
	m, err := p.Servers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPgBouncerInFrontOfHAProxyFailover(t *testing.T) {
	for _, mode := range []string{Transaction, Session} {
		t.Run(mode, func(t *testing.T) { testPgBouncerInFrontOfHAProxy(t, mode) })
	}
}

func testPgBouncerInFrontOfHAProxy(t *testing.T, mode string) {
	f := newFixture(t, "pgbh-"+mode)
	p := f.start(t, Config{Kind: PgBouncer, InFrontOf: FrontHAProxy, PoolMode: mode})
	ctx := context.Background()
	wh, wp := p.WriteAddr()
	if rh, rp := p.ReadAddr(); rh == "" || rp == p.ports.write || rp != p.ports.read {
		t.Errorf("ReadAddr = %s:%d, want HAProxy's read port %d", rh, rp, p.ports.read)
	}
	// PgBouncer 1.18 in transaction pooling: no named prepared statements.
	dsn := f.dsn(wh, wp, "default_query_exec_mode=exec")
	if node, err := write(ctx, dsn); err != nil || node != "primary" {
		t.Fatalf("write through PgBouncer: %q %v, want primary", node, err)
	}
	// A client that stays connected across the failover, as a pool's would.
	held, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(ctx)
	// A statement prepared on the protocol level, as the workload's
	// writers do, lives on the server connection PgBouncer lent for it.
	if _, err := held.PgConn().Prepare(ctx, "ins", "INSERT INTO w (node) VALUES (current_setting('cluster_name'))", nil); err != nil {
		t.Fatal(err)
	}

	w := watch(p)
	killed, promoted := f.failover(t)
	if node := writeAgain(t, dsn, killed, promoted, failoverLimit); node != "replica1" {
		t.Errorf("write after failover taken by %s, want replica1", node)
	}
	w.wait(t, 5*time.Second, "write/primary DOWN", "write/replica1 UP")
	var node string
	err = held.QueryRow(ctx, "INSERT INTO w (node) VALUES (current_setting('cluster_name')) RETURNING node").Scan(&node)
	switch mode {
	case Transaction:
		// The held client connection survives: PgBouncer gives it a
		// server connection to the new primary at its next transaction.
		if err != nil || node != "replica1" {
			t.Errorf("held connection after failover: %q %v, want replica1", node, err)
		}
		// The statement prepared before is not on the new server connection.
		_, err = held.PgConn().ExecPrepared(ctx, "ins", nil, nil, nil).Close()
		t.Logf("held connection, statement prepared before the failover: %v", err)
	case Session:
		// The client connection was bound to the dead server connection:
		// PgBouncer closed it.
		if err == nil {
			t.Errorf("held connection after failover in session pooling: a write taken by %s, want an error", node)
		}
		t.Logf("held connection after failover: %v", err)
	}
}

func TestPgBouncerPerNodeFailover(t *testing.T) {
	f := newFixture(t, "pgbn")
	p := f.start(t, Config{Kind: PgBouncer, InFrontOf: FrontNodes})
	ctx := context.Background()
	if h, port := p.WriteAddr(); h != "" || port != 0 {
		t.Errorf("WriteAddr = %s:%d, want none", h, port)
	}
	if _, err := p.Servers(ctx); !errors.Is(err, ErrNoHAProxy) {
		t.Errorf("Servers: %v, want ErrNoHAProxy", err)
	}
	nodes := p.Nodes()
	if len(nodes) != 2 {
		t.Fatalf("Nodes: %v", nodes)
	}
	dsn := cluster.MultiHost(nodes) + fmt.Sprintf(" user=%s password=%s dbname=postgres sslmode=disable connect_timeout=2 target_session_attrs=read-write default_query_exec_mode=exec",
		cluster.AppRole, f.appPW)
	if node, err := write(ctx, dsn); err != nil || node != "primary" {
		t.Fatalf("write through PgBouncer per node: %q %v, want primary", node, err)
	}
	killed, promoted := f.failover(t)
	// No checks to wait for: the client picks the writable node itself,
	// after its connect_timeout (2s) on the dead node's PgBouncer, which
	// holds the first client after the crash rather than refuse it.
	if node := writeAgain(t, dsn, killed, promoted, 5*time.Second); node != "replica1" {
		t.Errorf("write after failover taken by %s, want replica1", node)
	}
}

func TestDirect(t *testing.T) {
	nodes := []cluster.Node{{Name: "primary", Host: "127.0.0.1", Port: 5432}}
	p, err := Start(context.Background(), Config{Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if h, port := p.WriteAddr(); h != "" || port != 0 {
		t.Errorf("WriteAddr = %s:%d, want none", h, port)
	}
	if got := p.Nodes(); len(got) != 1 || got[0] != nodes[0] {
		t.Errorf("Nodes = %v, want %v", got, nodes)
	}
	if err := p.Watch(context.Background(), time.Millisecond, func(Event) {}); !errors.Is(err, ErrNoHAProxy) {
		t.Errorf("Watch: %v, want ErrNoHAProxy", err)
	}
}

// TestStartFailsClean: a PgBouncer that cannot start (a missing binary)
// leaves neither the HAProxy started before it nor files.
func TestStartFailsClean(t *testing.T) {
	testgate.Integration(t)
	needBinaries(t)
	agent, err := NewAgent([]cluster.Node{{Name: "n1", Host: "127.0.0.1", Port: 1}}, func(string) string {
		return "host=127.0.0.1 port=1 user=x dbname=x sslmode=disable"
	})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	dir := t.TempDir()
	// t.TempDir's parent is 0700: the proxies' user must enter it.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Start(context.Background(), Config{
		Kind: PgBouncer, Nodes: []cluster.Node{{Name: "n1", Host: "127.0.0.1", Port: 1}},
		Check: agent.URL, Inter: 50 * time.Millisecond, User: "app", Password: "pw",
		Dir: dir, PgBouncerBin: filepath.Join(dir, "no-pgbouncer"),
	})
	if err == nil {
		t.Fatal("Start with a missing PgBouncer succeeded")
	}
	t.Logf("Start: %v", err)
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("left in Dir: %v", left)
	}
	if pids := ourProxies(); len(pids) > 0 {
		t.Errorf("proxies left running: %v", pids)
	}
}

// TestStartCancelled: a ctx that ends while HAProxy waits for its first
// checks (every 3s by default) leaves nothing.
func TestStartCancelled(t *testing.T) {
	testgate.Integration(t)
	needBinaries(t)
	nodes := []cluster.Node{{Name: "n1", Host: "127.0.0.1", Port: 1}, {Name: "n2", Host: "127.0.0.1", Port: 2}}
	agent, err := NewAgent(nodes, func(string) string {
		return "host=127.0.0.1 port=1 user=x dbname=x sslmode=disable"
	})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err = Start(ctx, Config{Kind: PgBouncer, Nodes: nodes, Check: agent.URL, User: "app", Password: "pw", Dir: dir})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Start: %v, want the context's deadline", err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 0 {
		t.Errorf("left in Dir: %v", left)
	}
	if pids := ourProxies(); len(pids) > 0 {
		t.Errorf("proxies left running: %v", pids)
	}
}

// ourProxies lists this process's children that are HAProxy or PgBouncer
// processes, zombies included.
func ourProxies() []string {
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm := s[open+1 : end]
		f := strings.Fields(s[end+1:])
		if len(f) < 2 || (comm != "haproxy" && comm != "pgbouncer") {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == os.Getpid() {
			out = append(out, e.Name()+" "+comm+" "+f[0])
		}
	}
	return out
}

// TestAgent: the agent tells the primary from the replica, and a node
// that answers nothing (paused) is unhealthy within AgentTimeout.
func TestAgent(t *testing.T) {
	f := newFixture(t, "agent")
	get := func(node, path string) (int, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := http.Get(f.agent.URL(node) + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	for _, tc := range []struct {
		node, path string
		want       int
	}{
		{"primary", "/primary", 200}, {"primary", "/replica", 503},
		{"replica1", "/primary", 503}, {"replica1", "/replica", 200},
	} {
		if got, _ := get(tc.node, tc.path); got != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.node, tc.path, got, tc.want)
		}
	}
	if f.agent.URL("nope") != "" {
		t.Errorf("URL of an unknown node: %q", f.agent.URL("nope"))
	}
	ctx := context.Background()
	pauser := f.c.(cluster.Pauser)
	if err := pauser.Pause(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	code, took := get("replica1", "/replica")
	if err := pauser.Resume(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	if code != 503 || took > AgentTimeout+500*time.Millisecond {
		t.Errorf("paused replica1 /replica: %d after %v, want 503 within %v", code, took, AgentTimeout)
	}
	if got, _ := get("replica1", "/replica"); got != 200 {
		t.Errorf("resumed replica1 /replica: %d, want 200", got)
	}
}
