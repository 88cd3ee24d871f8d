package fault_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
)

// testLinks is what a local cluster of primary, replica1, replica2 with
// the three client groups lists: every ordered pair of nodes, then every
// client group to every node.
func testLinks() [][2]string {
	nodes := []string{"primary", "replica1", "replica2"}
	var links [][2]string
	for _, from := range append(append([]string(nil), nodes...), fault.ClientNames...) {
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
func toxicKey(lt fault.LinkToxic) string {
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

// toxicsOf is the toxics spec puts on links, none when it does not act
// on links.
func toxicsOf(spec fault.Spec, links [][2]string, id string) []fault.LinkToxic {
	l, ok := spec.(fault.Linker)
	if !ok {
		return nil
	}
	return l.Toxics(links, id)
}

func TestToxics(t *testing.T) {
	t.Parallel()
	const bh, lat, bw, rst = cluster.ToxicBlackhole, cluster.ToxicLatency, cluster.ToxicBandwidth, cluster.ToxicReset
	up, down := cluster.Upstream, cluster.Downstream
	ms20 := 20 * time.Millisecond
	ms5 := 5 * time.Millisecond
	cases := []struct {
		name  string
		fault fault.Spec
		want  []string
	}{
		{
			name:  "isolate cuts every link of the node both ways",
			fault: fault.Isolate{Target: "replica2"},
			want: concat(
				both("primary", "replica2", bh), both("replica1", "replica2", bh),
				both("replica2", "primary", bh), both("replica2", "replica1", bh),
				both("writers", "replica2", bh), both("readers", "replica2", bh), both("controller", "replica2", bh),
			),
		},
		{
			name:  "isolate with a client group keeps that group's link",
			fault: fault.Isolate{Target: "primary", With: []string{"writers"}},
			want: concat(
				both("primary", "replica1", bh), both("primary", "replica2", bh),
				both("replica1", "primary", bh), both("replica2", "primary", bh),
				both("readers", "primary", bh), both("controller", "primary", bh),
			),
		},
		{
			name:  "partition sides cut the links between sides, both ways, and nothing on no side",
			fault: fault.Partition{Sides: [][]string{{"primary", "writers"}, {"replica1", "replica2", "controller"}}},
			want: concat(
				both("primary", "replica1", bh), both("primary", "replica2", bh),
				both("replica1", "primary", bh), both("replica2", "primary", bh),
				both("writers", "replica1", bh), both("writers", "replica2", bh),
				both("controller", "primary", bh),
			),
		},
		{
			name:  "one-way partition: upstream on links From->To, downstream on links To->From",
			fault: fault.Partition{From: []string{"primary"}, To: []string{"replica2"}},
			want: []string{
				"primary->replica2 " + up + " " + bh,
				"replica2->primary " + down + " " + bh,
			},
		},
		{
			name:  "one-way partition from a client group",
			fault: fault.Partition{From: []string{"writers"}, To: []string{"primary", "replica1"}},
			want: []string{
				"writers->primary " + up + " " + bh,
				"writers->replica1 " + up + " " + bh,
			},
		},
		{
			name:  "latency both ways by default",
			fault: fault.Latency{From: []string{"replica1"}, To: []string{"primary"}, Latency: ms20, Jitter: ms5},
			want: []string{
				"replica1->primary " + up + " " + lat + " 20ms±5ms",
				"replica1->primary " + down + " " + lat + " 20ms±5ms",
			},
		},
		{
			name: "latency both",
			fault: fault.Latency{From: []string{"replica1"}, To: []string{"primary"},
				Latency: ms20, Direction: fault.DirectionBoth},
			want: []string{
				"replica1->primary " + up + " " + lat + " 20ms±0s",
				"replica1->primary " + down + " " + lat + " 20ms±0s",
			},
		},
		{
			name: "latency upstream",
			fault: fault.Latency{From: []string{"replica1"}, To: []string{"primary"},
				Latency: ms20, Direction: fault.DirectionUpstream},
			want: []string{"replica1->primary " + up + " " + lat + " 20ms±0s"},
		},
		{
			name: "latency downstream on several links",
			fault: fault.Latency{From: []string{"replica1", "replica2"}, To: []string{"primary"},
				Latency: ms20, Direction: fault.DirectionDownstream},
			want: []string{
				"replica1->primary " + down + " " + lat + " 20ms±0s",
				"replica2->primary " + down + " " + lat + " 20ms±0s",
			},
		},
		{
			name: "bandwidth downstream",
			fault: fault.Bandwidth{From: []string{"replica2"}, To: []string{"primary"},
				RateKBps: 64, Direction: fault.DirectionDownstream},
			want: []string{"replica2->primary " + down + " " + bw + " 64KB/s"},
		},
		{
			name:  "bandwidth both ways by default",
			fault: fault.Bandwidth{From: []string{"readers"}, To: []string{"replica1"}, RateKBps: 8},
			want: []string{
				"readers->replica1 " + up + " " + bw + " 8KB/s",
				"readers->replica1 " + down + " " + bw + " 8KB/s",
			},
		},
		{
			name:  "reset of a node resets every link into it",
			fault: fault.Reset{Target: "replica2"},
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
			fault: fault.Reset{From: []string{"writers"}, To: []string{"primary"}},
			want:  []string{"writers->primary " + up + " " + rst},
		},
		{
			name:  "a node fault has no toxics",
			fault: fault.Pause{Target: "replica1"},
		},
		{
			name:  "no links, no toxics",
			fault: fault.Isolate{Target: "nobody"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := toxicsOf(tc.fault, testLinks(), "f0")
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
				t.Errorf("Toxics(%s):\n got  %s\n want %s", tc.fault.Describe(),
					strings.Join(keys, "\n      "), strings.Join(want, "\n      "))
			}
		})
	}
}

// TestToxicNamesUnique: two faults on the same link at once get toxics of
// different names, or the second AddToxic would be refused. Each fault of
// a timeline has its own id.
func TestToxicNamesUnique(t *testing.T) {
	t.Parallel()
	f := fault.Latency{From: []string{"replica1"}, To: []string{"primary"}, Latency: time.Millisecond}
	seen := map[string]bool{}
	for i := range 3 {
		for _, lt := range f.Toxics(testLinks(), fmt.Sprintf("f%d", i)) {
			if seen[lt.Toxic.Name] {
				t.Fatalf("toxic name %q given twice", lt.Toxic.Name)
			}
			seen[lt.Toxic.Name] = true
		}
	}
}

func TestNodeCuts(t *testing.T) {
	t.Parallel()
	nodes := []string{"primary", "replica1", "replica2"}
	for _, tc := range []struct {
		f    fault.NodeCutter
		want string
	}{
		{fault.Isolate{Target: "replica2"},
			"replica2>primary primary>replica2 replica2>replica1 replica1>replica2"},
		{fault.Partition{Sides: [][]string{{"primary"}, {"replica1", "replica2"}}},
			"primary>replica1 primary>replica2 replica1>primary replica2>primary"},
		{fault.Partition{From: []string{"primary"}, To: []string{"replica1", "replica2"}},
			"primary>replica1 primary>replica2"},
		{fault.Isolate{Target: "nobody"}, ""},
	} {
		var got []string
		for _, c := range tc.f.NodeCuts(nodes) {
			got = append(got, c[0]+">"+c[1])
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("NodeCuts(%s) = %q, want %q", tc.f.(fault.Spec).Describe(), g, tc.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	cases := []struct {
		f    fault.Spec
		want string
	}{
		{fault.Kill{Target: "primary"}, "kill primary"},
		{fault.Stop{Target: "replica2"}, "stop replica2 (fast)"},
		{fault.Restart{Target: "replica2", Mode: fault.StopImmediate}, "restart replica2 (immediate)"},
		{fault.Isolate{Target: "primary", With: []string{"writers"}}, "isolate primary with writers"},
		{fault.Partition{Sides: [][]string{{"primary", "writers"}, {"replica1"}}}, "partition primary, writers | replica1"},
		{fault.Partition{From: []string{"primary"}, To: []string{"replica2"}}, "partition primary -/-> replica2"},
		{fault.Reset{Target: "replica2"}, "reset connections to replica2"},
	}
	for _, tc := range cases {
		if got := tc.f.Describe(); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

// storeAndCuts is a cluster like a Patroni one: proxies on the links from
// each node to etcd1 only, and cuts between nodes.
type storeAndCuts struct {
	log []string
}

func (c *storeAndCuts) Nodes() []cluster.Node {
	return []cluster.Node{{Name: "primary"}, {Name: "replica1"}, {Name: "replica2"}}
}
func (c *storeAndCuts) ConnString(string, cluster.User) string               { return "" }
func (c *storeAndCuts) PrimaryConnInfo(string, string) string                { return "" }
func (c *storeAndCuts) Down(context.Context) error                           { return nil }
func (c *storeAndCuts) ClientConnString(string, string, cluster.User) string { return "" }
func (c *storeAndCuts) Links() [][2]string {
	return [][2]string{{"primary", "etcd1"}, {"replica1", "etcd1"}, {"replica2", "etcd1"}}
}
func (c *storeAndCuts) AddToxic(_ context.Context, from, to string, t cluster.Toxic) error {
	c.log = append(c.log, fmt.Sprintf("toxic %s->%s %s", from, to, t.Direction))
	return nil
}
func (c *storeAndCuts) RemoveToxic(_ context.Context, from, to, name string) error {
	c.log = append(c.log, fmt.Sprintf("untoxic %s->%s", from, to))
	return nil
}
func (c *storeAndCuts) Cut(_ context.Context, from, to string) error {
	c.log = append(c.log, "cut "+from+">"+to)
	return nil
}
func (c *storeAndCuts) Heal(context.Context) error {
	c.log = append(c.log, "heal")
	return nil
}

// TestInjectToxicsAndCuts: on a cluster that proxies the links to etcd
// and cuts those between nodes, a link fault does both, and heals both.
func TestInjectToxicsAndCuts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f    fault.Spec
		want string
	}{
		{fault.Isolate{Target: "primary"},
			"toxic primary->etcd1 upstream, toxic primary->etcd1 downstream, cut primary>replica1, cut replica1>primary, cut primary>replica2, cut replica2>primary | heal, untoxic primary->etcd1, untoxic primary->etcd1"},
		{fault.Partition{Sides: [][]string{{"primary"}, {"replica1", "replica2", "etcd1"}}},
			"toxic primary->etcd1 upstream, toxic primary->etcd1 downstream, cut primary>replica1, cut primary>replica2, cut replica1>primary, cut replica2>primary | heal, untoxic primary->etcd1, untoxic primary->etcd1"},
		{fault.Partition{Sides: [][]string{{"primary"}, {"etcd1"}}},
			"toxic primary->etcd1 upstream, toxic primary->etcd1 downstream | untoxic primary->etcd1, untoxic primary->etcd1"},
		{fault.Partition{From: []string{"replica1"}, To: []string{"primary"}},
			"cut replica1>primary | heal"},
	} {
		c := &storeAndCuts{}
		h, err := tc.f.Inject(context.Background(), fault.Env{Cluster: c, ID: "f1"})
		if err != nil {
			t.Fatalf("%s: %v", tc.f.Describe(), err)
		}
		injected := strings.Join(c.log, ", ")
		c.log = nil
		if err := h.Do(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := injected + " | " + strings.Join(c.log, ", "); got != tc.want {
			t.Errorf("%s:\n got  %s\n want %s", tc.f.Describe(), got, tc.want)
		}
	}
	// A client group has no link of its own there: refused at injection
	// too (Refuse refuses it before the run).
	c := &storeAndCuts{}
	if _, err := (fault.Partition{Sides: [][]string{{"primary", "writers"}, {"replica1"}}}).Inject(context.Background(), fault.Env{Cluster: c}); err == nil || !strings.Contains(err.Error(), "writers") || len(c.log) > 0 {
		t.Errorf("a partition naming writers: %v, did %q", err, c.log)
	}
}
