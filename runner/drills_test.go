package runner_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/runner"
)

// drillScenario: a primary and an asynchronous replica archiving WAL
// every second under 300 writes/s; the archive-only standby's base
// backup at the start (so that it runs long enough to be sampled), the
// point-in-time recovery's at 1s, a dump at 2s, and an accident at 5s
// deleting a fifth of the orders.
const drillScenario = `name: drills
seed: 7
duration: 8s
topology:
  replicas: [{name: replica1}]
  archive: {timeout: 1s}
workload:
  writers: 4
  rate: 300
  initial_orders: 500
probes: {lag_interval: 100ms, audit_timeout: 20s}
accident: {at: 5s, delete: 0.2}
drills:
  - {kind: pitr, at: 1s}
  - {kind: dump, at: 2s}
  - {kind: archive_standby, at: 0s}
`

// TestDrills runs one variant with every drill and checks each against
// the ledger: the point-in-time recovery holds exactly the acknowledged
// orders before the restore point (the accident's rows included); the
// dump's restore lacks exactly those acknowledged after its snapshot; the
// archive-only standby was sampled and what its promotion at the end
// lost is counted; the accident's rows, acknowledged writes all, are
// deleted on purpose and not lost.
func TestDrills(t *testing.T) {
	res, dir, err := runner.Run(context.Background(), runner.Options{Scenario: loadScenario(t, drillScenario), Backend: newBackend(t), OutDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	v := &res.Variants[0]
	d := v.Drills
	if d == nil || d.Accident == nil || d.Dump == nil || d.PITR == nil || d.ArchiveStandby == nil {
		t.Fatalf("drills: %+v", d)
	}
	a := d.Accident
	t.Logf("accident at %.0f ms: %d rows deleted (%d audited), restore point %s in %s at %.1f–%.1f ms, archived at %v ms (switched %v)",
		a.Ms, a.Deleted, a.DeletedAudited, a.RestorePointLSN, a.RestorePointWAL, a.RestorePointMs, a.RestorePointDoneMs, deref(a.ArchivedMs), a.Switched)
	for _, r := range d.List() {
		t.Logf("%s: error %q; target %.1f–%.1f ms; acked %d, absent %d, missing %d (rpo %.0f ms); before %d (missing %d), in flight %d (present %d), after %d (present after %d); rows %d; backup %v dump %v server %v restore %v recovery %v promote %v; steps %+v",
			r.Kind, r.Error, r.TargetMs, r.TargetDoneMs, r.Acked, r.Absent, r.MissingAcked, r.RPOMs, r.BeforeTarget, r.MissingBefore,
			r.InFlight, r.InFlightPresent, r.AfterTarget, r.PresentAfter, r.Rows, deref(r.BackupMs), deref(r.DumpMs), deref(r.ServerMs),
			deref(r.RestoreMs), deref(r.RecoveryMs), deref(r.PromoteMs), r.Steps)
		if r.Error != "" {
			t.Errorf("%s: %s", r.Kind, r.Error)
		}
	}

	// The accident: its rows were acknowledged writes, deleted on
	// purpose: the audit holds them as such and loses nothing.
	au := v.Summary.Audit
	if a.Error != "" || a.Deleted < 100 || a.DeletedAudited == 0 || len(a.DeletedIDs) == 0 {
		t.Fatalf("accident: %+v", a)
	}
	if au.DeletedOnPurpose != a.DeletedAudited || au.Lost != 0 {
		t.Errorf("audit: %d deleted on purpose (accident: %d), %d lost", au.DeletedOnPurpose, a.DeletedAudited, au.Lost)
	}
	acked := map[string]bool{}
	for _, row := range historyRows(t, dir, v)[1:] {
		if row[6] == "acked" {
			acked[row[0]] = true
		}
	}
	for _, id := range a.DeletedIDs {
		if !acked[strconv.FormatInt(id, 10)] {
			t.Errorf("deleted id %d was not an acknowledged write", id)
		}
	}

	drillChecks := 0
	for _, c := range v.Checks {
		if !c.Passed {
			t.Errorf("self-check failed: %s: %s", c.Name, c.Message)
		}
		if strings.HasPrefix(c.Name, "dump:") || strings.HasPrefix(c.Name, "pitr:") {
			drillChecks++
		}
	}
	if drillChecks != 4 {
		t.Errorf("%d self-checks of the drills, want 4", drillChecks)
	}

	// PITR: every acknowledged order before the restore point, the
	// deleted ones too, and nothing sent after it.
	p := d.PITR
	if p.RecoveryMs == nil || *p.RecoveryMs <= 0 || p.BackupMs == nil {
		t.Errorf("pitr: recovery %v, backup %v", p.RecoveryMs, p.BackupMs)
	}
	if p.MissingAcked != 0 || p.MissingBefore != 0 || p.PresentAfter != 0 || p.RPOMs != 0 {
		t.Errorf("pitr: %d acknowledged before the target missing, %d sent after it present", p.MissingBefore, p.PresentAfter)
	}
	if p.BeforeTarget < 500 || p.AfterTarget < 300 || p.TargetMs != a.RestorePointMs {
		t.Errorf("pitr: %d acked before the target at %.0f ms, %d after: want the run on both sides", p.BeforeTarget, p.TargetMs, p.AfterTarget)
	}
	// Of the writes acknowledged after it, only those sent before it (at
	// most one per writer) may be there.
	if held := p.Acked - p.Absent - p.BeforeTarget - p.InFlightPresent; held < 0 || held > 4 {
		t.Errorf("pitr: %d writes acknowledged after the target are there", held)
	}

	// Dump: the restore lacks the writes acknowledged after the
	// snapshot, and only those: none before it missing, none sent after
	// it present; the few acknowledged after it but sent before it (at
	// most one per writer) may be in it.
	du := d.Dump
	if du.DumpMs == nil || du.RestoreMs == nil || du.ServerMs == nil || du.Bytes == 0 {
		t.Errorf("dump: dump %v restore %v server %v bytes %d", du.DumpMs, du.RestoreMs, du.ServerMs, du.Bytes)
	}
	if du.MissingBefore != 0 || du.PresentAfter != 0 {
		t.Errorf("dump: %d acknowledged before the snapshot missing, %d sent after it present", du.MissingBefore, du.PresentAfter)
	}
	if du.MissingAcked != du.Absent || du.MissingAcked < du.AfterTarget-4 || du.MissingAcked > du.AfterTarget+du.InFlight || du.AfterTarget < 300 {
		t.Errorf("dump: %d missing, want the %d acknowledged after the snapshot (+%d in flight)", du.MissingAcked, du.AfterTarget, du.InFlight)
	}
	// The accident came after the dump: its rows are in the restore.
	if du.BeforeTarget < 200 || du.Rows < 500 {
		t.Errorf("dump: %d before, %d rows", du.BeforeTarget, du.Rows)
	}

	// Archive-only standby: sampled over the run, its lag measured,
	// promoted at the end, what it lacks counted.
	s := d.ArchiveStandby
	withLag := 0
	for _, pt := range s.Lag {
		if pt.LagBytes != nil {
			withLag++
		}
	}
	if withLag < 10 || s.MaxLagBytes == nil || *s.MaxLagBytes <= 0 || s.EndLagBytes == nil || s.PromoteMs == nil {
		t.Errorf("archive standby: %d samples with a lag of %d, max %v, end %v, promote %v", withLag, len(s.Lag), deref(s.MaxLagBytes), deref(s.EndLagBytes), deref(s.PromoteMs))
	}
	if s.MissingAcked != s.Absent || s.Acked == 0 || s.MissingAcked >= s.Acked || s.Rows < 500 {
		t.Errorf("archive standby: missing %d of %d acked, %d rows", s.MissingAcked, s.Acked, s.Rows)
	}
	if s.MissingAcked > 0 && s.RPOMs <= 0 {
		t.Errorf("archive standby: %d missing, rpo %v ms", s.MissingAcked, s.RPOMs)
	}
}
