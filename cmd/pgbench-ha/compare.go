package main

// The CI side of the CLI: thresholds after a run, compare, baseline, and
// the JUnit and Markdown files CI systems read.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/verdict"
)

// outputFlags are the machine-readable outputs run and compare write.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "junit", Usage: "also write a JUnit XML report to `FILE` (one test case per variant, threshold and compared variant)"},
		&cli.StringFlag{Name: "markdown", Usage: "also write a Markdown summary to `FILE`, for a pull-request comment or a CI job summary"},
	}
}

// svgFlag asks for SVG copies of the report's figures.
func svgFlag() cli.Flag {
	return &cli.BoolFlag{Name: "svg", Usage: "also write every figure as SVG beside its PNG"}
}

// runVerdictFlags are run's flags for thresholds and CI outputs.
func runVerdictFlags() []cli.Flag {
	return append(outputFlags(), svgFlag(),
		&cli.BoolFlag{Name: "strict", Usage: "exit with 1 when a self-check of the result failed (a figure that cannot be trusted)"},
		&cli.BoolFlag{Name: "keep", Usage: "leave the last variant's cluster running after the run (local backend), its connection details in a file only you can read; pgbench-ha cleanup removes it"})
}

// thresholdsOf turns the scenario's thresholds into verdict thresholds,
// one per limit, in file order.
func thresholdsOf(s *scenario.Scenario) []verdict.Threshold {
	var out []verdict.Threshold
	for _, t := range s.Thresholds {
		var where map[string][]string
		if len(t.Where) > 0 {
			where = map[string][]string{}
			for _, m := range t.Where {
				where[m.Setting] = m.Values
			}
		}
		for _, l := range t.Limits {
			out = append(out, verdict.Threshold{
				Metric: t.Metric, Aggregation: l.Aggregation, Limit: l.Value, Where: where,
				Source: fmt.Sprintf("%s:%d", s.File, l.Line),
			})
		}
	}
	return out
}

// finishRun does what follows a run: it prints the thresholds (checked by
// runCmd before it writes result.json and the report, so both hold them) and
// writes the JUnit and Markdown files asked for. It returns an
// ExitThresholds error when a threshold failed, an ExitError one when a
// file could not be written.
func finishRun(cmd *cli.Command, env Env, res *result.Result) error {
	if res == nil {
		return nil
	}
	// The thresholds were evaluated (evaluateThresholds) before
	// result.json and the report were written.
	if len(res.Thresholds) > 0 {
		fmt.Fprintln(env.Stdout)
		verdict.WriteThresholdsText(env.Stdout, res.Thresholds)
	}
	if err := writeOutputs(cmd, env, verdict.Outcome{Result: res}); err != nil {
		return withCode(ExitError, err)
	}
	if n := res.FailedChecks(); n > 0 {
		fmt.Fprintf(env.Stdout, "\nWARNING: %d self-check(s) failed: some figures cannot be trusted (see result.json's checks and the report)\n", n)
		for _, v := range res.Variants {
			for _, c := range v.Checks {
				if !c.Passed {
					fmt.Fprintf(env.Stdout, "  FAIL  %s: %s: %s\n", v.Name, c.Name, c.Message)
				}
			}
		}
		if cmd.Bool("strict") {
			return withCode(ExitError, fmt.Errorf("%d self-check(s) failed (--strict)", n))
		}
	}
	if n := verdict.Failed(res.Thresholds); n > 0 {
		return withCode(ExitThresholds, fmt.Errorf("%d of %d thresholds failed", n, len(res.Thresholds)))
	}
	return nil
}

// evaluateThresholds records the scenario's thresholds checked against r.
func evaluateThresholds(s *scenario.Scenario, r *result.Result) {
	if th := thresholdsOf(s); len(th) > 0 {
		r.Thresholds = verdict.Evaluate(r, th)
	}
}

// writeOutputs writes the --junit and --markdown files.
func writeOutputs(cmd *cli.Command, env Env, o verdict.Outcome) error {
	write := func(flag string, fn func(io.Writer, verdict.Outcome) error) error {
		path := cmd.String(flag)
		if path == "" {
			return nil
		}
		if dir := filepath.Dir(path); dir != "." {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("%s: %w", flag, err)
			}
		}
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("%s: %w", flag, err)
		}
		if err := fn(f, o); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", flag, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %w", flag, err)
		}
		fmt.Fprintf(env.Stdout, "%s: %s\n", flag, path)
		return nil
	}
	if err := write("junit", verdict.WriteJUnit); err != nil {
		return err
	}
	return write("markdown", verdict.WriteMarkdown)
}

// compareCommand is `pgbench-ha compare BASELINE CURRENT...`.
func compareCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "compare",
		Usage: "compare a run with a baseline; exit 4 on a regression",
		UsageText: "pgbench-ha compare [--tolerance NAME=PCT% | NAME=AMOUNT | PCT%]... [--junit FILE] [--markdown FILE] BASELINE CURRENT...\n\n" +
			"BASELINE is a baseline.json (or its folder), a result.json or a run folder; CURRENT one or\n" +
			"more result.json or run folders of the same scenario, compared by their medians.",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "tolerance", Usage: "override a tolerance: `NAME=15%` (relative), NAME=5 (absolute, in the metric's unit) or 15% (every metric); repeatable, applied in order"},
		}, outputFlags()...),
		Action: func(ctx context.Context, cmd *cli.Command) error { return compareCmd(cmd, env) },
	}
}

func compareCmd(cmd *cli.Command, env Env) error {
	args := cmd.Args().Slice()
	if len(args) < 2 {
		return withCode(ExitInvalid, errors.New("compare: name a baseline and at least one current run (result.json or run folder)"))
	}
	tol := verdict.DefaultTolerances()
	for _, spec := range cmd.StringSlice("tolerance") {
		if err := tol.Set(spec); err != nil {
			return withCode(ExitInvalid, fmt.Errorf("compare: %w", err))
		}
	}
	base, err := verdict.ReadSet(args[0])
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("compare: baseline: %w", err))
	}
	// Results are aggregated together (every run and repetition a
	// sample); baseline files given as current are merged by their medians.
	var sets []*verdict.Set
	var results []*result.Result
	var last *result.Result
	for _, p := range args[1:] {
		s, err := verdict.ReadSet(p)
		if err != nil {
			return withCode(ExitInvalid, fmt.Errorf("compare: %w", err))
		}
		sets = append(sets, s)
		last, _ = result.Read(p) // nil for a baseline file
		if last != nil {
			results = append(results, last)
		}
	}
	var cur *verdict.Set
	if len(results) == len(sets) {
		cur, err = verdict.Aggregate(results...)
	} else {
		cur, err = verdict.Merge(sets...)
	}
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("compare: %w", err))
	}
	if base.Scenario != "" && cur.Scenario != "" && base.Scenario != cur.Scenario {
		return withCode(ExitInvalid, fmt.Errorf("compare: the baseline is of scenario %q, the current run of %q", base.Scenario, cur.Scenario))
	}
	c := verdict.CompareSets(base, cur, tol)
	verdict.WriteComparisonText(env.Stdout, &c)
	if err := writeOutputs(cmd, env, verdict.Outcome{Result: last, Comparison: &c}); err != nil {
		return withCode(ExitError, err)
	}
	if c.Regressed() {
		return withCode(ExitRegression, fmt.Errorf("compare: %d regression(s) against the baseline", len(c.Regressions())+len(c.MissingVariants())))
	}
	return nil
}

// baselineCommand is `pgbench-ha baseline RUN...`.
func baselineCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:      "baseline",
		Usage:     "make a baseline file from one or more complete runs of a scenario",
		ArgsUsage: "RUN-FOLDER|result.json...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "the baseline file to write (default: results/baselines/<scenario>/baseline.json)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error { return baselineCmd(cmd, env) },
	}
}

func baselineCmd(cmd *cli.Command, env Env) error {
	args := cmd.Args().Slice()
	if len(args) == 0 {
		return withCode(ExitInvalid, errors.New("baseline: name at least one run folder or result.json"))
	}
	var rs []*result.Result
	for _, p := range args {
		r, err := result.Read(p)
		if err != nil {
			return withCode(ExitInvalid, fmt.Errorf("baseline: %w", err))
		}
		if r.Status != result.StatusComplete {
			return withCode(ExitInvalid, fmt.Errorf("baseline: run %s is %s; a baseline is made of complete runs", r.Run.ID, r.Status))
		}
		rs = append(rs, r)
	}
	s, err := verdict.Aggregate(rs...)
	if err != nil {
		return withCode(ExitInvalid, fmt.Errorf("baseline: %w", err))
	}
	s.CreatedAt = time.Now().UTC().Truncate(time.Second)
	out := cmd.String("out")
	if out == "" {
		out = filepath.Join("results", "baselines", s.Scenario, verdict.BaselineFile)
	}
	if err := verdict.WriteSet(out, s); err != nil {
		return withCode(ExitError, err)
	}
	var ids []string
	for _, r := range s.Runs {
		ids = append(ids, r.ID)
	}
	fmt.Fprintf(env.Stdout, "baseline: %s (%s, %d run(s): %s)\n", out, s.Scenario, len(s.Runs), strings.Join(ids, ", "))
	return nil
}
