package summary

import (
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// DrillSample bounds the id samples of a drill.
const DrillSample = 100

// Drill judges what a drill's server holds against the ledger and fills
// r's figures: entries are the ledger (entry i is id first+i), ids the
// sorted ids the server holds from first on, deleted the ids the
// accident deleted before the drill's target (left out: the source did
// not have them either), refMs the moment RPOMs counts back from (the
// target for pitr and archive_standby, the newest ack for a dump, whose
// restore lacks everything after its snapshot).
//
// r.TargetMs and r.TargetDoneMs bound the target: a write acknowledged
// before TargetMs must be there, one sent after TargetDoneMs must not.
func Drill(r *result.DrillResult, first int64, entries workload.Entries, ids []int64, deleted map[int64]bool, refMs float64) {
	present := make([]bool, entries.Len())
	for _, id := range ids {
		if i := id - first; i >= 0 && i < int64(entries.Len()) {
			present[i] = true
		}
	}
	r.Acked, r.Absent, r.BeforeTarget, r.MissingBefore, r.AfterTarget, r.PresentAfter, r.InFlight, r.InFlightPresent = 0, 0, 0, 0, 0, 0, 0, 0
	var absentIDs, beforeIDs []int64
	earliestAbsent, earliestBefore := -1.0, -1.0
	for i, e := range entries.All() {
		id := first + int64(i)
		if deleted[id] {
			continue
		}
		at, sent := msOf(e.At), msOf(e.Sent)
		if e.WasSent() && sent > r.TargetDoneMs && present[i] {
			r.PresentAfter++
		}
		if e.Outcome != workload.Acked {
			continue
		}
		r.Acked++
		if !present[i] {
			r.Absent++
			if len(absentIDs) < DrillSample {
				absentIDs = append(absentIDs, id)
			}
			if earliestAbsent < 0 || at < earliestAbsent {
				earliestAbsent = at
			}
		}
		switch {
		case at < r.TargetMs:
			r.BeforeTarget++
			if !present[i] {
				r.MissingBefore++
				if len(beforeIDs) < DrillSample {
					beforeIDs = append(beforeIDs, id)
				}
				if earliestBefore < 0 || at < earliestBefore {
					earliestBefore = at
				}
			}
		case at <= r.TargetDoneMs:
			r.InFlight++
			if present[i] {
				r.InFlightPresent++
			}
		default:
			r.AfterTarget++
		}
	}
	earliest := earliestAbsent
	r.MissingAcked, r.MissingIDs = r.Absent, absentIDs
	if r.Kind == scenario.DrillPITR {
		r.MissingAcked, r.MissingIDs, earliest = r.MissingBefore, beforeIDs, earliestBefore
	}
	if r.MissingIDs == nil {
		r.MissingIDs = []int64{}
	}
	r.RPOMs = 0
	if r.MissingAcked > 0 && refMs > earliest {
		r.RPOMs = refMs - earliest
	}
}

// DrillLag sums up an archive-only standby's samples into r; a long
// run's samples are kept at most result.MaxSeriesPoints, evenly, the
// largest lag among them.
func DrillLag(r *result.DrillResult, pts []result.DrillLagPoint) {
	r.Lag = thinLag(pts, result.MaxSeriesPoints)
	r.MaxLagBytes, r.EndLagBytes, r.MaxReplayAgeMs = nil, nil, nil
	for _, p := range pts {
		r.MaxLagBytes = maxOf(r.MaxLagBytes, p.LagBytes)
		r.MaxReplayAgeMs = maxOf(r.MaxReplayAgeMs, p.ReplayAgeMs)
		if p.LagBytes != nil {
			v := *p.LagBytes
			r.EndLagBytes = &v
		}
	}
}

// DrillChecks are the drills' self-checks, the ledger's boundaries set
// against the rows each drill's server holds: every write acknowledged
// before a dump's snapshot restored; no write sent after a dump's
// snapshot or a PITR's restore point present; and a dump's missing
// writes are those acknowledged after its snapshot, give or take those
// in flight across it (acknowledged during the export, or sent before
// it and acknowledged after: at most one per writer).
func DrillChecks(d *result.Drills, writers int) []result.Check {
	var out []result.Check
	for _, r := range d.List() {
		if r.Error != "" {
			continue
		}
		switch r.Kind {
		case scenario.DrillDump:
			out = append(out, check("dump: every write acknowledged before the snapshot restored", "writes", 0, float64(r.MissingBefore), 0,
				fmt.Sprintf("%d of the %d writes acknowledged before the snapshot at %.1f ms are missing from the restore", r.MissingBefore, r.BeforeTarget, r.TargetMs)))
			tol := float64(r.InFlight + int64(writers))
			out = append(out, check("dump: missing writes are those acknowledged after the snapshot", "writes", tol, float64(r.MissingAcked), float64(r.AfterTarget),
				fmt.Sprintf("the restore lacks %d acknowledged writes; %d were acknowledged after the snapshot returned at %.1f ms; tolerance: %d in flight during the export + %d writers (a write sent before it, acknowledged after)",
					r.MissingAcked, r.AfterTarget, r.TargetDoneMs, r.InFlight, writers)))
			fallthrough
		case scenario.DrillPITR:
			out = append(out, check(r.Kind+": no write sent after the target present", "writes", 0, float64(r.PresentAfter), 0,
				fmt.Sprintf("%d writes sent after %.1f ms (the target's end) are there", r.PresentAfter, r.TargetDoneMs)))
		}
	}
	return out
}

// thinLag keeps at most n of pts (n >= 2): evenly spaced, the last, and
// the one with the largest lag in place of its neighbour.
func thinLag(pts []result.DrillLagPoint, n int) []result.DrillLagPoint {
	if len(pts) <= n {
		return pts
	}
	peak := -1
	for i, p := range pts {
		if p.LagBytes != nil && (peak < 0 || *p.LagBytes > *pts[peak].LagBytes) {
			peak = i
		}
	}
	out := make([]result.DrillLagPoint, 0, n)
	step := float64(len(pts)-1) / float64(n-1)
	for k := 0; k < n; k++ {
		i := int(float64(k)*step + 0.5)
		if peak >= 0 && k > 0 && int(float64(k-1)*step+0.5) < peak && peak <= i {
			i = peak
		}
		out = append(out, pts[i])
	}
	return out
}
