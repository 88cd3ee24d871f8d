package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// testLinks is what a local cluster of primary, replica1, replica2 with
// the three client groups lists: every ordered pair of nodes, then every
// client group to every node.
func testLinks() [][2]string {
	nodes := []string{"primary", "replica1", "replica2"}
	var links [][2]string
	for _, from := range append(append([]string(nil), nodes...), scenario.ClientNames...) {
		for _, to := range nodes {
			if from != to {
				links = append(links, [2]string{from, to})
			}
		}
	}
	return links
}

// toxicKey is a toxic as the tests compare it: the link, the direction
// and what it does, without its generated name.
func toxicKey(lt chaos.LinkToxic) string {
	s := fmt.Sprintf("%s->%s %s %s", lt.From, lt.To, lt.Toxic.Direction, lt.Toxic.Kind)
	if lt.Toxic.Latency != 0 || lt.Toxic.Jitter != 0 {
		s += fmt.Sprintf(" %v±%v", lt.Toxic.Latency, lt.Toxic.Jitter)
	}
	if lt.Toxic.RateKBps != 0 {
		s += fmt.Sprintf(" %dKB/s", lt.Toxic.RateKBps)
	}
	return s
}

// both is the two toxic keys of a link cut both ways.
func both(from, to, kind string) []string {
	return []string{
		fmt.Sprintf("%s->%s %s %s", from, to, cluster.Upstream, kind),
		fmt.Sprintf("%s->%s %s %s", from, to, cluster.Downstream, kind),
	}
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func TestToxics(t *testing.T) {
	t.Parallel()
	const bh, lat, bw, rst = cluster.ToxicBlackhole, cluster.ToxicLatency, cluster.ToxicBandwidth, cluster.ToxicReset
	up, down := cluster.Upstream, cluster.Downstream
	ms20 := scenario.Duration(20 * time.Millisecond)
	ms5 := scenario.Duration(5 * time.Millisecond)
	cases := []struct {
		name  string
		fault scenario.Fault
		want  []string
	}{
		{
			name:  "isolate cuts every link of the node both ways",
			fault: scenario.Fault{Kind: scenario.FaultIsolate, Node: "replica2"},
			want: concat(
				both("primary", "replica2", bh), both("replica1", "replica2", bh),
				both("replica2", "primary", bh), both("replica2", "replica1", bh),
				both("writers", "replica2", bh), both("readers", "replica2", bh), both("controller", "replica2", bh),
			),
		},
		{
			name:  "isolate with a client group keeps that group's link",
			fault: scenario.Fault{Kind: scenario.FaultIsolate, Node: "primary", With: []string{"writers"}},
			want: concat(
				both("primary", "replica1", bh), both("primary", "replica2", bh),
				both("replica1", "primary", bh), both("replica2", "primary", bh),
				both("readers", "primary", bh), both("controller", "primary", bh),
			),
		},
		{
			name: "partition sides cut the links between sides, both ways, and nothing on no side",
			fault: scenario.Fault{Kind: scenario.FaultPartition,
				Sides: [][]string{{"primary", "writers"}, {"replica1", "replica2", "controller"}}},
			want: concat(
				both("primary", "replica1", bh), both("primary", "replica2", bh),
				both("replica1", "primary", bh), both("replica2", "primary", bh),
				both("writers", "replica1", bh), both("writers", "replica2", bh),
				both("controller", "primary", bh),
			),
		},
		{
			name:  "one-way partition: upstream on links From->To, downstream on links To->From",
			fault: scenario.Fault{Kind: scenario.FaultPartition, From: []string{"primary"}, To: []string{"replica2"}},
			want: []string{
				"primary->replica2 " + up + " " + bh,
				"replica2->primary " + down + " " + bh,
			},
		},
		{
			name: "one-way partition from a client group",
			fault: scenario.Fault{Kind: scenario.FaultPartition,
				From: []string{"writers"}, To: []string{"primary", "replica1"}},
			want: []string{
				"writers->primary " + up + " " + bh,
				"writers->replica1 " + up + " " + bh,
			},
		},
		{
			name:  "latency both ways by default",
			fault: scenario.Fault{Kind: scenario.FaultLatency, From: []string{"replica1"}, To: []string{"primary"}, Latency: ms20, Jitter: ms5},
			want: []string{
				"replica1->primary " + up + " " + lat + " 20ms±5ms",
				"replica1->primary " + down + " " + lat + " 20ms±5ms",
			},
		},
		{
			name: "latency both",
			fault: scenario.Fault{Kind: scenario.FaultLatency, From: []string{"replica1"}, To: []string{"primary"},
				Latency: ms20, Direction: scenario.DirectionBoth},
			want: []string{
				"replica1->primary " + up + " " + lat + " 20ms±0s",
				"replica1->primary " + down + " " + lat + " 20ms±0s",
			},
		},
		{
			name: "latency upstream",
			fault: scenario.Fault{Kind: scenario.FaultLatency, From: []string{"replica1"}, To: []string{"primary"},
				Latency: ms20, Direction: scenario.DirectionUpstream},
			want: []string{"replica1->primary " + up + " " + lat + " 20ms±0s"},
		},
		{
			name: "latency downstream on several links",
			fault: scenario.Fault{Kind: scenario.FaultLatency, From: []string{"replica1", "replica2"}, To: []string{"primary"},
				Latency: ms20, Direction: scenario.DirectionDownstream},
			want: []string{
				"replica1->primary " + down + " " + lat + " 20ms±0s",
				"replica2->primary " + down + " " + lat + " 20ms±0s",
			},
		},
		{
			name: "bandwidth downstream",
			fault: scenario.Fault{Kind: scenario.FaultBandwidth, From: []string{"replica2"}, To: []string{"primary"},
				RateKBps: 64, Direction: scenario.DirectionDownstream},
			want: []string{"replica2->primary " + down + " " + bw + " 64KB/s"},
		},
		{
			name:  "bandwidth both ways by default",
			fault: scenario.Fault{Kind: scenario.FaultBandwidth, From: []string{"readers"}, To: []string{"replica1"}, RateKBps: 8},
			want: []string{
				"readers->replica1 " + up + " " + bw + " 8KB/s",
				"readers->replica1 " + down + " " + bw + " 8KB/s",
			},
		},
		{
			name:  "reset of a node resets every link into it",
			fault: scenario.Fault{Kind: scenario.FaultReset, Node: "replica2"},
			want: []string{
				"primary->replica2 " + up + " " + rst,
				"replica1->replica2 " + up + " " + rst,
				"writers->replica2 " + up + " " + rst,
				"readers->replica2 " + up + " " + rst,
				"controller->replica2 " + up + " " + rst,
			},
		},
		{
			name:  "reset of a link",
			fault: scenario.Fault{Kind: scenario.FaultReset, From: []string{"writers"}, To: []string{"primary"}},
			want:  []string{"writers->primary " + up + " " + rst},
		},
		{
			name:  "a node fault has no toxics",
			fault: scenario.Fault{Kind: scenario.FaultPause, Node: "replica1"},
		},
		{
			name:  "no links, no toxics",
			fault: scenario.Fault{Kind: scenario.FaultIsolate, Node: "nobody"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := chaos.Toxics(tc.fault, testLinks())
			var keys []string
			names := map[string]bool{}
			for _, lt := range got {
				keys = append(keys, toxicKey(lt))
				if lt.Toxic.Name == "" {
					t.Errorf("%s: no name", toxicKey(lt))
				}
				if names[lt.From+"->"+lt.To+" "+lt.Toxic.Name] {
					t.Errorf("%s: name %q twice on one link", toxicKey(lt), lt.Toxic.Name)
				}
				names[lt.From+"->"+lt.To+" "+lt.Toxic.Name] = true
			}
			want := append([]string(nil), tc.want...)
			sort.Strings(keys)
			sort.Strings(want)
			if !slices.Equal(keys, want) {
				t.Errorf("Toxics(%s):\n got  %s\n want %s", chaos.Describe(tc.fault),
					strings.Join(keys, "\n      "), strings.Join(want, "\n      "))
			}
		})
	}
}

// TestToxicNamesUnique: two faults on the same link at once get toxics of
// different names, or the second AddToxic would be refused.
func TestToxicNamesUnique(t *testing.T) {
	t.Parallel()
	f := scenario.Fault{Kind: scenario.FaultLatency, From: []string{"replica1"}, To: []string{"primary"},
		Latency: scenario.Duration(time.Millisecond)}
	seen := map[string]bool{}
	for range 3 {
		for _, lt := range chaos.Toxics(f, testLinks()) {
			if seen[lt.Toxic.Name] {
				t.Fatalf("toxic name %q given twice", lt.Toxic.Name)
			}
			seen[lt.Toxic.Name] = true
		}
	}
}

// fakeBackend is a Backend, and with kinds a FaultBackend.
type fakeBackend struct{ name string }

func (b fakeBackend) Name() string          { return b.name }
func (b fakeBackend) ServerVersion() string { return "15" }
func (b fakeBackend) Up(context.Context, cluster.Spec) (cluster.Cluster, error) {
	return nil, errors.New("not here")
}
func (b fakeBackend) Close() error { return nil }

type fakeFaultBackend struct {
	fakeBackend
	kinds []string
}

func (b fakeFaultBackend) FaultKinds() []string { return b.kinds }

func TestSupported(t *testing.T) {
	t.Parallel()
	faults := []scenario.Fault{
		{Kind: scenario.FaultKill, Node: "primary", Line: 7},
		{Kind: scenario.FaultPartition, Sides: [][]string{{"primary"}, {"replica1"}}, Line: 12},
		{Kind: scenario.FaultPause, Node: "replica1", Line: 15},
		{Kind: scenario.FaultLatency, From: []string{"replica1"}, To: []string{"primary"}, Line: 21},
	}
	t.Run("all supported", func(t *testing.T) {
		b := fakeFaultBackend{fakeBackend{"full"}, scenario.FaultKinds}
		if err := chaos.Supported("s.yaml", b, faults); err != nil {
			t.Errorf("Supported = %v, want nil", err)
		}
		if err := chaos.Supported("s.yaml", b, nil); err != nil {
			t.Errorf("Supported of no faults = %v, want nil", err)
		}
	})
	t.Run("some kinds unsupported", func(t *testing.T) {
		b := fakeFaultBackend{fakeBackend{"partial"}, []string{scenario.FaultKill, scenario.FaultPause}}
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
	t.Run("a backend that lists no kinds supports none", func(t *testing.T) {
		err := chaos.Supported("s.yaml", fakeBackend{"bare"}, faults)
		if err == nil {
			t.Fatal("Supported = nil for a backend that is not a FaultBackend")
		}
		for _, f := range faults {
			if want := fmt.Sprintf("s.yaml:%d: fault kind %q", f.Line, f.Kind); !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s:\n%v", want, err)
			}
		}
	})
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		f    scenario.Fault
		want string
	}{
		{scenario.Fault{Kind: scenario.FaultKill, Node: "primary"}, "kill primary"},
		{scenario.Fault{Kind: scenario.FaultStop, Node: "replica2"}, "stop replica2 (fast)"},
		{scenario.Fault{Kind: scenario.FaultRestart, Node: "replica2", Mode: scenario.StopImmediate}, "restart replica2 (immediate)"},
		{scenario.Fault{Kind: scenario.FaultIsolate, Node: "primary", With: []string{"writers"}}, "isolate primary with writers"},
		{scenario.Fault{Kind: scenario.FaultPartition, Sides: [][]string{{"primary", "writers"}, {"replica1"}}}, "partition primary, writers | replica1"},
		{scenario.Fault{Kind: scenario.FaultPartition, From: []string{"primary"}, To: []string{"replica2"}}, "partition primary -/-> replica2"},
		{scenario.Fault{Kind: scenario.FaultReset, Node: "replica2"}, "reset connections to replica2"},
	}
	for _, tc := range cases {
		if got := chaos.Describe(tc.f); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

// fakeCluster is a Cluster that can pause, recording the calls; Resume
// fails with resumeErr.
type fakeCluster struct {
	mu        sync.Mutex
	calls     []string
	resumeErr error
}

func (c *fakeCluster) Nodes() []cluster.Node {
	return []cluster.Node{{Name: "primary"}, {Name: "replica1"}, {Name: "replica2"}}
}
func (c *fakeCluster) ConnString(string, cluster.User) string { return "" }
func (c *fakeCluster) PrimaryConnInfo(string, string) string  { return "" }
func (c *fakeCluster) Down(context.Context) error             { return nil }
func (c *fakeCluster) record(s string)                        { c.mu.Lock(); c.calls = append(c.calls, s); c.mu.Unlock() }
func (c *fakeCluster) Pause(_ context.Context, node string) error {
	c.record("pause " + node)
	return nil
}
func (c *fakeCluster) Resume(_ context.Context, node string) error {
	c.record("resume " + node)
	return c.resumeErr
}

type events struct {
	mu  sync.Mutex
	evs []result.Event
}

func (e *events) emit(ev result.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) list() []result.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]result.Event(nil), e.evs...)
}

// TestFiredHealedPerFault: two faults at the same moment, neither with a
// line (as faults built in code have), only one of them with for:. Only
// that one is healed when Run returns.
func TestFiredHealedPerFault(t *testing.T) {
	t.Parallel()
	c := &fakeCluster{}
	evs := &events{}
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	tl := chaos.New(c, roles, []scenario.Fault{
		{Kind: scenario.FaultPause, Node: "replica1", For: scenario.Duration(20 * time.Millisecond)},
		{Kind: scenario.FaultPause, Node: "replica2"},
	}, time.Now(), evs.emit)
	tl.Run(context.Background())
	fired := tl.Fired()
	if len(fired) != 2 {
		t.Fatalf("Fired = %+v, want 2 faults", fired)
	}
	for _, f := range fired {
		healed := f.Fault.Node == "replica1"
		if (f.Healed > 0) != healed {
			t.Errorf("after Run, %s has Healed %v; want healed: %v (only replica1's pause has for:)",
				chaos.Describe(f.Fault), f.Healed, healed)
		}
	}
	if err := tl.HealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range tl.Fired() {
		if f.Healed == 0 {
			t.Errorf("after HealAll, %s is not healed", chaos.Describe(f.Fault))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if want := []string{"pause replica1", "pause replica2", "resume replica1", "resume replica2"}; !slices.Equal(c.calls, want) {
		t.Errorf("calls = %v, want %v", c.calls, want)
	}
}

// TestHealAllReportsErrors: a heal that fails is an "error" event, and
// HealAll returns it, so the runner can say the cluster was left faulted.
func TestHealAllReportsErrors(t *testing.T) {
	t.Parallel()
	c := &fakeCluster{resumeErr: errors.New("no such process")}
	evs := &events{}
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	tl := chaos.New(c, roles, []scenario.Fault{{Kind: scenario.FaultPause, Node: "replica1", Line: 3}}, time.Now(), evs.emit)
	tl.Run(context.Background())
	err := tl.HealAll(context.Background())
	var kinds []string
	for _, ev := range evs.list() {
		kinds = append(kinds, ev.Kind)
	}
	if want := []string{"fault", "error"}; !slices.Equal(kinds, want) {
		t.Errorf("events = %v, want %v", kinds, want)
	}
	if err == nil || !strings.Contains(err.Error(), "no such process") {
		t.Errorf("HealAll = %v, want the failed resume's error", err)
	}
}
