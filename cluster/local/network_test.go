package local_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
)

// upNetwork starts primary + replica1 (sync) + replica2 (async), with or
// without per-link proxies; Down runs with the test's cleanup (again, if
// the test already called it).
func upNetwork(t *testing.T, b *local.Backend, id string, network bool) cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := cluster.Spec{
		ID:               id,
		Replicas:         []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2"}},
		SyncStandbyNames: "FIRST 1 (replica1)",
		LogDir:           t.TempDir(),
		Network:          network,
	}
	if network {
		spec.Clients = []string{"writers", "controller"}
	}
	c, err := b.Up(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	t.Logf("bring-up (network %v): %.0f ms", network, c.(*local.Cluster).BringUpMs)
	return c
}

func mustConnect(t *testing.T, ctx context.Context, connString string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		t.Fatalf("connect: %s", cluster.Redact(err.Error()))
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string) {
	t.Helper()
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

var portRE = regexp.MustCompile(`\bport=(\d+)`)

func portOf(t *testing.T, connString string) int {
	t.Helper()
	m := portRE.FindStringSubmatch(connString)
	if m == nil {
		t.Fatalf("no port in %q", cluster.Redact(connString))
	}
	p, _ := strconv.Atoi(m[1])
	return p
}

// medianCommit is the median time of n single-row autocommit inserts.
func medianCommit(t *testing.T, ctx context.Context, conn *pgx.Conn, n int) time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		start := time.Now()
		if _, err := conn.Exec(ctx, "INSERT INTO net_t VALUES (1)"); err != nil {
			t.Fatalf("commit: %v", err)
		}
		ds[i] = time.Since(start)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[n/2]
}

// senderPort is the port a standby's walreceiver streams from, 0 when it
// is not streaming.
func senderPort(t *testing.T, ctx context.Context, standby *pgx.Conn) int {
	t.Helper()
	var port int32
	err := standby.QueryRow(ctx, "SELECT sender_port FROM pg_stat_wal_receiver WHERE status = 'streaming'").Scan(&port)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatalf("pg_stat_wal_receiver: %v", err)
	}
	return int(port)
}

func lsn(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestNetwork(t *testing.T) {
	b := localtest.Backend(t)
	goroutines := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := upNetwork(t, b, "net", true)
	nw, ok := c.(cluster.Networker)
	if !ok {
		t.Fatal("a local cluster is not a Networker")
	}

	// Every proxy port, to check after Down.
	var proxyPorts []int
	nodePorts := map[int]bool{}
	for _, n := range c.Nodes() {
		nodePorts[n.Port] = true
	}
	links := nw.Links()
	if len(links) != 3*2+2*3 {
		t.Fatalf("links = %v, want 12", links)
	}
	for _, l := range links {
		var cs string
		if l[0] == "writers" || l[0] == "controller" {
			cs = nw.ClientConnString(l[0], l[1], cluster.App)
		} else {
			cs = c.PrimaryConnInfo(l[0], l[1])
		}
		p := portOf(t, cs)
		if nodePorts[p] {
			t.Fatalf("link %s->%s goes straight to a node's port %d", l[0], l[1], p)
		}
		proxyPorts = append(proxyPorts, p)
	}
	if nw.ClientConnString("nobody", "primary", cluster.App) != "" {
		t.Error("ClientConnString of an unknown client group is not empty")
	}

	admin := mustConnect(t, ctx, c.ConnString("primary", cluster.Admin))
	app := mustConnect(t, ctx, c.ConnString("primary", cluster.App))
	mustExec(t, ctx, app, "CREATE TABLE net_t (i int)")
	replica2 := mustConnect(t, ctx, c.ConnString("replica2", cluster.Admin))

	t.Run("blackhole downstream stops a replica's stream until removed", func(t *testing.T) {
		if got, want := senderPort(t, ctx, replica2), portOf(t, c.PrimaryConnInfo("replica2", "primary")); got != want {
			t.Fatalf("replica2 streams from port %d, want the proxy's %d", got, want)
		}
		bh := cluster.Toxic{Name: "cut", Kind: cluster.ToxicBlackhole, Direction: cluster.Downstream}
		if err := nw.AddToxic(ctx, "replica2", "primary", bh); err != nil {
			t.Fatal(err)
		}
		mustExec(t, ctx, app, "INSERT INTO net_t VALUES (0)")
		time.Sleep(300 * time.Millisecond) // what was past the proxy lands
		startReplay := lsn(t, ctx, replica2, "SELECT pg_last_wal_replay_lsn()::text")
		startPrimary := lsn(t, ctx, admin, "SELECT pg_current_wal_lsn()::text")
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			mustExec(t, ctx, app, "INSERT INTO net_t VALUES (1)") // replica1 still acknowledges
			time.Sleep(20 * time.Millisecond)
		}
		endPrimary := lsn(t, ctx, admin, "SELECT pg_current_wal_lsn()::text")
		endReplay := lsn(t, ctx, replica2, "SELECT pg_last_wal_replay_lsn()::text")
		if endPrimary == startPrimary {
			t.Fatalf("the primary's LSN did not advance (%s)", startPrimary)
		}
		if endReplay != startReplay {
			t.Fatalf("replica2 replayed %s -> %s through a blackhole", startReplay, endReplay)
		}
		t.Logf("primary %s -> %s, replica2 stayed at %s", startPrimary, endPrimary, endReplay)

		start := time.Now()
		if err := nw.RemoveToxic(ctx, "replica2", "primary", "cut"); err != nil {
			t.Fatal(err)
		}
		removed := time.Since(start)
		for {
			var caught bool
			if err := replica2.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn", endPrimary).Scan(&caught); err != nil {
				t.Fatal(err)
			}
			if caught {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("replica2 has not caught up 5s after the blackhole was removed")
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("remove took %v, replica2 caught up %v after", removed, time.Since(start))
		// The stream went on over the same connection: nothing to reconnect.
		var n int
		if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'replica2' AND backend_start < now() - interval '1 second'").Scan(&n); err != nil || n != 1 {
			t.Errorf("replica2's walsender was restarted (%d old ones, %v)", n, err)
		}
	})

	t.Run("latency on the sync standby's link slows commits", func(t *testing.T) {
		base := medianCommit(t, ctx, app, 20)
		for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
			lat := cluster.Toxic{Name: "lat-" + dir, Kind: cluster.ToxicLatency, Direction: dir, Latency: 20 * time.Millisecond}
			if err := nw.AddToxic(ctx, "replica1", "primary", lat); err != nil {
				t.Fatal(err)
			}
		}
		slow := medianCommit(t, ctx, app, 20)
		for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
			if err := nw.RemoveToxic(ctx, "replica1", "primary", "lat-"+dir); err != nil {
				t.Fatal(err)
			}
		}
		after := medianCommit(t, ctx, app, 20)
		t.Logf("median sync commit: %v, with 20ms each way %v, after removal %v", base, slow, after)
		if slow < 20*time.Millisecond {
			t.Errorf("median sync commit with 20ms latency each way = %v, want >= 20ms", slow)
		}
		if base >= 20*time.Millisecond || after >= 20*time.Millisecond {
			t.Errorf("median sync commit without latency = %v before, %v after; want < 20ms", base, after)
		}
	})

	t.Run("a client blackhole cuts that client only", func(t *testing.T) {
		for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
			bh := cluster.Toxic{Name: "cut-" + dir, Kind: cluster.ToxicBlackhole, Direction: dir}
			if err := nw.AddToxic(ctx, "writers", "primary", bh); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		conn, err := pgx.Connect(ctx, nw.ClientConnString("writers", "primary", cluster.App)+" connect_timeout=1")
		took := time.Since(start)
		if err == nil {
			conn.Close(ctx)
			t.Fatal("a writer connected through a blackhole")
		}
		t.Logf("writer connect failed after %v: %v", took, err)
		if took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("writer connect failed after %v, want the 1s connect_timeout", took)
		}
		// The harness's own view and the other client group are not cut.
		var one int
		if err := admin.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatalf("admin connection: %v", err)
		}
		mustConnect(t, ctx, c.ConnString("primary", cluster.Admin))
		mustConnect(t, ctx, nw.ClientConnString("controller", "primary", cluster.Admin))
		for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
			if err := nw.RemoveToxic(ctx, "writers", "primary", "cut-"+dir); err != nil {
				t.Fatal(err)
			}
		}
		w := mustConnect(t, ctx, nw.ClientConnString("writers", "primary", cluster.App))
		mustExec(t, ctx, w, "INSERT INTO net_t VALUES (2)")
	})

	t.Run("reset breaks an open connection at its next query", func(t *testing.T) {
		w := mustConnect(t, ctx, nw.ClientConnString("writers", "primary", cluster.App))
		mustExec(t, ctx, w, "SELECT 1")
		rst := cluster.Toxic{Name: "rst", Kind: cluster.ToxicReset, Direction: cluster.Upstream}
		if err := nw.AddToxic(ctx, "writers", "primary", rst); err != nil {
			t.Fatal(err)
		}
		qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
		start := time.Now()
		_, err := w.Exec(qctx, "SELECT 1")
		qcancel()
		took := time.Since(start)
		if err == nil {
			t.Fatal("a query went through a reset link")
		}
		t.Logf("query failed after %v: %v", took, err)
		if took > time.Second {
			t.Errorf("query failed after %v, want at once", took)
		}
		if err := nw.RemoveToxic(ctx, "writers", "primary", "rst"); err != nil {
			t.Fatal(err)
		}
		w2 := mustConnect(t, ctx, nw.ClientConnString("writers", "primary", cluster.App))
		mustExec(t, ctx, w2, "SELECT 1")
	})

	t.Run("toxic names and links", func(t *testing.T) {
		lat := cluster.Toxic{Name: "x", Kind: cluster.ToxicLatency, Direction: cluster.Upstream, Latency: time.Millisecond}
		if err := nw.AddToxic(ctx, "writers", "replica1", lat); err != nil {
			t.Fatal(err)
		}
		if err := nw.AddToxic(ctx, "writers", "replica1", lat); err == nil {
			t.Error("a second toxic named x on one link was accepted")
		}
		if err := nw.AddToxic(ctx, "writers", "replica2", lat); err != nil {
			t.Errorf("names are per link: %v", err)
		}
		if err := nw.RemoveToxic(ctx, "writers", "replica1", "nope"); err == nil {
			t.Error("removing an unknown toxic succeeded")
		}
		if err := nw.AddToxic(ctx, "primary", "primary", lat); err == nil {
			t.Error("a link from a node to itself was accepted")
		}
	})

	t.Run("a repointed replica streams through its new link", func(t *testing.T) {
		// Quiet, and both standbys at the primary's LSN, so replica2 can
		// follow replica1 onto its new timeline.
		for {
			var behind int
			if err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE replay_lsn IS DISTINCT FROM pg_current_wal_lsn()").Scan(&behind); err != nil {
				t.Fatal(err)
			}
			if behind == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		replica1 := mustConnect(t, ctx, c.ConnString("replica1", cluster.Admin))
		mustExec(t, ctx, replica1, "SELECT pg_promote()")
		info := c.PrimaryConnInfo("replica2", "replica1")
		mustExec(t, ctx, replica2, "ALTER SYSTEM SET primary_conninfo = "+pgquote.Literal(info))
		mustExec(t, ctx, replica2, "SELECT pg_reload_conf()")
		want := portOf(t, info)
		for deadline := time.Now().Add(15 * time.Second); ; {
			if got := senderPort(t, ctx, replica2); got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica2 does not stream from port %d (replica2->replica1) 15s after the reload", want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	// Down with connections held in blackholes and a latency toxic on.
	for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
		bh := cluster.Toxic{Name: "cut-" + dir, Kind: cluster.ToxicBlackhole, Direction: dir}
		if err := nw.AddToxic(ctx, "controller", "primary", bh); err != nil {
			t.Fatal(err)
		}
	}
	if err := nw.AddToxic(ctx, "replica1", "primary", cluster.Toxic{Name: "lat", Kind: cluster.ToxicLatency,
		Direction: cluster.Downstream, Latency: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	hung := make(chan error, 1)
	go func() {
		cctx, ccancel := context.WithTimeout(ctx, 30*time.Second)
		defer ccancel()
		conn, err := pgx.Connect(cctx, nw.ClientConnString("controller", "primary", cluster.Admin))
		if err == nil {
			conn.Close(context.Background())
		}
		hung <- err
	}()
	time.Sleep(200 * time.Millisecond)
	for _, conn := range []*pgx.Conn{admin, app, replica2} {
		conn.Close(ctx)
	}
	start := time.Now()
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("down took %v", time.Since(start))
	select {
	case err := <-hung:
		if err == nil {
			t.Error("a connection went through a blackhole")
		}
	case <-time.After(5 * time.Second):
		t.Error("a connection held by a blackhole is still hanging 5s after Down")
	}
	for _, p := range proxyPorts {
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			conn.Close()
			t.Errorf("port %d still accepts connections after Down", p)
		}
	}
	waitGoroutines(t, goroutines, 5)
	if err := nw.AddToxic(ctx, "writers", "primary", cluster.Toxic{Name: "late", Kind: cluster.ToxicReset, Direction: cluster.Upstream}); err == nil {
		t.Error("AddToxic after Down succeeded")
	}
}

// TestNetworkProxyOverhead measures what a proxy hop with no toxic adds to
// a commit: the same cluster built with and without Network.
func TestNetworkProxyOverhead(t *testing.T) {
	b := localtest.Backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 200
	measure := func(connString, commit string) time.Duration {
		conn := mustConnect(t, ctx, connString)
		mustExec(t, ctx, conn, "SET synchronous_commit = "+commit)
		medianCommit(t, ctx, conn, 20) // warm up
		d := medianCommit(t, ctx, conn, n)
		conn.Close(ctx)
		return d
	}

	direct := upNetwork(t, b, "direct", false)
	if direct.(cluster.Networker).Links() != nil {
		t.Error("a cluster without Network has links")
	}
	mustExec(t, ctx, mustConnect(t, ctx, direct.ConnString("primary", cluster.App)), "CREATE TABLE net_t (i int)")
	directLocal := measure(direct.ConnString("primary", cluster.App), "local")
	directSync := measure(direct.ConnString("primary", cluster.App), "on")
	if err := direct.Down(ctx); err != nil {
		t.Fatal(err)
	}

	c := upNetwork(t, b, "proxied", true)
	nw := c.(cluster.Networker)
	mustExec(t, ctx, mustConnect(t, ctx, c.ConnString("primary", cluster.App)), "CREATE TABLE net_t (i int)")
	clientLocal := measure(nw.ClientConnString("writers", "primary", cluster.App), "local")
	replSync := measure(c.ConnString("primary", cluster.App), "on")
	bothSync := measure(nw.ClientConnString("writers", "primary", cluster.App), "on")

	roundTrip := func(connString string) time.Duration {
		conn := mustConnect(t, ctx, connString)
		ds := make([]time.Duration, 2000)
		for i := range ds {
			start := time.Now()
			mustExec(t, ctx, conn, "SELECT 1")
			ds[i] = time.Since(start)
		}
		conn.Close(ctx)
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		return ds[len(ds)/2]
	}
	directRT := roundTrip(c.ConnString("primary", cluster.App))
	proxyRT := roundTrip(nw.ClientConnString("writers", "primary", cluster.App))

	t.Logf("median of 2000 SELECT 1: direct %v, through a proxy %v", directRT, proxyRT)
	t.Logf("median of %d commits, synchronous_commit=local: direct %v, client through a proxy %v", n, directLocal, clientLocal)
	t.Logf("median of %d commits, synchronous_commit=on (replica1 sync): direct %v, replication through a proxy %v, client and replication through proxies %v",
		n, directSync, replSync, bothSync)
	if proxyRT > directRT+time.Millisecond {
		t.Errorf("a proxy hop adds %v to a round trip", proxyRT-directRT)
	}
	if bothSync > directSync+10*time.Millisecond {
		t.Errorf("two proxy hops add %v to a sync commit", bothSync-directSync)
	}
}

// waitGoroutines waits up to 5 s for the goroutine count to come back to
// at most before + slack.
func waitGoroutines(t *testing.T, before, slack int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+slack {
			t.Logf("goroutines: %d before Up, %d after Down", before, n)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d before Up, %d after Down\n%s", before, n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
