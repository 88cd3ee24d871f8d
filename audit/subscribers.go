package audit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/quantile"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// ArrivalColumn is the column a subscriber's orders table has of its own:
// when each row arrived there (clock_timestamp() at apply), which the
// publisher does not send.
const ArrivalColumn = "pgbench_ha_arrived_at"

// SubscriberConfig configures Subscribers.
type SubscriberConfig struct {
	// Timeout bounds the wait for each subscriber to confirm the final
	// primary's WAL position.
	Timeout time.Duration
	// Start is the run's clock: arrival times are offsets from it.
	Start time.Time
	// PromotedMs is when the new primary took writes after a failover
	// (ms of the run), nil without one.
	PromotedMs *float64
}

// Subscribers audits each logical subscriber against the ledger, once
// it has confirmed the final primary's WAL position (or, when the final
// primary has no slot of its, after a failover on a server without
// failover slots, as it is: nothing more will come).
func Subscribers(ctx context.Context, c cluster.Cluster, roles *cluster.Roles, led *workload.Ledger, subs []string, cfg SubscriberConfig) ([]result.SubscriberAudit, error) {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	cs := cluster.NewConns(c, "pgbench-ha-audit", 5*time.Second)
	defer cs.Close()
	entries := led.View()
	first := led.FirstID()
	var out []result.SubscriberAudit
	for _, sub := range subs {
		drained, err := waitConfirmed(ctx, cs, roles.Primary(), sub, cfg.Timeout)
		if err != nil {
			return nil, fmt.Errorf("audit of %s: %w", sub, err)
		}
		conn, err := cs.Get(ctx, sub)
		if err != nil {
			return nil, fmt.Errorf("audit of %s: %w", sub, err)
		}
		rows, err := conn.Query(ctx, "SELECT id, "+ArrivalColumn+" FROM orders WHERE id >= $1", first)
		if err != nil {
			return nil, fmt.Errorf("audit of %s: %w", sub, err)
		}
		arrived := map[int64]float64{}
		for rows.Next() {
			var id int64
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("audit of %s: %w", sub, err)
			}
			arrived[id] = float64(at.Sub(cfg.Start).Microseconds()) / 1000
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("audit of %s: %w", sub, err)
		}
		out = append(out, judgeSubscriber(sub, entries, first, arrived, cfg.PromotedMs, drained))
	}
	return out, nil
}

// judgeSubscriber sets the ledger's acknowledged writes against the rows
// a subscriber holds (id -> arrival, ms of the run).
func judgeSubscriber(sub string, entries workload.Entries, first int64, arrived map[int64]float64, promoted *float64, drained bool) result.SubscriberAudit {
	a := result.SubscriberAudit{Name: sub, MissingIDs: []int64{}, Drained: drained, ArrivalBySecond: []result.ScheduleLagPoint{}}
	var before, after int64
	followed := false
	var lags []float64
	bySecond := map[int][]float64{}
	for i, e := range entries.All() {
		if e.Outcome != workload.Acked {
			continue
		}
		id := first + int64(i)
		ack := float64(e.At.Microseconds()) / 1000
		a.Acked++
		at, ok := arrived[id]
		afterPromotion := promoted != nil && ack >= *promoted
		switch {
		case !ok:
			a.Missing++
			if len(a.MissingIDs) < SampleSize {
				a.MissingIDs = append(a.MissingIDs, id)
			}
			if afterPromotion {
				after++
			} else {
				before++
			}
		default:
			followed = followed || afterPromotion
			if e.WasSent() && at < float64(e.Sent.Microseconds())/1000 {
				a.ArrivedBeforeSent++
			}
			lag := at - ack
			lags = append(lags, lag)
			sec := int(math.Floor(ack / 1000))
			bySecond[sec] = append(bySecond[sec], lag)
		}
	}
	a.ArrivalMs = result.NewDistribution(lags)
	secs := make([]int, 0, len(bySecond))
	for s := range bySecond {
		secs = append(secs, s)
	}
	sort.Ints(secs)
	for _, s := range secs {
		xs := bySecond[s]
		sort.Float64s(xs)
		a.ArrivalBySecond = append(a.ArrivalBySecond, result.ScheduleLagPoint{Second: s, Writes: int64(len(xs)),
			P50Ms: quantile.NearestRank(xs, 0.5), P99Ms: quantile.NearestRank(xs, 0.99), MaxMs: xs[len(xs)-1]})
	}
	if promoted != nil {
		a.MissingBefore, a.MissingAfter, a.Followed = &before, &after, &followed
	}
	return a
}

// waitConfirmed waits until sub's slot on primary has confirmed the WAL
// position primary had when the wait began; false at once when primary
// has no such slot, false after timeout when it does not get there.
func waitConfirmed(ctx context.Context, cs *cluster.Conns, primary, sub string, timeout time.Duration) (bool, error) {
	conn, err := cs.Get(ctx, primary)
	if err != nil {
		return false, nil // no primary to have confirmed: read as it is
	}
	var target string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		return false, nil
	}
	deadline := time.Now().Add(timeout)
	for {
		var done *bool
		err := conn.QueryRow(ctx, "SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2", target, sub).Scan(&done)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return false, nil // no slot on this primary: nothing more will come
		case err != nil:
			return false, err
		case done != nil && *done:
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
