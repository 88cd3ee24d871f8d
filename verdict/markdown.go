package verdict

import (
	"fmt"
	"io"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/internal/numtext"
	"github.com/pgbench-ha/pgbench-ha/metric"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// WriteMarkdown writes o as a Markdown summary for a pull-request comment
// or a CI job summary: a verdict line, the variants and their key figures,
// the thresholds with ✅/❌, and, with a comparison, the regressions and
// (folded) every compared figure.
func WriteMarkdown(w io.Writer, o Outcome) error {
	var b strings.Builder
	mark := "✅"
	if !o.Passed() {
		mark = "❌"
	}
	fmt.Fprintf(&b, "### %s pgbench-ha: %s\n\n", mark, mdEscape(o.scenario()))
	if r := o.Result; r != nil {
		m := r.Run
		meta := []string{"run `" + orDash(m.ID) + "`", "**" + orDash(r.Status) + "**"}
		if n := len(r.Variants); n > 0 {
			s := fmt.Sprintf("%d variants", n)
			if m.DurationS > 0 {
				s += " × " + fmtNum(m.DurationS) + " s"
			}
			meta = append(meta, s)
		}
		if m.PostgresVersion != "" {
			meta = append(meta, "PostgreSQL "+m.PostgresVersion)
		}
		if m.Host != "" {
			meta = append(meta, fmt.Sprintf("%s (%d CPUs)", m.Host, m.CPUs))
		}
		b.WriteString(strings.Join(meta, " · ") + "\n\n")
		if r.Error != "" {
			b.WriteString("> **Error:** " + mdEscape(firstLine(r.Error)) + "\n\n")
		}
		writeVariantTable(&b, r)
		writeThresholds(&b, r.Thresholds)
	}
	if c := o.Comparison; c != nil {
		writeComparison(&b, c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeVariantTable(b *strings.Builder, r *result.Result) {
	b.WriteString("| variant | status | TPS | p99 commit | writes unavailable | lost / acked | ghosts | worst replay lag |\n")
	b.WriteString("| --- | --- | --: | --: | --: | --: | --: | --: |\n")
	for i := range r.Variants {
		v := &r.Variants[i]
		vals := Values(v)
		cell := func(name, unit string) string {
			if x, ok := vals[name]; ok {
				return fmtValue(x, unit)
			}
			return "–"
		}
		status := "✅ complete"
		switch v.Status {
		case result.StatusComplete:
		case result.StatusPending:
			status = "⏸ not run"
		default:
			status = "❌ " + v.Status + " (" + orDash(v.Phase) + ")"
		}
		lost := "–"
		if x, ok := vals["lost_acked_writes"]; ok {
			lost = fmtNum(x)
			if x > 0 {
				lost = "**" + lost + "**"
			}
			lost += " / " + numtext.Thousands(v.Summary.Acked)
		}
		tps := "–"
		if x, ok := vals["tps"]; ok {
			tps = fmtNum(x)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(v.Name), status, tps,
			cell("p99_commit_ms", metric.UnitMs), cell("write_unavailable_ms", metric.UnitMs), lost,
			cell("ghost_writes", ""), cell("max_replay_lag_bytes", metric.UnitBytes))
	}
	b.WriteString("\n")
}

func writeThresholds(b *strings.Builder, ts []result.ThresholdResult) {
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(b, "#### Thresholds: %d of %d passed\n\n", len(ts)-Failed(ts), len(ts))
	b.WriteString("| | threshold | result |\n| --- | --- | --- |\n")
	for _, t := range ts {
		mark := "✅"
		if !t.Passed {
			mark = "❌"
		}
		fmt.Fprintf(b, "| %s | `%s` | %s |\n", mark, mdCode(t.Name), mdEscape(t.Message))
	}
	b.WriteString("\n")
}

func writeComparison(b *strings.Builder, c *Comparison) {
	regs := c.Regressions()
	missing := c.MissingVariants()
	runs := func(n int) string {
		if n == 1 {
			return "1 run"
		}
		return fmt.Sprintf("median of %d runs", n)
	}
	fmt.Fprintf(b, "#### Against the baseline (%s; current: %s)\n\n", runs(c.BaselineRuns), runs(c.CurrentRuns))
	if c.ScenarioChanged {
		b.WriteString("> The scenario file changed since the baseline was made: the figures may not be comparable.\n\n")
	}
	switch {
	case len(regs) == 0 && len(missing) == 0:
		b.WriteString("No regression beyond the tolerances.\n\n")
	default:
		fmt.Fprintf(b, "**%d regression(s)**", len(regs)+len(missing))
		b.WriteString(":\n\n| variant | metric | baseline | current | change | allowed |\n| --- | --- | --: | --: | --: | --: |\n")
		for _, name := range missing {
			fmt.Fprintf(b, "| %s | *variant did not complete* | | | | |\n", mdEscape(name))
		}
		for _, r := range regs {
			cur := "not measured"
			if r.Current.N > 0 {
				cur = fmtPlain(r.Current.Median, r.Unit)
			}
			fmt.Fprintf(b, "| %s | `%s` | %s | %s | %s | ±%s |\n", mdEscape(r.Variant), r.Metric,
				fmtPlain(r.Baseline.Median, r.Unit), cur, fmtPct(r.ChangePct), fmtPlain(r.Allowed, r.Unit))
		}
		b.WriteString("\n")
	}
	b.WriteString("<details><summary>Every compared figure</summary>\n\n")
	for _, v := range c.Variants {
		switch v.Missing {
		case "current":
			fmt.Fprintf(b, "**%s**: in the baseline only\n\n", mdEscape(v.Name))
			continue
		case "baseline":
			fmt.Fprintf(b, "**%s**: new, not in the baseline\n\n", mdEscape(v.Name))
			continue
		}
		fmt.Fprintf(b, "**%s**\n\n| metric | baseline | current | change | allowed | |\n| --- | --: | --: | --: | --: | --- |\n", mdEscape(v.Name))
		for _, m := range v.Metrics {
			base, cur := "–", "–"
			if m.Baseline.N > 0 {
				base = fmtPlain(m.Baseline.Median, m.Unit)
			}
			if m.Current.N > 0 {
				cur = fmtPlain(m.Current.Median, m.Unit)
			}
			allowed := "–"
			if m.Baseline.N > 0 && m.Current.N > 0 {
				allowed = "±" + fmtPlain(m.Allowed, m.Unit)
			}
			verdict := ""
			switch {
			case m.Regression:
				verdict = "❌ worse"
			case m.Improvement:
				verdict = "better"
			}
			fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s |\n", m.Metric, base, cur, fmtPct(m.ChangePct), allowed, verdict)
		}
		b.WriteString("\n")
	}
	b.WriteString("</details>\n")
}

// mdEscape escapes what would break a Markdown table cell or start
// formatting.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`, "`", "\\`",
		"<=", "≤", ">=", "≥", "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

// mdCode makes s safe inside a code span in a table cell.
func mdCode(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s)
}
