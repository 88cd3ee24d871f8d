package fault_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
)

func TestIsService(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"etcd1": true, "etcd3": true, "etcd12": true, "haproxy": true, "pgbouncer": true,
		"etcd": false, "primary": false, "replica1": false, "etcd1x": false, "xetcd1": false, "HAProxy": false,
	} {
		if got := fault.IsService(name); got != want {
			t.Errorf("IsService(%q) = %v, want %v", name, got, want)
		}
	}
	if got := fault.EtcdMember(2); got != "etcd2" {
		t.Errorf("EtcdMember(2) = %q", got)
	}
}

// TestSupportedPatroni checks that what only a Patroni backend can do is
// refused, before anything starts, by a backend that cannot.
func TestSupportedPatroni(t *testing.T) {
	t.Parallel()
	faults := []placed{
		{fault.Kill{Target: "primary"}, 3},
		{fault.Kill{Target: "primary", Process: fault.ProcessNode}, 4},
		{fault.Kill{Target: "primary", Process: fault.ProcessPostgres}, 5},
		{fault.Kill{Target: "replica1", Process: fault.ProcessPatroni}, 6},
		{fault.Kill{Target: "etcd2"}, 7},
		{fault.Stop{Target: "haproxy"}, 8},
		{fault.Pause{Target: "pgbouncer"}, 9},
		{fault.Switchover{To: "replica1"}, 10},
		{fault.Stop{Target: "replica1"}, 11},
	}
	// local today: no Patroni. haproxy and pgbouncer are the client
	// path's, which runs on any backend: not refused.
	local := cluster.Abilities{Kill: true, Stop: true, Pause: true, Links: true, ClientLinks: true}
	lines := supported("local", local, faults)
	supports := strings.Join(fault.Runnable(local), ", ")
	want := []string{
		`s.yaml:5: kill with process: postgres is not supported by the local backend: it cannot kill one process of a node apart from the rest`,
		`s.yaml:6: kill with process: patroni is not supported by the local backend: it cannot kill one process of a node apart from the rest`,
		`s.yaml:7: kill of etcd2 is not supported by the local backend: it runs no etcd2 beside the nodes`,
		`s.yaml:10: fault kind "switchover" is not supported by the local backend (it supports: ` + supports + `)`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("Supported:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if slices.Contains(fault.Runnable(local), "switchover") {
		t.Errorf("switchover runnable without the Switchover ability")
	}
	// A backend with Patroni, etcd and the proxies.
	patroni := local
	patroni.Processes, patroni.Switchover, patroni.Services = true, true, true
	if probs := supported("patroni", patroni, faults); len(probs) != 0 {
		t.Errorf("Supported on a Patroni backend = %q, want nothing", probs)
	}
}

func TestPatroniFaultShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec     fault.Spec
		describe string
		node     string
		targets  []string
		lasting  bool
	}{
		{fault.Kill{Target: "primary", Process: fault.ProcessPostgres}, "kill postgres on primary", "primary", []string{"primary"}, false},
		{fault.Kill{Target: "replica1", Process: fault.ProcessPatroni}, "kill patroni on replica1", "replica1", []string{"replica1"}, false},
		{fault.Kill{Target: "primary", Process: fault.ProcessNode}, "kill primary", "primary", []string{"primary"}, false},
		{fault.Kill{Target: "etcd1"}, "kill etcd1", "etcd1", []string{"etcd1"}, false},
		{fault.Switchover{}, "switchover", "", nil, false},
		{fault.Switchover{To: "replica2"}, "switchover to replica2", "", []string{"replica2"}, false},
		{fault.Pause{Target: "haproxy"}, "pause haproxy", "haproxy", []string{"haproxy"}, true},
	}
	for _, tt := range tests {
		if got := tt.spec.Describe(); got != tt.describe {
			t.Errorf("Describe() = %q, want %q", got, tt.describe)
		}
		if got := tt.spec.Node(); got != tt.node {
			t.Errorf("%s: Node() = %q, want %q", tt.describe, got, tt.node)
		}
		if got := tt.spec.Targets(); !slices.Equal(got, tt.targets) {
			t.Errorf("%s: Targets() = %q, want %q", tt.describe, got, tt.targets)
		}
		if got := tt.spec.Lasting(); got != tt.lasting {
			t.Errorf("%s: Lasting() = %v", tt.describe, got)
		}
	}
	k, ok := fault.Lookup("switchover")
	if !ok || !k.Once {
		t.Errorf("switchover kind: %+v, %v; want a one-act kind", k, ok)
	}
}

// TestSupportedPatroniLinks: a Patroni backend that can cut links between
// nodes (NodeCuts, beside StoreLinks) runs isolate and partitions between
// nodes, mixed with etcd members; one that cannot refuses them, saying
// why. Client groups stay refused either way.
func TestSupportedPatroniLinks(t *testing.T) {
	t.Parallel()
	faults := []placed{
		{fault.Isolate{Target: "primary"}, 3},
		{fault.Partition{Sides: [][]string{{"primary"}, {"replica1", "replica2"}}}, 4},
		{fault.Partition{Sides: [][]string{{"primary"}, {"replica1", "replica2", "etcd1"}}}, 5},
		{fault.Partition{Sides: [][]string{{"primary"}, {"etcd1"}}}, 6},
		{fault.Partition{Sides: [][]string{{"primary", "writers"}, {"replica1"}}}, 7},
	}
	patroni := cluster.Abilities{Kill: true, Stop: true, Pause: true, Processes: true, Switchover: true, Services: true, StoreLinks: true, NodeCuts: true}
	want := []string{
		`s.yaml:7: partition naming client groups (writers) is not supported by the patroni backend: it cuts links between nodes and from nodes to etcd members only; client groups on a side need the local backend`,
	}
	if got := supported("patroni", patroni, faults); !slices.Equal(got, want) {
		t.Errorf("with NodeCuts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	patroni.NodeCuts = false
	got := supported("patroni", patroni, faults)
	if len(got) != 4 || !strings.HasPrefix(got[0], `s.yaml:3: fault kind "isolate" is not supported by the patroni backend`) ||
		!strings.Contains(got[0], "cgroup v2") ||
		!strings.HasPrefix(got[1], "s.yaml:4: partition cuts the link primary -> replica1 between nodes, which the patroni backend cannot cut on this machine") ||
		!strings.HasPrefix(got[2], "s.yaml:5: partition cuts the link primary -> replica1") ||
		!strings.HasPrefix(got[3], "s.yaml:7: partition naming client groups (writers) is not supported by the patroni backend: it cuts links from nodes to etcd members only") {
		t.Errorf("without NodeCuts:\n%s", strings.Join(got, "\n"))
	}
}
