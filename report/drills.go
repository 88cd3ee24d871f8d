package report

import (
	"fmt"
	"html/template"
	"math"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// drillNames are the drills as the report names them.
var drillNames = map[string]string{
	"dump":            "dump and restore",
	"pitr":            "point-in-time recovery",
	"archive_standby": "archive-only standby",
}

func drillName(kind string) string {
	if n, ok := drillNames[kind]; ok {
		return n
	}
	return kind
}

// drillRow is one drill of one variant, as the report's table and
// timeline show it.
type drillRow struct {
	Variant, Drill, At, Target string
	// Timing: the drill's durations in a few words (dump, restore, RTO).
	Timing string
	// RTO is the figure a restore is judged by: restore_ms, pitr_ms or
	// the promotion.
	RTO, Before, Missing, After, RPO, Lag, Rows string
	MissingBad                                  bool
	// Checks says whether the ledger's boundaries held: nothing acked
	// before the target missing (but for pitr's RPO), nothing sent after
	// it present.
	Checks    string
	ChecksBad bool
	Error     string
	// Bars are the steps on the drill's timeline, in percent of the
	// variant's span.
	Bars []drillBar
}

// drillBar is one step on a drill's timeline.
type drillBar struct {
	Name        string
	Left, Width template.CSS
	Title       string
	Color       template.CSS
}

// accidentRow is one variant's accident.
type accidentRow struct {
	Variant, At, Deleted, Condition, RestorePoint, Archived, Error string
}

var stepColors = []string{"#4878d0", "#ee854a", "#6acc64", "#d65f5f", "#956cb4", "#8c613c"}

// buildDrillRows lists every drill of every variant, and each variant's
// accident.
func buildDrillRows(r *result.Result) ([]drillRow, []accidentRow) {
	var rows []drillRow
	var accidents []accidentRow
	for i := range r.Variants {
		v := &r.Variants[i]
		d := v.Drills
		if d == nil {
			continue
		}
		if a := d.Accident; a != nil {
			ar := accidentRow{Variant: v.Name, At: fmtDuration(a.Ms), Condition: a.Condition, Error: a.Error,
				Deleted:      fmt.Sprintf("%s rows (%s written in the window)", fmtInt(a.Deleted), fmtInt(a.DeletedAudited)),
				RestorePoint: "–", Archived: "–"}
			if a.RestorePoint != "" {
				ar.RestorePoint = a.RestorePointLSN + " in " + orDash(a.RestorePointWAL)
			}
			if a.ArchivedMs != nil {
				ar.Archived = fmtDuration(*a.ArchivedMs-a.RestorePointMs) + " after the restore point"
				if a.Switched {
					ar.Archived += " (WAL switched by the harness after the workload)"
				}
			}
			accidents = append(accidents, ar)
		}
		// The timeline spans the variant's window and its drills.
		span := r.Run.DurationS * 1000
		for _, dr := range d.List() {
			for _, s := range dr.Steps {
				span = math.Max(span, s.EndMs)
			}
		}
		for _, dr := range d.List() {
			rows = append(rows, drillRowOf(v.Name, dr, span))
		}
	}
	return rows, accidents
}

func drillRowOf(variant string, dr *result.DrillResult, span float64) drillRow {
	row := drillRow{Variant: variant, Drill: drillName(dr.Kind), At: fmtDuration(dr.AtMs), Error: dr.Error,
		Target: fmtDuration(dr.TargetMs), RTO: "–", Lag: "–",
		Before: fmtInt(dr.BeforeTarget), Missing: fmtInt(dr.MissingAcked), After: fmtInt(dr.AfterTarget),
		RPO: fmtDuration(dr.RPOMs), Rows: fmtInt(dr.Rows), MissingBad: dr.MissingAcked > 0 && dr.Kind != "dump"}
	var timing []string
	add := func(name string, p *float64) {
		if p != nil {
			timing = append(timing, name+" "+fmtDuration(*p))
		}
	}
	add("base backup", dr.BackupMs)
	add("pg_dump", dr.DumpMs)
	add("server", dr.ServerMs)
	add("pg_restore", dr.RestoreMs)
	add("recovery", dr.RecoveryMs)
	add("promotion", dr.PromoteMs)
	row.Timing = strings.Join(timing, ", ")
	switch dr.Kind {
	case "dump":
		row.Target = "snapshot at " + fmtDuration(dr.TargetMs)
		if dr.ServerMs != nil && dr.RestoreMs != nil {
			row.RTO = fmtDuration(*dr.ServerMs + *dr.RestoreMs)
		}
	case "pitr":
		row.Target = "restore point at " + fmtDuration(dr.TargetMs)
		if dr.RecoveryMs != nil {
			row.RTO = fmtDuration(*dr.RecoveryMs)
		}
	case "archive_standby":
		row.Target = "promoted at " + fmtDuration(dr.TargetMs)
		if dr.PromoteMs != nil {
			row.RTO = fmtDuration(*dr.PromoteMs)
		}
		if dr.MaxLagBytes != nil {
			row.Lag = fmtBytes(*dr.MaxLagBytes) + " max"
			if dr.EndLagBytes != nil {
				row.Lag += ", " + fmtBytes(*dr.EndLagBytes) + " at the end"
			}
		}
	}
	// The ledger's boundaries: for pitr a write missing before the target
	// is its RPO, for the standby its lag; for a dump it must not be.
	var bad []string
	if dr.MissingBefore > 0 && dr.Kind == "dump" {
		bad = append(bad, fmtInt(dr.MissingBefore)+" acknowledged before the target missing")
	}
	if dr.PresentAfter > 0 {
		bad = append(bad, fmtInt(dr.PresentAfter)+" sent after the target present")
	}
	row.Checks = "held"
	if len(bad) > 0 {
		row.Checks, row.ChecksBad = strings.Join(bad, "; "), true
	}
	if dr.Error != "" {
		row.Checks, row.ChecksBad = "–", false
	}
	if span > 0 {
		for i, s := range dr.Steps {
			w := math.Max((s.EndMs-s.StartMs)/span*100, 0.4)
			row.Bars = append(row.Bars, drillBar{Name: s.Name, Color: template.CSS(stepColors[i%len(stepColors)]),
				Left:  template.CSS(fmt.Sprintf("%.2f%%", s.StartMs/span*100)),
				Width: template.CSS(fmt.Sprintf("%.2f%%", w)),
				Title: fmt.Sprintf("%s: %s to %s (%s)", s.Name, fmtDuration(s.StartMs), fmtDuration(s.EndMs), fmtDuration(s.EndMs-s.StartMs))})
		}
	}
	return row
}

// drillNotes are the text summary's lines on a variant's drills and
// accident.
func drillNotes(v *result.Variant) []string {
	d := v.Drills
	if d == nil {
		return nil
	}
	var out []string
	if a := d.Accident; a != nil {
		if a.Error != "" {
			out = append(out, fmt.Sprintf("%s: accident failed: %s", v.Name, firstLine(a.Error)))
		} else {
			out = append(out, fmt.Sprintf("%s: accident at %s deleted %s orders (%s written in the window, deleted on purpose, not lost)",
				v.Name, fmtDuration(a.Ms), fmtInt(a.Deleted), fmtInt(a.DeletedAudited)))
		}
	}
	for _, dr := range d.List() {
		if dr.Error != "" {
			out = append(out, fmt.Sprintf("%s: %s failed: %s", v.Name, drillName(dr.Kind), firstLine(dr.Error)))
			continue
		}
		var s string
		switch dr.Kind {
		case "dump":
			s = fmt.Sprintf("dump and restore: pg_dump %s, restore %s; %s acknowledged writes after the snapshot not restored",
				fmtMsOpt(dr.DumpMs, " ms"), fmtRestore(dr), fmtInt(dr.MissingAcked))
		case "pitr":
			s = fmt.Sprintf("point-in-time recovery to the restore point before the accident in %s (RTO); %s acknowledged writes before it missing (RPO %s)",
				fmtMsOpt(dr.RecoveryMs, " ms"), fmtInt(dr.MissingAcked), fmtDuration(dr.RPOMs))
		case "archive_standby":
			lag := "–"
			if dr.MaxLagBytes != nil {
				lag = fmtBytes(*dr.MaxLagBytes)
			}
			s = fmt.Sprintf("archive-only standby, max lag %s; promoted at the end it lacked %s acknowledged writes (RPO %s)",
				lag, fmtInt(dr.MissingAcked), fmtDuration(dr.RPOMs))
		}
		out = append(out, v.Name+": "+s)
	}
	return out
}

func fmtRestore(dr *result.DrillResult) string {
	if dr.ServerMs == nil || dr.RestoreMs == nil {
		return "–"
	}
	return fmtMs(*dr.ServerMs+*dr.RestoreMs) + " ms"
}
