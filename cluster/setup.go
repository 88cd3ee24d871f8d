package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
)

// The steps every backend's bring-up shares, once its servers run.

// WaitStreaming waits, on a connection to the primary, until every
// replica named is streaming in pg_stat_replication (up to 60 s).
func WaitStreaming(ctx context.Context, conn *pgx.Conn, replicas []ReplicaSpec) error {
	want := map[string]bool{}
	for _, r := range replicas {
		want[r.Name] = true
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := conn.Query(ctx, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'")
		if err != nil {
			return fmt.Errorf("wait for streaming: %w", err)
		}
		got := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err == nil {
				got[name] = true
			}
		}
		rows.Close()
		missing := []string{}
		for n := range want {
			if !got[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			return fmt.Errorf("replicas not streaming after 60s: %s (see their logs)", strings.Join(missing, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// SetSyncNames sets the primary's synchronous_standby_names and waits
// until a standby is synchronous. Call it once the standbys stream: set
// before, every write (even creating the roles) waits for them.
func SetSyncNames(ctx context.Context, conn *pgx.Conn, names string) error {
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+pgquote.Literal(names)); err != nil {
		return fmt.Errorf("set synchronous_standby_names: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')").Scan(&n)
		if err != nil {
			return fmt.Errorf("wait for sync standbys: %w", err)
		}
		if n > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no standby became synchronous for %q after 10s", names)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// ParseServerVersion takes the version out of `postgres --version`:
// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" gives "15.18".
func ParseServerVersion(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if w == "(PostgreSQL)" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return strings.TrimSpace(s)
}
