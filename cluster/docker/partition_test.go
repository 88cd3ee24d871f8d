package docker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/clustertest"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// parseLSN turns "X/Y" into a number.
func parseLSN(t *testing.T, s string) uint64 {
	t.Helper()
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("bad LSN %q", s)
	}
	return h<<32 | l
}

func queryLSN(t *testing.T, ctx context.Context, conn *pgx.Conn, q string) uint64 {
	t.Helper()
	var s string
	if err := conn.QueryRow(ctx, q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return parseLSN(t, s)
}

// TestNodePartition isolates the asynchronous replica, then cuts the
// primary's data to it one way, each for 1.5 s through a chaos timeline:
// the replica's replay stays put while the primary writes, and catches up
// after the heal. The harness still reaches every node (its connections
// come from the host through published ports, which the cuts do not see).
func TestNodePartition(t *testing.T) {
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := clustertest.Spec(t.TempDir())
	spec.Network = true // what the runner asks for when a scenario has network faults
	start := time.Now()
	cl, err := b.Up(ctx, spec)
	if err != nil {
		t.Fatalf("up: %s", cluster.Redact(err.Error()))
	}
	defer cl.Down(context.Background())
	t.Logf("bring-up %s", time.Since(start).Round(time.Millisecond))
	c := cl.(*Cluster)
	connect := func(node string) *pgx.Conn {
		conn, err := pgx.Connect(ctx, c.ConnString(node, cluster.Admin))
		if err != nil {
			t.Fatalf("connect %s: %s", node, cluster.Redact(err.Error()))
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	primary, replica2 := connect(clustertest.Primary), connect(clustertest.Replica2)
	if _, err := primary.Exec(ctx, "CREATE TABLE t (n int)"); err != nil {
		t.Fatal(err)
	}
	const (
		currentLSN = "SELECT pg_current_wal_lsn()::text"
		replayLSN  = "SELECT pg_last_wal_replay_lsn()::text"
	)
	for _, f := range []scenario.Fault{
		{Spec: fault.Isolate{Target: clustertest.Replica2}},
		{Spec: fault.Partition{From: []string{clustertest.Primary}, To: []string{clustertest.Replica2}}},
	} {
		// Cuts go through docker exec, about 1 s under load: the window
		// leaves time to write after the injection returned.
		f.For = scenario.Duration(3 * time.Second)
		t.Run(f.Kind(), func(t *testing.T) {
			var mu sync.Mutex
			var events []string
			emit := func(e result.Event) {
				mu.Lock()
				defer mu.Unlock()
				events = append(events, fmt.Sprintf("%.0fms %s %s", e.Ms, e.Kind, e.Detail))
				if e.Kind == "error" {
					t.Errorf("timeline: %s", e.Detail)
				}
			}
			roles := cluster.NewRoles(clustertest.Primary, []string{clustertest.Replica1, clustertest.Replica2})
			t0 := time.Now()
			tl := chaos.New(c, roles, []scenario.Fault{f}, t0, emit)
			ran := make(chan struct{})
			go func() { defer close(ran); tl.Run(ctx) }()
			defer tl.HealAll(context.Background())
			for tl.Faults()[0].InjectedMs == nil {
				time.Sleep(10 * time.Millisecond)
			}
			injected := time.Since(t0)
			time.Sleep(200 * time.Millisecond) // what was in flight
			before := queryLSN(t, ctx, replica2, replayLSN)
			for n := 0; time.Since(t0) < injected+900*time.Millisecond; n++ {
				if _, err := primary.Exec(ctx, "INSERT INTO t SELECT generate_series(1, 1000)"); err != nil {
					t.Fatalf("write during %s: %v", f.Spec.Describe(), err)
				}
			}
			wrote := queryLSN(t, ctx, primary, currentLSN)
			during := queryLSN(t, ctx, replica2, replayLSN)
			if time.Since(t0) >= f.For.D() {
				t.Fatalf("checked after the heal (%s): too slow to tell", time.Since(t0))
			}
			if during != before || wrote <= before {
				t.Errorf("during %s: replica2 replayed %X -> %X, primary at %X; want replica2 to stay put", f.Spec.Describe(), before, during, wrote)
			}
			<-ran
			healed := time.Since(t0)
			for {
				got := queryLSN(t, ctx, replica2, replayLSN)
				if got >= wrote {
					break
				}
				if time.Since(t0) > 20*time.Second {
					t.Fatalf("replica2 did not catch up after the heal: at %X, primary wrote %X", got, wrote)
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("%s: injected at %s, replica2 held at %X while the primary reached %X, healed at %s, caught up at %s",
				f.Spec.Describe(), injected.Round(time.Millisecond), before, wrote, healed.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
			mu.Lock()
			t.Logf("events: %s", strings.Join(events, "; "))
			mu.Unlock()
			c.mu.Lock()
			left := len(c.cuts)
			c.mu.Unlock()
			if left != 0 {
				t.Errorf("%d cuts left after the heal", left)
			}
		})
	}
}
