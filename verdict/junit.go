package verdict

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/numtext"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Outcome is what the JUnit and Markdown writers describe: a run (with the
// thresholds recorded in it) and, when the run was compared with a
// baseline, the comparison. Either may be nil, not both.
type Outcome struct {
	Result     *result.Result
	Comparison *Comparison
}

// Passed reports whether the outcome is a success: the run complete, every
// threshold passed and no regression against the baseline.
func (o Outcome) Passed() bool {
	if r := o.Result; r != nil {
		if r.Status != result.StatusComplete || Failed(r.Thresholds) > 0 {
			return false
		}
	}
	return o.Comparison == nil || !o.Comparison.Regressed()
}

func (o Outcome) scenario() string {
	if o.Result != nil && o.Result.Run.Scenario != "" {
		return o.Result.Run.Scenario
	}
	if o.Comparison != nil && o.Comparison.Scenario != "" {
		return o.Comparison.Scenario
	}
	return "pgbench-ha"
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Cases      []junitCase      `xml:"testcase"`
}

type junitProperties struct {
	List []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",cdata"`
}

// junitText is element text kept as written, newlines included.
type junitText struct {
	Text string `xml:",cdata"`
}

func text(s string) *junitText {
	if s == "" {
		return nil
	}
	return &junitText{s}
}

func secs(s float64) string { return fmt.Sprintf("%.3f", s) }

// WriteJUnit writes o as JUnit XML: a suite "<scenario>.variants" with one
// test case per variant (failed when the variant failed or was
// interrupted, skipped when it never ran), a suite "<scenario>.thresholds"
// with one test case per threshold (failed when it failed, the measured
// value in the message), and, with a comparison, a suite
// "<scenario>.baseline" with one test case per variant (failed when any of
// its metrics regressed or it is missing).
func WriteJUnit(w io.Writer, o Outcome) error {
	name := o.scenario()
	all := junitSuites{Name: "pgbench-ha " + name}
	var total float64
	if r := o.Result; r != nil {
		s := junitSuite{Name: name + ".variants", Timestamp: timestamp(r.Run.StartedAt)}
		s.Properties = &junitProperties{[]junitProperty{
			{"run_id", r.Run.ID}, {"status", r.Status}, {"scenario_file", r.Run.ScenarioFile},
			{"postgres_version", r.Run.PostgresVersion}, {"tool_version", r.Run.ToolVersion}, {"host", r.Run.Host},
		}}
		var suiteTime float64
		for i := range r.Variants {
			v := &r.Variants[i]
			c := junitCase{Name: v.Name, Classname: s.Name, Time: secs(variantTime(v)), SystemOut: text(headline(v))}
			suiteTime += variantTime(v)
			switch v.Status {
			case result.StatusComplete:
			case result.StatusPending:
				c.Skipped = &junitMessage{Message: "not run: the run stopped before this variant"}
				s.Skipped++
			default:
				msg := fmt.Sprintf("%s during %s", v.Status, orDash(v.Phase))
				if v.Error != "" {
					msg += ": " + firstLine(v.Error)
				}
				c.Failure = &junitMessage{Message: msg, Type: v.Status, Text: v.Error}
				s.Failures++
			}
			s.Cases = append(s.Cases, c)
			s.Tests++
		}
		s.Time = secs(suiteTime)
		total += suiteTime
		all.Suites = append(all.Suites, s)

		if len(r.Thresholds) > 0 {
			ts := junitSuite{Name: name + ".thresholds", Time: secs(0), Timestamp: timestamp(r.Run.FinishedAt)}
			for _, t := range r.Thresholds {
				c := junitCase{Name: t.Name, Classname: ts.Name, Time: secs(0), SystemOut: text(thresholdDetail(t))}
				if !t.Passed {
					c.Failure = &junitMessage{Message: t.Message, Type: "threshold", Text: thresholdDetail(t)}
					c.SystemOut = nil
					ts.Failures++
				}
				ts.Cases = append(ts.Cases, c)
				ts.Tests++
			}
			all.Suites = append(all.Suites, ts)
		}
	}
	if cmp := o.Comparison; cmp != nil {
		bs := junitSuite{Name: name + ".baseline", Time: secs(0)}
		bs.Properties = &junitProperties{[]junitProperty{
			{"baseline_runs", fmt.Sprint(cmp.BaselineRuns)}, {"current_runs", fmt.Sprint(cmp.CurrentRuns)},
		}}
		if cmp.ScenarioChanged {
			bs.Properties.List = append(bs.Properties.List, junitProperty{"scenario_changed", "true"})
		}
		for _, v := range cmp.Variants {
			c := junitCase{Name: v.Name, Classname: bs.Name, Time: secs(0)}
			var lines []string
			for _, m := range v.Metrics {
				lines = append(lines, comparisonLine(m))
			}
			detail := strings.Join(lines, "\n")
			switch v.Missing {
			case "current":
				c.Failure = &junitMessage{Message: "in the baseline, not measured in the current run (it did not complete)", Type: "regression"}
				bs.Failures++
			case "baseline":
				c.Skipped = &junitMessage{Message: "new variant: not in the baseline"}
				bs.Skipped++
			default:
				var regs []string
				for _, m := range v.Metrics {
					if m.Regression {
						regs = append(regs, regressionText(m))
					}
				}
				if len(regs) > 0 {
					c.Failure = &junitMessage{Message: fmt.Sprintf("%d regression(s): %s", len(regs), strings.Join(regs, "; ")), Type: "regression", Text: detail}
					bs.Failures++
				} else {
					c.SystemOut = text(detail)
				}
			}
			bs.Cases = append(bs.Cases, c)
			bs.Tests++
		}
		all.Suites = append(all.Suites, bs)
	}
	for _, s := range all.Suites {
		all.Tests += s.Tests
		all.Failures += s.Failures
		all.Skipped += s.Skipped
	}
	all.Time = secs(total)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(all); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

func variantTime(v *result.Variant) float64 {
	if v.Status == result.StatusPending {
		return 0
	}
	return v.Topology.BringUpMs/1000 + v.Summary.DurationS
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// headline is one line of a variant's key figures.
func headline(v *result.Variant) string {
	vals := Values(v)
	if len(vals) == 0 {
		return ""
	}
	var parts []string
	if x, ok := vals["lost_acked_writes"]; ok {
		parts = append(parts, fmt.Sprintf("%s of %s acknowledged writes lost", fmtNum(x), numtext.Thousands(v.Summary.Acked)))
	}
	if x, ok := vals["write_unavailable_ms"]; ok {
		parts = append(parts, "writes unavailable "+fmtMsHuman(x))
	}
	if x, ok := vals["p99_commit_ms"]; ok {
		parts = append(parts, "p99 commit "+fmtValue(x, "ms"))
	}
	parts = append(parts, fmtNum(vals["tps"])+" TPS")
	return strings.Join(parts, "; ")
}

func thresholdDetail(t result.ThresholdResult) string {
	d := def(t.Metric)
	var lines []string
	if t.Source != "" {
		lines = append(lines, "defined at "+t.Source)
	}
	lines = append(lines, t.Message)
	for _, v := range t.Variants {
		x := "not measured"
		if v.Value != nil {
			x = fmtValue(*v.Value, d.Unit)
		}
		mark := "ok"
		if !v.Passed {
			mark = "over the limit"
			if v.Value == nil {
				mark = "missing"
			}
		}
		lines = append(lines, fmt.Sprintf("  %s: %s (%s)", v.Name, x, mark))
	}
	return strings.Join(lines, "\n")
}

// regressionText is "p99_commit_ms 4.1 ms → 6.3 ms (+53.7%, allowed ±1.0 ms)".
func regressionText(m MetricComparison) string {
	if m.Current.N == 0 {
		return m.Metric + " not measured (baseline " + fmtPlain(m.Baseline.Median, m.Unit) + ")"
	}
	return fmt.Sprintf("%s %s → %s (%s, allowed ±%s)", m.Metric, fmtPlain(m.Baseline.Median, m.Unit),
		fmtPlain(m.Current.Median, m.Unit), fmtPct(m.ChangePct), fmtPlain(m.Allowed, m.Unit))
}

func comparisonLine(m MetricComparison) string {
	mark := ""
	switch {
	case m.Regression:
		mark = "  REGRESSION"
	case m.Improvement:
		mark = "  better"
	}
	b, c := "–", "–"
	if m.Baseline.N > 0 {
		b = fmtPlain(m.Baseline.Median, m.Unit)
	}
	if m.Current.N > 0 {
		c = fmtPlain(m.Current.Median, m.Unit)
	}
	return fmt.Sprintf("%s: %s → %s (%s)%s", m.Metric, b, c, fmtPct(m.ChangePct), mark)
}
