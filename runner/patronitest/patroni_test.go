package patronitest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/cluster/patroni"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/runner"
	"github.com/pgbench-ha/pgbench-ha/scenario/scenariotest"
)

// TestPatroniFailover runs a 3-node Patroni cluster for real, kills the
// leader node under load and lets Patroni fail over, with the writers on
// each client path in turn: a multi-host DSN, HAProxy (checking Patroni's
// REST API), and PgBouncer (transaction pooling) in front of HAProxy.
// Each must see a new leader elected and the writers recover through its
// path; with synchronous_mode_strict no acknowledged write is lost; the
// observer's timeline is in order; the outage lies in the range the
// settings predict; nothing is left running.
// patroniBackend skips (or, in CI, fails) without Patroni and etcd, and
// returns the local backend the Patroni variants run beside.
func patroniBackend(t *testing.T) *local.Backend {
	t.Helper()
	testgate.Integration(t)
	pb, err := patroni.New(patroni.Options{})
	if errors.Is(err, patroni.ErrMissing) || errors.Is(err, patroni.ErrNoFreezer) {
		testgate.Missing(t, testgate.RequirePatroni, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	pb.Close()
	return localtest.Backend(t)
}

func TestPatroniFailover(t *testing.T) {
	b := patroniBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := scenariotest.Load(t, `name: patroni-paths
seed: 11
duration: 40s
topology:
  replicas: [{name: replica1, sync: true}, {name: replica2}]
workload: {writers: 4, rate: 200}
faults:
  - {at: 2s, kind: kill, node: primary}
failover:
  mode: patroni
  ttl: 20
  loop_wait: 2
  retry_timeout: 5
  synchronous_mode_strict: true
client:
  haproxy: {inter: 500ms, fall: 2, rise: 2}
probes: {audit_timeout: 10s}
matrix:
  client.path: [direct, haproxy, pgbouncer]
`)
	out := t.TempDir()
	res, _, err := runner.Run(ctx, runner.Options{Scenario: s, Backend: b, OutDir: out, Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res.Variants {
		f := v.Summary.Failover
		a := v.Summary.Audit
		if v.Status != result.StatusComplete || f == nil || a == nil {
			t.Errorf("%s: %s (%s), failover %v, audit %v", v.Name, v.Status, v.Error, f != nil, a != nil)
			continue
		}
		if f.NewPrimary == "" || f.NewPrimary == "primary" || a.FinalPrimary != f.NewPrimary {
			t.Errorf("%s: new primary %q, audit's final primary %q", v.Name, f.NewPrimary, a.FinalPrimary)
		}
		if f.FirstWriteMs == nil || f.FirstWriteNode != f.NewPrimary {
			t.Errorf("%s: writes did not recover on the new leader: first write %v on %q", v.Name, f.FirstWriteMs, f.FirstWriteNode)
		}
		if a.Lost != 0 || a.Acked == 0 {
			t.Errorf("%s: %d of %d acknowledged writes lost under synchronous_mode_strict", v.Name, a.Lost, a.Acked)
		}
		if f.DetectedMs == nil || f.PromoteStartMs == nil || f.PromoteDoneMs == nil || f.FaultMs == nil ||
			!(*f.FaultMs < *f.DetectedMs && *f.DetectedMs <= *f.PromoteStartMs && *f.PromoteStartMs <= *f.PromoteDoneMs && *f.PromoteDoneMs <= *f.FirstWriteMs) {
			t.Errorf("%s: timeline out of order: fault %v, key gone %v, new leader %v, writable %v, first write %v", v.Name,
				f.FaultMs, f.DetectedMs, f.PromoteStartMs, f.PromoteDoneMs, f.FirstWriteMs)
		}
		// The leader key outlives the kill by ttl - loop_wait .. ttl.
		if f.DetectedMs != nil && f.FaultMs != nil {
			if d := *f.DetectedMs - *f.FaultMs; d < 18_000-500 || d > 20_000+1_000 {
				t.Errorf("%s: the leader key expired %.0f ms after the kill, want 18..20 s (ttl 20, loop_wait 2)", v.Name, d)
			}
		}
		// The settings predict the outage; under synchronous_mode_strict
		// the new leader also waits for a synchronous standby, which the
		// model leaves out: the verdict is logged, not asserted.
		if p := f.Predicted; p == nil || p.Verdict == "" || p.LowMs < 18_000 {
			t.Errorf("%s: outage %v ms against %+v", v.Name, f.WriteUnavailableMs, p)
		}
		// Patroni's own record of the promotion: the new timeline's
		// history file, written between taking the key and taking writes.
		if mp := f.ManagerPromotedMs; mp == nil || f.PromoteStartMs == nil || f.PromoteDoneMs == nil ||
			*mp < *f.PromoteStartMs-1000 || *mp > *f.PromoteDoneMs+100 {
			t.Errorf("%s: Patroni's history has the promotion at %v, the observer %v..%v", v.Name, mp, f.PromoteStartMs, f.PromoteDoneMs)
		}
		var proxied bool
		for _, e := range v.Events {
			proxied = proxied || e.Kind == result.EventProxy
		}
		if proxied != (v.Settings["client.path"] != "direct") {
			t.Errorf("%s: HAProxy events seen: %v", v.Name, proxied)
		}
		for _, c := range v.Checks {
			if !c.Passed {
				t.Errorf("%s: self-check failed: %s: %s", v.Name, c.Name, c.Message)
			}
		}
		if f.WriteUnavailableMs != nil && f.Predicted != nil && f.DetectedMs != nil {
			t.Logf("%s: outage %.0f ms (predicted %.0f..%.0f: %s), key gone after %.0f ms, %d acked, %d lost", v.Name,
				*f.WriteUnavailableMs, f.Predicted.LowMs, f.Predicted.HighMs, f.Predicted.Verdict, *f.DetectedMs-*f.FaultMs, a.Acked, a.Lost)
		}
	}
	for _, log := range []string{"primary.patroni.log", "etcd1.log", "haproxy.log", "pgbouncer.log"} {
		if m, _ := filepath.Glob(filepath.Join(out, "*", "*", "logs", "*", log)); len(m) == 0 {
			t.Errorf("no %s kept in the run folder", log)
		}
	}
	if leftover := ourProcesses(t); len(leftover) > 0 {
		t.Errorf("left running: %v", leftover)
	}
}

// ourProcesses lists the processes that still run from a run's temp dir:
// Patroni, etcd, HAProxy, PgBouncer or PostgreSQL.
func ourProcesses(t *testing.T) []string {
	t.Helper()
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var out []string
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(filepath.Join(os.TempDir(), "pgbench-ha-"))) {
			out = append(out, string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})))
		}
	}
	return out
}

// TestPatroniPartition cuts the leader's Patroni off etcd, its PostgreSQL
// still reachable by the clients through HAProxy and by its replicas: it
// goes on acknowledging writes until Patroni demotes it, then writes stop
// until a replica has taken the expired key. The outage is measured from
// the old leader's last acknowledgement, the writes it acknowledged after
// the cut are counted, and none is lost (its replicas still streamed).
func TestPatroniPartition(t *testing.T) {
	b := patroniBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	v, f, a := runCut(ctx, t, b, "patroni-cut", "{kind: partition, sides: [[primary], [etcd1]]}")
	if f.NewPrimary == "" || f.NewPrimary == "primary" || f.DemotedMs == nil || f.OutageFromMs == nil || f.WriteUnavailableMs == nil {
		t.Fatalf("new primary %q, demoted %v, outage from %v (%v ms)", f.NewPrimary, f.DemotedMs, f.OutageFromMs, f.WriteUnavailableMs)
	}
	kept := *f.OutageFromMs - *f.FaultMs
	t.Logf("kept acknowledging %.0f ms after the cut (%d writes), demoted at +%.0f ms, outage %.0f ms, new leader %s",
		kept, f.OldPrimaryAckedAfter, *f.DemotedMs-*f.FaultMs, *f.WriteUnavailableMs, f.NewPrimary)
	// It notices at its next loop at the latest, then etcd's client
	// retries for retry_timeout.
	if kept < 1000 || kept > 12_000 || f.OldPrimaryAckedAfter < 100 {
		t.Errorf("the cut-off leader acknowledged %d writes for %.0f ms, want some, for 1..12 s", f.OldPrimaryAckedAfter, kept)
	}
	if *f.DemotedMs < *f.OutageFromMs || *f.WriteUnavailableMs > 20_000 {
		t.Errorf("demoted at %.0f ms, before its last ack at %.0f ms, or an outage of %.0f ms, longer than ttl", *f.DemotedMs, *f.OutageFromMs, *f.WriteUnavailableMs)
	}
	if p := f.Predicted; p == nil || p.Verdict == "" {
		t.Errorf("no prediction judged for a leader cut off etcd: %+v", p)
	} else {
		t.Logf("predicted %.0f..%.0f ms: %s", p.LowMs, p.HighMs, p.Verdict)
	}
	if a.Lost != 0 || f.OldPrimaryAckedAfterLost == nil || *f.OldPrimaryAckedAfterLost != 0 {
		t.Errorf("lost %d acknowledged writes, %v of those the old leader acknowledged after the cut", a.Lost, f.OldPrimaryAckedAfterLost)
	}
	for _, c := range v.Checks {
		if !c.Passed {
			t.Errorf("self-check failed: %s: %s", c.Name, c.Message)
		}
	}
	if leftover := ourProcesses(t); len(leftover) > 0 {
		t.Errorf("left running: %v", leftover)
	}
}

// TestPatroniIsolate isolates the leader node: its Patroni cut off etcd
// (through its proxies) and its PostgreSQL and Patroni off the other
// nodes (iptables), while HAProxy and the harness still reach it. It
// demotes itself once it cannot renew the leader key, a replica takes
// the key, and the writes resume through HAProxy on the new leader. The
// writes the old leader acknowledged after the cut were never replicated:
// they are counted, not asserted away. Nothing is left: processes, rules.
func TestPatroniIsolate(t *testing.T) {
	b := patroniCutsBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	v, f, a := runCut(ctx, t, b, "patroni-isolate", "{kind: isolate, node: primary}")
	if f.NewPrimary == "" || f.NewPrimary == "primary" || f.FirstWriteNode != f.NewPrimary || f.WriteUnavailableMs == nil {
		t.Fatalf("new primary %q, first write on %q, outage %v", f.NewPrimary, f.FirstWriteNode, f.WriteUnavailableMs)
	}
	if *f.WriteUnavailableMs > 25_000 {
		t.Errorf("an outage of %.0f ms, longer than ttl and a margin", *f.WriteUnavailableMs)
	}
	lost := int64(-1)
	if f.OldPrimaryAckedAfterLost != nil {
		lost = *f.OldPrimaryAckedAfterLost
	}
	t.Logf("outage %.0f ms, new leader %s; the old leader acknowledged %d writes after the cut, %d of them lost; %d of %d acknowledged writes lost in all",
		*f.WriteUnavailableMs, f.NewPrimary, f.OldPrimaryAckedAfter, lost, a.Lost, a.Acked)
	// Writes acknowledged in the last moment before the cut may not have
	// reached a replica either.
	if a.Acked == 0 || a.Lost > f.OldPrimaryAckedAfter+50 {
		t.Errorf("%d of %d acknowledged writes lost, more than the %d the isolated leader acknowledged after the cut", a.Lost, a.Acked, f.OldPrimaryAckedAfter)
	}
	for _, c := range v.Checks {
		if !c.Passed {
			t.Errorf("self-check failed: %s: %s", c.Name, c.Message)
		}
	}
	if leftover := ourProcesses(t); len(leftover) > 0 {
		t.Errorf("left running: %v", leftover)
	}
	out, err := exec.Command("iptables", "-w", "-S").Output()
	if err != nil {
		t.Fatal(err)
	}
	if mine := fmt.Sprintf("pgbench-ha-%d-", os.Getpid()); bytes.Contains(out, []byte(mine)) {
		t.Errorf("iptables rules left:\n%s", out)
	}
}

// patroniCutsBackend is patroniBackend where the Patroni backend can also
// cut links between nodes (iptables on cgroup v2).
func patroniCutsBackend(t *testing.T) *local.Backend {
	t.Helper()
	b := patroniBackend(t)
	pb, err := patroni.New(patroni.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cutsErr := pb.NodeCutsErr()
	pb.Close()
	if cutsErr != nil {
		testgate.Missing(t, testgate.RequirePatroni, cutsErr)
	}
	return b
}

// TestPatroniInterrupted cancels a Patroni run behind HAProxy in the
// middle of an isolate of the leader (iptables cuts and etcd link
// blackholes in place), as Ctrl-C does: the run says it was interrupted,
// and no process, iptables rule or cgroup v2 directory of it is left.
func TestPatroniInterrupted(t *testing.T) {
	b := patroniCutsBackend(t)
	cgroupsBefore := cutCgroups()
	s := scenariotest.Load(t, `name: patroni-interrupted
seed: 14
duration: 60s
topology:
  replicas: [{name: replica1}, {name: replica2}]
workload: {writers: 4, rate: 200}
faults:
  - {at: 2s, for: 40s, kind: isolate, node: primary}
failover: {mode: patroni, ttl: 20, loop_wait: 2, retry_timeout: 5}
client: {path: haproxy}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := t.TempDir()
	done := make(chan error, 1)
	go func() {
		_, _, err := runner.Run(ctx, runner.Options{Scenario: s, Backend: b, OutDir: out, Grace: time.Second})
		done <- err
	}()
	// Into the isolate: the workload's start is in the run's events
	// only at the end, so wait for the fault's rules instead.
	deadline := time.Now().Add(3 * time.Minute)
	for !cutInPlace(iptablesRules(t)) {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no cut in place after 3 min; run: %v", <-done)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, runner.ErrInterrupted) {
			t.Errorf("Run = %v, want ErrInterrupted", err)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the run did not stop within 90 s of the interrupt")
	}
	if left := ourProcesses(t); len(left) > 0 {
		t.Errorf("left running: %v", left)
	}
	if rules := iptablesRules(t); strings.Contains(rules, "PGBHA") || strings.Contains(rules, "pgbench-ha") {
		t.Errorf("iptables rules left:\n%s", rules)
	}
	for _, d := range cutCgroups() {
		if !slices.Contains(cgroupsBefore, d) {
			t.Errorf("cgroup v2 directory left: %s", d)
		}
	}
}

// iptablesRules is the filter table's rules (iptables -S).
func iptablesRules(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("iptables", "-w", "-S").CombinedOutput()
	if err != nil {
		t.Fatalf("iptables -S: %v: %s", err, out)
	}
	return string(out)
}

// cutCgroups lists the cgroup v2 directories the node cuts use.
func cutCgroups() []string {
	var out []string
	_ = filepath.WalkDir("/sys/fs/cgroup/unified/pgbench-ha", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// cutInPlace reports whether a node cut's rule is in rules: a DROP in
// one of the harness's chains (docker's own chains drop too).
func cutInPlace(rules string) bool {
	for _, l := range strings.Split(rules, "\n") {
		if strings.HasPrefix(l, "-A PGBHA") && strings.Contains(l, "-j DROP") {
			return true
		}
	}
	return false
}

// runCut runs 32 s of writes behind HAProxy on a Patroni cluster (ttl 20,
// loop_wait 2, retry_timeout 5) with fault from 2 s to 28 s, and returns
// the complete variant, its failover and its audit.
func runCut(ctx context.Context, t *testing.T, b *local.Backend, name, fault string) (result.Variant, *result.Failover, *result.Audit) {
	t.Helper()
	s := scenariotest.Load(t, `name: `+name+`
seed: 12
duration: 32s
topology:
  replicas: [{name: replica1}, {name: replica2}]
workload: {writers: 4, rate: 200}
faults:
  - {at: 2s, for: 26s, `+strings.TrimPrefix(fault, "{")+`
failover: {mode: patroni, ttl: 20, loop_wait: 2, retry_timeout: 5}
client: {path: haproxy, haproxy: {inter: 500ms, fall: 2, rise: 2}}
probes: {audit_timeout: 10s}
`)
	res, _, err := runner.Run(ctx, runner.Options{Scenario: s, Backend: b, OutDir: t.TempDir(), Grace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	v := res.Variants[0]
	f, a := v.Summary.Failover, v.Summary.Audit
	if v.Status != result.StatusComplete || f == nil || a == nil {
		t.Fatalf("%s (%s), failover %v, audit %v", v.Status, v.Error, f != nil, a != nil)
	}
	return v, f, a
}
