package patroni

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// fast are the shortest timings Patroni takes with ttl 20.
var fast = Options{TTL: 20, LoopWait: 2, RetryTimeout: 5}

var (
	_ fault.ProcessKiller = (*Cluster)(nil)
	_ fault.Switchoverer  = (*Cluster)(nil)
)

func newBackend(t *testing.T, o Options) *Backend {
	t.Helper()
	testgate.Integration(t)
	b, err := New(o)
	if errors.Is(err, ErrMissing) || errors.Is(err, ErrNoFreezer) {
		testgate.Missing(t, testgate.RequirePatroni, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	})
	return b
}

func up(t *testing.T, b *Backend, spec cluster.Spec) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if d := os.Getenv("PATRONI_TEST_LOGS"); d != "" { // keep the logs to look at
		spec.LogDir = filepath.Join(d, t.Name())
	}
	start := time.Now()
	c, err := b.Up(ctx, spec)
	if err != nil {
		t.Fatalf("up: %s", cluster.Redact(err.Error()))
	}
	t.Logf("bring-up %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() { _ = c.Down(context.Background()) })
	return c.(*Cluster)
}

// leaderKey reads the leader key through etcd's v3 HTTP gateway (Patroni's
// etcd3 keys are not in the v2 store), "" when there is none.
func leaderKey(c *Cluster) string {
	key := base64.StdEncoding.EncodeToString([]byte(c.Namespace() + c.Scope() + "/leader"))
	for _, ep := range c.EtcdEndpoints() {
		resp, err := http.Post(ep+"/v3/kv/range", "application/json", strings.NewReader(`{"key":"`+key+`"}`))
		if err != nil {
			continue
		}
		var r struct{ Kvs []struct{ Value string } }
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil || len(r.Kvs) == 0 {
			return ""
		}
		v, _ := base64.StdEncoding.DecodeString(r.Kvs[0].Value)
		return string(v)
	}
	return ""
}

// clusterLeader asks each node's Patroni who leads (/cluster), "" when no
// one answers or none leads.
func clusterLeader(c *Cluster) string {
	for _, n := range c.Nodes() {
		code, body := httpGet(context.Background(), c.RESTURL(n.Name)+"/cluster")
		if code != 200 {
			continue
		}
		var r struct {
			Members []struct{ Name, Role, State string }
		}
		if json.Unmarshal([]byte(body), &r) != nil {
			continue
		}
		for _, m := range r.Members {
			if m.Role == "leader" && m.State == "running" {
				return m.Name
			}
		}
		return ""
	}
	return ""
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("waited %s for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func exec1(c *Cluster, node string, u cluster.User, sql string, args ...any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(node, u))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// show is a setting's value on node.
func show(t *testing.T, c *Cluster, node, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(node, cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func has(c *Cluster, node string, id int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(node, cluster.App))
	if err != nil {
		return false
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM t WHERE id = $1", id).Scan(&n)
	return err == nil && n == 1
}

// leftProcesses lists the processes whose command line names dir.
func leftProcesses(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() || !alive(pid) {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, e.Name()+" "+strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// TestFailover: Patroni fails over to a replica when the leader node is
// killed, within ttl + loop_wait and a margin; the old leader, started
// again, rejoins as a replica of the new one; Down leaves nothing.
func TestFailover(t *testing.T) {
	b := newBackend(t, fast)
	logDir := t.TempDir()
	c := up(t, b, cluster.Spec{ID: "v0", LogDir: logDir,
		Replicas: []cluster.ReplicaSpec{{Name: "replica1"}, {Name: "replica2"}},
		Settings: map[string]map[string]string{"primary": {"max_connections": "50"}}})
	ctx := context.Background()
	if s := c.Settings(); s.TTL != 20 || s.LoopWait != 2 || s.RetryTimeout != 5 || s.MaximumLagOnFailover != 1048576 || s.PrimaryStartTimeout != 300 || s.EtcdMembers != 1 {
		t.Errorf("Settings() = %+v", s)
	}
	if a := b.Abilities(); !a.Kill || !a.Stop || !a.Pause || a.Links || a.NodeCuts != (b.NodeCutsErr() == nil) {
		t.Errorf("Abilities() = %+v", a)
	}
	if got := c.PrimaryConnInfo("replica1", "primary"); got != "" {
		t.Errorf("PrimaryConnInfo = %q, want \"\" (Patroni's)", got)
	}
	if got := leaderKey(c); got != "primary" {
		t.Fatalf("leader key %s = %q, want primary", c.Namespace()+c.Scope()+"/leader", got)
	}
	if err := exec1(c, "primary", cluster.App, "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}
	if err := exec1(c, "primary", cluster.App, "INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"replica1", "replica2"} {
		waitFor(t, "row 1 on "+r, 10*time.Second, func() bool { return has(c, r, 1) })
		if got := show(t, c, r, "max_connections"); got != "50" {
			t.Errorf("%s: max_connections %s, want the scenario's 50", r, got)
		}
	}

	if err := c.Kill(ctx, "primary"); err != nil {
		t.Fatal(err)
	}
	landed, ok := c.Landed("primary")
	if !ok {
		t.Fatal("no landing time")
	}
	var leader string
	limit := time.Duration(fast.TTL+fast.LoopWait+10) * time.Second
	waitFor(t, "a new leader taking writes", limit, func() bool {
		leader = clusterLeader(c)
		return leader != "" && leader != "primary" && exec1(c, leader, cluster.App, "INSERT INTO t VALUES (2)") == nil
	})
	t.Logf("new leader %s taking writes %s after the kill", leader, time.Since(landed).Round(time.Millisecond))
	if got := leaderKey(c); got != leader {
		t.Errorf("leader key %q, /cluster says %q", got, leader)
	}

	start := time.Now()
	if err := c.Start(ctx, "primary"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old leader streaming as a replica with row 2", 90*time.Second, func() bool {
		code, _ := httpGet(ctx, c.RESTURL("primary")+"/replica")
		return code == 200 && has(c, "primary", 2)
	})
	t.Logf("old leader a replica again %s after Start", time.Since(start).Round(time.Millisecond))

	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Down(ctx); err != nil {
		t.Errorf("second Down: %v", err)
	}
	if left := leftProcesses(b.root); len(left) > 0 {
		t.Errorf("left running after Down: %v", left)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("%s left after Down: %v", c.dir, err)
	}
	for _, f := range []string{"primary.log", "primary.patroni.log", "replica1.log", "etcd1.log"} {
		b, err := os.ReadFile(filepath.Join(c.logDir, f))
		if err != nil || len(b) == 0 {
			t.Errorf("log %s: %v", f, err)
		}
		for _, pw := range []string{c.pw.Admin, c.pw.App, c.pw.Replication} {
			if strings.Contains(string(b), pw) {
				t.Errorf("log %s holds a password", f)
			}
		}
	}
}

// TestProcessFaults, on three etcd members and in synchronous_mode: with the leader's PostgreSQL
// killed, its Patroni starts it again (no failover); a replica's Patroni
// killed leaves its PostgreSQL running, and Start takes it over again; an
// etcd member killed leaves the cluster with its leader; a paused node
// answers nothing until resumed; Down with its context cancelled kills
// everything and leaves nothing.
func TestProcessFaults(t *testing.T) {
	o := fast
	o.EtcdMembers = 3
	o.SynchronousMode = true
	b := newBackend(t, o)
	c := up(t, b, cluster.Spec{ID: "v1", LogDir: t.TempDir(), Replicas: []cluster.ReplicaSpec{{Name: "replica1"}},
		SyncStandbyNames: "ignored: Patroni's"})
	ctx := context.Background()
	if got := show(t, c, "primary", "synchronous_standby_names"); got != "replica1" {
		t.Errorf("synchronous_standby_names %q, want Patroni's replica1", got)
	}
	if got := c.Members(); len(got) != 3 || got[0] != "etcd1" || len(c.EtcdEndpoints()) != 3 {
		t.Fatalf("Members() = %v, EtcdEndpoints() = %v", got, c.EtcdEndpoints())
	}
	if err := exec1(c, "primary", cluster.App, "CREATE TABLE t (id int)"); err != nil {
		t.Fatal(err)
	}

	if err := c.KillProcess(ctx, "primary", ProcessPostgres); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, "primary taking writes again", 60*time.Second, func() bool {
		return exec1(c, "primary", cluster.App, "INSERT INTO t VALUES (1)") == nil
	})
	t.Logf("primary taking writes again %s after its postgres was killed", d.Round(time.Millisecond))
	if got := clusterLeader(c); got != "primary" {
		t.Errorf("leader %q after its postgres was killed, want primary (no failover)", got)
	}
	if got := leaderKey(c); got != "primary" {
		t.Errorf("leader key %q, want primary", got)
	}
	waitFor(t, "row 1 on replica1", 30*time.Second, func() bool { return has(c, "replica1", 1) })

	if err := c.KillProcess(ctx, "replica1", ProcessPatroni); err != nil {
		t.Fatal(err)
	}
	if code, _ := httpGet(ctx, c.RESTURL("replica1")+"/replica"); code != 0 {
		t.Errorf("replica1's REST API answers %d with its Patroni killed", code)
	}
	if !has(c, "replica1", 1) {
		t.Error("replica1's PostgreSQL stopped with its Patroni")
	}
	if err := c.Start(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica1's Patroni back", 30*time.Second, func() bool {
		code, _ := httpGet(ctx, c.RESTURL("replica1")+"/replica")
		return code == 200
	})

	if err := c.Kill(ctx, "etcd2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Landed("etcd2"); !ok {
		t.Error("no landing time for etcd2")
	}
	time.Sleep(time.Duration(2*o.LoopWait) * time.Second)
	if err := exec1(c, "primary", cluster.App, "INSERT INTO t VALUES (2)"); err != nil {
		t.Errorf("write with etcd2 down: %v", err)
	}
	if got := leaderKey(c); got != "primary" {
		t.Errorf("leader key %q with etcd2 down, want primary", got)
	}
	if err := c.Start(ctx, "etcd2"); err != nil {
		t.Fatal(err)
	}

	for _, immediate := range []bool{false, true} {
		if err := c.Stop(ctx, "replica1", immediate); err != nil {
			t.Fatal(err)
		}
		if has(c, "replica1", 2) {
			t.Errorf("replica1 answers after Stop(immediate=%v)", immediate)
		}
		if err := c.Start(ctx, "replica1"); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.Pause(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	if has(c, "replica1", 2) {
		t.Error("a paused replica answered")
	}
	if err := c.Resume(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "row 2 on replica1 once resumed", 30*time.Second, func() bool { return has(c, "replica1", 2) })

	// A planned switchover: Patroni hands the leader key and the writes
	// to replica1.
	// Under synchronous_mode Patroni accepts replica1 only once it is the
	// synchronous standby again (the pause above took it out).
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		err := c.Switchover(ctx, "replica1")
		if err == nil {
			break
		}
		if time.Since(start) > 60*time.Second {
			t.Fatalf("no switchover to replica1 accepted within 60s: %v", err)
		}
	}
	d = waitFor(t, "replica1 leading and taking writes", 60*time.Second, func() bool {
		return leaderKey(c) == "replica1" && exec1(c, "replica1", cluster.App, "INSERT INTO t VALUES (3)") == nil
	})
	t.Logf("switchover to replica1 done in %s", d.Round(time.Millisecond))
	if err := c.Switchover(ctx, "nosuchnode"); err == nil {
		t.Error("a switchover to a node that does not exist was accepted")
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	start := time.Now()
	if err := c.Down(cancelled); err != nil {
		t.Fatal(err)
	}
	t.Logf("Down with a cancelled context: %s", time.Since(start).Round(time.Millisecond))
	if left := leftProcesses(b.root); len(left) > 0 {
		t.Errorf("left running after Down: %v", left)
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("%s left after Down: %v", c.dir, err)
	}
}

// TestMissingBinary: a missing program is an error before anything
// starts, saying how to install it.
func TestMissingBinary(t *testing.T) {
	for _, o := range []Options{{PatroniPath: "/nonexistent/patroni"}, {EtcdPath: "/nonexistent/etcd"}} {
		_, err := New(o)
		if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "apt-get install") || !strings.Contains(err.Error(), "make setup") {
			t.Errorf("New(%+v) = %v, want ErrMissing saying how to install", o, err)
		}
	}
}

// TestValidate: Patroni's rules for its timings, and its defaults.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string // "" for valid
	}{
		{"defaults", Options{}, ""},
		{"fast", fast, ""},
		{"ttl too short", Options{TTL: 19, LoopWait: 1, RetryTimeout: 3}, "ttl 19"},
		{"loop too long", Options{TTL: 20, LoopWait: 11, RetryTimeout: 5}, "loop_wait + 2*retry_timeout <= ttl"},
		{"retry too short", Options{RetryTimeout: 2}, "retry_timeout 2"},
		{"two etcds", Options{EtcdMembers: 2}, "1 or 3"},
		{"strict alone", Options{SynchronousModeStrict: true}, "needs synchronous_mode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.withDefaults().validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("validate = %v, want %q", err, tc.want)
			}
		})
	}
	d := Options{}.withDefaults()
	if d.TTL != 30 || d.LoopWait != 10 || d.RetryTimeout != 10 || d.MaximumLagOnFailover != 1048576 || d.PrimaryStartTimeout != 300 || d.EtcdMembers != 1 {
		t.Errorf("defaults %+v", d)
	}
}

// TestPatroniConfig: what a node's Patroni is told: the timings as set,
// slots and pg_rewind on, the scenario's settings cluster-wide and the
// node's own apart, everything on loopback.
func TestPatroniConfig(t *testing.T) {
	b := &Backend{opts: fast.withDefaults()}
	c := &Cluster{b: b, dir: "/x/v0", scope: "v0", members: []*member{{name: "etcd1", clientPort: 2379}}}
	n := &node{name: "replica1", pgPort: 5433, restPort: 8009, dataDir: "/x/v0/replica1"}
	conf := c.patroniConfig(n, map[string]string{"max_connections": "50"}, map[string]string{"work_mem": "8MB"})
	raw, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Scope, Namespace, Name string
		Restapi                map[string]string
		Etcd3                  struct{ Hosts []string }
		Bootstrap              struct {
			DCS struct {
				TTL                  int   `json:"ttl"`
				LoopWait             int   `json:"loop_wait"`
				RetryTimeout         int   `json:"retry_timeout"`
				MaximumLagOnFailover int64 `json:"maximum_lag_on_failover"`
				PrimaryStartTimeout  int   `json:"primary_start_timeout"`
				PostgreSQL           struct {
					UsePgRewind bool              `json:"use_pg_rewind"`
					UseSlots    bool              `json:"use_slots"`
					Parameters  map[string]string `json:"parameters"`
				} `json:"postgresql"`
			} `json:"dcs"`
		}
		PostgreSQL struct {
			Listen     string            `json:"listen"`
			Parameters map[string]string `json:"parameters"`
			PgHBA      []string          `json:"pg_hba"`
		} `json:"postgresql"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	d := got.Bootstrap.DCS
	if got.Scope != "v0" || got.Namespace != "/service/" || got.Name != "replica1" ||
		d.TTL != 20 || d.LoopWait != 2 || d.RetryTimeout != 5 || d.MaximumLagOnFailover != 1048576 || d.PrimaryStartTimeout != 300 ||
		!d.PostgreSQL.UsePgRewind || !d.PostgreSQL.UseSlots {
		t.Errorf("config %s", raw)
	}
	if d.PostgreSQL.Parameters["max_connections"] != "50" || d.PostgreSQL.Parameters["wal_level"] != "replica" || got.PostgreSQL.Parameters["work_mem"] != "8MB" {
		t.Errorf("parameters: cluster %v, node %v", d.PostgreSQL.Parameters, got.PostgreSQL.Parameters)
	}
	if got.Restapi["listen"] != "127.0.0.1:8009" || got.PostgreSQL.Listen != "127.0.0.1:5433" || len(got.Etcd3.Hosts) != 1 || got.Etcd3.Hosts[0] != "127.0.0.1:2379" {
		t.Errorf("addresses: %s", raw)
	}
	for _, l := range got.PostgreSQL.PgHBA {
		if f := strings.Fields(l); f[0] == "host" && f[3] != "127.0.0.1/32" {
			t.Errorf("pg_hba line not loopback: %q", l)
		}
	}
}

// TestPartitionFromEtcd cuts the leader's links to etcd (both ways, the
// other nodes and the clients still reach it). Without failsafe_mode it
// demotes itself (it answers, read-only) and a replica takes the leader
// key; with failsafe_mode the other members, still answering its
// /failsafe calls, keep it the leader: it goes on taking writes and no one
// else takes the key. Healed, it rejoins as a replica (or stays leader).
func TestPartitionFromEtcd(t *testing.T) {
	for _, failsafe := range []bool{false, true} {
		t.Run(fmt.Sprintf("failsafe=%v", failsafe), func(t *testing.T) {
			t.Parallel() // two clusters, each mostly waiting on Patroni's timers
			o := fast
			o.FailsafeMode = failsafe
			b := newBackend(t, o)
			c := up(t, b, cluster.Spec{ID: "p" + strconv.FormatBool(failsafe)[:1], Network: true,
				Replicas: []cluster.ReplicaSpec{{Name: "replica1"}, {Name: "replica2"}}})
			ctx := context.Background()
			want := "[[primary etcd1] [replica1 etcd1] [replica2 etcd1]]"
			if got := fmt.Sprint(c.Links()); got != want {
				t.Fatalf("Links() = %s, want %s", got, want)
			}
			if a := b.Abilities(); !a.StoreLinks || a.Links {
				t.Errorf("Abilities() = %+v, want StoreLinks only", a)
			}
			if err := exec1(c, "primary", cluster.App, "CREATE TABLE t (id int)"); err != nil {
				t.Fatal(err)
			}
			for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
				if err := c.AddToxic(ctx, "primary", "etcd1", cluster.Toxic{Name: "cut-" + dir, Kind: cluster.ToxicBlackhole, Direction: dir}); err != nil {
					t.Fatal(err)
				}
			}
			cut := time.Now()
			if !failsafe {
				d := waitFor(t, "the cut-off leader to stop taking writes", 30*time.Second, func() bool {
					return exec1(c, "primary", cluster.App, "INSERT INTO t VALUES (1)") != nil
				})
				t.Logf("the cut-off leader stopped taking writes %s after the cut", d.Round(time.Millisecond))
				if d > time.Duration(o.TTL)*time.Second {
					t.Errorf("it took writes for %s, more than ttl %d s", d, o.TTL)
				}
				var leader string
				waitFor(t, "another node to take the leader key", 60*time.Second, func() bool {
					leader = leaderKey(c)
					return leader != "" && leader != "primary"
				})
				t.Logf("%s took the leader key %s after the cut", leader, time.Since(cut).Round(time.Millisecond))
				waitFor(t, leader+" taking writes", 30*time.Second, func() bool {
					return exec1(c, leader, cluster.App, "INSERT INTO t VALUES (2)") == nil
				})
			} else {
				// Longer than ttl: the key has expired, only failsafe
				// keeps the leader.
				deadline := cut.Add(time.Duration(o.TTL+o.LoopWait*3) * time.Second)
				for time.Now().Before(deadline) {
					if err := exec1(c, "primary", cluster.App, "INSERT INTO t VALUES (1)"); err != nil {
						t.Fatalf("the leader stopped taking writes %s after the cut, under failsafe_mode: %v", time.Since(cut).Round(time.Millisecond), err)
					}
					if l := leaderKey(c); l != "" && l != "primary" {
						t.Fatalf("%s took the leader key %s after the cut, under failsafe_mode", l, time.Since(cut).Round(time.Millisecond))
					}
					time.Sleep(200 * time.Millisecond)
				}
			}
			for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
				if err := c.RemoveToxic(ctx, "primary", "etcd1", "cut-"+dir); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "every node back, one leader", 90*time.Second, func() bool {
				return clusterLeader(c) != "" && exec1(c, "primary", cluster.Admin, "SELECT 1") == nil
			})
		})
	}
}

func TestParseHistory(t *testing.T) {
	t.Parallel()
	h, err := cluster.ParsePatroniHistory([]byte(`[[1, 50331800, "no recovery target specified", "2026-11-30T23:55:12.123456+00:00", "replica1"], [2, 83886240, "no recovery target specified"]]`))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 30, 23, 55, 12, 123456000, time.UTC)
	if len(h) != 2 || h[0].Timeline != 1 || h[0].LSN != 50331800 || !h[0].At.Equal(want) || h[0].Leader != "replica1" ||
		h[1].Timeline != 2 || !h[1].At.IsZero() || h[1].Leader != "" {
		t.Errorf("ParsePatroniHistory = %+v", h)
	}
	if _, err := cluster.ParsePatroniHistory([]byte(`[[1]]`)); err == nil {
		t.Error("a short line was accepted")
	}
}

// TestNodeCuts cuts replica1 off the primary both ways (iptables on the
// nodes' cgroup v2 directories): replica1 stops receiving WAL while
// replica2 goes on; healed, it catches up. Down leaves no chain, rule or
// cgroup.
func TestNodeCuts(t *testing.T) {
	b := newBackend(t, fast)
	if err := b.NodeCutsErr(); err != nil {
		testgate.Missing(t, testgate.RequirePatroni, err)
	}
	if a := b.Abilities(); !a.NodeCuts || !a.StoreLinks {
		t.Fatalf("Abilities() = %+v, want NodeCuts and StoreLinks", a)
	}
	c := up(t, b, cluster.Spec{ID: "nc", Network: true,
		Replicas: []cluster.ReplicaSpec{{Name: "replica1"}, {Name: "replica2"}}})
	ctx := context.Background()
	if err := exec1(c, "primary", cluster.App, "CREATE TABLE t (id int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"replica1", "replica2"} {
		waitFor(t, r+" has row 1", 10*time.Second, func() bool { return has(c, r, 1) })
	}
	for _, cut := range [][2]string{{"primary", "replica1"}, {"replica1", "primary"}} {
		if err := c.Cut(ctx, cut[0], cut[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := exec1(c, "primary", cluster.App, "INSERT INTO t VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "replica2 has row 2", 10*time.Second, func() bool { return has(c, "replica2", 2) })
	for deadline := time.Now().Add(4 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if has(c, "replica1", 2) {
			t.Fatal("replica1, cut off the primary, has row 2")
		}
	}
	if l := leaderKey(c); l != "primary" {
		t.Errorf("leader %q during a short cut between replica1 and the primary", l)
	}
	if err := c.Heal(ctx); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, "replica1 to catch up after the heal", 60*time.Second, func() bool { return has(c, "replica1", 2) })
	t.Logf("replica1 caught up %s after the heal", d.Round(time.Millisecond))

	chains := c.cuts.Chains()
	var dirs []string
	for _, n := range c.Nodes() {
		dirs = append(dirs, c.cuts.Dir(n.Name))
	}
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("iptables", "-w", "-S").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		if strings.Contains(string(out), ch) {
			t.Errorf("chain %s left after Down:\n%s", ch, out)
		}
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left after Down: %v", d, err)
		}
	}
}
