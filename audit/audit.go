// Package audit compares the ledger of writes with what the surviving
// nodes hold, after each has replayed everything it received: acknowledged
// writes missing on the final primary are lost; writes whose outcome was
// unknown or failed but that are present are ghosts.
//
//	a, err := audit.Run(ctx, c, roles, ledger, audit.Config{Timeout: 30 * time.Second})
package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// SampleSize bounds the id samples kept in the result.
const SampleSize = 100

// ErrNoPrimary is returned when no node is primary at the end of the run:
// the last primary is down and nothing was promoted in its place. There is
// nothing to judge the writes against.
var ErrNoPrimary = errors.New("no primary at the end")

// Config configures Run.
type Config struct {
	// Timeout bounds the wait for each replica to replay what the final
	// primary has.
	Timeout time.Duration
	// NodeNames maps the ledger's node indexes to names (for reports).
	NodeNames []string
	// Inserted, when set, receives when the final primary inserted each
	// row it holds (created_at, by its clock), as offsets from Start,
	// sorted by id: the server's record of when writes went through, read
	// with the ids in one pass. Servers and harness share the host's
	// clock on the local and docker backends.
	Inserted *[]workload.Inserted
	Start    time.Time
	// Deleted are the ids the scenario's accident deleted on purpose
	// (sorted): every node counts as holding them, so they are not lost.
	Deleted []int64
}

// Rows is the set of order ids a node holds, from the ledger's first id
// on (the initial orders are not audited).
type Rows struct {
	Node string
	Role string
	IDs  []int64 // sorted
}

// Run waits for every live replica to replay up to the final primary's
// current WAL position, reads the order ids each live node holds and
// compares them with the ledger.
func Run(ctx context.Context, c cluster.Cluster, roles *cluster.Roles, led *workload.Ledger, cfg Config) (*result.Audit, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	cs := cluster.NewConns(c, "pgbench-ha-audit", 5*time.Second)
	defer cs.Close()
	primary := roles.Primary()
	pconn, err := cs.Get(ctx, primary)
	if err == nil {
		var inRecovery bool
		if err = pconn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err == nil && inRecovery {
			err = fmt.Errorf("%s is in recovery", primary)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("audit: %w: %s (%s: %s)", ErrNoPrimary, whoIsDown(ctx, c, cs), primary, cluster.Redact(err.Error()))
	}
	var target string
	if err := pconn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		return nil, fmt.Errorf("audit: %s: %w", primary, err)
	}
	// The accident's ids from the ledger's first (the initial orders are
	// not audited).
	var deleted []int64
	for _, id := range cfg.Deleted {
		if id >= led.FirstID() {
			deleted = append(deleted, id)
		}
	}
	nodes := []Rows{}
	caught := map[string]bool{primary: true}
	for _, r := range roles.Replicas() {
		ok, err := cluster.WaitReplayed(ctx, cs, r, target, cfg.Timeout)
		if err != nil {
			continue // unreachable: not a survivor
		}
		caught[r] = ok
		nodes = append(nodes, Rows{Node: r, Role: "replica"})
	}
	nodes = append([]Rows{{Node: primary, Role: "primary"}}, nodes...)
	for i := range nodes {
		conn, err := cs.Get(ctx, nodes[i].Node)
		if err != nil {
			return nil, fmt.Errorf("audit: %s: %w", nodes[i].Node, err)
		}
		var ids []int64
		if i == 0 && cfg.Inserted != nil {
			*cfg.Inserted, err = readInserted(ctx, conn, led.FirstID(), cfg.Start)
			ids = make([]int64, len(*cfg.Inserted))
			for j, r := range *cfg.Inserted {
				ids[j] = r.ID
			}
		} else {
			ids, err = readIDs(ctx, conn, led.FirstID())
		}
		if err != nil {
			return nil, fmt.Errorf("audit: %s: %w", nodes[i].Node, err)
		}
		nodes[i].IDs = withDeleted(ids, deleted)
	}
	entries := led.View()
	a := Compare(led.FirstID(), entries, nodes)
	for _, id := range deleted {
		if i := id - led.FirstID(); i < int64(entries.Len()) {
			a.DeletedOnPurpose++
		}
	}
	for i := range a.Nodes {
		a.Nodes[i].CaughtUp = caught[a.Nodes[i].Node]
	}
	a.LostByNode = lostByNode(led.FirstID(), entries, nodes[0].IDs, cfg.NodeNames)
	a.Timelines, a.HeartbeatGapMs = timelines(ctx, pconn)
	return a, nil
}

// whoIsDown says which nodes do not answer ("nodes primary, replica1
// down") and which answer as standbys.
func whoIsDown(ctx context.Context, c cluster.Cluster, cs *cluster.Conns) string {
	var down, standby []string
	for _, n := range c.Nodes() {
		conn, err := cs.Get(ctx, n.Name)
		if err != nil {
			down = append(down, n.Name)
			continue
		}
		var inRecovery bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
			down = append(down, n.Name)
		} else if inRecovery {
			standby = append(standby, n.Name)
		}
	}
	var parts []string
	switch len(down) {
	case 0:
	case 1:
		parts = append(parts, "node "+down[0]+" down")
	default:
		parts = append(parts, "nodes "+strings.Join(down, ", ")+" down")
	}
	switch len(standby) {
	case 0:
	case 1:
		parts = append(parts, standby[0]+" is a standby")
	default:
		parts = append(parts, strings.Join(standby, ", ")+" are standbys")
	}
	return strings.Join(parts, "; ")
}

// lostByNode counts the lost writes by the node that acknowledged them:
// after a split brain, the losing side's acknowledgements.
func lostByNode(first int64, entries workload.Entries, primaryIDs []int64, names []string) map[string]int64 {
	present := make([]bool, entries.Len())
	for _, id := range primaryIDs {
		if i := id - first; i >= 0 && i < int64(entries.Len()) {
			present[i] = true
		}
	}
	out := map[string]int64{}
	for i, e := range entries.All() {
		if e.Outcome != workload.Acked || present[i] {
			continue
		}
		name := "unknown"
		if int(e.Node) >= 0 && int(e.Node) < len(names) {
			name = names[e.Node]
		}
		out[name]++
	}
	return out
}

// timelines reads the heartbeats the final primary holds, grouped by the
// node and timeline that wrote them: the server's own record of who was
// primary when, and the gap between one timeline's last heartbeat and the
// next one's first (the write outage as the servers saw it).
func timelines(ctx context.Context, conn *pgx.Conn) ([]result.TimelineSpan, *float64) {
	rows, err := conn.Query(ctx, `SELECT node, tli, min(written_at), max(written_at), count(*)
		FROM pgbench_ha_heartbeat GROUP BY node, tli ORDER BY min(written_at)`)
	if err != nil {
		return nil, nil
	}
	defer rows.Close()
	var spans []result.TimelineSpan
	var lastEnd time.Time
	var gap *float64
	for rows.Next() {
		var sp result.TimelineSpan
		var first, last time.Time
		if err := rows.Scan(&sp.Node, &sp.Timeline, &first, &last, &sp.Heartbeats); err != nil {
			return spans, gap
		}
		sp.FirstAt, sp.LastAt = first.UTC(), last.UTC()
		if len(spans) > 0 && first.After(lastEnd) {
			g := float64(first.Sub(lastEnd).Microseconds()) / 1000
			if gap == nil || g > *gap {
				gap = &g
			}
		}
		if last.After(lastEnd) {
			lastEnd = last
		}
		spans = append(spans, sp)
	}
	return spans, gap
}

// readIDs reads the order ids from first on, sorted.
func readIDs(ctx context.Context, conn *pgx.Conn, first int64) ([]int64, error) {
	rows, err := conn.Query(ctx, "SELECT id FROM orders WHERE id >= $1 ORDER BY id", first)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Compare is the pure part of the audit: the ledger (entry i is id
// first+i) against the sorted ids each node holds; nodes[0] is the final
// primary.
func Compare(first int64, entries workload.Entries, nodes []Rows) *result.Audit {
	a := &result.Audit{LostIDs: []int64{}, LostAckMs: []float64{}}
	if len(nodes) == 0 {
		return a
	}
	a.FinalPrimary = nodes[0].Node
	for _, e := range entries.All() {
		if e.Outcome == workload.Acked {
			a.Acked++
		}
	}
	for ni, n := range nodes {
		present := make([]bool, entries.Len())
		na := result.NodeAudit{Node: n.Node, Role: n.Role, Rows: int64(len(n.IDs)), MissingIDs: []int64{}}
		for _, id := range n.IDs {
			i := id - first
			if i < 0 {
				continue
			}
			if i >= int64(entries.Len()) {
				if ni == 0 {
					a.Foreign++
				}
				continue
			}
			present[i] = true
		}
		for i, e := range entries.All() {
			id := first + int64(i)
			switch {
			case e.Outcome == workload.Acked && !present[i]:
				na.Missing++
				if len(na.MissingIDs) < SampleSize {
					na.MissingIDs = append(na.MissingIDs, id)
				}
				if ni == 0 {
					a.Lost++
					if len(a.LostIDs) < SampleSize {
						a.LostIDs = append(a.LostIDs, id)
						a.LostAckMs = append(a.LostAckMs, float64(e.At.Microseconds())/1000)
					}
				}
			case ni == 0 && present[i] && e.Outcome == workload.Unknown:
				// A committed unknown: the connection broke after the
				// commit was sent, so either outcome is legitimate.
				a.UnknownFound++
			case ni == 0 && present[i] && e.Outcome == workload.Failed:
				a.FailedFound++
				a.Ghosts++
			case ni == 0 && present[i] && e.Outcome == workload.Pending:
				a.Ghosts++
			}
		}
		a.Nodes = append(a.Nodes, na)
	}
	return a
}

// withDeleted merges the ids deleted on purpose into a node's sorted ids.
func withDeleted(ids, deleted []int64) []int64 {
	if len(deleted) == 0 {
		return ids
	}
	out := make([]int64, 0, len(ids)+len(deleted))
	i, j := 0, 0
	for i < len(ids) || j < len(deleted) {
		switch {
		case j == len(deleted) || i < len(ids) && ids[i] < deleted[j]:
			out = append(out, ids[i])
			i++
		case i == len(ids) || deleted[j] < ids[i]:
			out = append(out, deleted[j])
			j++
		default:
			out = append(out, ids[i])
			i++
			j++
		}
	}
	return out
}
