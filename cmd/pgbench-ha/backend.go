package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v3"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/docker"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// backendFlags are the flags of run that choose and configure a backend.
func backendFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Usage: "where the cluster runs: local or docker (default: the scenario's backend key, else local)"},
		&cli.StringFlag{Name: "pg-bin", Usage: "local backend: directory of the PostgreSQL server binaries (default: pg_config --bindir, PATH, /usr/lib/postgresql/*/bin)"},
		&cli.StringFlag{Name: "image", Value: docker.DefaultImage, Usage: "docker backend: the PostgreSQL image, already on this machine (it is never pulled; make image builds " + docker.LocalImage + ")"},
	}
}

// openBackend builds the backend the command line or the scenario names.
// Errors are infrastructure errors (binaries, daemon, image) except an
// unknown name, which the scenario decoder or the flag check reports first.
func openBackend(cmd *cli.Command, s *scenario.Scenario) (cluster.Backend, error) {
	name := cmd.String("backend")
	if name == "" {
		name = s.Backend
	}
	switch name {
	case "", "local":
		return local.New(local.Options{BinDir: cmd.String("pg-bin")})
	case "docker":
		return docker.New(docker.Options{Image: cmd.String("image")})
	}
	return nil, fmt.Errorf("unknown backend %q (valid: local, docker)", name)
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
