package fault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Waits of the node faults' lifecycle.
const (
	effectTimeout = 10 * time.Second
	healTimeout   = 60 * time.Second
	pollEvery     = 2 * time.Millisecond
)

// EffectTimeouter is a Cluster whose faults may take longer to be seen
// than the harness's own do: an external cluster's hooks (kubectl, Chaos
// Mesh) return before the fault is applied.
type EffectTimeouter interface {
	EffectTimeout() time.Duration
}

// effectWait is how long a fault on c may take to be seen: the
// cluster's own bound when it gives one.
func effectWait(c cluster.Cluster) time.Duration {
	if et, ok := c.(EffectTimeouter); ok && et.EffectTimeout() > 0 {
		return et.EffectTimeout()
	}
	return effectTimeout
}

// healWait is how long a heal on c may take to be seen.
func healWait(c cluster.Cluster) time.Duration {
	if et, ok := c.(EffectTimeouter); ok && et.EffectTimeout() > 0 {
		return et.EffectTimeout()
	}
	return healTimeout
}

// startAgain heals a kill or a stop: the node starts again. A replica
// streams again from its upstream; an old primary comes back as a primary
// (a second writable node, if a replica was promoted meanwhile: exactly the
// split brain a scenario may want to see).
func startAgain(e Env, node string) func(context.Context) error {
	return func(ctx context.Context) error {
		s, ok := e.Cluster.(cluster.Stopper)
		if !ok {
			return fmt.Errorf("the backend cannot start a node again")
		}
		if err := s.Start(ctx, node); err != nil {
			return err
		}
		if e.Roles != nil && !IsService(node) {
			e.Roles.MarkUp(node)
		}
		return nil
	}
}

// addrOf is the node's address as the harness reaches it directly.
func addrOf(c cluster.Cluster, node string) (string, bool) {
	for _, n := range c.Nodes() {
		if n.Name == node {
			return net.JoinHostPort(n.Host, strconv.Itoa(n.Port)), true
		}
	}
	return "", false
}

// waitRefused waits until the node's port refuses connections: its
// postmaster is gone.
func waitRefused(ctx context.Context, c cluster.Cluster, node string) error {
	addr, ok := addrOf(c, node)
	if !ok {
		return fmt.Errorf("no node %q", node)
	}
	wait := effectWait(c)
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		switch {
		case err == nil:
			conn.Close()
		case ctx.Err() != nil:
			return fmt.Errorf("%s still accepts connections after %s", node, wait)
		case refused(err):
			return nil
		}
		// Another error (no local port left after many probes, too many
		// open files on a busy machine) says nothing of the node: ask
		// again.
		if !sleep(ctx, pollEvery) {
			return fmt.Errorf("%s still accepts connections after %s", node, wait)
		}
	}
}

// refused reports whether a dial error is the node's address saying no:
// nothing listens there (refused, reset), or it is gone from the network.
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// waitAnswers waits until the node answers a query.
func waitAnswers(ctx context.Context, c cluster.Cluster, node string) error {
	return cluster.WaitAnswers(ctx, c, node, healWait(c))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
