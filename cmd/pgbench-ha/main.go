// Command pgbench-ha measures how a PostgreSQL primary/replica cluster
// behaves when things go wrong: replication lag, failover time and lost
// acknowledged writes, per replication setting.
//
//	pgbench-ha run scenarios/sync-vs-async.yaml
//	pgbench-ha validate scenarios/*.yaml
//	pgbench-ha report results/sync-vs-async/<run-id>
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/term"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var backend cluster.Backend
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "\npgbench-ha: interrupted: stopping the cluster and writing a partial result (Ctrl-C again to force)")
		cancel()
		<-sigs
		// Forced: kill every process group we started, remove their shared
		// memory and data.
		if err := local.KillAll(); err != nil {
			fmt.Fprintf(os.Stderr, "pgbench-ha: forced exit: %v\n", err)
		}
		mu.Lock()
		if backend != nil {
			_ = backend.Close()
		}
		mu.Unlock()
		fmt.Fprintln(os.Stderr, "pgbench-ha: forced exit")
		os.Exit(ExitInterrupted)
	}()
	code := Main(ctx, os.Args, Env{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		IsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
		OnBackend: func(b cluster.Backend) {
			mu.Lock()
			backend = b
			mu.Unlock()
		},
	})
	cancel()
	os.Exit(code)
}
