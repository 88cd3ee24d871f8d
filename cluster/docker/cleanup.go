package docker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ory/dockertest/v3"
	dc "github.com/ory/dockertest/v3/docker"
)

// CleanupOptions configure Cleanup.
type CleanupOptions struct {
	// Endpoint is the Docker daemon; empty means DOCKER_HOST, else the
	// default socket.
	Endpoint string
	// Run limits the cleanup to one run id (the pgbench-ha.run label).
	Run string
	// All removes resources of runs that still look alive too: their
	// harness process exists, or they were made from another host.
	All bool
	// DryRun lists what would be removed and removes nothing.
	DryRun bool
}

// Leftover is a container or network labelled pgbench-ha=1.
type Leftover struct {
	Kind string // "container" or "network"
	ID   string
	Name string
	Run  string
	PID  int
	Host string
	// Alive says the run that made it seems to be running still, so it is
	// kept unless CleanupOptions.All.
	Alive   bool
	Removed bool
	Err     error
}

// Cleanup removes the containers and networks that runs which no longer
// run left behind (a harness killed with SIGKILL, a crashed machine):
// everything labelled pgbench-ha=1 whose harness process, on this host, is
// gone. Volumes need no cleanup: the backend creates none, and a
// container's anonymous volumes (an image's VOLUME) go with it. It returns
// every resource it found, removed or kept, containers first.
func Cleanup(ctx context.Context, opts CleanupOptions) ([]Leftover, error) {
	pool, err := dockertest.NewPool(opts.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	if err := pingTimeout(pool.Client, 5*time.Second); err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNoDocker, pool.Client.Endpoint(), err)
	}
	labels := map[string]string{LabelOwner: "1"}
	if opts.Run != "" {
		labels[LabelRun] = opts.Run
	}
	host, _ := os.Hostname()
	cts, err := listByLabels(ctx, pool.Client, labels)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var filter []string
	for k, v := range labels {
		filter = append(filter, k+"="+v)
	}
	nf := dc.NetworkFilterOpts{"label": {}}
	for _, f := range filter {
		nf["label"][f] = true
	}
	nets, err := pool.Client.FilteredListNetworks(nf)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var found []Leftover
	for _, c := range cts {
		name := c.ID
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		found = append(found, leftover("container", c.ID, name, c.Labels, host))
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	var netsFound []Leftover
	for _, n := range nets {
		netsFound = append(netsFound, leftover("network", n.ID, n.Name, n.Labels, host))
	}
	sort.Slice(netsFound, func(i, j int) bool { return netsFound[i].Name < netsFound[j].Name })
	if opts.DryRun {
		return append(found, netsFound...), nil
	}
	var wg sync.WaitGroup
	for i := range found {
		if found[i].Alive && !opts.All {
			continue
		}
		wg.Add(1)
		go func(l *Leftover) {
			defer wg.Done()
			err := pool.Client.RemoveContainer(dc.RemoveContainerOptions{ID: l.ID, Force: true, RemoveVolumes: true, Context: ctx})
			if err != nil && !isNoSuch(err) {
				l.Err = err
				return
			}
			l.Removed = true
		}(&found[i])
	}
	wg.Wait()
	for i := range netsFound {
		l := &netsFound[i]
		if l.Alive && !opts.All {
			continue
		}
		if err := pool.Client.RemoveNetwork(l.ID); err != nil && !isNoSuch(err) {
			l.Err = err
			continue
		}
		l.Removed = true
	}
	all := append(found, netsFound...)
	var errs []error
	for _, l := range all {
		if l.Err != nil {
			errs = append(errs, fmt.Errorf("remove %s %s: %w", l.Kind, l.Name, l.Err))
		}
	}
	return all, errors.Join(errs...)
}

func leftover(kind, id, name string, labels map[string]string, host string) Leftover {
	pid, _ := strconv.Atoi(labels[LabelPID])
	l := Leftover{Kind: kind, ID: id, Name: name, Run: labels[LabelRun], PID: pid, Host: labels[LabelHost]}
	l.Alive = alive(l.Host, pid, host)
	return l
}

// alive reports whether the harness that made a resource may still run:
// made on another host (we cannot tell), or its process exists here.
func alive(madeOn string, pid int, host string) bool {
	if madeOn != "" && madeOn != host {
		return true
	}
	if pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
