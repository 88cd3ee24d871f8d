package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/audit"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// publication is the harness's publication of the orders table.
const publication = "pgbench_ha"

// subscribe publishes the orders table on the primary and subscribes
// each subscriber to it: the subscriber gets the table, with an arrival
// column of its own, and a subscription named after it (its slot on the
// primary has that name too; a failover slot where the plan says so),
// and the initial orders copied. It returns once every subscriber has
// them.
func subscribe(ctx context.Context, c cluster.Cluster, plans []subscriberPlan) error {
	var subs []string
	failover := map[string]bool{}
	for _, p := range plans {
		subs = append(subs, p.name)
		failover[p.name] = p.failover
	}
	if len(subs) == 0 {
		return nil
	}
	sc, ok := c.(cluster.Subscriberer)
	if !ok {
		return fmt.Errorf("subscribers: the backend cannot start logical subscribers")
	}
	cs := cluster.NewConns(c, "pgbench-ha-load", 10*time.Second)
	defer cs.Close()
	p, err := cs.Get(ctx, scenario.PrimaryName)
	if err != nil {
		return fmt.Errorf("publication: %w", err)
	}
	if _, err := p.Exec(ctx, "CREATE PUBLICATION "+publication+" FOR TABLE orders"); err != nil {
		return fmt.Errorf("publication: %w", err)
	}
	for _, sub := range subs {
		conn, err := cs.Get(ctx, sub)
		if err != nil {
			return fmt.Errorf("subscriber %s: %w", sub, err)
		}
		with := ""
		if failover[sub] {
			with = " WITH (failover = true)"
		}
		for _, q := range []string{
			workload.Schema,
			"ALTER TABLE orders ADD COLUMN " + audit.ArrivalColumn + " timestamptz NOT NULL DEFAULT clock_timestamp()",
			"CREATE SUBSCRIPTION " + pgx.Identifier{sub}.Sanitize() + " CONNECTION " +
				pgquote.Literal(sc.SubscriberConnInfo(sub, scenario.PrimaryName)) + " PUBLICATION " + publication + with,
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("subscriber %s: %s", sub, cluster.Redact(err.Error()))
			}
		}
	}
	// The initial copy done: every table of every subscription ready.
	deadline := time.Now().Add(60 * time.Second)
	for _, sub := range subs {
		conn, err := cs.Get(ctx, sub)
		if err != nil {
			return fmt.Errorf("subscriber %s: %w", sub, err)
		}
		for {
			var pending int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate NOT IN ('r', 's')").Scan(&pending); err != nil {
				return fmt.Errorf("subscriber %s: %w", sub, err)
			}
			var tables int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_subscription_rel").Scan(&tables); err != nil {
				return fmt.Errorf("subscriber %s: %w", sub, err)
			}
			if pending == 0 && tables > 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("subscriber %s: the initial copy of the orders is not done after 60s", sub)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return waitFailoverReady(ctx, c, plans)
}
