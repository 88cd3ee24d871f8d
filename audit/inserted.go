package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// InsertTimes reads when node inserted each order of the run, from id
// first on, by its own clock (created_at), as offsets from start, sorted
// by id: the server's record of when writes went through, to set against
// the ledger's. Servers and harness share the host's clock on the local
// and docker backends.
func InsertTimes(ctx context.Context, c cluster.Cluster, node string, first int64, start time.Time) ([]workload.Inserted, error) {
	cs := cluster.NewConns(c, "pgbench-ha-audit", 5*time.Second)
	defer cs.Close()
	conn, err := cs.Get(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("insert times: %s: %w", node, err)
	}
	rows, err := conn.Query(ctx, "SELECT id, created_at FROM orders WHERE id >= $1 ORDER BY id", first)
	if err != nil {
		return nil, fmt.Errorf("insert times: %s: %w", node, err)
	}
	defer rows.Close()
	var out []workload.Inserted
	for rows.Next() {
		var id int64
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("insert times: %s: %w", node, err)
		}
		out = append(out, workload.Inserted{ID: id, At: at.Sub(start)})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert times: %s: %w", node, err)
	}
	return out, nil
}
