package fault_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

func TestTerminateDecodes(t *testing.T) {
	t.Parallel()
	src := `name: t
duration: 10s
topology: {replicas: [{name: replica1}]}
faults:
  - {at: 1s, kind: terminate, node: primary, backends: walsender}
  - {at: 2s, kind: terminate, node: replica1, backends: writerz, for: 1s}
  - {at: 3s, kind: terminate, node: replica9, backends: readers}
`
	_, err := scenario.Parse("t.yaml", []byte(src))
	if err == nil {
		t.Fatal("Parse accepted a bad terminate")
	}
	want := []string{
		`t.yaml:6:71: faults[1].for: "for" does not apply to a terminate fault`,
		`t.yaml:6:57: faults[1].backends: "writerz" is not a valid backend to terminate (did you mean "writers"?); valid: writers, readers, controller, walsender, walreceiver`,
		`t.yaml:7:37: faults[2].node: no node named "replica9" (did you mean "replica1"?); nodes: primary, replica1`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("problems:\n%v\nlack:\n%s", err, w)
		}
	}
	s, err := scenario.Parse("t.yaml", []byte(strings.SplitAfter(src, "walsender}\n")[0]))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Faults[0].Spec, (fault.Terminate{Target: "primary", Backends: "walsender"}); got != want {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
	if d := s.Faults[0].Spec.Describe(); d != "terminate walsender on primary" {
		t.Errorf("Describe = %q", d)
	}
}

// TestTerminate ends a writer's connection on the primary, and a standby's
// walreceiver, on a real cluster: the writer's next query fails, the
// standby streams again.
func TestTerminate(t *testing.T) {
	c := localtest.Cluster3(t, "terminate")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	env := fault.Env{Cluster: c, Roles: cluster.NewRoles("primary", []string{"replica1", "replica2"}), ID: "f0"}

	cfg, err := pgx.ParseConfig(c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "pgbench-ha-writer"
	w, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if _, err := (fault.Terminate{Target: "primary", Backends: "writers"}).Inject(ctx, env); err != nil {
		t.Fatalf("terminate writers: %v", err)
	}
	if _, err := w.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("the writer's connection still answers after terminate writers")
	}
	// Nothing left to terminate: said so, not silently done.
	if _, err := (fault.Terminate{Target: "primary", Backends: "readers"}).Inject(ctx, env); err == nil || !strings.Contains(err.Error(), "no such backend") {
		t.Errorf("terminate readers with none connected = %v, want 'no such backend'", err)
	}

	admin, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	pidOf := func() (pid int) {
		_ = admin.QueryRow(ctx, "SELECT pid FROM pg_stat_replication WHERE application_name = 'replica1' AND state = 'streaming'").Scan(&pid)
		return pid
	}
	before := pidOf()
	if before == 0 {
		t.Fatal("replica1 is not streaming")
	}
	if _, err := (fault.Terminate{Target: "replica1", Backends: "walreceiver"}).Inject(ctx, env); err != nil {
		t.Fatalf("terminate walreceiver: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if after := pidOf(); after != 0 && after != before {
			t.Logf("replica1 streams again through a new walsender (pid %d, was %d)", after, before)
			break
		}
		if time.Now().After(deadline) {
			var vals string
			_ = admin.QueryRow(ctx, "SELECT coalesce(string_agg(pid || ' ' || application_name || ' ' || state, '; '), 'none') FROM pg_stat_replication").Scan(&vals)
			t.Fatalf("replica1 did not stream again within 30 s of its walreceiver's end (was pid %d); pg_stat_replication: %v", before, vals)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
