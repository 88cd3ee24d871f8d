package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v3"

	"github.com/pgbench-ha/pgbench-ha/cluster/docker"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
)

// cleanupCommand removes what runs killed outright left behind, on both
// backends.
func cleanupCommand(env Env) *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "remove what runs killed outright left behind: shared memory, temp dirs and cgroups, containers and networks",
		Description: "A run that ends normally, fails or is interrupted removes what it made; this is for a\n" +
			"harness that was killed outright. Local backend: the shared memory segments and temp\n" +
			"dirs ($TMPDIR/pgbench-ha-*) of runs whose harness process is gone; a segment is removed\n" +
			"only when a postmaster.pid of such a run names it and nothing is attached to it. And\n" +
			"their freezer cgroups (/sys/fs/cgroup/freezer/pgbench-ha/*), after killing the servers\n" +
			"left in them (frozen, if the harness died while it paused a node).\n" +
			"Docker backend: the containers and networks labelled pgbench-ha=1 whose run no longer\n" +
			"runs (its harness process, on this host, is gone). Without a docker daemon only the\n" +
			"local backend's are looked for.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "also remove the containers and networks of runs that seem to run still (their harness process exists, or another host made them); a local run that still runs is always kept"},
			&cli.BoolFlag{Name: "dry-run", Usage: "list what would be removed; remove nothing"},
			&cli.StringFlag{Name: "run", Usage: "only the containers and networks of this run id (the pgbench-ha.run label); nothing of the local backend"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return withCode(ExitInvalid, errors.New("cleanup: takes no arguments"))
			}
			opts := docker.CleanupOptions{All: cmd.Bool("all"), DryRun: cmd.Bool("dry-run"), Run: cmd.String("run")}
			var found []leftover
			var errs []error
			if opts.Run == "" {
				ls, err := local.Cleanup(local.CleanupOptions{DryRun: opts.DryRun})
				for _, l := range ls {
					found = append(found, leftover{
						what: fmt.Sprintf("%s %s (harness pid %d)", l.Kind, l.Name, l.PID),
						keep: l.Alive, removed: l.Removed, err: l.Err,
					})
				}
				if err != nil {
					errs = append(errs, err)
				}
			}
			ds, err := docker.Cleanup(ctx, opts)
			switch {
			case errors.Is(err, docker.ErrNoDocker) && opts.Run != "":
				return withCode(ExitInfrastructure, err)
			case errors.Is(err, docker.ErrNoDocker):
				fmt.Fprintf(env.Stdout, "skipped       containers and networks: %v\n", err)
			case err != nil:
				errs = append(errs, err)
			}
			dockerKept := 0
			for _, l := range ds {
				keep := l.Alive && !opts.All
				if keep {
					dockerKept++
				}
				found = append(found, leftover{
					what: fmt.Sprintf("%s %s (run %s, pid %d on %s)", l.Kind, l.Name, l.Run, l.PID, l.Host),
					keep: keep, removed: l.Removed, err: l.Err,
				})
			}
			printCleanup(env, found, opts.DryRun, dockerKept)
			if err := errors.Join(errs...); err != nil {
				return withCode(ExitError, err)
			}
			return nil
		},
	}
}

// leftover is one thing cleanup found, of either backend.
type leftover struct {
	what    string
	keep    bool // its run seems to run still
	removed bool
	err     error
}

func printCleanup(env Env, found []leftover, dryRun bool, dockerKept int) {
	removed, kept := 0, 0
	for _, l := range found {
		switch {
		case l.keep:
			kept++
			fmt.Fprintf(env.Stdout, "kept          %s: the run seems to run still\n", l.what)
		case l.err != nil:
			fmt.Fprintf(env.Stdout, "not removed   %s: %v\n", l.what, l.err)
		case dryRun:
			removed++
			fmt.Fprintf(env.Stdout, "would remove  %s\n", l.what)
		case l.removed:
			removed++
			fmt.Fprintf(env.Stdout, "removed       %s\n", l.what)
		}
	}
	verb := "removed"
	if dryRun {
		verb = "would remove"
	}
	switch {
	case len(found) == 0:
		fmt.Fprintln(env.Stdout, "cleanup: nothing left behind")
	case kept > 0 && dockerKept > 0:
		fmt.Fprintf(env.Stdout, "cleanup: %s %d, kept %d of runs that seem to run still (--all removes their containers and networks too)\n", verb, removed, kept)
	case kept > 0:
		fmt.Fprintf(env.Stdout, "cleanup: %s %d, kept %d of runs that seem to run still\n", verb, removed, kept)
	default:
		fmt.Fprintf(env.Stdout, "cleanup: %s %d\n", verb, removed)
	}
}
