package result

// EventDrill marks a step of a drill, or the accident, in the events.
const EventDrill = "drill"

// Drills are a variant's restore drills (scenario drills:) and the
// accidental DELETE they recover from (scenario accident:). Times are ms
// from the start of the measured window, on the harness's clock, like
// the ledger's.
type Drills struct {
	Accident       *Accident    `json:"accident,omitempty"`
	Dump           *DrillResult `json:"dump,omitempty"`
	PITR           *DrillResult `json:"pitr,omitempty"`
	ArchiveStandby *DrillResult `json:"archive_standby,omitempty"`
}

// List is the drills run, in the order dump, pitr, archive_standby.
func (d *Drills) List() []*DrillResult {
	if d == nil {
		return nil
	}
	var out []*DrillResult
	for _, r := range []*DrillResult{d.Dump, d.PITR, d.ArchiveStandby} {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// Accident is the accidental DELETE: the restore point made right before
// it, and the rows it removed (DELETE ... RETURNING id), which the audit
// counts as deleted on purpose, not lost.
type Accident struct {
	Node      string `json:"node"`
	Condition string `json:"condition"`
	// RestorePoint is the name given to pg_create_restore_point, at
	// RestorePointLSN; it was asked for at RestorePointMs and returned
	// at RestorePointDoneMs: a write acknowledged before RestorePointMs
	// committed before it, one sent after RestorePointDoneMs after it.
	RestorePoint       string  `json:"restore_point"`
	RestorePointLSN    string  `json:"restore_point_lsn"`
	RestorePointWAL    string  `json:"restore_point_wal"` // the segment holding it
	RestorePointMs     float64 `json:"restore_point_ms"`
	RestorePointDoneMs float64 `json:"restore_point_done_ms"`
	// Ms and DoneMs bound the DELETE.
	Ms     float64 `json:"ms"`
	DoneMs float64 `json:"done_ms"`
	// Deleted counts the rows it removed, DeletedAudited those of them
	// the workload wrote in the window (the initial orders are not
	// audited), DeletedIDs the first of those.
	Deleted        int64   `json:"deleted_rows"`
	DeletedAudited int64   `json:"deleted_audited"`
	DeletedIDs     []int64 `json:"deleted_ids_sample"`
	// ArchivedMs is when the archiver had archived the segment holding
	// the restore point (polled on the primary): the target became
	// recoverable from the archive then. Switched says the harness
	// switched WAL after the workload to have it archived, because
	// archive_timeout had not by then.
	ArchivedMs *float64 `json:"archived_ms,omitempty"`
	Switched   bool     `json:"switched_wal,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// DrillStep is one timed step of a drill, for its timeline.
type DrillStep struct {
	Name    string  `json:"name"`
	StartMs float64 `json:"start_ms"`
	EndMs   float64 `json:"end_ms"`
}

// DrillResult is one drill, timed and checked against the ledger.
//
// Its target is the moment whose data it can bring back: the dump's
// snapshot (exported at TargetMs, returned at TargetDoneMs), the restore
// point before the accident, or the archive-only standby's promotion at
// the end. A write acknowledged before TargetMs must be there, one sent
// after TargetDoneMs must not; those in between may go either way.
type DrillResult struct {
	Kind  string      `json:"kind"`
	AtMs  float64     `json:"at_ms"`
	Steps []DrillStep `json:"steps"`
	Error string      `json:"error,omitempty"`
	// Bytes is the dump's size or the base backup's.
	Bytes        int64   `json:"bytes,omitempty"`
	TargetMs     float64 `json:"target_ms"`
	TargetDoneMs float64 `json:"target_done_ms"`
	// DumpMs: pg_dump's time; ServerMs: a fresh server up (dump);
	// RestoreMs: pg_restore into it. RecoveryMs (pitr): copying the base
	// backup, starting it and replaying the archive until it was
	// promoted at the target: the recovery's RTO. PromoteMs
	// (archive_standby): pg_promote() at the end until it took writes.
	BackupMs   *float64 `json:"base_backup_ms,omitempty"`
	DumpMs     *float64 `json:"dump_ms,omitempty"`
	ServerMs   *float64 `json:"server_ms,omitempty"`
	RestoreMs  *float64 `json:"restore_ms,omitempty"`
	RecoveryMs *float64 `json:"recovery_ms,omitempty"`
	PromoteMs  *float64 `json:"promote_ms,omitempty"`
	// The ledger against the rows the drill's server holds (from the
	// ledger's first id), leaving out the writes the accident deleted
	// before the target (deleted on purpose):
	// Acked are the acknowledged writes audited; Absent those it lacks.
	Acked  int64 `json:"acked"`
	Absent int64 `json:"absent_acked"`
	// MissingAcked is the drill's figure: for a dump, the acknowledged
	// writes the restore cannot bring back (Absent: those written after
	// the snapshot); for pitr, the acknowledged writes before the target
	// that are missing (the RPO in writes; 0 when the archive covers the
	// target); for archive_standby, the acknowledged writes a promotion
	// of it at the end loses (Absent). MissingIDs are the first.
	MissingAcked int64   `json:"missing_acked_writes"`
	MissingIDs   []int64 `json:"missing_ids_sample"`
	// RPOMs is the target minus the ack of the earliest missing write
	// counted in MissingAcked: the window of acknowledged writes lost
	// (0 when none).
	RPOMs float64 `json:"rpo_ms"`
	// The exactness checks: BeforeTarget acked before TargetMs, of
	// which MissingBefore are absent (must be 0 but for pitr's RPO);
	// AfterTarget acked after TargetDoneMs (the drill cannot have them);
	// PresentAfter sent after TargetDoneMs yet present (must be 0);
	// InFlight acked between TargetMs and TargetDoneMs, of which
	// InFlightPresent are present.
	BeforeTarget    int64 `json:"acked_before_target"`
	MissingBefore   int64 `json:"missing_before_target"`
	AfterTarget     int64 `json:"acked_after_target"`
	PresentAfter    int64 `json:"present_after_target"`
	InFlight        int64 `json:"in_flight_at_target"`
	InFlightPresent int64 `json:"in_flight_present"`
	// Rows is the number of orders the drill's server holds (all ids).
	Rows int64 `json:"rows"`
	// Lag (archive_standby) is the standby's replay position behind the
	// primary's over the run; MaxLagBytes its largest, EndLagBytes the
	// last before the promotion; MaxReplayAgeMs the longest since the
	// last transaction it replayed committed.
	Lag            []DrillLagPoint `json:"lag,omitempty"`
	MaxLagBytes    *float64        `json:"max_lag_bytes,omitempty"`
	EndLagBytes    *float64        `json:"end_lag_bytes,omitempty"`
	MaxReplayAgeMs *float64        `json:"max_replay_age_ms,omitempty"`
}

// DrillLagPoint is one sample of the archive-only standby.
type DrillLagPoint struct {
	Ms       float64  `json:"ms"`
	LagBytes *float64 `json:"lag_bytes"`
	// ReplayAgeMs: now minus the commit time of the last transaction the
	// standby replayed (null before it replayed one).
	ReplayAgeMs *float64 `json:"replay_age_ms"`
}
