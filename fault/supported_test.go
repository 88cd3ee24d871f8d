package fault_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/fault"
)

// placed is a fault and its line in the scenario file.
type placed struct {
	spec fault.Spec
	line int
}

// supported runs fault.Supported on faults for a backend named backend
// with abilities a.
func supported(backend string, a cluster.Abilities, faults []placed) []string {
	var specs []fault.Spec
	var lines []int
	for _, f := range faults {
		specs = append(specs, f.spec)
		lines = append(lines, f.line)
	}
	return fault.Supported("s.yaml", backend, a, specs, lines)
}

func TestSupported(t *testing.T) {
	t.Parallel()
	faults := []placed{
		{fault.Kill{Target: "primary"}, 7},
		{fault.Partition{Sides: [][]string{{"primary"}, {"replica1"}}}, 12},
		{fault.Pause{Target: "replica1"}, 15},
		{fault.Latency{From: []string{"replica1"}, To: []string{"primary"}}, 21},
	}
	t.Run("all supported", func(t *testing.T) {
		full := cluster.Abilities{Kill: true, Stop: true, Pause: true, Links: true, NodeCuts: true}
		if probs := supported("full", full, faults); len(probs) != 0 {
			t.Errorf("Supported = %q, want nothing", probs)
		}
		if probs := supported("full", full, nil); len(probs) != 0 {
			t.Errorf("Supported of no faults = %q, want nothing", probs)
		}
	})
	t.Run("some kinds unsupported", func(t *testing.T) {
		lines := supported("partial", cluster.Abilities{Kill: true, Pause: true}, faults)
		if len(lines) == 0 {
			t.Fatal("Supported = nothing with partition and latency unsupported")
		}
		if len(lines) != 2 {
			t.Fatalf("want one line per unsupported fault, got:\n%s", strings.Join(lines, "\n"))
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
	t.Run("a backend with no abilities supports none", func(t *testing.T) {
		probs := supported("bare", cluster.Abilities{}, faults)
		if len(probs) == 0 {
			t.Fatal("Supported = nothing for a backend with no abilities")
		}
		msg := strings.Join(probs, "\n")
		for _, f := range faults {
			if want := fmt.Sprintf("s.yaml:%d: fault kind %q", f.line, f.spec.Kind()); !strings.Contains(msg, want) {
				t.Errorf("error does not name %s:\n%s", want, msg)
			}
		}
	})
}

func TestSupportedClientGroups(t *testing.T) {
	t.Parallel()
	faults := []placed{
		{fault.Isolate{Target: "replica2"}, 5},
		{fault.Isolate{Target: "primary", With: []string{"writers", "controller"}}, 8},
		{fault.Partition{Sides: [][]string{{"primary"}, {"replica1", "replica2"}}}, 11},
		{fault.Partition{Sides: [][]string{{"primary", "writers"}, {"replica1", "readers"}}}, 14},
		{fault.Partition{From: []string{"primary"}, To: []string{"replica2"}}, 17},
		{fault.Partition{From: []string{"controller"}, To: []string{"primary"}}, 20},
		{fault.Latency{From: []string{"replica1"}, To: []string{"primary"}}, 23},
		{fault.Reset{Target: "primary"}, 26},
	}
	// docker cuts links between nodes only.
	docker := cluster.Abilities{Kill: true, Stop: true, Pause: true, NodeCuts: true}
	lines := supported("docker", docker, faults)
	if len(lines) == 0 {
		t.Fatal("Supported = nothing on a node-only backend with client groups and latency")
	}
	t.Log(strings.Join(lines, "\n"))
	can := fault.Runnable(docker)
	for _, k := range []string{"isolate", "kill", "partition", "pause", "restart", "stop"} {
		if !slices.Contains(can, k) {
			t.Errorf("docker's abilities do not run %s: %v", k, can)
		}
	}
	for _, k := range []string{"latency", "bandwidth", "reset"} {
		if slices.Contains(can, k) {
			t.Errorf("docker's abilities run %s, which needs per-link proxies: %v", k, can)
		}
	}
	supports := strings.Join(can, ", ")
	want := []string{
		`s.yaml:8: isolate with client groups (writers, controller) is not supported by the docker backend: it cuts links between nodes only; client groups on a side need the local backend`,
		`s.yaml:14: partition naming client groups (writers, readers) is not supported by the docker backend: it cuts links between nodes only; client groups on a side need the local backend`,
		`s.yaml:20: partition naming client groups (controller) is not supported by the docker backend: it cuts links between nodes only; client groups on a side need the local backend`,
		`s.yaml:23: fault kind "latency" is not supported by the docker backend (it supports: ` + supports + `); latency, bandwidth and reset act on per-link proxies and are supported by the local backend only`,
		`s.yaml:26: fault kind "reset" is not supported by the docker backend (it supports: ` + supports + `); latency, bandwidth and reset act on per-link proxies and are supported by the local backend only`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("Supported:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	// local has per-link proxies, client groups' links included.
	local := cluster.Abilities{Kill: true, Stop: true, Pause: true, Links: true, ClientLinks: true}
	if probs := supported("local", local, faults); len(probs) != 0 {
		t.Errorf("Supported on a backend with client links = %q, want nothing", probs)
	}
	partial := cluster.Abilities{Kill: true, ClientLinks: true}
	probs := supported("partial", partial, faults[6:7])
	if len(probs) == 0 || strings.Contains(strings.Join(probs, "\n"), "local backend only") {
		t.Errorf("Supported on a backend with client links but no latency = %q, want the plain message", probs)
	}
}
