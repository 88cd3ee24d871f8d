package clustertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/audit"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Node names of the cluster Exercise builds.
const (
	Primary  = "primary"
	Replica1 = "replica1" // synchronous: FIRST 1 (replica1)
	Replica2 = "replica2" // asynchronous
)

// Spec is the cluster Exercise builds, its server logs in logDir.
func Spec(logDir string) cluster.Spec {
	return cluster.Spec{
		ID:               "conformance",
		Replicas:         []cluster.ReplicaSpec{{Name: Replica1, Slot: Replica1}, {Name: Replica2, Slot: Replica2}},
		SyncStandbyNames: "FIRST 1 (" + Replica1 + ")",
		Settings: map[string]map[string]string{
			Primary:  {"wal_keep_size": "64MB"},
			Replica1: {"wal_keep_size": "64MB"},
			Replica2: {"wal_keep_size": "64MB"},
		},
		LogDir: logDir,
	}
}

// Exercise runs the conformance suite against b. It builds one cluster,
// runs each step as a subtest and takes the cluster down at the end (and
// in t.Cleanup if a step stops the test). Faults the cluster does not
// implement are skipped.
func Exercise(t *testing.T, b cluster.Backend) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	s := &suite{b: b, logDir: t.TempDir(), ctx: ctx,
		roles: cluster.NewRoles(Primary, []string{Replica1, Replica2})}
	start := time.Now()
	c, err := b.Up(ctx, Spec(s.logDir))
	if err != nil {
		t.Fatalf("%s backend: up: %s", b.Name(), cluster.Redact(err.Error()))
	}
	t.Logf("%s backend (PostgreSQL %s): bring-up %s", b.Name(), b.ServerVersion(), time.Since(start).Round(time.Millisecond))
	s.c = c
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	t.Run("BringUp", s.bringUp)
	t.Run("Kill", s.kill)
	t.Run("Stop", s.stop)
	t.Run("Pause", s.pause)
	t.Run("Failover", s.failover)
	t.Run("Audit", s.audit)
	t.Run("Down", s.down)
}

type suite struct {
	b      cluster.Backend
	c      cluster.Cluster
	ctx    context.Context
	logDir string
	roles  *cluster.Roles
	marker atomic.Int64
}

// connect opens a connection to node as user, closed when the test ends.
func (s *suite) connect(t *testing.T, node string, u cluster.User) *pgx.Conn {
	t.Helper()
	conn, err := s.tryConnect(node, u, 5*time.Second)
	if err != nil {
		t.Fatalf("connect to %s: %s", node, cluster.Redact(err.Error()))
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (s *suite) tryConnect(node string, u cluster.User, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.c.ConnString(node, u))
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = timeout
	cfg.RuntimeParams["application_name"] = "pgbench-ha-clustertest"
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

// refuses checks that node does not accept connections.
func (s *suite) refuses(t *testing.T, node string) {
	t.Helper()
	conn, err := s.tryConnect(node, cluster.Admin, 2*time.Second)
	if err == nil {
		conn.Close(context.Background())
		t.Fatalf("%s still accepts connections", node)
	}
}

// waitFor polls cond every 10 ms until it holds, failing after timeout.
func (s *suite) waitFor(t *testing.T, what string, timeout time.Duration, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s (last error: %v)", what, timeout, last)
		}
		select {
		case <-s.ctx.Done():
			t.Fatalf("%s: %v", what, s.ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// queryOn runs a one-value query on a fresh admin connection to node.
func (s *suite) queryOn(node, sql string, args []any, dst any) error {
	conn, err := s.tryConnect(node, cluster.Admin, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
	defer cancel()
	return conn.QueryRow(ctx, sql, args...).Scan(dst)
}

// write inserts a new marker row on the current primary, as the app role,
// and returns its id.
func (s *suite) write(t *testing.T) int64 {
	t.Helper()
	id := s.marker.Add(1)
	conn := s.connect(t, s.roles.Primary(), cluster.App)
	ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(ctx, "INSERT INTO clustertest (id) VALUES ($1)", id); err != nil {
		t.Fatalf("write on %s: %v", s.roles.Primary(), err)
	}
	return id
}

// streams waits until replica streams from its upstream (its WAL
// receiver says so) and has replayed the marker row id.
func (s *suite) streams(t *testing.T, replica string, id int64) {
	t.Helper()
	s.waitFor(t, replica+" streaming", 60*time.Second, func() (bool, error) {
		var status string
		err := s.queryOn(replica, "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')", nil, &status)
		return err == nil && status == "streaming", err
	})
	s.waitFor(t, fmt.Sprintf("row %d replayed on %s", id, replica), 30*time.Second, func() (bool, error) {
		var n int
		err := s.queryOn(replica, "SELECT count(*) FROM clustertest WHERE id = $1", []any{id}, &n)
		return err == nil && n == 1, err
	})
}

// sendsTo waits until primary has a streaming WAL sender for replica.
func (s *suite) sendsTo(t *testing.T, primary, replica string) {
	t.Helper()
	s.waitFor(t, primary+" streaming to "+replica, 60*time.Second, func() (bool, error) {
		var n int
		err := s.queryOn(primary, "SELECT count(*) FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
			[]any{replica}, &n)
		return err == nil && n > 0, err
	})
}

func (s *suite) bringUp(t *testing.T) {
	nodes := s.c.Nodes()
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
		if n.Host == "" || n.Port == 0 {
			t.Errorf("node %s has no address: %+v", n.Name, n)
		}
	}
	if want := []string{Primary, Replica1, Replica2}; !slices.Equal(names, want) {
		t.Fatalf("Nodes() = %v, want %v (the primary first)", names, want)
	}
	for _, u := range []cluster.User{cluster.Admin, cluster.App} {
		cs := s.c.ConnString(Primary, u)
		if !strings.Contains(cs, "password=") || strings.Contains(cluster.Redact(cs), passwordOf(t, cs)) {
			t.Errorf("connection string for %v carries no password or Redact does not hide it", u)
		}
	}
	if info := s.c.PrimaryConnInfo(Replica1, Primary); !strings.Contains(info, "application_name=replica1") {
		t.Errorf("PrimaryConnInfo(replica1, primary) = %q: no application_name", cluster.Redact(info))
	}

	p := s.connect(t, Primary, cluster.Admin)
	ctx := s.ctx
	rows, err := p.Query(ctx, "SELECT application_name, state, sync_state FROM pg_stat_replication ORDER BY application_name")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for rows.Next() {
		var name, state, sync string
		if err := rows.Scan(&name, &state, &sync); err != nil {
			t.Fatal(err)
		}
		got[name] = state + "/" + sync
	}
	rows.Close()
	want := map[string]string{Replica1: "streaming/sync", Replica2: "streaming/async"}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("pg_stat_replication: %s is %q, want %q (all: %v)", n, got[n], w, got)
		}
	}
	var active int
	if err := p.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_type = 'physical' AND active AND slot_name IN ('replica1', 'replica2')").Scan(&active); err != nil || active != 2 {
		t.Errorf("active physical slots replica1 and replica2: %d, %v", active, err)
	}
	var repl bool
	if err := p.QueryRow(ctx, "SELECT rolreplication FROM pg_roles WHERE rolname = 'replicator'").Scan(&repl); err != nil || !repl {
		t.Errorf("replicator role with REPLICATION: %v, %v", repl, err)
	}
	var inRecovery bool
	if err := p.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || inRecovery {
		t.Errorf("primary in recovery: %v, %v", inRecovery, err)
	}
	for _, r := range []string{Replica1, Replica2} {
		conn := s.connect(t, r, cluster.Admin)
		var rec bool
		var name, syncNames string
		err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_setting('cluster_name'), current_setting('synchronous_standby_names')").
			Scan(&rec, &name, &syncNames)
		switch {
		case err != nil:
			t.Errorf("%s: %v", r, err)
		case !rec:
			t.Errorf("%s is not in recovery", r)
		case name != r:
			t.Errorf("%s: cluster_name = %q, want its own name", r, name)
		case syncNames != "":
			t.Errorf("%s: synchronous_standby_names = %q, want it cleared on standbys", r, syncNames)
		}
		// A standby of this primary (whether from a base backup or a copy
		// of the primary's data directory), with no slot of its own.
		var id, primaryID int64
		var slots int
		err = conn.QueryRow(ctx, "SELECT system_identifier, (SELECT count(*) FROM pg_replication_slots) FROM pg_control_system()").Scan(&id, &slots)
		if err == nil {
			err = p.QueryRow(ctx, "SELECT system_identifier FROM pg_control_system()").Scan(&primaryID)
		}
		switch {
		case err != nil:
			t.Errorf("%s: %v", r, err)
		case id != primaryID:
			t.Errorf("%s: system identifier %d, the primary's is %d", r, id, primaryID)
		case slots != 0:
			t.Errorf("%s: %d replication slots, want none on a standby", r, slots)
		}
	}

	// The app role creates a table; a synchronous commit completes.
	app := s.connect(t, Primary, cluster.App)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := app.Exec(wctx, "CREATE TABLE clustertest (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"); err != nil {
		t.Fatalf("app role: create table: %v", err)
	}
	id := s.write(t)
	s.streams(t, Replica1, id)
	s.streams(t, Replica2, id)
	for _, n := range names {
		if st, err := os.Stat(filepath.Join(s.logDir, n+".log")); err != nil || st.Size() == 0 {
			t.Errorf("server log of %s in the log dir: %v", n, err)
		}
	}
}

func passwordOf(t *testing.T, connString string) string {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		t.Fatalf("connection string does not parse: %s", cluster.Redact(err.Error()))
	}
	return cfg.Password
}

func (s *suite) kill(t *testing.T) {
	k, ok := s.c.(cluster.Killer)
	if !ok {
		t.Skipf("%s clusters cannot kill a node", s.b.Name())
	}
	st, ok := s.c.(cluster.Stopper)
	if !ok {
		t.Skipf("%s clusters cannot start a killed node again", s.b.Name())
	}
	start := time.Now()
	if err := k.Kill(s.ctx, Replica2); err != nil {
		t.Fatal(err)
	}
	t.Logf("kill %s: %s", Replica2, time.Since(start).Round(time.Millisecond))
	s.refuses(t, Replica2)
	start = time.Now()
	if err := st.Start(s.ctx, Replica2); err != nil {
		t.Fatal(err)
	}
	t.Logf("start %s after the kill: %s", Replica2, time.Since(start).Round(time.Millisecond))
	s.streams(t, Replica2, s.write(t))
	s.sendsTo(t, Primary, Replica2)
}

func (s *suite) stop(t *testing.T) {
	st, ok := s.c.(cluster.Stopper)
	if !ok {
		t.Skipf("%s clusters cannot stop a node", s.b.Name())
	}
	for _, immediate := range []bool{false, true} {
		name := "fast"
		if immediate {
			name = "immediate"
		}
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			if err := st.Stop(s.ctx, Replica2, immediate); err != nil {
				t.Fatal(err)
			}
			t.Logf("stop %s %s: %s", name, Replica2, time.Since(start).Round(time.Millisecond))
			s.refuses(t, Replica2)
			if err := st.Stop(s.ctx, Replica2, immediate); err == nil {
				t.Errorf("stopping a stopped node: no error")
			}
			start = time.Now()
			if err := st.Start(s.ctx, Replica2); err != nil {
				t.Fatal(err)
			}
			t.Logf("start %s: %s", Replica2, time.Since(start).Round(time.Millisecond))
			if err := st.Start(s.ctx, Replica2); err == nil {
				t.Errorf("starting a running node: no error")
			}
			s.streams(t, Replica2, s.write(t))
		})
	}
}

func (s *suite) pause(t *testing.T) {
	pz, ok := s.c.(cluster.Pauser)
	if !ok {
		t.Skipf("%s clusters cannot pause a node", s.b.Name())
	}
	// replica1 is the only synchronous standby.
	r := s.connect(t, Replica1, cluster.Admin)
	app := s.connect(t, Primary, cluster.App)
	if err := pz.Pause(s.ctx, Replica1); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = pz.Resume(context.Background(), Replica1)
		}
	}()
	qctx, cancel := context.WithTimeout(s.ctx, 500*time.Millisecond)
	start := time.Now()
	_, err := r.Exec(qctx, "SELECT 1")
	cancel()
	if err == nil {
		t.Fatalf("a paused node answered a query")
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Fatalf("query to the paused node failed after %s, not by timing out: %v", took, err)
	}
	id := s.marker.Add(1)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(s.ctx, 60*time.Second)
		defer cancel()
		_, err := app.Exec(ctx, "INSERT INTO clustertest (id) VALUES ($1)", id)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a commit returned while its only synchronous standby was paused: %v", err)
	case <-time.After(time.Second):
	}
	start = time.Now()
	if err := pz.Resume(s.ctx, Replica1); err != nil {
		t.Fatal(err)
	}
	resumed = true
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the commit waiting for the paused standby failed: %v", err)
		}
		t.Logf("commit completed %s after resume", time.Since(start).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatalf("the commit still waits 30s after resume")
	}
	var one int
	if err := s.queryOn(Replica1, "SELECT 1", nil, &one); err != nil {
		t.Fatalf("resumed node does not answer: %v", err)
	}
	s.streams(t, Replica1, id)
}

func (s *suite) failover(t *testing.T) {
	k, ok := s.c.(cluster.Killer)
	if !ok {
		t.Skipf("%s clusters cannot kill a node", s.b.Name())
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
	defer cancel()
	ctl := failover.New(s.c, s.roles, failover.Config{
		DetectAfter: 300 * time.Millisecond, Repoint: true, Slots: true,
		Sync: map[string]bool{Replica1: true}, Start: time.Now(),
	})
	go ctl.Run(ctx)
	killed := time.Now()
	if err := k.Kill(ctx, Primary); err != nil {
		cancel()
		ctl.Wait()
		t.Fatal(err)
	}
	tl := ctl.FailedOver()
	if !tl.Promoted {
		t.Fatalf("no promotion: %v", tl.Err)
	}
	t.Logf("kill primary → %s promoted: %s", tl.NewPrimary, time.Since(killed).Round(time.Millisecond))
	other := Replica2
	if tl.NewPrimary == Replica2 {
		other = Replica1
	} else if tl.NewPrimary != Replica1 {
		t.Fatalf("promoted %q, want a replica", tl.NewPrimary)
	}
	if s.roles.Primary() != tl.NewPrimary {
		t.Fatalf("roles say primary %q, controller promoted %q", s.roles.Primary(), tl.NewPrimary)
	}
	if !slices.Contains(tl.Repointed, other) {
		t.Fatalf("%s not repointed (repointed: %v, error: %v)", other, tl.Repointed, tl.Err)
	}
	s.refuses(t, Primary)
	id := s.write(t) // the promoted replica accepts writes
	s.sendsTo(t, tl.NewPrimary, other)
	s.streams(t, other, id)
}

func (s *suite) audit(t *testing.T) {
	primary := s.roles.Primary()
	conn := s.connect(t, primary, cluster.App)
	const seed = 7
	first, err := workload.Prepare(s.ctx, conn, seed, 0)
	if err != nil {
		t.Fatal(err)
	}
	led := workload.NewLedger(first)
	st, err := workload.Run(s.ctx, workload.Config{
		DSN: s.c.ConnString(primary, cluster.App), Writers: 4,
		Rate: func(time.Duration) float64 { return 200 }, Seed: seed, Ledger: led,
		Start: time.Now(), Duration: 2 * time.Second, Grace: 2 * time.Second,
		NodeOf: func(string) int { return 0 },
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	acked := led.Count(workload.Acked)
	if acked < 100 {
		t.Fatalf("workload: %d writes acknowledged in 2s at 200/s (%d connect errors)", acked, st.ConnectErrs)
	}
	a, err := audit.Run(s.ctx, s.c, s.roles, led, audit.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if a.Lost != 0 || a.Acked != acked {
		t.Fatalf("audit: %d lost of %d acknowledged (ledger: %d acknowledged), want none lost", a.Lost, a.Acked, acked)
	}
	for _, n := range a.Nodes {
		if !n.CaughtUp || n.Missing != 0 {
			t.Errorf("audit: %s caught up %v, missing %d", n.Node, n.CaughtUp, n.Missing)
		}
	}

	// Three acknowledged rows vanish from the final primary.
	var ackedIDs []int64
	for i, e := range led.Snapshot() {
		if e.Outcome == workload.Acked {
			ackedIDs = append(ackedIDs, first+int64(i))
		}
	}
	ids := []int64{ackedIDs[0], ackedIDs[len(ackedIDs)/2], ackedIDs[len(ackedIDs)-1]}
	admin := s.connect(t, primary, cluster.Admin)
	tag, err := admin.Exec(s.ctx, "DELETE FROM orders WHERE id = ANY($1)", ids)
	if err != nil || tag.RowsAffected() != 3 {
		t.Fatalf("delete %v: %d rows, %v", ids, tag.RowsAffected(), err)
	}
	a, err = audit.Run(s.ctx, s.c, s.roles, led, audit.Config{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if a.Lost != 3 || !slices.Equal(a.LostIDs, ids) {
		t.Fatalf("audit after deleting %v: lost %d %v", ids, a.Lost, a.LostIDs)
	}
}

func (s *suite) down(t *testing.T) {
	nodes := s.c.Nodes()
	start := time.Now()
	if err := s.c.Down(s.ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("down: %s", time.Since(start).Round(time.Millisecond))
	for _, n := range nodes {
		s.refuses(t, n.Name)
		if st, err := os.Stat(filepath.Join(s.logDir, n.Name+".log")); err != nil || st.Size() == 0 {
			t.Errorf("server log of %s not kept after Down: %v", n.Name, err)
		}
	}
	if err := s.c.Down(s.ctx); err != nil {
		t.Errorf("second Down: %v", err)
	}
	if st, ok := s.c.(cluster.Stopper); ok {
		if err := st.Start(s.ctx, Replica1); err == nil {
			t.Errorf("Start after Down: no error")
		}
	}
}
