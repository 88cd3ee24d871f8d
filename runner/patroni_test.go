package runner_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster/patroni"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/runner"
)

// TestPatroniFailover runs a 3-node Patroni cluster for real, kills the
// leader node under load and lets Patroni fail over, with the writers on
// each client path in turn: a multi-host DSN, HAProxy (checking Patroni's
// REST API), and PgBouncer (transaction pooling) in front of HAProxy.
// Each must see a new leader elected and the writers recover through its
// path; with synchronous_mode_strict no acknowledged write is lost; the
// observer's timeline is in order; the outage lies in the range the
// settings predict; nothing is left running.
func TestPatroniFailover(t *testing.T) {
	testgate.Integration(t)
	pb, err := patroni.New(patroni.Options{})
	if errors.Is(err, patroni.ErrMissing) || errors.Is(err, patroni.ErrNoFreezer) {
		testgate.Missing(t, testgate.RequirePatroni, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	pb.Close()
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	s := loadScenario(t, `name: patroni-paths
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
