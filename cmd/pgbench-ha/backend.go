package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/docker"
	"github.com/pgbench-ha/pgbench-ha/cluster/external"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/runner"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// backendFlags are the flags of run that choose and configure a backend.
func backendFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Usage: "where the cluster runs: local, docker or external (default: the scenario's backend key, else local)"},
		&cli.BoolFlag{Name: "allow-disruption", Usage: "external backend: the cluster may be disrupted (the scenario's faults run its hooks; failover.mode promote promotes a standby)"},
		&cli.StringFlag{Name: "pg-bin", Usage: "local backend: directory of the PostgreSQL server binaries (default: pg_config --bindir, PATH, /usr/lib/postgresql/*/bin)"},
		&cli.StringFlag{Name: "image", Value: docker.DefaultImage, Usage: "docker backend: the PostgreSQL image, already on this machine (it is never pulled; make image builds " + docker.LocalImage + ", make image PG=17 " + docker.LocalImage17 + "); a variant's topology.image overrides it"},
	}
}

// openBackend builds the backend the command line or the scenario names.
// Errors are infrastructure errors (binaries, daemon, image) except an
// unknown name, which the scenario decoder or the flag check reports first.
func openBackend(ctx context.Context, cmd *cli.Command, s *scenario.Scenario) (cluster.Backend, error) {
	name := cmd.String("backend")
	if name == "" {
		name = s.Backend
	}
	switch name {
	case "", "local":
		return local.New(local.Options{BinDir: cmd.String("pg-bin")})
	case "docker":
		return docker.New(docker.Options{Image: dockerImage(cmd, s)})
	case scenario.BackendExternal:
		return external.New(ctx, runner.ExternalConfig(s))
	}
	return nil, fmt.Errorf("unknown backend %q (valid: local, docker, external)", name)
}

// externalChecks refuses, before anything starts, a scenario the
// external backend cannot run as asked: --backend external on a scenario
// not written for it, and a run that would disrupt the user's cluster
// without --allow-disruption.
func externalChecks(cmd *cli.Command, s *scenario.Scenario) error {
	name := cmd.String("backend")
	if name == "" {
		name = s.Backend
	}
	if name != scenario.BackendExternal {
		return nil
	}
	if !s.IsExternal() {
		return fmt.Errorf("%s: --backend external needs a scenario written for it: backend: external and an external: section saying how to reach the cluster", s.File)
	}
	if cmd.Bool("allow-disruption") {
		return nil
	}
	var what []string
	for _, p := range scenario.Expand(s) {
		for _, f := range p.Scenario.Faults {
			if d := f.Spec.Describe(); !slices.Contains(what, d) {
				what = append(what, d)
			}
		}
		if p.Scenario.Failover.Mode == scenario.FailoverPromote && !slices.Contains(what, "promote a standby when the primary fails") {
			what = append(what, "promote a standby when the primary fails")
		}
	}
	if s.External.Hooks.Commands[scenario.HookPrepare] != "" {
		what = append(what, "run the prepare hook before each variant")
	}
	if len(what) == 0 {
		return nil
	}
	return fmt.Errorf("%s: this run would disrupt your cluster (%s): pass --allow-disruption to say it may", s.File, strings.Join(what, "; "))
}

// keepable says why --keep cannot keep a cluster of s on b, before
// anything starts.
func keepable(keep bool, s *scenario.Scenario, b cluster.Backend) error {
	if !keep {
		return nil
	}
	if _, ok := b.(*local.Backend); !ok {
		return fmt.Errorf("--keep: the %s backend cannot keep a cluster; the local backend can", b.Name())
	}
	if s.HasNetworkFaults() {
		return fmt.Errorf("--keep: %s has link faults: its links run through proxies in the harness, which end with the run, so the kept standbys would stop streaming", s.File)
	}
	return nil
}

// noteLeftovers says, before a local run, what runs killed outright or
// kept clusters left in the temp dir, and how to remove it.
func noteLeftovers(env Env, b cluster.Backend) {
	if _, ok := b.(*local.Backend); !ok {
		return
	}
	ls, err := local.Cleanup(local.CleanupOptions{DryRun: true})
	if err != nil {
		return
	}
	dirs := 0
	for _, l := range ls {
		if l.Kind == "directory" && !l.Alive {
			dirs++
		}
	}
	if dirs > 0 {
		fmt.Fprintf(env.Stderr, "note: %d temp dir(s) of earlier local runs that were killed outright or kept are left in %s; pgbench-ha cleanup removes them\n", dirs, os.TempDir())
	}
}

// dockerImage is the docker backend's default image: --image when given,
// else the first variant's topology.image when the scenario names one
// (so that a scenario whose variants each name their image needs no
// --image, nor the flag's default image on this machine), else the
// flag's default.
func dockerImage(cmd *cli.Command, s *scenario.Scenario) string {
	if !cmd.IsSet("image") {
		for _, p := range scenario.Expand(s) {
			if p.Scenario.Topology.Image != "" {
				return p.Scenario.Topology.Image
			}
		}
	}
	return cmd.String("image")
}
