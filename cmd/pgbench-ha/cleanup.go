package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/pgbench-ha/pgbench-ha/cluster/docker"
)

// cleanupCommand removes what crashed docker-backend runs left behind.
func cleanupCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "remove the containers and networks that crashed docker-backend runs left behind",
		Description: "Finds every container and network labelled pgbench-ha=1 and removes those whose\n" +
			"run no longer runs (its harness process, on this host, is gone). A run that ends\n" +
			"normally, fails or is interrupted removes its own; this is for a harness that was\n" +
			"killed outright.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "also remove those of runs that seem to run still (their harness process exists, or another host made them)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would be removed; remove nothing"},
			&cli.StringFlag{Name: "run", Usage: "only the resources of this run id (the pgbench-ha.run label)"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return withCode(ExitInvalid, errors.New("cleanup: takes no arguments"))
			}
			opts := docker.CleanupOptions{All: cmd.Bool("all"), DryRun: cmd.Bool("dry-run"), Run: cmd.String("run")}
			found, err := docker.Cleanup(ctx, opts)
			if errors.Is(err, docker.ErrNoDocker) {
				return withCode(ExitInfrastructure, err)
			}
			removed, kept := 0, 0
			for _, l := range found {
				what := fmt.Sprintf("%s %s (run %s, pid %d on %s)", l.Kind, l.Name, l.Run, l.PID, l.Host)
				keep := l.Alive && !opts.All
				switch {
				case keep:
					kept++
					fmt.Fprintf(env.Stdout, "kept          %s: the run seems to run still\n", what)
				case opts.DryRun:
					removed++
					fmt.Fprintf(env.Stdout, "would remove  %s\n", what)
				case l.Removed:
					removed++
					fmt.Fprintf(env.Stdout, "removed       %s\n", what)
				default:
					fmt.Fprintf(env.Stdout, "failed        %s: %v\n", what, l.Err)
				}
			}
			verb := "removed"
			if opts.DryRun {
				verb = "would remove"
			}
			switch {
			case len(found) == 0:
				fmt.Fprintln(env.Stdout, "cleanup: nothing left behind")
			case kept > 0:
				fmt.Fprintf(env.Stdout, "cleanup: %s %d, kept %d of runs that seem to run still (--all removes them too)\n", verb, removed, kept)
			default:
				fmt.Fprintf(env.Stdout, "cleanup: %s %d\n", verb, removed)
			}
			if err != nil {
				return withCode(ExitError, err)
			}
			return nil
		},
	}
}
