package failover

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// WritableNode is a LeaderSource for a cluster whose manager has no store
// the harness can read (an external cluster's): the leader is the node
// that answers as a primary, out of recovery. When several do (a split
// brain), the one on the highest timeline leads, the node listed first
// on a tie. A node that does not answer within the ctx Leader is given
// is skipped, except the leader last reported: while no other node
// answers as primary it stays the leader (a stall is not a failover); a
// refusal or an error does not keep it. No writable node is "" and no
// error.
//
// Leader is called from one goroutine at a time; Close the source after
// its last use.
type WritableNode struct {
	c     cluster.Cluster
	last  string                    // the leader last reported
	conns map[string]*cluster.Conns // one per node: each node is asked on its own goroutine
}

// NewWritableNode returns a source asking every node of c over admin
// connections.
func NewWritableNode(c cluster.Cluster) *WritableNode {
	w := &WritableNode{c: c, conns: map[string]*cluster.Conns{}}
	for _, n := range c.Nodes() {
		w.conns[n.Name] = cluster.NewConns(c, "pgbench-ha-observer", observerProbeTimeout)
	}
	return w
}

// writableQuery is whether the node is in recovery and, when it is not,
// its timeline: the first 8 hex digits of its current WAL file's name
// (pg_walfile_name errors in recovery, hence the CASE).
const writableQuery = `SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN NULL
	ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END`

// Leader asks every node at once, so that a frozen node delays none of
// the others' answers; it returns when all answered or ctx ended.
func (w *WritableNode) Leader(ctx context.Context) (string, error) {
	nodes := w.c.Nodes()
	answers := make([]nodeAnswer, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		cs := w.conns[n.Name]
		if cs == nil {
			// A node the cluster did not list when the source was made.
			cs = cluster.NewConns(w.c, "pgbench-ha-observer", observerProbeTimeout)
			w.conns[n.Name] = cs
		}
		answers[i].name = n.Name
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i].writable, answers[i].timeline, answers[i].timedOut = askWritable(ctx, cs, n.Name)
		}()
	}
	wg.Wait()
	w.last = pick(answers, w.last)
	return w.last, nil
}

// pick is the leader given the answers and the leader last reported: the
// writable node (leaderOf), or, when none is, the last leader if it did
// not answer in time: a primary frozen, cut off or busy is not known to
// be gone, unlike one that refused.
func pick(answers []nodeAnswer, last string) string {
	if leader := leaderOf(answers); leader != "" || last == "" {
		return leader
	}
	for _, a := range answers {
		if a.name == last && a.timedOut {
			return last
		}
	}
	return ""
}

// nodeAnswer is what one node answered: out of recovery or not, and on
// which timeline.
type nodeAnswer struct {
	name     string
	writable bool
	timeline uint64
	// timedOut: no answer within the time given, rather than a refusal
	// or an error.
	timedOut bool
}

// leaderOf is the writable node on the highest timeline, the first listed
// on a tie; "" when none is writable.
func leaderOf(answers []nodeAnswer) string {
	leader, best := "", uint64(0)
	for _, a := range answers {
		if a.writable && (leader == "" || a.timeline > best) {
			leader, best = a.name, a.timeline
		}
	}
	return leader
}

// askWritable reports whether node answers out of recovery, and its
// timeline then (0 when unreadable); false when it does not answer, and
// then whether because the time given ran out.
func askWritable(ctx context.Context, cs *cluster.Conns, node string) (writable bool, timeline uint64, timedOut bool) {
	conn, err := cs.Get(ctx, node)
	if err != nil {
		return false, 0, isTimeout(ctx, err)
	}
	var (
		inRecovery bool
		tli        *string
	)
	if err := conn.QueryRow(ctx, writableQuery).Scan(&inRecovery, &tli); err != nil {
		cs.Drop(node)
		return false, 0, isTimeout(ctx, err)
	}
	if inRecovery {
		return false, 0, false
	}
	if tli != nil {
		timeline, _ = strconv.ParseUint(*tli, 16, 32)
	}
	return true, timeline, false
}

// isTimeout reports whether err is the time given running out (the ctx's
// deadline, a connect or read timeout), not a refusal.
func isTimeout(ctx context.Context, err error) bool {
	var ne net.Error
	return ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// Close closes the connections to the nodes.
func (w *WritableNode) Close() {
	for _, cs := range w.conns {
		cs.Close()
	}
}

// The observer's words for a leader that is the writable node.

var (
	_ LeaderSource = (*WritableNode)(nil)
	_ Describer    = (*WritableNode)(nil)
)

func (*WritableNode) Released(old string) string {
	return "no node answers as primary (" + old + " no longer does)"
}
func (*WritableNode) Moved(old, now string) string {
	return "the primary moved from " + old + " to " + now
}
func (*WritableNode) Took(node string) string  { return node + " answers as primary" }
func (*WritableNode) Again(node string) string { return node + " answers as primary again" }
func (*WritableNode) Since() string            { return "it answered as primary" }
func (*WritableNode) ReadFailed() string       { return "ask the nodes which is primary" }
