package main

import (
	"fmt"

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
