package audit_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/audit"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

func appDSN(t *testing.T, c cluster.Cluster) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	pw := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(cfg.Password)
	return fmt.Sprintf("%s user=%s password='%s' dbname=%s sslmode=disable", cluster.MultiHost(c.Nodes()), cfg.User, pw, cfg.Database)
}

// pickAcked chooses n acknowledged ids spread over the run, ascending.
func pickAcked(t *testing.T, led *workload.Ledger, n int) []int64 {
	t.Helper()
	var acked []int64
	for i, e := range led.Snapshot() {
		if e.Outcome == workload.Acked {
			acked = append(acked, led.FirstID()+int64(i))
		}
	}
	if len(acked) < 10*n {
		t.Fatalf("only %d acknowledged writes", len(acked))
	}
	out := make([]int64, n)
	for k := range out {
		out[k] = acked[(k+1)*len(acked)/(n+2)]
	}
	return out
}

func checkNodes(t *testing.T, a *result.Audit, missing []int64) {
	t.Helper()
	names := []string{}
	for _, n := range a.Nodes {
		names = append(names, n.Node)
	}
	if !reflect.DeepEqual(names, []string{"primary", "replica1", "replica2"}) {
		t.Fatalf("audited nodes %q, want primary, replica1, replica2", names)
	}
	if a.Nodes[0].Role != "primary" || a.Nodes[1].Role != "replica" || a.Nodes[2].Role != "replica" {
		t.Errorf("roles %+v", a.Nodes)
	}
	for _, n := range a.Nodes {
		if !n.CaughtUp {
			t.Errorf("%s did not catch up", n.Node)
		}
		if n.Missing != int64(len(missing)) || !reflect.DeepEqual(n.MissingIDs, missing) {
			t.Errorf("%s: missing %d %v, want %d %v", n.Node, n.Missing, n.MissingIDs, len(missing), missing)
		}
		if want := a.Acked - int64(len(missing)); n.Rows != want {
			t.Errorf("%s: %d rows, want %d (acked %d minus %d deleted)", n.Node, n.Rows, want, a.Acked, len(missing))
		}
	}
}

// TestAuditFindsDeletedAckedWrites runs a short workload without a fault,
// then removes acknowledged rows behind the workload's back: the audit
// must name exactly those as lost, on the primary and on every replica.
func TestAuditFindsDeletedAckedWrites(t *testing.T) {
	c := localtest.Cluster3(t, "audit")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	const seed = 3
	app, err := pgx.Connect(ctx, c.ConnString("primary", cluster.App))
	if err != nil {
		t.Fatal(err)
	}
	firstID, err := workload.Prepare(ctx, app, seed, 200)
	app.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	led := workload.NewLedger(firstID)
	st, err := workload.Run(ctx, workload.Config{
		DSN: appDSN(t, c), Writers: 4, Rate: func(time.Duration) float64 { return 300 }, Poisson: true,
		Seed: seed, Ledger: led, Start: time.Now(), Duration: 2 * time.Second, Grace: 2 * time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without a fault every write is acknowledged.
	if f, u, p := led.Count(workload.Failed), led.Count(workload.Unknown), led.Count(workload.Pending); f+u+p != 0 {
		t.Fatalf("no fault, yet %d failed, %d unknown, %d pending writes (skipped %d, not sent %d)", f, u, p, st.Skipped, st.NotSent)
	}
	acked := led.Count(workload.Acked)
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	cfg := audit.Config{Timeout: 20 * time.Second}

	admin, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)

	t.Run("nothing deleted", func(t *testing.T) {
		a, err := audit.Run(ctx, c, roles, led, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if a.FinalPrimary != "primary" || a.Acked != acked || a.Lost != 0 || len(a.LostIDs) != 0 ||
			a.Ghosts != 0 || a.Foreign != 0 {
			t.Errorf("audit = %+v, want %d acked and nothing lost, ghost or foreign", a, acked)
		}
		checkNodes(t, a, []int64{})
	})

	deleted := pickAcked(t, led, 7)
	t.Run("seven acked rows deleted", func(t *testing.T) {
		tag, err := admin.Exec(ctx, "DELETE FROM orders WHERE id = ANY($1)", deleted)
		if err != nil || tag.RowsAffected() != 7 {
			t.Fatalf("delete %v: %v rows, %v", deleted, tag.RowsAffected(), err)
		}
		a, err := audit.Run(ctx, c, roles, led, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if a.Lost != 7 || !reflect.DeepEqual(a.LostIDs, deleted) {
			t.Errorf("lost %d %v, want 7 %v", a.Lost, a.LostIDs, deleted)
		}
		if len(a.LostAckMs) != len(a.LostIDs) {
			t.Fatalf("%d ack times for %d lost ids", len(a.LostAckMs), len(a.LostIDs))
		}
		for i, id := range a.LostIDs {
			e, _ := led.Get(id)
			if want := float64(e.At.Microseconds()) / 1000; a.LostAckMs[i] != want {
				t.Errorf("lost id %d acked at %v ms, the ledger says %v ms", id, a.LostAckMs[i], want)
			}
		}
		if a.Acked != acked || a.Ghosts != 0 || a.Foreign != 0 {
			t.Errorf("acked %d ghosts %d foreign %d, want %d 0 0", a.Acked, a.Ghosts, a.Foreign, acked)
		}
		// The replicas replayed the delete before being read.
		checkNodes(t, a, deleted)
	})

	t.Run("a row nobody wrote", func(t *testing.T) {
		o := workload.OrderFor(seed, firstID+led.Len()+1000)
		if _, err := admin.Exec(ctx, workload.InsertSQL, o.ID, o.CustomerID, o.SKU, o.Qty, o.AmountCents); err != nil {
			t.Fatal(err)
		}
		a, err := audit.Run(ctx, c, roles, led, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if a.Foreign != 1 || a.Lost != 7 || a.Ghosts != 0 {
			t.Errorf("foreign %d lost %d ghosts %d, want 1 7 0", a.Foreign, a.Lost, a.Ghosts)
		}
	})

	t.Run("a dead replica is not a survivor", func(t *testing.T) {
		if err := c.(cluster.Killer).Kill(ctx, "replica2"); err != nil {
			t.Fatal(err)
		}
		// The roles still list replica2: the audit finds out itself.
		a, err := audit.Run(ctx, c, roles, led, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range a.Nodes {
			names = append(names, n.Node)
		}
		if !reflect.DeepEqual(names, []string{"primary", "replica1"}) || a.Lost != 7 {
			t.Errorf("audited %q, lost %d; want primary, replica1 and 7", names, a.Lost)
		}
	})

	t.Run("final primary dead", func(t *testing.T) {
		if err := c.(cluster.Killer).Kill(ctx, "primary"); err != nil {
			t.Fatal(err)
		}
		a, err := audit.Run(ctx, c, roles, led, cfg)
		if !errors.Is(err, audit.ErrNoPrimary) || !strings.Contains(err.Error(), "no primary at the end: nodes primary, replica2 down; replica1 is a standby") {
			t.Errorf("audit with a dead final primary = %+v, %v; want no primary at the end, naming who is down", a, err)
		}
	})
}
