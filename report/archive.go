package report

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// archiveRow is one variant's WAL archive, as the report's table shows it.
type archiveRow struct {
	Variant                  string
	MaxSegments, MaxBytes    string
	MaxSince, LastArchived   string
	Failures, Folder, Stored string
	FailuresBad              bool
}

// buildArchiveRows lists the variants that archived WAL: the worst lag
// of the archive behind the primary, the longest without archiving, the
// last file archived and when, the failed attempts, and what the archive
// folder holds.
func buildArchiveRows(r *result.Result) []archiveRow {
	var out []archiveRow
	for i := range r.Variants {
		v := &r.Variants[i]
		a := v.Summary.Archive
		if a == nil {
			continue
		}
		row := archiveRow{Variant: v.Name, MaxSegments: "–", MaxBytes: orBytes(a.MaxLagBytes), MaxSince: "–", LastArchived: "none",
			Failures: fmtInt(a.Failures), FailuresBad: a.Failures > 0, Folder: orDash(v.ArchiveDir), Stored: "–"}
		if a.MaxLagSegments != nil {
			row.MaxSegments = fmtInt(*a.MaxLagSegments)
		}
		if a.MaxSinceArchivedMs != nil {
			row.MaxSince = fmtTenths(*a.MaxSinceArchivedMs) + " s"
		}
		if a.LastArchivedWAL != "" {
			row.LastArchived = a.LastArchivedWAL
			if a.LastArchivedMs != nil {
				// The samples go on in the grace after the window.
				switch d := a.EndMs - *a.LastArchivedMs; {
				case math.Abs(d) < 50:
					row.LastArchived += ", at the end"
				case d > 0:
					row.LastArchived += fmt.Sprintf(", %s s before the end", fmtTenths(d))
				default:
					row.LastArchived += fmt.Sprintf(", %s s after the end", fmtTenths(-d))
				}
			}
		}
		if a.LastFailedWAL != "" && a.Failures > 0 {
			row.Failures += " (last " + a.LastFailedWAL + ")"
		}
		if v.ArchiveDir != "" {
			row.Stored = fmt.Sprintf("%s files, %s", fmtInt(a.Files), fmtBytes(float64(a.Bytes)))
		}
		out = append(out, row)
	}
	return out
}

// archiveNotes are the text summary's lines on archiving that failed.
func archiveNotes(v *result.Variant) []string {
	a := v.Summary.Archive
	if a == nil || a.Failures == 0 {
		return nil
	}
	n := fmt.Sprintf("%s: archive_command failed %s times", v.Name, fmtInt(a.Failures))
	if a.LastFailedWAL != "" {
		n += " (last on " + a.LastFailedWAL + ")"
	}
	return []string{n}
}

// archiveFigure: each variant's archive lag in bytes over time, the WAL
// the primary had written past the end of its last archived segment.
func (r *run) archiveFigure() (*figure, bool) {
	var ds []*variantData
	lines := map[*variantData]plotter.XYs{}
	var all [][]float64
	for _, d := range r.variants {
		var xy plotter.XYs
		var ys []float64
		for _, p := range d.v.Series.Archive {
			if p.LagBytes == nil {
				continue
			}
			xy = append(xy, plotter.XY{X: p.Ms / 1000, Y: *p.LagBytes})
			ys = append(ys, *p.LagBytes)
		}
		if len(xy) == 0 {
			continue
		}
		ds = append(ds, d)
		lines[d] = xy
		all = append(all, ys)
	}
	if len(ds) == 0 {
		return nil, false
	}
	p := newPlot("WAL not yet archived", "", "")
	r.timeAxis(p, true)
	windows, shaded := r.shade(p, ds...)
	sc := chooseScale(all...)
	for _, d := range ds {
		addLine(p, lines[d], draw.LineStyle{Color: colorAt(d.color), Width: 1.6}, 0, sc)
	}
	faults := r.faultLines(p, ds)
	sc.applyBytes(p)
	return &figure{
		title:   "WAL archive lag",
		note:    "The primary's WAL position minus the end of the last segment it archived; it falls when a segment is archived. A segment switched by archive_timeout counts whole until archived (its unused end is padding): the spikes.",
		panels:  []*plot.Plot{p},
		heights: []vg.Length{200},
		legend:  r.variantLegend(ds, faults, windows, shaded),
	}, true
}
