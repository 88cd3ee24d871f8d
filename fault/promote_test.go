package fault_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

func TestPromoteDecodes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"none", "external"} {
		src := "name: t\nduration: 10s\nfailover: {mode: " + mode + "}\ntopology: {replicas: [{name: replica1}]}\nfaults:\n  - {at: 1s, kind: promote, node: replica1}\n"
		s, err := scenario.Parse("t.yaml", []byte(src))
		if err != nil {
			t.Fatalf("failover.mode %s: %v", mode, err)
		}
		f := s.Faults[0].Spec
		if got, want := f, (fault.Promote{Target: "replica1"}); got != want {
			t.Errorf("decoded %+v, want %+v", got, want)
		}
		if d := f.Describe(); d != "promote replica1" {
			t.Errorf("Describe = %q", d)
		}
		if f.Lasting() || f.Node() != "replica1" {
			t.Errorf("Lasting %v, Node %q: want one act on replica1", f.Lasting(), f.Node())
		}
	}
	k, ok := fault.Lookup("promote")
	if !ok || !k.Once {
		t.Fatalf("kind %+v: want a one-act kind", k)
	}
	// SQL alone: a backend with no abilities runs it.
	if !slices.Contains(fault.Runnable(cluster.Abilities{}), "promote") {
		t.Errorf("a backend with no abilities cannot run promote: %v", fault.Runnable(cluster.Abilities{}))
	}
	if _, ok := any(fault.Promote{}).(fault.Effecter); !ok {
		t.Error("promote does not wait for its effect")
	}
}

// promoter is a cluster with a promote hook of its own; any other use of
// the cluster panics (nil Cluster).
type promoter struct {
	cluster.Cluster
	asked []string
	err   error
}

func (p *promoter) Promote(_ context.Context, node string) error {
	p.asked = append(p.asked, node)
	return p.err
}

// TestPromoteHook: a cluster that promotes its own way is asked, and its
// error is the fault's.
func TestPromoteHook(t *testing.T) {
	t.Parallel()
	p := &promoter{}
	if _, err := (fault.Promote{Target: "replica2"}).Inject(context.Background(), fault.Env{Cluster: p}); err != nil {
		t.Fatal(err)
	}
	p.err = errors.New("hook exited 1")
	_, err := (fault.Promote{Target: "replica1"}).Inject(context.Background(), fault.Env{Cluster: p})
	if err == nil || !strings.Contains(err.Error(), "promote replica1: hook exited 1") {
		t.Errorf("Inject with a failing hook = %v", err)
	}
	if !slices.Equal(p.asked, []string{"replica2", "replica1"}) {
		t.Errorf("hook asked to promote %q", p.asked)
	}
}

// TestPromote promotes a real standby by SQL: it becomes writable, the
// fault sees it take effect, and the roles name it primary.
func TestPromote(t *testing.T) {
	c := localtest.Cluster2(t, "promote")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	roles := cluster.NewRoles("primary", []string{"replica1"})
	env := fault.Env{Cluster: c, Roles: roles, ID: "f0"}
	f := fault.Promote{Target: "replica1"}
	start := time.Now()
	heal, err := f.Inject(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if heal.Do != nil {
		t.Error("a promotion has a heal")
	}
	if err := f.TookEffect(ctx, env); err != nil {
		t.Fatal(err)
	}
	t.Logf("replica1 writable %s after the promote", time.Since(start).Round(time.Millisecond))
	r1, err := pgx.Connect(ctx, c.ConnString("replica1", cluster.Admin))
	if err != nil {
		t.Fatal(cluster.Redact(err.Error()))
	}
	defer r1.Close(context.Background())
	var inRecovery bool
	if err := r1.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
		t.Fatal(err)
	}
	if inRecovery {
		t.Error("replica1 is in recovery after the promote took effect")
	}
	if _, err := r1.Exec(ctx, "CREATE TABLE promoted (id int)"); err != nil {
		t.Errorf("replica1 does not take a write: %v", err)
	}
	if p := roles.Primary(); p != "replica1" || roles.IsDown("replica1") {
		t.Errorf("roles: primary %q, replica1 down %v; want replica1, up", p, roles.IsDown("replica1"))
	}
	// Seen again (the observer of an outside manager): nothing changes.
	if err := f.TookEffect(ctx, env); err != nil || roles.Primary() != "replica1" || roles.IsDown("replica1") {
		t.Errorf("TookEffect again: %v; primary %q, replica1 down %v", err, roles.Primary(), roles.IsDown("replica1"))
	}
	// A node out of recovery cannot be promoted: the fault fails.
	if _, err := f.Inject(ctx, env); err == nil || !strings.Contains(err.Error(), "recovery is not in progress") {
		t.Errorf("promote of a primary = %v, want PostgreSQL's refusal", err)
	}
}
