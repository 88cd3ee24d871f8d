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
