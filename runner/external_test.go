package runner_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/docker"
	"github.com/pgbench-ha/pgbench-ha/cluster/external"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/runner"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// userCluster is a cluster the test starts by other means than the
// runner (the local backend, as a user's own cluster), for the external
// backend to connect to: primary and replica1, synchronous, with a slot.
type userCluster struct {
	c        *local.Cluster
	bin      string
	dataDirs map[string]string
	user     string
}

func startUserCluster(t *testing.T) *userCluster {
	t.Helper()
	cc, user := upUserCluster(t, newBackend(t))
	c := cc.(*local.Cluster)
	u := &userCluster{c: c, bin: c.BinDir(), dataDirs: map[string]string{}, user: user}
	for _, n := range []string{"primary", "replica1"} {
		wal, err := c.WALDir(n)
		if err != nil {
			t.Fatal(err)
		}
		u.dataDirs[n] = filepath.Dir(wal)
	}
	return u
}

// killNode is a kill hook that crashes a node as a power loss would:
// its postmaster and every child of it stopped in one step, then killed.
// (SIGKILL to the postmaster alone lets its backends run on for moments:
// one can still acknowledge a write the standby never gets.)
const killNode = `pid=$(head -1 "$PGDATA/postmaster.pid"); all="$pid $(cat /proc/$pid/task/$pid/children)"; kill -STOP $all; kill -KILL $all`

// upUserCluster starts, on b, the cluster a user would have: primary and
// replica1, synchronous, with a slot; taken down with the test. The
// external backend takes the password from libpq's environment, never
// from the scenario: PGPASSWORD is set for the test. It returns the
// cluster and the admin user's name.
func upUserCluster(t *testing.T, b cluster.Backend) (cluster.Cluster, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.Up(ctx, cluster.Spec{ID: "user", Replicas: []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}},
		SyncStandbyNames: "FIRST 1 (replica1)", LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Down(context.Background()) })
	cfg, err := pgx.ParseConfig(c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", cfg.Password)
	return c, cfg.User
}

// dsn is how the scenario reaches node: host and port, no password.
func (u *userCluster) dsn(node string) string {
	for _, n := range u.c.Nodes() {
		if n.Name == node {
			return fmt.Sprintf("host=%s port=%d", n.Host, n.Port)
		}
	}
	return ""
}

// externalSection is the scenario's external section for u: the write
// endpoint is both nodes with target_session_attrs (the writers add it),
// each node's data directory in its hooks' environment, and hooks.
func (u *userCluster) externalSection(hooks string) string {
	p, r := u.c.Nodes()[0], u.c.Nodes()[1]
	return fmt.Sprintf(`external:
  write: "host=%s,%s port=%d,%d"
  user: %s
  nodes:
    primary: {dsn: "%s", env: {PGDATA: %s}}
    replica1: {dsn: "%s", env: {PGDATA: %s}}
  hooks:
%s`, p.Host, r.Host, p.Port, r.Port, u.user, u.dsn("primary"), u.dataDirs["primary"], u.dsn("replica1"), u.dataDirs["replica1"], hooks)
}

// schemaGone reports whether no node that answers has the harness's
// schema, nor the harness's tables outside it.
func (u *userCluster) schemaGone(t *testing.T) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, n := range u.c.Nodes() {
		conn, err := pgx.Connect(ctx, u.c.ConnString(n.Name, cluster.Admin))
		if err != nil {
			continue // a killed node
		}
		var left int
		err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
			WHERE s.nspname = 'pgbench_ha' OR c.relname IN ('orders', 'pgbench_ha_heartbeat')`).Scan(&left)
		conn.Close(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		var schemas int
		if err := func() error {
			conn, err := pgx.Connect(ctx, u.c.ConnString(n.Name, cluster.Admin))
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			return conn.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgbench_ha'").Scan(&schemas)
		}(); err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if left+schemas > 0 {
			t.Logf("%s still has %d of the harness's tables and %d schema", n.Name, left, schemas)
			return false
		}
	}
	return true
}

func runExternal(t *testing.T, yaml string) (*result.Result, string, error) {
	t.Helper()
	s := loadScenario(t, yaml)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := external.New(ctx, runner.ExternalConfig(s))
	if err != nil {
		t.Fatal(err)
	}
	return runner.Run(ctx, runner.Options{Scenario: s, Backend: b, OutDir: t.TempDir()})
}

// agreeScenario is the scenario both backends run: writes at 400 TPS,
// the primary killed at 3s, the harness promoting the synchronous
// replica.
const agreeScenario = `name: %s
seed: 7
duration: 8s
%stopology:
  replicas: [{name: replica1, sync: true}]
workload: {writers: 4, rate: 400, initial_orders: 500}
faults:
  - {at: 3s, kind: kill, node: primary}
failover: {mode: promote, detect_after: 500ms%s}
probes: {lag_interval: 100ms, heartbeat_interval: 50ms, audit_timeout: 20s}
`

// TestExternalAgreesWithLocal runs one scenario on the local backend,
// then on the external backend against a cluster the test starts itself,
// killed by a hook (SIGKILL of its processes) and promoted by the
// harness through the promote hook (pg_ctl promote): the audit's figures agree within noise, the hook's
// return and the kill's effect are recorded apart, and the harness's
// schema is gone from the user's cluster afterwards.
func TestExternalAgreesWithLocal(t *testing.T) {
	managed := loadScenario(t, fmt.Sprintf(agreeScenario, "agree-local", "", ""))
	res, _, err := runner.Run(context.Background(), runner.Options{Scenario: managed, Backend: newBackend(t), OutDir: t.TempDir()})
	if err != nil {
		t.Fatalf("local run: %v", err)
	}
	lv := &res.Variants[0]

	u := startUserCluster(t)
	yaml := fmt.Sprintf(agreeScenario, "agree-external", "backend: external\n", ", repoint: false") +
		u.externalSection(fmt.Sprintf(`    kill: '`+killNode+`'
    promote: 'runuser -u postgres -- %s/pg_ctl promote -W -D "$PGDATA"'
`, u.bin))
	eres, dir, err := runExternal(t, yaml)
	if err != nil {
		t.Fatalf("external run: %v", err)
	}
	ev := &eres.Variants[0]
	if eres.Run.Backend != "external" || ev.Status != result.StatusComplete {
		t.Fatalf("external run: backend %s, status %s (%s)", eres.Run.Backend, ev.Status, ev.Error)
	}
	for _, v := range []*result.Variant{lv, ev} {
		a, f := v.Summary.Audit, v.Summary.Failover
		if a == nil || f == nil || f.WriteUnavailableMs == nil || f.NewPrimary != "replica1" {
			t.Fatalf("%s: audit %+v, failover %+v", v.Name, a, f)
		}
		if a.Lost != 0 || a.Acked == 0 {
			t.Errorf("%s: lost %d of %d acknowledged writes under synchronous replication", v.Name, a.Lost, a.Acked)
		}
	}
	lo, eo := *lv.Summary.Failover.WriteUnavailableMs, *ev.Summary.Failover.WriteUnavailableMs
	t.Logf("write outage: local %.0f ms, external %.0f ms; acked: local %d, external %d", lo, eo,
		lv.Summary.Audit.Acked, ev.Summary.Audit.Acked)
	if math.Abs(lo-eo) > 1000 || eo < 500 {
		t.Errorf("write outage: local %.0f ms, external %.0f ms: not within noise of each other", lo, eo)
	}
	la, ea := float64(lv.Summary.Audit.Acked), float64(ev.Summary.Audit.Acked)
	if math.Abs(la-ea) > 0.1*la {
		t.Errorf("acknowledged writes: local %.0f, external %.0f", la, ea)
	}
	if len(ev.Checks) == 0 {
		t.Errorf("no self-checks ran")
	}
	for _, c := range ev.Checks {
		if !c.Passed {
			t.Errorf("external check %s failed: %s", c.Name, c.Message)
		}
	}
	fr := ev.Faults[0]
	if fr.Outcome != result.OutcomeInjected || fr.ReturnedMs == nil || fr.EffectiveMs == nil || *fr.EffectiveMs < *fr.InjectedMs {
		t.Errorf("kill record: %+v", fr)
	}
	hooksLog, err := os.ReadFile(filepath.Join(dir, ev.LogDir, "hooks", "hooks.log"))
	if err != nil || !strings.Contains(string(hooksLog), "kill node=primary exit 0") || !strings.Contains(string(hooksLog), "promote node=replica1 exit 0") {
		t.Errorf("hooks.log: %q, %v", hooksLog, err)
	}
	if !u.schemaGone(t) {
		t.Errorf("the harness's schema or tables are left on the user's cluster")
	}
}

// TestExternalHooksThatFail: a hook that fails, one that hangs past its
// timeout and a kill hook that never takes effect each give a clear
// error; the variant fails with its figures kept, and the user's cluster
// is left as it was: the primary still the primary, the harness's schema
// gone.
func TestExternalHooksThatFail(t *testing.T) {
	u := startUserCluster(t)
	yaml := `name: external-bad-hooks
seed: 3
duration: 5s
backend: external
topology:
  replicas: [{name: replica1, sync: true}]
workload: {writers: 2, rate: 200, initial_orders: 100}
faults:
  - {at: 500ms, kind: kill, node: primary}
  - {at: 1s, kind: pause, node: replica1, for: 1s}
  - {at: 1500ms, kind: stop, node: replica1}
probes: {audit_timeout: 20s}
` + u.externalSection(`    timeout: 1s
    effect_timeout: 1500ms
    kill: 'echo pretending to kill $PGBHA_NODE'
    pause: 'echo no such container >&2; exit 3'
    resume: 'true'
    stop: 'sleep 30'
    start: 'true'
`)
	start := time.Now()
	res, dir, err := runExternal(t, yaml)
	if err == nil {
		t.Fatal("a run whose hooks failed succeeded")
	}
	v := &res.Variants[0]
	t.Logf("error after %s: %v", time.Since(start).Round(time.Millisecond), err)
	for _, want := range []string{
		"fault 0 (kill primary) was not seen to take effect: primary still accepts connections after 1.5s",
		"fault 1 (pause replica1) failed: pause hook for replica1 exited with status 3 after",
		": no such container; command: echo no such container >&2; exit 3; output: ",
		"fault 2 (stop replica1 (fast)) failed: stop hook for replica1 did not return within 1s (external.hooks.timeout): killed after",
	} {
		if !strings.Contains(v.Error, want) {
			t.Errorf("variant error lacks %q:\n%s", want, v.Error)
		}
	}
	if v.Status != result.StatusFailed || v.Summary.Audit == nil || v.Summary.Audit.Acked == 0 || v.Summary.Audit.Lost != 0 {
		t.Errorf("status %s, audit %+v: want a failed variant with its figures", v.Status, v.Summary.Audit)
	}
	if _, err := os.Stat(filepath.Join(dir, "result.json")); err == nil {
		t.Logf("result.json written")
	}
	// The user's cluster as it was.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatalf("the primary no longer answers: %v", err)
	}
	defer conn.Close(context.Background())
	var inRecovery bool
	var streaming int
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_replication WHERE application_name = 'replica1' AND state = 'streaming')").Scan(&inRecovery, &streaming); err != nil {
		t.Fatal(err)
	}
	if inRecovery || streaming != 1 {
		t.Errorf("primary in recovery %v, replica1 streaming %d: the cluster is not as it was", inRecovery, streaming)
	}
	if !u.schemaGone(t) {
		t.Errorf("the harness's schema is left on the user's cluster")
	}
}

// TestExternalRefusesForeignSchema: a schema of the harness's name that
// the harness did not create is never written to nor dropped.
func TestExternalRefusesForeignSchema(t *testing.T) {
	u := startUserCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA pgbench_ha; CREATE TABLE pgbench_ha.mine (x int)"); err != nil {
		t.Fatal(err)
	}
	yaml := `name: external-foreign
duration: 2s
backend: external
topology:
  replicas: [{name: replica1, sync: true}]
` + u.externalSection("    {}\n")
	res, _, err := runExternal(t, yaml)
	if err == nil || !strings.Contains(res.Variants[0].Error, "a schema \"pgbench_ha\" exists that the harness did not create") {
		t.Fatalf("run: %v; variant error %q", err, res.Variants[0].Error)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pgbench_ha.mine").Scan(&n); err != nil {
		t.Errorf("the user's table: %v", err)
	}
	_ = scenario.BackendExternal
}

// TestExternalManagerObserved: under failover.mode external the harness
// promotes nothing; the nodes tell it which is primary. A kill hook takes
// the primary down and, a second later, a promote fault runs the
// promote hook (pg_ctl promote, the outside manager's part). The
// harness sees the promotion, the writes resume on replica1, nothing
// acknowledged under synchronous replication is lost, and the history
// hook's record of the promotion (the timeline history file's time)
// sets the manager's figure.
func TestExternalManagerObserved(t *testing.T) {
	u := startUserCluster(t)
	history := fmt.Sprintf(`f=%s/pg_wal/00000002.history; if [ -f "$f" ]; then echo "{\"timeline\": 2, \"leader\": \"replica1\", \"at\": \"$(date -u -r "$f" +%%Y-%%m-%%dT%%H:%%M:%%S.%%NZ)\"}"; fi`, u.dataDirs["replica1"])
	yaml := `name: external-observed
seed: 5
duration: 7s
backend: external
topology:
  replicas: [{name: replica1, sync: true}]
workload: {writers: 4, rate: 300, initial_orders: 200}
faults:
  - {at: 2s, kind: kill, node: primary}
  - {at: 3s, kind: promote, node: replica1}
failover: {mode: external, probe_interval: 20ms}
probes: {audit_timeout: 20s}
` + u.externalSection(fmt.Sprintf(`    kill: '`+killNode+`'
    promote: 'runuser -u postgres -- %s/pg_ctl promote -W -D "$PGDATA"'
    history: '%s'
`, u.bin, strings.ReplaceAll(history, "'", "''")))
	res, _, err := runExternal(t, yaml)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	v := &res.Variants[0]
	f, a := v.Summary.Failover, v.Summary.Audit
	if f == nil || a == nil || f.NewPrimary != "replica1" || f.PromoteDoneMs == nil || f.DetectedMs == nil || f.WriteUnavailableMs == nil {
		t.Fatalf("failover %+v, audit %+v", f, a)
	}
	t.Logf("detected %.0f ms, promote done %.0f ms, outage %.0f ms", *f.DetectedMs, *f.PromoteDoneMs, *f.WriteUnavailableMs)
	if *f.DetectedMs < 2000 || *f.DetectedMs > 3000 || *f.PromoteDoneMs < 3000 || *f.PromoteDoneMs > 4500 {
		t.Errorf("detected at %.0f ms, promoted at %.0f ms: want after the kill at 2s, after the promote at 3s", *f.DetectedMs, *f.PromoteDoneMs)
	}
	if *f.WriteUnavailableMs < 1000 || *f.WriteUnavailableMs > 3000 {
		t.Errorf("write outage %.0f ms: want about the second between kill and promote", *f.WriteUnavailableMs)
	}
	if a.Lost != 0 || a.FinalPrimary != "replica1" || a.Acked == 0 {
		t.Errorf("audit: final %s, lost %d of %d", a.FinalPrimary, a.Lost, a.Acked)
	}
	if f.ManagerPromotedMs == nil || math.Abs(*f.ManagerPromotedMs-*f.PromoteDoneMs) > 1000 {
		t.Errorf("manager's record: %v against promote_done %.0f ms", f.ManagerPromotedMs, *f.PromoteDoneMs)
	}
	if !u.schemaGone(t) {
		t.Errorf("the harness's schema or tables are left on the user's cluster")
	}
}

// TestExternalLinkHooks: a latency fault and a partition between nodes
// run through the link and unlink hooks, once per link and direction,
// with the condition in the environment; every condition placed is
// removed by name at the heal.
func TestExternalLinkHooks(t *testing.T) {
	u := startUserCluster(t)
	record := `echo "$PGBHA_ACTION $PGBHA_FROM>$PGBHA_TO $PGBHA_CONDITION $PGBHA_DIRECTION $PGBHA_LATENCY_MS $PGBHA_NAME" >> "$PGBHA_LOG_DIR/links.txt"`
	yaml := `name: external-links
seed: 3
duration: 4s
backend: external
topology:
  replicas: [{name: replica1, sync: true}]
workload: {writers: 2, rate: 100, initial_orders: 100}
faults:
  - {at: 500ms, kind: latency, from: [primary], to: [replica1], latency: 150ms, direction: downstream, for: 1s}
  - {at: 2s, kind: partition, sides: [[primary], [replica1]], for: 1s}
probes: {audit_timeout: 20s}
` + u.externalSection(fmt.Sprintf("    link: '%s'\n    unlink: '%s'\n", record, record))
	res, dir, err := runExternal(t, yaml)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	v := &res.Variants[0]
	raw, err := os.ReadFile(filepath.Join(dir, v.LogDir, "links.txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	placed, removed := map[string]string{}, map[string]bool{}
	for _, l := range lines {
		f := strings.Fields(l)
		switch f[0] {
		case "link":
			placed[f[len(f)-1]] = strings.Join(f[1:len(f)-1], " ")
		case "unlink":
			removed[f[len(f)-1]] = true
		}
	}
	want := []string{
		"primary>replica1 latency downstream 150",
		"primary>replica1 blackhole upstream 0", "primary>replica1 blackhole downstream 0",
		"replica1>primary blackhole upstream 0", "replica1>primary blackhole downstream 0",
	}
	var got []string
	for name, cond := range placed {
		got = append(got, cond)
		if !removed[name] {
			t.Errorf("condition %s (%s) placed, never removed", name, cond)
		}
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("no link hook placed %q; placed: %q", w, got)
		}
	}
	if len(placed) != len(removed) {
		t.Errorf("%d placed, %d removed:\n%s", len(placed), len(removed), raw)
	}
}

// TestExternalPrepareBetweenVariants: a matrix runs its variants one
// after the other on the same external cluster. The first variant's kill
// of replica1 leaves it down: without a prepare hook the second variant
// is refused at bring-up, saying why and what would help; with one that
// starts replica1 again (pg_ctl start), both variants run.
func TestExternalPrepareBetweenVariants(t *testing.T) {
	u := startUserCluster(t)
	r := u.dataDirs["replica1"]
	start := fmt.Sprintf(`if ! runuser -u postgres -- %[1]s/pg_ctl status -D %[2]s >/dev/null 2>&1; then env -u PGPASSWORD runuser -u postgres -- %[1]s/pg_ctl start -w -t 60 -D %[2]s -l %[2]s/restarted.log; fi`, u.bin, r)
	// (PGPASSWORD, the harness's, would be the standby's password too: libpq
	// prefers it to the passfile its primary_conninfo names.)
	t.Cleanup(func() {
		// A replica pg_ctl started is the test's to stop, before the
		// local backend removes its data directory.
		_ = exec.Command("runuser", "-u", "postgres", "--", filepath.Join(u.bin, "pg_ctl"), "stop", "-m", "immediate", "-D", r).Run()
	})
	base := `name: external-prepare
seed: 3
duration: 3s
backend: external
topology:
  replicas: [{name: replica1, sync: false}]
workload: {writers: 2, rate: 100, initial_orders: 100}
faults:
  - {at: 1s, kind: kill, node: replica1}
matrix:
  synchronous_commit: ["on", local]
probes: {audit_timeout: 20s}
`
	// The user's cluster is asynchronous for this test.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u.c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"ALTER SYSTEM SET synchronous_standby_names = ''", "SELECT pg_reload_conf()"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(context.Background())
	kill := `    kill: '` + killNode + `'` + "\n"

	res, _, err := runExternal(t, base+u.externalSection(kill))
	if err == nil || res.Variants[0].Status != result.StatusComplete || res.Variants[1].Status != result.StatusFailed ||
		!strings.Contains(res.Variants[1].Error, "replica1 is not in recovery") && !strings.Contains(res.Variants[1].Error, "replica1 (") ||
		!strings.Contains(res.Variants[1].Error, "external.hooks.prepare can put it back") {
		t.Fatalf("without prepare: %v; variants %s %q, %s %q", err, res.Variants[0].Status, res.Variants[0].Error, res.Variants[1].Status, res.Variants[1].Error)
	}
	if out, err := exec.Command("sh", "-c", start).CombinedOutput(); err != nil {
		t.Fatalf("start replica1 again: %v\n%s", err, out)
	}

	res, dir, err := runExternal(t, base+u.externalSection(kill+"    prepare: '"+start+"'\n"))
	if err != nil {
		t.Fatalf("with prepare: %v", err)
	}
	for _, v := range res.Variants {
		if v.Status != result.StatusComplete || v.Summary.Audit == nil || v.Summary.Audit.Lost != 0 {
			t.Errorf("%s: %s %q, audit %+v", v.Name, v.Status, v.Error, v.Summary.Audit)
		}
	}
	hooks, _ := os.ReadFile(filepath.Join(dir, res.Variants[1].LogDir, "hooks", "hooks.log"))
	if !strings.Contains(string(hooks), "prepare node=primary exit 0") {
		t.Errorf("the second variant's hooks.log:\n%s", hooks)
	}
}

// TestExternalOnDocker: the external backend against a cluster in
// containers that the docker backend starts (other addresses than the
// harness's: each server sees itself at its container's address, the
// harness reaches it through a published port), killed by a hook with
// `docker kill` and promoted by the harness over SQL. Every write is
// credited to the node that took it, by the address the server gives.
func TestExternalOnDocker(t *testing.T) {
	testgate.Integration(t)
	img := os.Getenv("PGBENCH_HA_DOCKER_IMAGE") // as the docker backend's own tests
	if img == "" {
		img = docker.LocalImage
	}
	b, err := docker.New(docker.Options{Image: img})
	if errors.Is(err, docker.ErrNoDocker) || errors.Is(err, docker.ErrNoImage) {
		testgate.Missing(t, testgate.RequireDocker, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	cc, user := upUserCluster(t, b)
	c := cc.(*docker.Cluster)
	p, r := c.Nodes()[0], c.Nodes()[1]
	yaml := fmt.Sprintf(agreeScenario, "external-docker", "backend: external\n", ", repoint: false") + fmt.Sprintf(`external:
  write: "host=%s,%s port=%d,%d"
  user: %s
  nodes:
    primary: {dsn: "host=%s port=%d", env: {CONTAINER: %s}}
    replica1: {dsn: "host=%s port=%d", env: {CONTAINER: %s}}
  hooks:
    kill: 'docker kill "$CONTAINER"'
`, p.Host, r.Host, p.Port, r.Port, user, p.Host, p.Port, c.ContainerName("primary"), r.Host, r.Port, c.ContainerName("replica1"))
	res, dir, err := runExternal(t, yaml)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	v := &res.Variants[0]
	f, a := v.Summary.Failover, v.Summary.Audit
	if f == nil || a == nil || f.NewPrimary != "replica1" || f.WriteUnavailableMs == nil || a.Lost != 0 || a.Acked == 0 {
		t.Fatalf("failover %+v, audit %+v", f, a)
	}
	t.Logf("write outage %.0f ms, %d acknowledged", *f.WriteUnavailableMs, a.Acked)
	for _, ch := range v.Checks {
		if !ch.Passed {
			t.Errorf("check %s failed: %s", ch.Name, ch.Message)
		}
	}
	nodes := ackNodes(t, dir, v)
	if nodes["primary"] == 0 || nodes["replica1"] == 0 || nodes[""] != 0 {
		t.Errorf("acknowledged writes by node: %v; want every one credited, to primary before the kill and replica1 after", nodes)
	}
}

// ackNodes counts a variant's acknowledged writes by the node credited.
func ackNodes(t *testing.T, dir string, v *result.Variant) map[string]int {
	t.Helper()
	rows := historyRows(t, dir, v)
	out := map[string]int{}
	for _, r := range rows[1:] { // id,writer,node,scheduled_ms,sent_ms,done_ms,outcome
		if r[6] == "acked" {
			out[r[2]]++
		}
	}
	return out
}
