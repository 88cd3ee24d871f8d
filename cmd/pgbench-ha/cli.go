package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/external"
	"github.com/pgbench-ha/pgbench-ha/cluster/patroni"
	"github.com/pgbench-ha/pgbench-ha/report"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/runner"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// Exit codes, the one table of them (documented in README.md).
const (
	ExitOK             = 0
	ExitError          = 1   // anything else that went wrong
	ExitInvalid        = 2   // bad command line, invalid scenario file, unreadable result
	ExitInfrastructure = 3   // PostgreSQL not found, a cluster that would not start
	ExitRegression     = 4   // compare: a regression against the baseline
	ExitThresholds     = 99  // run: a threshold of the scenario failed (k6's value)
	ExitInterrupted    = 130 // Ctrl-C
)

// exitError carries an exit code through urfave/cli.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Env is what the CLI gets from the outside world, so tests can run it
// in-process.
type Env struct {
	Stdout, Stderr io.Writer
	// IsTerminal reports whether Stdout is a terminal (live bars).
	IsTerminal bool
	// OnBackend is called with the backend once it exists, so a forced
	// exit can tear it down.
	OnBackend func(cluster.Backend)
}

// Main runs the CLI with args (args[0] is the program name) and returns
// the exit code. It never calls os.Exit.
func Main(ctx context.Context, args []string, env Env) int {
	app := newApp(env)
	err := app.Run(ctx, args)
	if err == nil {
		return ExitOK
	}
	fmt.Fprintf(env.Stderr, "pgbench-ha: %s\n", cluster.Redact(err.Error()))
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if ctx.Err() != nil {
		return ExitInterrupted
	}
	return ExitInvalid // urfave/cli's own errors are usage errors
}

func newApp(env Env) *cli.Command {
	return &cli.Command{
		Name:      "pgbench-ha",
		Usage:     "measure how a PostgreSQL primary/replica cluster behaves when things go wrong",
		Version:   version,
		Writer:    env.Stdout,
		ErrWriter: env.Stderr,
		// Errors are returned to Main, never turned into os.Exit here.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Commands: []*cli.Command{
			cleanupCommand(env),
			{
				Name:      "run",
				Usage:     "run a scenario: cluster, workload, faults, failover, audit, report",
				ArgsUsage: "SCENARIO.yaml",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "out", Value: "results", Usage: "results root; the run goes to OUT/<scenario>/<run-id>"},
				}, append(backendFlags(), runVerdictFlags()...)...),
				Action: func(ctx context.Context, cmd *cli.Command) error { return runCmd(ctx, cmd, env) },
			},
			{
				Name:      "validate",
				Usage:     "check scenario files without running them",
				ArgsUsage: "SCENARIO.yaml...",
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() == 0 {
						return withCode(ExitInvalid, errors.New("validate: name at least one scenario file"))
					}
					var bad []string
					for _, f := range cmd.Args().Slice() {
						s, err := scenario.Load(f)
						if err != nil {
							bad = append(bad, err.Error())
							continue
						}
						fmt.Fprintf(env.Stdout, "%s: ok (%s, %d variant(s), %s each)\n", f, s.Name, len(scenario.Expand(s)), s.Duration)
						if err := runner.Unsupported(s, cmd.String("backend")); err != nil {
							// Valid, but run refuses it until integration lands.
							fmt.Fprintf(env.Stdout, "note: %v\n", err)
						}
						if err := scenario.ImageProblem(s, cmd.String("backend")); err != nil {
							// Valid, but run refuses it on the backend named.
							fmt.Fprintf(env.Stdout, "note: %v\n", err)
						}
					}
					if len(bad) > 0 {
						return withCode(ExitInvalid, errors.New("invalid scenario:\n"+strings.Join(bad, "\n")))
					}
					return nil
				},
			},
			{
				Name:      "report",
				Usage:     "render report.html and its plots again from a result.json",
				ArgsUsage: "RUN-FOLDER|result.json",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Usage: "folder for report.html (default: beside result.json)"},
					svgFlag(),
				},
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 1 {
						return withCode(ExitInvalid, errors.New("report: name one run folder or result.json"))
					}
					path := cmd.Args().First()
					r, err := result.Read(path)
					if err != nil {
						return withCode(ExitInvalid, err)
					}
					dir := cmd.String("out")
					if dir == "" {
						dir = path
						if st, err := os.Stat(path); err == nil && !st.IsDir() {
							dir = filepath.Dir(path)
						}
					}
					if err := report.RenderWith(r, dir, report.Options{SVG: cmd.Bool("svg")}); err != nil {
						return withCode(ExitError, err)
					}
					report.WriteText(env.Stdout, r)
					fmt.Fprintf(env.Stdout, "report: %s\n", filepath.Join(dir, report.ReportFile))
					return nil
				},
			},
			compareCommand(env),
			baselineCommand(env),
		},
	}
}

func runCmd(ctx context.Context, cmd *cli.Command, env Env) error {
	if cmd.Args().Len() != 1 {
		return withCode(ExitInvalid, errors.New("run: name one scenario file"))
	}
	s, err := scenario.Load(cmd.Args().First())
	if err != nil {
		return withCode(ExitInvalid, err)
	}
	if err := runner.Unsupported(s, cmd.String("backend")); err != nil {
		return withCode(ExitInvalid, err)
	}
	if err := scenario.ImageProblem(s, cmd.String("backend")); err != nil {
		return withCode(ExitInvalid, err)
	}
	if err := externalChecks(cmd, s); err != nil {
		return withCode(ExitInvalid, err)
	}
	plans := scenario.Expand(s)
	b, err := openBackend(ctx, cmd, s)
	if err != nil {
		return withCode(ExitInfrastructure, err)
	}
	defer b.Close()
	if env.OnBackend != nil {
		env.OnBackend(b)
	}
	// Each variant's server (its image's, probed) can run what it asks.
	if err := runner.CheckServers(s, b); err != nil {
		if runner.IsScenarioProblem(err) {
			return withCode(ExitInvalid, err)
		}
		return withCode(ExitInfrastructure, err)
	}
	// A variant under Patroni runs on a Patroni backend of its own: its
	// programs are looked for now, and its faults checked against it.
	var pb cluster.Backend
	for _, p := range plans {
		if p.Scenario.Failover.Mode == scenario.FailoverPatroni {
			pbe, err := patroni.New(patroni.Options{})
			if err != nil {
				return withCode(ExitInfrastructure, err)
			}
			defer pbe.Close()
			pb = pbe
			break
		}
	}
	if err := supported(b, pb, plans); err != nil {
		return withCode(ExitInvalid, err)
	}
	// --keep keeps the last variant's cluster.
	if err := keepable(cmd.Bool("keep"), plans[len(plans)-1].Scenario, b); err != nil {
		return withCode(ExitInvalid, err)
	}
	noteLeftovers(env, b)
	fmt.Fprintf(env.Stdout, "pgbench-ha %s: %s, %d variant(s) of %s on %s (PostgreSQL %s)\n",
		version, s.Name, len(plans), s.Duration, b.Name(), strings.Join(runner.ServerVersions(b, plans), ", "))
	prog := newProgress(env.Stdout, env.IsTerminal)
	res, dir, err := runner.Run(ctx, runner.Options{
		Scenario: s, Backend: b, OutDir: cmd.String("out"), ToolVersion: version, Progress: prog,
		Keep: cmd.Bool("keep"),
		// Checkpoints: a run killed hard still leaves a partial result.json.
		Checkpoint: func(dir string, r *result.Result) { _ = result.Write(filepath.Join(dir, "result.json"), r) },
	})
	prog.Wait()
	if res != nil && dir != "" {
		// Thresholds first, then result.json once and the report from it.
		evaluateThresholds(s, res)
		if werr := result.Write(filepath.Join(dir, "result.json"), res); werr != nil && err == nil {
			err = werr
		}
		if rerr := report.RenderWith(res, dir, report.Options{SVG: cmd.Bool("svg")}); rerr != nil && err == nil {
			err = fmt.Errorf("report: %w", rerr)
		}
	}
	if res != nil {
		fmt.Fprintln(env.Stdout)
		report.WriteText(env.Stdout, res)
	}
	verdictErr := finishRun(cmd, env, res) // thresholds, JUnit, Markdown
	if dir != "" {
		fmt.Fprintf(env.Stdout, "\nresult: %s\nreport: %s\n", filepath.Join(dir, "result.json"), filepath.Join(dir, report.ReportFile))
	}
	if res != nil && res.Run.Kept != nil {
		k := res.Run.Kept
		fmt.Fprintf(env.Stdout, "kept: the cluster of %s runs on (primary %s); connection details: %s; pgbench-ha cleanup removes it\n",
			k.Variant, k.Primary, k.File)
	}
	switch {
	case err == nil:
		return verdictErr
	case errors.Is(err, runner.ErrInterrupted):
		return withCode(ExitInterrupted, errors.New("interrupted: partial result written"))
	case res != nil && bringUpFailed(res):
		return withCode(ExitInfrastructure, err)
	default:
		return withCode(ExitError, err)
	}
}

// supported checks every variant's faults against the backend (a matrix
// path may change a fault), each problem once.
func supported(b, patroniBackend cluster.Backend, plans []scenario.Plan) error {
	var lines []string
	for _, p := range plans {
		be := b
		if p.Scenario.Failover.Mode == scenario.FailoverPatroni && patroniBackend != nil {
			be = patroniBackend
		}
		err := chaos.Supported(p.Scenario.File, be, p.Scenario.Faults)
		if err == nil {
			continue
		}
		for _, l := range strings.Split(err.Error(), "\n") {
			if !slices.Contains(lines, l) {
				lines = append(lines, l)
			}
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if b.Name() == external.Name {
		lines = append(lines, "the external backend faults your cluster through your hooks: kill needs external.hooks.kill (and start to heal it); stop and restart: stop and start; pause: pause and resume; partition and isolate between nodes: cut and heal, or link and unlink; latency, bandwidth and reset between nodes: link and unlink; switchover: switchover; faults on client groups' links have no hook")
	}
	// Why the Patroni backend cannot cut links between nodes here.
	if nc, ok := patroniBackend.(interface{ NodeCutsErr() error }); ok && nc.NodeCutsErr() != nil {
		for _, l := range lines {
			if strings.Contains(l, "isolate") || strings.Contains(l, "between nodes") {
				lines = append(lines, "links between Patroni nodes cannot be cut here: "+nc.NodeCutsErr().Error())
				break
			}
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

func bringUpFailed(r *result.Result) bool {
	for _, v := range r.Variants {
		if v.Status == result.StatusFailed && v.Phase == "bring-up" {
			return true
		}
	}
	return false
}
