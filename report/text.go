package report

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/pgbench-ha/pgbench-ha/internal/redact"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// textWidth is the widest line WriteText prints, names and errors
// included.
const textWidth = 100

// WriteText writes the short plain-text summary printed at the end of a
// run: one table row per variant (its status after its name when it did
// not complete) with throughput, the capacity when a closed-loop burst
// measured one, commit latency, p99 response time, the worst replica's
// lag, write unavailability, the audit counts and, when the scenario read
// from replicas, the stale-read rate; followed by the errors
// of failed or interrupted variants, lost writes, split brains, and the
// distributions over repetitions when the scenario repeats. Lines are at
// most 100 columns.
// Write errors are ignored: the summary is a courtesy, result.json is the
// record.
func WriteText(w io.Writer, r *result.Result) {
	var b strings.Builder
	if r == nil {
		io.WriteString(w, "no result\n")
		return
	}
	m := r.Run
	head := fmt.Sprintf("%s  run %s  %s", orDash(m.Scenario), orDash(m.ID), strings.ToUpper(orDash(r.Status)))
	if n := len(r.Variants); n > 0 {
		head += fmt.Sprintf("  (%d variants", n)
		if m.DurationS > 0 {
			head += ", " + fmtDuration(m.DurationS*1000) + " each"
		}
		head += ")"
	}
	b.WriteString(clip(head, textWidth) + "\n")
	if r.Error != "" {
		b.WriteString(clip("error: "+redact.String(firstLine(r.Error)), textWidth) + "\n")
	}
	b.WriteString("\n")

	nameHead, names := variantColumn(r.Variants)
	reads, capacity := false, false
	for i := range r.Variants {
		reads = reads || len(r.Variants[i].Summary.Reads) > 0
		capacity = capacity || (hasData(&r.Variants[i]) && r.Variants[i].Summary.Capacity != nil)
	}
	// The columns after the variant's; a variant that did not complete
	// says so after its name (a status column of "complete" took the
	// width the capacity needs).
	cols := []string{"TPS", "p50", "p99", "aft", "resp", "lag", "vis", "unavail", "lost", "ghost", "unkn"}
	if capacity {
		cols = slices.Insert(cols, 1, "cap")
	}
	if reads {
		cols = append(cols, "stale")
	}
	rows := [][]string{append([]string{nameHead}, cols...)}
	for i := range r.Variants {
		v := &r.Variants[i]
		cells := map[string]string{}
		if reads {
			if rate, ok := staleRate(v.Summary.Reads); ok {
				cells["stale"] = fmtPct(rate)
			}
		}
		if hasData(v) {
			s := v.Summary
			// The levels compare before the fault (the whole run without
			// one), not blended with the outage and what came after.
			before, after := comparedPhases(v)
			switch {
			case before != nil:
				cells["TPS"] = fmtCount(before.TPS)
				if before.Acked > 0 {
					cells["p50"], cells["p99"] = fmtMs(before.P50CommitMs), fmtMs(before.P99CommitMs)
				}
				if before.MaxReplayLagBytes > 0 || before.MaxVisibilityMs > 0 || len(before.Replicas) > 0 {
					cells["lag"], cells["vis"] = fmtBytes(before.MaxReplayLagBytes), fmtMs(before.MaxVisibilityMs)
				}
			default: // a result without phases
				cells["TPS"] = fmtCount(s.TPS)
				if s.CommitLatency.N > 0 || s.CommitLatency.Max > 0 {
					cells["p50"], cells["p99"] = fmtMs(s.CommitLatency.P50), fmtMs(s.CommitLatency.P99)
				}
				if _, lag, _, vis, ok := worstLag(s); ok {
					cells["lag"], cells["vis"] = fmtBytes(lag), fmtMs(vis)
				}
			}
			if c := s.Capacity; c != nil {
				cells["cap"] = fmtThousands(c.TPS)
			}
			if after != nil && after.Acked > 0 {
				cells["aft"] = fmtMs(after.P50CommitMs)
			}
			if s.ResponseTime.N > 0 {
				cells["resp"] = fmtMs(s.ResponseTime.P99)
			}
			if f := s.Failover; f != nil && f.WriteUnavailableMs != nil {
				cells["unavail"] = fmtMs(*f.WriteUnavailableMs)
			}
			if a := s.Audit; a != nil {
				cells["lost"] = fmtInt(a.Lost)
				cells["ghost"] = fmtInt(a.Ghosts)
			}
			cells["unkn"] = fmtInt(s.Unknown)
		}
		name := names[i]
		switch v.Status {
		case result.StatusComplete:
		case result.StatusPending:
			name += " (not run)"
		default:
			name += " (" + orDash(v.Status) + ")"
		}
		row := []string{name}
		for _, h := range cols {
			row = append(row, orDash(cells[h]))
		}
		rows = append(rows, row)
	}
	// The variant column gets what the numbers leave of the width; names
	// too long for it go on a line of their own above their numbers.
	rest := 0
	for j := 1; j < len(rows[0]); j++ {
		w := 0
		for _, row := range rows {
			w = max(w, utf8.RuneCountInString(row[j]))
		}
		rest += w + 2
	}
	long := false
	for _, row := range rows {
		long = long || utf8.RuneCountInString(row[0]) > textWidth-rest
	}
	if !long {
		writeTable(&b, rows, 1)
	} else {
		nameRows := make([]string, len(rows))
		for i, row := range rows {
			nameRows[i] = row[0]
			row[0] = ""
		}
		for i, l := range tableLines(rows, 1) {
			b.WriteString(wrap(nameRows[i], textWidth, "    "))
			// The empty variant column leaves the two spaces of its
			// gap: the indent, the numbers still aligned.
			b.WriteString(l + "\n")
		}
	}
	if capacity {
		b.WriteString("cap: capacity, the TPS of the closed-loop burst (every writer back to back), a phase apart;\n" +
			"k: thousands.\n")
	}
	b.WriteString("Before the fault (the whole run without one): TPS; p50, p99: commit latency (send to ack),\n" +
		"ms; lag: worst replica's max replay lag; vis: worst replica's max heartbeat visibility, ms.\n" +
		"aft: commit p50 after the failover (or the last heal), ms. Whole run: resp: p99 response\n" +
		"time (scheduled time to ack), ms; unavail: writes unavailable, ms; lost: acknowledged writes\n" +
		"lost; ghost: failed or never sent writes found; unkn: writes with an unknown outcome\n")
	if reads {
		b.WriteString("stale: share of the answered reads that missed an acknowledged write, every node\n")
	}

	var notes []string
	for i := range r.Variants {
		v := &r.Variants[i]
		switch v.Status {
		case result.StatusFailed, result.StatusInterrupted:
			s := fmt.Sprintf("%s: %s during %s", v.Name, v.Status, orDash(v.Phase))
			if v.Error != "" {
				s += ": " + redact.String(firstLine(v.Error))
			}
			notes = append(notes, s)
		case result.StatusPending:
			notes = append(notes, v.Name+": not run")
		}
		sb := splitBrainHeadline(v)
		// The split-brain note names the lost writes when the old
		// primary acknowledged them all.
		if a := v.Summary.Audit; a != nil && a.Lost > 0 && (sb == "" || a.LostByNode[v.Summary.Failover.OldPrimary] != a.Lost) {
			notes = append(notes, fmt.Sprintf("%s: %s acknowledged writes missing on %s",
				v.Name, fmtInt(a.Lost), orDash(a.FinalPrimary)))
		}
		if sb != "" {
			notes = append(notes, v.Name+": "+sb)
		}
		notes = append(notes, serverNotes(r, v)...)
		notes = append(notes, subscriberNotes(v)...)
		notes = append(notes, archiveNotes(v)...)
		notes = append(notes, drillNotes(v)...)
		if f := v.Summary.Failover; f != nil && f.Predicted != nil && f.Predicted.Sentence != "" {
			notes = append(notes, fmt.Sprintf("%s: %s (%s)", v.Name, f.Predicted.Sentence, f.Predicted.Model))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString(wrap(n, textWidth, "    "))
		}
	}
	writeRepeats(&b, r)
	io.WriteString(w, b.String())
}

// variantColumn returns the header and cells of the variant column. When
// every name is "key=value" with the same key, the key becomes the header
// and the cells keep only the values.
func variantColumn(vs []result.Variant) (string, []string) {
	names := make([]string, len(vs))
	key := ""
	common := len(vs) > 0
	for i, v := range vs {
		names[i] = v.Name
		k, val, ok := strings.Cut(v.Name, "=")
		if !ok || val == "" || strings.ContainsAny(val, "=,") || (i > 0 && k != key) {
			common = false
		}
		key = k
	}
	head := "variant"
	if common {
		head = key
		for i, v := range vs {
			_, names[i], _ = strings.Cut(v.Name, "=")
		}
	}
	for i := range names {
		names[i] = orDash(names[i])
	}
	return head, names
}

// writeTable writes rows with the first left columns left-aligned and
// the rest right-aligned, two spaces apart.
func writeTable(b *strings.Builder, rows [][]string, left int) {
	for _, l := range tableLines(rows, left) {
		b.WriteString(l + "\n")
	}
}

// fmtThousands formats a rate compactly: 950, 7.0k, 22.1k, 123k.
func fmtThousands(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case math.Abs(v) < 1000:
		return fmtCount(v)
	case math.Abs(v) < 99_950:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + "k"
	}
	return strconv.FormatFloat(v/1000, 'f', 0, 64) + "k"
}

func tableLines(rows [][]string, left int) []string {
	if len(rows) == 0 {
		return nil
	}
	var out []string
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for j, c := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(c))
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for j, c := range row {
			pad := strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c))
			if j > 0 {
				line.WriteString("  ")
			}
			if j < left {
				line.WriteString(c + pad)
			} else {
				line.WriteString(pad + c)
			}
		}
		out = append(out, strings.TrimRight(line.String(), " "))
	}
	return out
}

// clip shortens s to n columns, ending with "…" when cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// wrap breaks s into lines of at most n columns at spaces, indenting the
// continuation lines; a word longer than a line is clipped.
func wrap(s string, n int, indent string) string {
	var b strings.Builder
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) <= n:
			line += " " + w
		default:
			b.WriteString(clip(line, n) + "\n")
			line = indent + w
		}
	}
	if line != "" {
		b.WriteString(clip(line, n) + "\n")
	}
	return b.String()
}

// writeRepeats writes, for each repeated variant, the distributions of
// its write outage and detection time, its lost writes and, when a
// variant has a capacity phase, its median capacity over the
// repetitions, as a table.
func writeRepeats(b *strings.Builder, r *result.Result) {
	nameHead, names := variantColumn(r.Variants)
	sums := make([]*result.RepeatSummary, len(r.Variants))
	capacity := false
	for i := range r.Variants {
		sums[i] = repeated(&r.Variants[i])
		capacity = capacity || sums[i] != nil && sums[i].CapacityTPS != nil
	}
	head := []string{nameHead, "runs", "unavail p50", "p90", "max", "detect p50", "p90", "max", "lost"}
	if capacity {
		head = append(head, "cap p50")
	}
	rows := [][]string{head}
	for i, rs := range sums {
		if rs == nil {
			continue
		}
		row := []string{names[i], fmt.Sprintf("%d of %d", rs.Complete, rs.Runs), "–", "–", "–", "–", "–", "–", fmtInt(rs.LostTotal)}
		if d := rs.WriteUnavailableMs; d.N > 0 {
			row[2], row[3], row[4] = fmtMs(d.P50), fmtMs(d.P90), fmtMs(d.Max)
		}
		if d := rs.DetectMs; d.N > 0 {
			row[5], row[6], row[7] = fmtMs(d.P50), fmtMs(d.P90), fmtMs(d.Max)
		}
		if capacity {
			row = append(row, "–")
			if d := rs.CapacityTPS; d != nil && d.N > 0 {
				row[len(row)-1] = fmtCount(d.P50)
			}
		}
		rows = append(rows, row)
	}
	if len(rows) == 1 {
		return
	}
	title := "\nrepetitions: complete runs; writes unavailable and detection, ms; lost writes in all"
	if capacity {
		title += "; capacity, TPS"
	}
	b.WriteString(title + "\n")
	for _, l := range tableLines(rows, 2) {
		b.WriteString(clip(l, textWidth) + "\n")
	}
}
