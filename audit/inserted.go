package audit

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/workload"
)

// readInserted reads the order ids from first on with their insert times
// (created_at, the server's clock) as offsets from start, sorted by id.
func readInserted(ctx context.Context, conn *pgx.Conn, first int64, start time.Time) ([]workload.Inserted, error) {
	rows, err := conn.Query(ctx, "SELECT id, created_at FROM orders WHERE id >= $1 ORDER BY id", first)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []workload.Inserted
	for rows.Next() {
		var id int64
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, err
		}
		out = append(out, workload.Inserted{ID: id, At: at.Sub(start)})
	}
	return out, rows.Err()
}
