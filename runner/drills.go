package runner

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/summary"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Restore drills (scenario drills: and accident:). During the workload,
// each at its moment: the dump (pg_dump of the orders as of a snapshot
// exported then), the base backups of the pitr drill and of the
// archive-only standby (which then starts and is sampled), and the
// accident (a restore point, then the DELETE). After the workload: the
// standby is promoted, the dump restored into a fresh server, the base
// backup recovered from the archive to the restore point; each server's
// rows are set against the ledger, and the server removed.
//
// Why a named restore point is the PITR target: it is a WAL record made
// on the accident's connection right before the DELETE, so a recovery to
// it replays every commit before it and none after, the DELETE's
// included. A write acknowledged before it was asked for committed
// before it (its commit record precedes the ack), and one sent after it
// returned commits after it: the expected rows follow from the ledger
// exactly, up to the writes in flight during the call itself.
// recovery_target_time would compare the servers' commit timestamps,
// which a harness clock cannot order exactly against the DELETE.

// restorePoint is the name of the restore point made before the accident.
const restorePoint = "pgbench_ha_before_accident"

// Names of the drill servers, backups and dump.
const (
	drillDumpName    = "restore-dump"
	drillPITRName    = "restore-pitr"
	drillStandbyName = "archive-standby"
)

// drillTimeout bounds each step of a drill.
const drillTimeout = 2 * time.Minute

// drillRun runs one variant's accident and drills.
type drillRun struct {
	s      *scenario.Scenario
	c      cluster.Cluster
	dr     cluster.Driller // nil with an accident alone
	roles  *cluster.Roles
	start  time.Time
	emit   func(result.Event)
	first  int64
	cs     *cluster.Conns
	wg     sync.WaitGroup
	mu     sync.Mutex
	res    result.Drills
	errs   []error
	delIDs []int64 // the accident's, sorted
	// dump: the snapshot's bounds; standby: its samples.
	lag []result.DrillLagPoint
}

// newDrills prepares the drills of s, nil when it has none; it refuses a
// cluster that cannot run them.
func newDrills(s *scenario.Scenario, c cluster.Cluster, roles *cluster.Roles, first int64) (*drillRun, error) {
	if !s.HasDrills() {
		return nil, nil
	}
	d := &drillRun{s: s, c: c, roles: roles, first: first, emit: func(result.Event) {}}
	if len(s.Drills) > 0 {
		dr, ok := c.(cluster.Driller)
		if !ok {
			return nil, fmt.Errorf("drills: the backend cannot start servers of its own for restore drills")
		}
		d.dr = dr
	}
	d.cs = cluster.NewConns(c, "pgbench-ha-drill", 5*time.Second)
	return d, nil
}

func (d *drillRun) ms(t time.Time) float64 { return float64(t.Sub(d.start).Microseconds()) / 1000 }

func (d *drillRun) fail(r *result.DrillResult, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	err = fmt.Errorf("%s drill: %s", r.Kind, cluster.Redact(err.Error()))
	if r.Error == "" {
		r.Error = err.Error()
	}
	d.errs = append(d.errs, err)
}

func (d *drillRun) step(r *result.DrillResult, name string, from, to time.Time) {
	d.mu.Lock()
	r.Steps = append(r.Steps, result.DrillStep{Name: name, StartMs: d.ms(from), EndMs: d.ms(to)})
	d.mu.Unlock()
}

func msPtr(from, to time.Time) *float64 {
	v := float64(to.Sub(from).Microseconds()) / 1000
	return &v
}

// begin starts the drills' clock: each action fires at its moment while
// bg lasts (the workload's window); the sampling of the archive-only
// standby stops with bg. Operations run under ctx (the run's), so one
// under way when the window closes finishes.
func (d *drillRun) begin(ctx, bg context.Context, start time.Time, emit func(result.Event)) {
	d.start, d.emit = start, emit
	at := func(off scenario.Duration, f func()) {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			select {
			case <-bg.Done():
				return
			case <-time.After(time.Until(start.Add(off.D()))):
			}
			f()
		}()
	}
	for _, dr := range d.s.Drills {
		r := &result.DrillResult{Kind: dr.Kind, AtMs: float64(dr.At.D().Microseconds()) / 1000, Steps: []result.DrillStep{}, MissingIDs: []int64{}}
		switch dr.Kind {
		case scenario.DrillDump:
			d.res.Dump = r
			at(dr.At, func() { d.dump(ctx, r) })
		case scenario.DrillPITR:
			d.res.PITR = r
			at(dr.At, func() { d.backup(ctx, r, drillPITRName) })
		case scenario.DrillArchiveStandby:
			d.res.ArchiveStandby = r
			at(dr.At, func() { d.standby(ctx, bg, r) })
		}
	}
	if a := d.s.Accident; a != nil {
		d.res.Accident = &result.Accident{Condition: a.Condition(), RestorePoint: restorePoint, DeletedIDs: []int64{}}
		at(a.At, func() { d.accident(ctx, bg, d.res.Accident) })
	}
}

// dump exports a snapshot on the primary and runs pg_dump as of it.
func (d *drillRun) dump(ctx context.Context, r *result.DrillResult) {
	ctx, cancel := context.WithTimeout(ctx, drillTimeout)
	defer cancel()
	primary := d.roles.Primary()
	conn, err := pgx.Connect(ctx, d.c.ConnString(primary, cluster.Admin))
	if err != nil {
		d.fail(r, err)
		return
	}
	defer conn.Close(context.Background())
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		d.fail(r, err)
		return
	}
	defer tx.Rollback(context.Background())
	t0 := time.Now()
	var snap string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap); err != nil {
		d.fail(r, err)
		return
	}
	t1 := time.Now()
	r.TargetMs, r.TargetDoneMs = d.ms(t0), d.ms(t1)
	d.step(r, "snapshot", t0, t1)
	d.emit(result.Event{Ms: d.ms(t0), Kind: result.EventDrill, Node: primary, Detail: "dump: snapshot exported"})
	size, err := d.dr.Dump(ctx, primary, snap, drillDumpName)
	t2 := time.Now()
	if err != nil {
		d.fail(r, err)
		return
	}
	r.Bytes, r.DumpMs = size, msPtr(t1, t2)
	d.step(r, "pg_dump", t1, t2)
}

// backup takes a base backup of the primary under name.
func (d *drillRun) backup(ctx context.Context, r *result.DrillResult, name string) bool {
	ctx, cancel := context.WithTimeout(ctx, drillTimeout)
	defer cancel()
	t0 := time.Now()
	primary := d.roles.Primary()
	d.emit(result.Event{Ms: d.ms(t0), Kind: result.EventDrill, Node: primary, Detail: r.Kind + ": base backup"})
	if err := d.dr.BaseBackup(ctx, primary, name); err != nil {
		d.fail(r, err)
		return false
	}
	t1 := time.Now()
	r.BackupMs = msPtr(t0, t1)
	d.step(r, "base backup", t0, t1)
	return true
}

// standby takes its base backup, starts it fed by the archive alone, and
// samples its lag until bg ends.
func (d *drillRun) standby(ctx, bg context.Context, r *result.DrillResult) {
	if !d.backup(ctx, r, drillStandbyName) {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, drillTimeout)
	t0 := time.Now()
	_, err := d.dr.StartServer(sctx, cluster.ServerSpec{Name: drillStandbyName, Backup: drillStandbyName, Standby: true})
	cancel()
	if err != nil {
		d.fail(r, err)
		return
	}
	d.step(r, "standby started", t0, time.Now())
	tick := time.NewTicker(d.s.Probes.LagInterval.D())
	defer tick.Stop()
	cs := cluster.NewConns(d.c, "pgbench-ha-drill-lag", 2*time.Second)
	defer cs.Close()
	for {
		select {
		case <-bg.Done():
			return
		case <-tick.C:
		}
		p := result.DrillLagPoint{Ms: d.ms(time.Now())}
		var lsn *string
		if conn, err := cs.Get(bg, drillStandbyName); err == nil {
			if err := conn.QueryRow(bg, "SELECT pg_last_wal_replay_lsn()::text, (extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8").Scan(&lsn, &p.ReplayAgeMs); err != nil {
				cs.Drop(drillStandbyName)
			}
		}
		if lsn != nil {
			if conn, err := cs.Get(bg, d.roles.Primary()); err == nil {
				var lag float64
				if err := conn.QueryRow(bg, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8", *lsn).Scan(&lag); err == nil {
					p.LagBytes = &lag
				} else {
					cs.Drop(d.roles.Primary())
				}
			}
		}
		if bg.Err() != nil {
			return
		}
		d.mu.Lock()
		d.lag = append(d.lag, p)
		d.mu.Unlock()
	}
}

var walName = regexp.MustCompile(`^[0-9A-F]{24}$`)

// accident makes the restore point and runs the DELETE on the primary,
// then polls the archiver until the segment holding the restore point is
// archived, or bg ends.
func (d *drillRun) accident(ctx, bg context.Context, a *result.Accident) {
	ctx2, cancel := context.WithTimeout(ctx, drillTimeout)
	defer cancel()
	fail := func(err error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		err = fmt.Errorf("accident: %s", cluster.Redact(err.Error()))
		a.Error = err.Error()
		d.errs = append(d.errs, err)
	}
	a.Node = d.roles.Primary()
	// The restore point (a superuser's function) for a pitr drill; then
	// the DELETE, as the application would run it. The restore point's
	// record precedes the DELETE's commit whichever connection runs it.
	if _, pitr := d.s.Drill(scenario.DrillPITR); pitr {
		admin, err := pgx.Connect(ctx2, d.c.ConnString(a.Node, cluster.Admin))
		if err != nil {
			fail(err)
			return
		}
		t0 := time.Now()
		err = admin.QueryRow(ctx2, "SELECT lsn::text, pg_walfile_name(lsn) FROM pg_create_restore_point($1) AS lsn", restorePoint).Scan(&a.RestorePointLSN, &a.RestorePointWAL)
		t1 := time.Now()
		admin.Close(context.Background())
		if err != nil {
			fail(err)
			return
		}
		a.RestorePointMs, a.RestorePointDoneMs = d.ms(t0), d.ms(t1)
	} else {
		a.RestorePoint = ""
	}
	conn, err := pgx.Connect(ctx2, d.c.ConnString(a.Node, cluster.App))
	if err != nil {
		fail(err)
		return
	}
	defer conn.Close(context.Background())
	t2 := time.Now()
	rows, err := conn.Query(ctx2, "DELETE FROM orders WHERE "+d.s.Accident.Condition()+" RETURNING id")
	if err != nil {
		fail(err)
		return
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		fail(err)
		return
	}
	t3 := time.Now()
	slices.Sort(ids)
	a.Ms, a.DoneMs = d.ms(t2), d.ms(t3)
	d.mu.Lock()
	d.delIDs = ids
	a.Deleted = int64(len(ids))
	for _, id := range ids {
		if id >= d.first {
			a.DeletedAudited++
			if len(a.DeletedIDs) < summary.DrillSample {
				a.DeletedIDs = append(a.DeletedIDs, id)
			}
		}
	}
	d.mu.Unlock()
	detail := fmt.Sprintf("accident: DELETE of %d orders", len(ids))
	if a.RestorePoint != "" {
		detail += fmt.Sprintf(" (restore point %s at %s)", restorePoint, a.RestorePointLSN)
	}
	d.emit(result.Event{Ms: a.Ms, Kind: result.EventDrill, Node: a.Node, Detail: detail})
	// The target is recoverable from the archive once its segment is.
	for a.RestorePointWAL != "" && d.s.ArchiveEnabled() && bg.Err() == nil {
		if ok, err := d.archived(bg, a.RestorePointWAL); err == nil && ok {
			v := d.ms(time.Now())
			d.mu.Lock()
			a.ArchivedMs = &v
			d.mu.Unlock()
			return
		}
		select {
		case <-bg.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// archived reports whether the current primary's archiver has archived
// the segment wal (or a later one).
func (d *drillRun) archived(ctx context.Context, wal string) (bool, error) {
	primary := d.roles.Primary()
	conn, err := d.cs.Get(ctx, primary)
	if err != nil {
		return false, err
	}
	var last *string
	if err := conn.QueryRow(ctx, "SELECT last_archived_wal FROM pg_stat_archiver").Scan(&last); err != nil {
		d.cs.Drop(primary)
		return false, err
	}
	return last != nil && walName.MatchString(*last) && *last >= wal, nil
}

// wait waits for every step under way during the workload (after an
// error, before the cluster goes down).
func (d *drillRun) wait() {
	if d != nil {
		d.wg.Wait()
	}
}

// deleted are the ids the accident deleted, sorted.
func (d *drillRun) deleted() []int64 {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.delIDs
}

// finish runs what is left of each drill once the workload is over and
// judges it against the ledger: the archive-only standby promoted first
// (what a promotion at the end loses), then the dump restored, then the
// point-in-time recovery. Every drill server is removed before it
// returns. The error names every drill that failed; the figures of the
// others are in the result.
func (d *drillRun) finish(ctx context.Context, led *workload.Ledger) (*result.Drills, error) {
	d.wg.Wait()
	defer d.cs.Close()
	entries := led.View() // the writers are done: read in place, no copy
	var newest float64
	for _, e := range entries.All() {
		if e.Outcome == workload.Acked {
			newest = max(newest, float64(e.At.Microseconds())/1000)
		}
	}
	deleted := map[int64]bool{}
	for _, id := range d.deleted() {
		deleted[id] = true
	}
	// The accident's ids count only for a target after it.
	deletedBefore := func(targetMs float64) map[int64]bool {
		if a := d.res.Accident; a != nil && a.Error == "" && a.Ms < targetMs {
			return deleted
		}
		return nil
	}
	judge := func(r *result.DrillResult, name string, refMs float64) {
		ids, rows, err := d.readIDs(ctx, name)
		if err != nil {
			d.fail(r, err)
			return
		}
		r.Rows = rows
		summary.Drill(r, d.first, entries, ids, deletedBefore(r.TargetMs), refMs)
	}
	if r := d.res.ArchiveStandby; r != nil && r.Error == "" {
		summary.DrillLag(r, d.lag)
		if d.promote(ctx, r) {
			judge(r, drillStandbyName, r.TargetMs)
		}
		d.remove(r, drillStandbyName)
	}
	if r := d.res.Dump; r != nil && r.Error == "" {
		if d.restoreDump(ctx, r) {
			judge(r, drillDumpName, newest)
		}
		d.remove(r, drillDumpName)
	}
	if r := d.res.PITR; r != nil && r.Error == "" {
		if d.recover(ctx, r) {
			judge(r, drillPITRName, r.TargetMs)
		}
		d.remove(r, drillPITRName)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return &d.res, errors.Join(d.errs...)
}

func (d *drillRun) remove(r *result.DrillResult, name string) {
	if err := d.dr.RemoveServer(context.Background(), name); err != nil && r.Error == "" {
		d.fail(r, err)
	}
}

// promote promotes the archive-only standby and waits until it takes
// writes.
func (d *drillRun) promote(ctx context.Context, r *result.DrillResult) bool {
	ctx, cancel := context.WithTimeout(ctx, drillTimeout)
	defer cancel()
	conn, err := d.cs.Get(ctx, drillStandbyName)
	if err != nil {
		d.fail(r, err)
		return false
	}
	t0 := time.Now()
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_promote(true, 60)").Scan(&ok); err != nil || !ok {
		d.fail(r, fmt.Errorf("promote: %v (done: %v)", err, ok))
		return false
	}
	t1 := time.Now()
	r.TargetMs, r.TargetDoneMs, r.PromoteMs = d.ms(t0), d.ms(t1), msPtr(t0, t1)
	d.step(r, "promoted", t0, t1)
	return true
}

// restoreDump starts a fresh server and restores the dump into it.
func (d *drillRun) restoreDump(ctx context.Context, r *result.DrillResult) bool {
	ctx, cancel := context.WithTimeout(ctx, drillTimeout)
	defer cancel()
	t0 := time.Now()
	if _, err := d.dr.StartServer(ctx, cluster.ServerSpec{Name: drillDumpName}); err != nil {
		d.fail(r, err)
		return false
	}
	t1 := time.Now()
	r.ServerMs = msPtr(t0, t1)
	d.step(r, "fresh server", t0, t1)
	if err := d.dr.Restore(ctx, drillDumpName, drillDumpName); err != nil {
		d.fail(r, err)
		return false
	}
	t2 := time.Now()
	r.RestoreMs = msPtr(t1, t2)
	d.step(r, "pg_restore", t1, t2)
	return true
}

// recover has the restore point archived (switching WAL if
// archive_timeout has not yet), then recovers the base backup from the
// archive to it and waits until the server is promoted there.
func (d *drillRun) recover(ctx context.Context, r *result.DrillResult) bool {
	ctx, cancel := context.WithTimeout(ctx, drillTimeout)
	defer cancel()
	a := d.res.Accident
	if a == nil || a.Error != "" || a.RestorePointWAL == "" {
		d.fail(r, fmt.Errorf("no restore point to recover to: the accident did not happen"))
		return false
	}
	r.TargetMs, r.TargetDoneMs = a.RestorePointMs, a.RestorePointDoneMs
	if a.ArchivedMs == nil {
		t0 := time.Now()
		primary := d.roles.Primary()
		conn, err := d.cs.Get(ctx, primary)
		if err == nil {
			_, err = conn.Exec(ctx, "SELECT pg_switch_wal()")
		}
		if err != nil {
			d.fail(r, fmt.Errorf("switch WAL: %w", err))
			return false
		}
		a.Switched = true
		for {
			ok, err := d.archived(ctx, a.RestorePointWAL)
			if err != nil {
				d.fail(r, fmt.Errorf("wait for the archiver: %w", err))
				return false
			}
			if ok {
				break
			}
			select {
			case <-ctx.Done():
				d.fail(r, fmt.Errorf("segment %s not archived: %w", a.RestorePointWAL, ctx.Err()))
				return false
			case <-time.After(50 * time.Millisecond):
			}
		}
		v := d.ms(time.Now())
		a.ArchivedMs = &v
		d.step(r, "WAL switched and archived", t0, time.Now())
	}
	t0 := time.Now()
	if _, err := d.dr.StartServer(ctx, cluster.ServerSpec{Name: drillPITRName, Backup: drillPITRName, TargetName: restorePoint}); err != nil {
		d.fail(r, err)
		return false
	}
	t1 := time.Now()
	d.step(r, "started from the base backup", t0, t1)
	for {
		conn, err := d.cs.Get(ctx, drillPITRName)
		if err == nil {
			var inRecovery bool
			if err = conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err == nil && !inRecovery {
				break
			}
			if err != nil {
				d.cs.Drop(drillPITRName)
			}
		}
		select {
		case <-ctx.Done():
			d.fail(r, fmt.Errorf("not recovered to %s: %w (last: %v)", restorePoint, ctx.Err(), err))
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
	t2 := time.Now()
	r.RecoveryMs = msPtr(t0, t2)
	d.step(r, "replayed to the restore point", t1, t2)
	return true
}

// readIDs reads the order ids a drill server holds from the ledger's
// first id on, and how many orders it holds in all.
func (d *drillRun) readIDs(ctx context.Context, name string) ([]int64, int64, error) {
	conn, err := d.cs.Get(ctx, name)
	if err != nil {
		return nil, 0, err
	}
	defer d.cs.Drop(name)
	var rows int64
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&rows); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	r, err := conn.Query(ctx, "SELECT id FROM orders WHERE id >= $1 ORDER BY id", d.first)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	ids, err := pgx.CollectRows(r, pgx.RowTo[int64])
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", name, err)
	}
	return ids, rows, nil
}
