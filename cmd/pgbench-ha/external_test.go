package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestRunExternal runs the CLI against a server the test starts apart,
// given only as a write endpoint (no node DSNs: it is the one node
// observed): a run without faults needs no --allow-disruption; a run
// with a kill is refused without it, and a fault no hook does is refused
// with what to give, both before anything is written; --backend external
// on a scenario not written for it is refused.
func TestRunExternal(t *testing.T) {
	b := localtest.Backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.Up(ctx, cluster.Spec{ID: "user", LogDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Down(context.Background())
	cfg, err := pgx.ParseConfig(c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPASSWORD", cfg.Password)
	section := fmt.Sprintf("external: {write: \"host=%s port=%d\", user: %s}\n", cfg.Host, cfg.Port, cfg.User)
	base := "name: cli-external\nduration: 3s\nbackend: external\nworkload: {writers: 2, rate: 200, initial_orders: 100}\n" + section

	out := t.TempDir()
	code, stdout, stderr := runCLI(ctx, "run", "--out", out, writeScenario(t, "plain", base))
	if code != ExitOK || !strings.Contains(stdout, "on external (PostgreSQL 15") {
		t.Fatalf("plain run: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res, err := result.Read(strings.TrimSpace(strings.TrimPrefix(lineWith(stdout, "result: "), "result: ")))
	if err != nil {
		t.Fatal(err)
	}
	if a := res.Variants[0].Summary.Audit; a == nil || a.Acked < 400 || a.Lost != 0 {
		t.Errorf("audit of the plain run: %+v", a)
	}

	for _, tc := range []struct{ name, yaml, args, want string }{
		{"a kill without --allow-disruption", base + "faults: [{at: 1s, kind: kill, node: primary}]\n", "",
			"this run would disrupt your cluster (kill primary): pass --allow-disruption to say it may"},
		{"a pause no hook does", base + "faults: [{at: 1s, kind: pause, node: primary, for: 1s}]\n", "--allow-disruption",
			"fault kind \"pause\" is not supported by the external backend"},
		{"a local scenario", "name: cli-local\nduration: 3s\n", "--backend=external",
			"--backend external needs a scenario written for it"},
		{"a prepare hook without --allow-disruption", strings.Replace(base, "user: ", "hooks: {prepare: 'true'}, user: ", 1), "",
			"this run would disrupt your cluster (run the prepare hook before each variant)"},
	} {
		out := t.TempDir()
		args := []string{"run", "--out", out}
		if tc.args != "" {
			args = append(args, tc.args)
		}
		code, _, stderr := runCLI(ctx, append(args, writeScenario(t, "bad", tc.yaml))...)
		if code != ExitInvalid || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, ExitInvalid, tc.want, stderr)
		}
		if tc.name == "a pause no hook does" && !strings.Contains(stderr, "pause: pause and resume") {
			t.Errorf("%s: no hint of the hooks:\n%s", tc.name, stderr)
		}
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Errorf("%s: results written: %v", tc.name, ents)
		}
	}
}

// lineWith is the first line of s that starts with prefix.
func lineWith(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}
