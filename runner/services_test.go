package runner_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/clientpath"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/runner"
)

func needProxies(t *testing.T) {
	t.Helper()
	testgate.Integration(t)
	for _, b := range []string{clientpath.DefaultHAProxyBin, clientpath.DefaultPgBouncerBin} {
		if _, err := exec.LookPath(b); err != nil {
			testgate.Missing(t, testgate.RequirePG, fmt.Errorf("%s: %w (apt-get install haproxy pgbouncer)", b, err))
		}
	}
}

// acksIn counts the acknowledged writes of a variant's history whose ack
// came in [from, to) ms.
func acksIn(t *testing.T, dir string, v *result.Variant, from, to float64) int {
	t.Helper()
	rows := historyRows(t, dir, v)
	n := 0
	for _, r := range rows[1:] { // id,writer,node,scheduled_ms,sent_ms,done_ms,outcome
		done, err := strconv.ParseFloat(r[5], 64)
		if r[6] == "acked" && err == nil && done >= from && done < to {
			n++
		}
	}
	return n
}

// runServiceFault runs a scenario whose one fault is on the client path
// and checks what every such run must show: complete, the fault injected
// and healed, the writes stopped while it lasted and back after its heal
// on the same primary, no failover and no prediction claimed, nothing
// lost, nothing left running.
func runServiceFault(t *testing.T, yaml string) *result.Variant {
	t.Helper()
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := loadScenario(t, yaml)
	out := t.TempDir()
	start := time.Now()
	res, dir, err := runner.Run(ctx, runner.Options{Scenario: s, Backend: b, OutDir: out, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run took %v", time.Since(start).Round(100*time.Millisecond))
	v := &res.Variants[0]
	if v.Status != result.StatusComplete || v.Error != "" {
		t.Fatalf("%s: %s: %s", v.Name, v.Status, v.Error)
	}
	fr := v.Faults[0]
	if fr.Outcome != result.OutcomeInjected || fr.Error != "" || fr.HealError != "" || fr.InjectedMs == nil || fr.HealedMs == nil {
		t.Fatalf("fault record %+v", fr)
	}
	from := *fr.InjectedMs
	if fr.LandedMs != nil {
		from = *fr.LandedMs
	}
	// The heal starts at at + for (the timeline's clock, not the
	// injection's); HealedMs is when it returned (HAProxy started again
	// and checked every server), and writes may come back in between.
	heal := fr.AtMs + fr.ForMs
	if fr.ForMs == 0 || *fr.HealedMs < heal {
		t.Fatalf("fault for %.0f ms healed at %.0f ms", fr.ForMs, *fr.HealedMs)
	}
	before := acksIn(t, dir, v, 0, *fr.InjectedMs)
	during := acksIn(t, dir, v, from+100, heal)
	after := acksIn(t, dir, v, heal, 1e12)
	landed := "-"
	if fr.LandedMs != nil {
		landed = fmt.Sprintf("%.1f ms", *fr.LandedMs)
	}
	t.Logf("%s at %.1f ms (landed %s), healed from %.0f ms to %.0f ms: %d acks before, %d while it lasted, %d after",
		fr.Name, *fr.InjectedMs, landed, heal, *fr.HealedMs, before, during, after)
	if before == 0 || during != 0 || after == 0 {
		t.Errorf("acks: %d before the fault, %d while it lasted, %d after its heal: want writes to stop and come back", before, during, after)
	}
	f := v.Summary.Failover
	if f == nil || f.WriteUnavailableMs == nil || f.FirstWriteMs == nil {
		t.Fatalf("failover summary %+v: want the write outage", f)
	}
	t.Logf("write outage %.0f ms (to %.0f ms, first write on %s)", *f.WriteUnavailableMs, *f.FirstWriteMs, f.FirstWriteNode)
	if *f.WriteUnavailableMs < heal-*fr.InjectedMs-200 || *f.FirstWriteMs < heal || *f.FirstWriteMs > heal+5000 || f.FirstWriteNode != "primary" {
		t.Errorf("write outage %.0f ms, first write at %.0f ms on %q: want the fault's span (%.0f..%.0f ms) and writes on primary soon after",
			*f.WriteUnavailableMs, *f.FirstWriteMs, f.FirstWriteNode, *fr.InjectedMs, heal)
	}
	if f.NewPrimary != "" || len(f.Failovers) != 0 || f.DetectedMs != nil || f.Predicted != nil || f.SplitBrain || f.DualPrimaryMs != nil {
		t.Errorf("a fault on the client path claims a failover: %+v", f)
	}
	a := v.Summary.Audit
	if a == nil || a.FinalPrimary != "primary" || a.Lost != 0 || a.Acked == 0 {
		t.Errorf("audit %+v: want primary still primary, nothing lost", a)
	}
	for _, e := range v.Events {
		switch e.Kind {
		case result.EventError, result.EventDetected, result.EventPromoteStart, result.EventPromoteDone:
			t.Errorf("event %+v", e)
		}
	}
	for _, c := range v.Checks {
		if !c.Passed {
			t.Errorf("self-check failed: %s: %s", c.Name, c.Message)
		}
	}
	if leftover := descendants(); len(leftover) > 0 {
		t.Errorf("left running: %v", leftover)
	}
	return v
}

// descendants lists the processes that descend from this one (the
// servers and proxies a run started, if any is left), by their command
// lines; unlike ourProcesses, it sees none of another harness's running
// on the same machine.
func descendants() []string {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	parent := map[int]int{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if i < 0 || len(f) < 2 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		parent[pid], _ = strconv.Atoi(f[1])
	}
	me := os.Getpid()
	var out []string
	for pid := range parent {
		for q, n := parent[pid], 0; q > 1 && n < 100; q, n = parent[q], n+1 {
			if q == me {
				cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				out = append(out, fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
				break
			}
		}
	}
	return out
}

// TestKillHAProxy kills the client path's HAProxy for 2s under load: the
// writes stop (no proxy to reach the primary) and come back once it is
// started again on the same port; the harness's controller, which
// probes the primary directly, sees nothing to fail over.
func TestKillHAProxy(t *testing.T) {
	needProxies(t)
	v := runServiceFault(t, `name: kill-haproxy
seed: 5
duration: 15s
topology:
  replicas: [{name: replica1, sync: true}]
workload: {writers: 4, rate: 200}
faults:
  - {at: 4s, for: 2s, kind: kill, node: haproxy}
failover: {mode: promote, detect_after: 500ms}
client:
  path: haproxy
  haproxy: {inter: 500ms, fall: 2, rise: 2}
probes: {audit_timeout: 10s}
`)
	fr := v.Faults[0]
	if fr.LandedMs == nil || *fr.LandedMs < *fr.InjectedMs || *fr.LandedMs > *fr.InjectedMs+500 {
		t.Errorf("kill of haproxy landed at %v ms, injected at %.0f ms", fr.LandedMs, *fr.InjectedMs)
	}
	if fr.HealedSeenMs == nil {
		t.Errorf("the heal (HAProxy started again) not seen: %+v", fr)
	}
}

// TestPausePgBouncer freezes the PgBouncer in front of HAProxy for 2s:
// the writes hang (their connections stay open) and complete after it is
// thawed.
func TestPausePgBouncer(t *testing.T) {
	needProxies(t)
	runServiceFault(t, `name: pause-pgbouncer
seed: 6
duration: 12s
topology:
  replicas: [{name: replica1}]
workload: {writers: 4, rate: 200}
faults:
  - {at: 4s, for: 2s, kind: pause, node: pgbouncer}
failover: {mode: promote, detect_after: 500ms}
client:
  path: pgbouncer
  haproxy: {inter: 500ms, fall: 2, rise: 2}
probes: {audit_timeout: 10s}
`)
}
