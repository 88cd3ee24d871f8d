package chaos_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// nodeOnlyBackend cuts links between nodes only, like docker.
type nodeOnlyBackend struct{ fakeFaultBackend }

// linkBackend has client links, like local.
type linkBackend struct{ fakeFaultBackend }

func (linkBackend) ClientLinks() bool { return true }

func TestSupportedClientGroups(t *testing.T) {
	t.Parallel()
	faults := []scenario.Fault{
		{Kind: scenario.FaultIsolate, Node: "replica2", Line: 5},
		{Kind: scenario.FaultIsolate, Node: "primary", With: []string{"writers", "controller"}, Line: 8},
		{Kind: scenario.FaultPartition, Sides: [][]string{{"primary"}, {"replica1", "replica2"}}, Line: 11},
		{Kind: scenario.FaultPartition, Sides: [][]string{{"primary", "writers"}, {"replica1", "readers"}}, Line: 14},
		{Kind: scenario.FaultPartition, From: []string{"primary"}, To: []string{"replica2"}, Line: 17},
		{Kind: scenario.FaultPartition, From: []string{"controller"}, To: []string{"primary"}, Line: 20},
		{Kind: scenario.FaultLatency, From: []string{"replica1"}, To: []string{"primary"}, Line: 23},
		{Kind: scenario.FaultReset, Node: "primary", Line: 26},
	}
	docker := nodeOnlyBackend{fakeFaultBackend{fakeBackend{"docker"}, []string{"kill", "stop", "restart", "pause", "isolate", "partition"}}}
	err := chaos.Supported("s.yaml", docker, faults)
	if err == nil {
		t.Fatal("Supported = nil on a node-only backend with client groups and latency")
	}
	t.Log(err)
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`s.yaml:8: isolate with client groups (writers, controller) is not supported by the docker backend: it cuts links between nodes only; client groups on a side need the local backend`,
		`s.yaml:14: partition naming client groups (writers, readers) is not supported by the docker backend: it cuts links between nodes only; client groups on a side need the local backend`,
		`s.yaml:20: partition naming client groups (controller) is not supported by the docker backend: it cuts links between nodes only; client groups on a side need the local backend`,
		`s.yaml:23: fault kind "latency" is not supported by the docker backend (it supports: kill, stop, restart, pause, isolate, partition); latency, bandwidth and reset act on per-link proxies and are supported by the local backend only`,
		`s.yaml:26: fault kind "reset" is not supported by the docker backend (it supports: kill, stop, restart, pause, isolate, partition); latency, bandwidth and reset act on per-link proxies and are supported by the local backend only`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("Supported:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}

	local := linkBackend{fakeFaultBackend{fakeBackend{"local"}, scenario.FaultKinds}}
	if err := chaos.Supported("s.yaml", local, faults); err != nil {
		t.Errorf("Supported on a backend with client links = %v, want nil", err)
	}
	partial := linkBackend{fakeFaultBackend{fakeBackend{"partial"}, []string{"kill"}}}
	err = chaos.Supported("s.yaml", partial, faults[6:7])
	if err == nil || strings.Contains(err.Error(), "local backend only") {
		t.Errorf("Supported on a backend with client links but no latency = %v, want the plain message", err)
	}
}

func TestNodeCuts(t *testing.T) {
	t.Parallel()
	nodes := []string{"primary", "replica1", "replica2"}
	for _, tc := range []struct {
		f    scenario.Fault
		want string
	}{
		{scenario.Fault{Kind: scenario.FaultIsolate, Node: "replica2"},
			"replica2>primary primary>replica2 replica2>replica1 replica1>replica2"},
		{scenario.Fault{Kind: scenario.FaultPartition, Sides: [][]string{{"primary"}, {"replica1", "replica2"}}},
			"primary>replica1 primary>replica2 replica1>primary replica2>primary"},
		{scenario.Fault{Kind: scenario.FaultPartition, From: []string{"primary"}, To: []string{"replica1", "replica2"}},
			"primary>replica1 primary>replica2"},
		{scenario.Fault{Kind: scenario.FaultIsolate, Node: "nobody"}, ""},
	} {
		var got []string
		for _, c := range chaos.NodeCuts(tc.f, nodes) {
			got = append(got, c[0]+">"+c[1])
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("NodeCuts(%s) = %q, want %q", chaos.Describe(tc.f), g, tc.want)
		}
	}
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
		{Kind: scenario.FaultPartition, From: []string{"primary"}, To: []string{"replica2"}},
		{Kind: scenario.FaultIsolate, Node: "replica1", With: []string{"readers"}, At: scenario.Duration(time.Millisecond)},
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
