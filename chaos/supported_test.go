package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// fakeBackend is a Backend, and with abilities an Able one.
type fakeBackend struct{ name string }

func (b fakeBackend) Name() string          { return b.name }
func (b fakeBackend) ServerVersion() string { return "15" }
func (b fakeBackend) Up(context.Context, cluster.Spec) (cluster.Cluster, error) {
	return nil, errors.New("not here")
}
func (b fakeBackend) Close() error { return nil }

type ableBackend struct {
	fakeBackend
	a cluster.Abilities
}

func (b ableBackend) Abilities() cluster.Abilities { return b.a }

// TestSupportedBackend: chaos.Supported checks a scenario's faults against
// what the backend says it can do (fault.Supported, tested in package
// fault), naming the file and each fault's line.
func TestSupportedBackend(t *testing.T) {
	t.Parallel()
	faults := []scenario.Fault{
		{Spec: fault.Kill{Target: "primary"}, Line: 7},
		{Spec: fault.Partition{Sides: [][]string{{"primary"}, {"replica1"}}}, Line: 12},
		{Spec: fault.Pause{Target: "replica1"}, Line: 15},
		{Spec: fault.Latency{From: []string{"replica1"}, To: []string{"primary"}}, Line: 21},
	}
	t.Run("all supported", func(t *testing.T) {
		b := ableBackend{fakeBackend{"full"}, cluster.Abilities{Kill: true, Stop: true, Pause: true, Links: true, NodeCuts: true}}
		if err := chaos.Supported("s.yaml", b, faults); err != nil {
			t.Errorf("Supported = %v, want nil", err)
		}
		if err := chaos.Supported("s.yaml", b, nil); err != nil {
			t.Errorf("Supported of no faults = %v, want nil", err)
		}
	})
	t.Run("some kinds unsupported", func(t *testing.T) {
		b := ableBackend{fakeBackend{"partial"}, cluster.Abilities{Kill: true, Pause: true}}
		err := chaos.Supported("s.yaml", b, faults)
		if err == nil {
			t.Fatal("Supported = nil with partition and latency unsupported")
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != 2 {
			t.Fatalf("want one line per unsupported fault, got:\n%v", err)
		}
		for i, want := range []string{`s.yaml:12: fault kind "partition"`, `s.yaml:21: fault kind "latency"`} {
			if !strings.HasPrefix(lines[i], want) {
				t.Errorf("line %d = %q, want it to start with %q", i, lines[i], want)
			}
			if !strings.Contains(lines[i], "partial backend") || !strings.Contains(lines[i], "kill, pause") {
				t.Errorf("line %d = %q, want the backend's name and what it supports", i, lines[i])
			}
		}
	})
	t.Run("a backend that says nothing of its abilities supports none", func(t *testing.T) {
		err := chaos.Supported("s.yaml", fakeBackend{"bare"}, faults)
		if err == nil {
			t.Fatal("Supported = nil for a backend that is not Able")
		}
		for _, f := range faults {
			if want := fmt.Sprintf("s.yaml:%d: fault kind %q", f.Line, f.Kind()); !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s:\n%v", want, err)
			}
		}
	})
}

// cutCluster is a cluster that can only cut links between nodes.
type cutCluster struct {
	mu    sync.Mutex
	cuts  []string
	heals int
}

func (c *cutCluster) Nodes() []cluster.Node {
	return []cluster.Node{{Name: "primary"}, {Name: "replica1"}, {Name: "replica2"}}
}
func (c *cutCluster) ConnString(string, cluster.User) string { return "" }
func (c *cutCluster) PrimaryConnInfo(string, string) string  { return "" }
func (c *cutCluster) Down(context.Context) error             { return nil }
func (c *cutCluster) Cut(_ context.Context, from, to string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cuts = append(c.cuts, from+">"+to)
	return nil
}
func (c *cutCluster) Heal(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cuts = nil
	c.heals++
	return nil
}

func TestTimelineNodeCuts(t *testing.T) {
	t.Parallel()
	c := &cutCluster{}
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	var mu sync.Mutex
	var events []string
	emit := func(e result.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, fmt.Sprintf("%s %s %s", e.Kind, e.Node, e.Detail))
	}
	faults := []scenario.Fault{
		{Spec: fault.Partition{From: []string{"primary"}, To: []string{"replica2"}}},
		{Spec: fault.Isolate{Target: "replica1", With: []string{"readers"}}, At: scenario.Duration(time.Millisecond)},
	}
	tl := chaos.New(c, roles, faults, time.Now(), emit)
	tl.Run(context.Background())
	c.mu.Lock()
	if got := strings.Join(c.cuts, " "); got != "primary>replica2" {
		t.Errorf("cuts = %q, want primary>replica2", got)
	}
	c.mu.Unlock()
	if err := tl.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(c.cuts) != 0 || c.heals != 1 {
		t.Errorf("after HealAll: cuts %v, heals %d", c.cuts, c.heals)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{
		"fault primary->replica2 partition primary -/-> replica2",
		"error replica1 isolate replica1 with readers: the backend cannot cut the links of client groups (readers)",
		"heal primary->replica2 partition primary -/-> replica2",
	}
	if !slices.Equal(events, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(events, "\n"), strings.Join(want, "\n"))
	}
}
