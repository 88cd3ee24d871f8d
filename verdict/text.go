package verdict

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// WriteComparisonText writes c as plain text for a terminal: per variant,
// every compared metric with the baseline and current medians, the change
// in percent, the allowed distance and REGRESSION or better; then one line
// with the verdict.
func WriteComparisonText(w io.Writer, c *Comparison) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: baseline %d run(s), current %d run(s)\n", orDash(c.Scenario), c.BaselineRuns, c.CurrentRuns)
	if c.ScenarioChanged {
		b.WriteString("warning: the scenario file changed since the baseline was made\n")
	}
	for _, v := range c.Variants {
		b.WriteString("\n" + v.Name)
		switch v.Missing {
		case "current":
			b.WriteString(": REGRESSION: in the baseline, not completed in the current run\n")
			continue
		case "baseline":
			b.WriteString(": new, not in the baseline\n")
			continue
		}
		b.WriteString("\n")
		width := len("metric")
		for _, m := range v.Metrics {
			width = max(width, len(m.Metric))
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "  %-*s\tbaseline\tcurrent\tchange\tallowed\t\t\n", width, "metric")
		for _, m := range v.Metrics {
			base, cur, allowed := "–", "–", "–"
			if m.Baseline.N > 0 {
				base = fmtPlain(m.Baseline.Median, m.Unit)
			}
			if m.Current.N > 0 {
				cur = fmtPlain(m.Current.Median, m.Unit)
			}
			if m.Baseline.N > 0 && m.Current.N > 0 {
				allowed = "±" + fmtPlain(m.Allowed, m.Unit)
			}
			mark := ""
			switch {
			case m.Regression:
				mark = "REGRESSION"
			case m.Improvement:
				mark = "better"
			}
			fmt.Fprintf(tw, "  %-*s\t%s\t%s\t%s\t%s\t %s\t\n", width, m.Metric, base, cur, fmtPct(m.ChangePct), allowed, mark)
		}
		tw.Flush()
	}
	n := len(c.Regressions()) + len(c.MissingVariants())
	if n == 0 {
		b.WriteString("\nno regression beyond the tolerances\n")
	} else {
		fmt.Fprintf(&b, "\n%d regression(s)\n", n)
	}
	io.WriteString(w, b.String())
}

// WriteThresholdsText writes one line per threshold: PASS or FAIL, its
// name and the message.
func WriteThresholdsText(w io.Writer, ts []result.ThresholdResult) {
	if len(ts) == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "thresholds: %d of %d passed\n", len(ts)-Failed(ts), len(ts))
	for _, t := range ts {
		mark := "PASS"
		if !t.Passed {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %s  %s: %s\n", mark, t.Name, t.Message)
	}
	io.WriteString(w, b.String())
}
