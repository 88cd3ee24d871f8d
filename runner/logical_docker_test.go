package runner_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/docker"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
	"github.com/pgbench-ha/pgbench-ha/runner"
)

// logicalDockerScenario: a synchronous replica and a logical subscriber
// on the docker backend, PostgreSQL 15 against 17 (one variant each);
// the primary killed at 4 s, replica1 promoted by the harness. The
// primary is declared dead after 2 s of failed probes: a busy machine
// (2 cores, other tests) can keep a live primary from answering the
// health probe for a second.
const logicalDockerScenario = `name: logical-docker
seed: 11
duration: 10s
backend: docker
topology:
  replicas: [{name: replica1, sync: true}]
  subscribers: [{name: sub1%s}]
workload:
  writers: 4
  rate: 300
  initial_orders: 500
faults:
  - {at: 4s, kind: kill, node: primary}
failover: {mode: promote, detect_after: 2s}
probes: {lag_interval: 100ms, audit_timeout: 20s}
matrix:
  topology.image: [%s, %s]
`

// readingBackend is the docker backend whose clusters, before they go
// down, read the order ids each subscriber holds: what the test counts
// the subscriber's missing acknowledged writes from, apart from the
// harness's audit.
type readingBackend struct {
	*docker.Backend
	mu   sync.Mutex
	held map[string]map[int64]bool // image -> ids on sub1
	errs []error
}

type readingCluster struct {
	*docker.Cluster
	b *readingBackend
}

func (b *readingBackend) Up(ctx context.Context, spec cluster.Spec) (cluster.Cluster, error) {
	c, err := b.Backend.Up(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &readingCluster{Cluster: c.(*docker.Cluster), b: b}, nil
}

func (c *readingCluster) Down(ctx context.Context) error {
	ids, err := subscriberIDs(ctx, c.ConnString("sub1", cluster.Admin))
	c.b.mu.Lock()
	if err != nil {
		c.b.errs = append(c.b.errs, fmt.Errorf("%s: %w", c.Image(), err))
	}
	c.b.held[c.Image()] = ids
	c.b.mu.Unlock()
	return c.Cluster.Down(ctx)
}

func subscriberIDs(ctx context.Context, dsn string) (map[int64]bool, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SELECT id FROM orders")
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	out := map[int64]bool{}
	for _, id := range ids {
		out[id] = true
	}
	return out, err
}

// dockerImages returns a docker backend with both local images probed,
// closed at the end of the test; skipped without docker or an image
// unless testgate.RequireDocker is set.
func dockerImages(t *testing.T) *docker.Backend {
	t.Helper()
	testgate.Integration(t)
	b, err := docker.New(docker.Options{Image: docker.LocalImage})
	if err == nil {
		if _, perr := b.ProbeImage(docker.LocalImage17); perr != nil {
			_ = b.Close()
			b, err = nil, perr
		}
	}
	if errors.Is(err, docker.ErrNoDocker) || errors.Is(err, docker.ErrNoImage) {
		testgate.Missing(t, testgate.RequireDocker, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		// Nothing of the run left: no container (subscribers included),
		// no network.
		for _, what := range [][]string{{"ps", "-a"}, {"network", "ls"}} {
			out, err := exec.Command("docker", append(what, "-q", "--filter", "label="+docker.LabelRun+"="+b.RunID())...).CombinedOutput()
			if err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("docker %s after Close: %s %v", strings.Join(what, " "), out, err)
			}
		}
	})
	return b
}

// TestLogicalFailoverSlotsOnDocker: the same scenario on PostgreSQL 15
// and 17 side by side. On 17 the subscription's slot is a failover slot,
// synchronized to replica1: once replica1 is promoted the harness
// re-points the subscription, it follows, and the subscriber misses no
// acknowledged order. On 15 the promoted standby has no slot: it cannot
// follow, and misses every order acknowledged after the promotion. Both
// counts are the audit's, and the test's own: the ledger's acknowledged
// ids (the run's history) absent from the subscriber's orders, read
// before the cluster went down.
func TestLogicalFailoverSlotsOnDocker(t *testing.T) {
	db := dockerImages(t)
	b := &readingBackend{Backend: db, held: map[string]map[int64]bool{}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := loadScenario(t, fmt.Sprintf(logicalDockerScenario, "", docker.LocalImage, docker.LocalImage17))
	start := time.Now()
	res, dir, err := runner.Run(ctx, runner.Options{Scenario: s, Backend: b, OutDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("two variants in %s", time.Since(start).Round(time.Second))
	if len(b.errs) > 0 {
		t.Fatalf("reading the subscribers: %v", b.errs)
	}
	for i, want := range []struct {
		image, major string
		follows      bool
	}{{docker.LocalImage, "15.", false}, {docker.LocalImage17, "17.", true}} {
		v := &res.Variants[i]
		t.Run(want.image, func(t *testing.T) {
			if v.Topology.Image != want.image || !strings.HasPrefix(v.Topology.PostgresVersion, want.major) {
				t.Fatalf("variant %s ran %s on %q", v.Name, v.Topology.PostgresVersion, v.Topology.Image)
			}
			f, a := v.Summary.Failover, v.Summary.Audit
			if f == nil || f.PromoteDoneMs == nil || f.NewPrimary != "replica1" || a == nil || len(a.Subscribers) != 1 || len(v.Summary.Subscribers) != 1 {
				t.Fatalf("failover %+v, audit %+v, subscribers %+v", f, a, v.Summary.Subscribers)
			}
			s, sa := v.Summary.Subscribers[0], a.Subscribers[0]
			t.Logf("PostgreSQL %s: failover slot %v, follows %+v; acked %d, missing %d (%d before the promotion, %d after), drained %v",
				v.Topology.PostgresVersion, s.FailoverSlot, s.Follows, sa.Acked, sa.Missing, deref64(sa.MissingBefore), deref64(sa.MissingAfter), sa.Drained)
			if s.FailoverSlot != want.follows || len(s.Follows) != 1 {
				t.Fatalf("failover slot %v, follows %+v", s.FailoverSlot, s.Follows)
			}
			fo := s.Follows[0]
			if fo.NewPrimary != "replica1" || fo.Followed != want.follows || fo.SlotThere != want.follows || sa.Followed == nil || *sa.Followed != want.follows {
				t.Errorf("follow %+v, the audit's followed %v: want followed %v", fo, sa.Followed, want.follows)
			}
			if !want.follows && !strings.Contains(fo.Error, "has no slot sub1") {
				t.Errorf("why it did not follow: %q", fo.Error)
			}
			// The test's own count: acknowledged ids absent on sub1.
			held, ok := b.held[want.image]
			if !ok {
				t.Fatal("sub1 was not read before the cluster went down")
			}
			missing, acked := 0, 0
			for _, r := range historyRows(t, dir, v)[1:] { // id,writer,node,scheduled_ms,sent_ms,done_ms,outcome
				if r[6] != "acked" {
					continue
				}
				acked++
				id, err := strconv.ParseInt(r[0], 10, 64)
				if err != nil {
					t.Fatalf("history id %q: %v", r[0], err)
				}
				if !held[id] {
					missing++
				}
			}
			if int64(acked) != sa.Acked || int64(missing) != sa.Missing || sa.Missing != deref64(sa.MissingBefore)+deref64(sa.MissingAfter) {
				t.Errorf("the audit: %d acked, %d missing (%d + %d); the subscriber read apart: %d acked, %d missing",
					sa.Acked, sa.Missing, deref64(sa.MissingBefore), deref64(sa.MissingAfter), acked, missing)
			}
			if want.follows {
				if sa.Missing != 0 || !sa.Drained {
					t.Errorf("with a failover slot sub1 misses %d acknowledged orders (drained %v); want none", sa.Missing, sa.Drained)
				}
			} else {
				after := acksIn(t, dir, v, *f.PromoteDoneMs, 1e12)
				if after == 0 || deref64(sa.MissingAfter) != int64(after) || sa.Drained {
					t.Errorf("without one: missing after the promotion %d, the ledger's acks after it %d, drained %v", deref64(sa.MissingAfter), after, sa.Drained)
				}
			}
			for _, ch := range v.Checks {
				switch {
				case ch.Passed:
				case strings.HasPrefix(ch.Name, "fault landed") && math.Abs(ch.Value) < 500:
					// As in TestRunKillPromote: its tolerance (a probe interval +
					// 20 ms) is for a machine that runs the harness
					// alone; under a test suite's load it may be missed
					// by tens of ms.
					t.Logf("self-check failed, by a margin load explains: %s: %s", ch.Name, ch.Message)
				default:
					t.Errorf("self-check failed: %s: %s", ch.Name, ch.Message)
				}
			}
		})
	}
	// Failover slots asked of a 15 server: refused before anything starts.
	bad := loadScenario(t, fmt.Sprintf(logicalDockerScenario, ", failover_slots: true", docker.LocalImage, docker.LocalImage17))
	err = runner.CheckServers(bad, b)
	if err == nil || !runner.IsScenarioProblem(err) || !strings.Contains(err.Error(), "scenario.yaml:7: topology.subscribers[0].failover_slots is true, but variant topology.image="+docker.LocalImage+" runs PostgreSQL 15.") {
		t.Errorf("failover slots on 15: %v", err)
	}
}
