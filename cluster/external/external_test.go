package external_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/external"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
)

// TestSettingsAndSchema: settings a session may set are applied to the
// writers' connections; others are compared with the server and a
// difference refused, as is a scenario that says sync where the server
// is not; the schema is the harness's own, created, marked and dropped.
func TestSettingsAndSchema(t *testing.T) {
	b := localtest.Backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	uc, err := b.Up(ctx, cluster.Spec{ID: "user", Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}, LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Down(context.Background())
	admin, err := pgx.ParseConfig(uc.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", admin.Password)
	dsn := func(node string) string {
		for _, n := range uc.Nodes() {
			if n.Name == node {
				return "host=" + n.Host + " port=" + strconv.Itoa(n.Port)
			}
		}
		return ""
	}
	xb, err := external.New(ctx, external.Config{Write: dsn("primary"), User: admin.User, Database: admin.Database, Schema: "pgbench_ha_t",
		Nodes: []external.Node{{Name: "primary", DSN: dsn("primary")}, {Name: "replica1", DSN: dsn("replica1")}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(xb.ServerVersion(), "15") {
		t.Errorf("server version %q", xb.ServerVersion())
	}
	spec := cluster.Spec{ID: "x", Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}, LogDir: t.TempDir()}

	// A server setting that differs, a sync replica the server does not
	// have: refused, both said, nothing created.
	bad := spec
	bad.Settings = map[string]map[string]string{"primary": {"wal_level": "logical"}}
	bad.SyncStandbyNames = "FIRST 1 (replica1)"
	if _, err := xb.Up(ctx, bad); err == nil || !strings.Contains(err.Error(), `primary has wal_level = "replica", the scenario says "logical"`) ||
		!strings.Contains(err.Error(), "synchronous_standby_names is empty") {
		t.Errorf("Up with settings the server lacks: %v", err)
	}

	good := spec
	good.Settings = map[string]map[string]string{"primary": {"synchronous_commit": "off", "wal_level": "replica"}}
	c, err := xb.Up(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, c.(cluster.Endpoint).WriteConnString())
	if err != nil {
		t.Fatal(err)
	}
	var sc, schema, mark string
	err = conn.QueryRow(ctx, "SELECT current_setting('synchronous_commit'), current_schema(), obj_description('pgbench_ha_t'::regnamespace, 'pg_namespace')").Scan(&sc, &schema, &mark)
	conn.Close(context.Background())
	if err != nil || sc != "off" || schema != "pgbench_ha_t" || !strings.HasPrefix(mark, "pgbench-ha:") {
		t.Errorf("writers' session: synchronous_commit %q, schema %q, mark %q, %v", sc, schema, mark, err)
	}
	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}

	// Hooks get the node, its member name, its env and the other end's.
	envFile := filepath.Join(t.TempDir(), "env")
	rec := `env | grep -E '^(PGBHA_|MINE=)' | sort >> ` + envFile + `; echo --- >> ` + envFile
	hb, err := external.New(ctx, external.Config{Write: dsn("primary"), User: admin.User, Database: admin.Database, Schema: "pgbench_ha_h",
		Nodes: []external.Node{{Name: "primary", DSN: dsn("primary"), Member: "pg-1", Env: map[string]string{"MINE": "yes"}},
			{Name: "replica1", DSN: dsn("replica1"), Member: "pg-2"}},
		Hooks: map[string]string{"switchover": rec, "cut": rec, "heal": rec, "stop": "exit 0", "start": rec}})
	if err != nil {
		t.Fatal(err)
	}
	hc, err := hb.Up(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Down(context.Background())
	x := hc.(*external.Cluster)
	if err := x.Switchover(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	if err := x.Cut(ctx, "primary", "replica1"); err != nil {
		t.Fatal(err)
	}
	if err := x.Start(ctx, "replica1"); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(envFile)
	got := string(raw)
	for _, want := range []string{
		"MINE=yes\nPGBHA_ACTION=switchover\nPGBHA_CANDIDATE=replica1\nPGBHA_CANDIDATE_MEMBER=pg-2\n",
		"PGBHA_ACTION=cut\nPGBHA_DSN=" + dsn("primary") + "\nPGBHA_FROM=primary\nPGBHA_FROM_MEMBER=pg-1\n",
		"PGBHA_MEMBER=pg-1\nPGBHA_NODE=primary\n", "PGBHA_TO=replica1\nPGBHA_TO_DSN=" + dsn("replica1") + "\n",
		"PGBHA_TO_MEMBER=pg-2\n", "PGBHA_ACTION=start\n", "PGBHA_MEMBER=pg-2\nPGBHA_NODE=replica1\nPGBHA_PORT=",
		"PGBHA_ROLE=replica\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("hook environment lacks %q:\n%s", want, got)
		}
	}
	pc, err := pgx.Connect(ctx, uc.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(context.Background())
	var n int
	if err := pc.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pgbench_ha_t'").Scan(&n); err != nil || n != 0 {
		t.Errorf("schema left: %d, %v", n, err)
	}
}
