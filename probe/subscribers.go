package probe

import (
	"context"
	"sync"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// slotSQL reads the logical slots on the primary: how far each one's
// subscriber confirmed, and the WAL it holds.
const slotSQL = `SELECT slot_name::text, active,
	pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::float8,
	pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8
FROM pg_replication_slots WHERE slot_type = 'logical'`

// subscriptionSQL reads a subscription's apply worker on its subscriber
// (the row without relid: not a table's initial sync).
const subscriptionSQL = `SELECT pid IS NOT NULL,
	(extract(epoch FROM clock_timestamp() - last_msg_receipt_time) * 1000)::float8
FROM pg_stat_subscription WHERE subname = $1 AND relid IS NULL`

// subscribers samples, every LagInterval, each subscriber's slot on the
// current primary and its subscription on the subscriber, each server
// asked on its own (a dead primary delays no subscriber's sample).
func (s *Sampler) subscribers(ctx context.Context) {
	// One set of connections per goroutine: a Conns is not safe for
	// concurrent use.
	primaryConns := cluster.NewConns(s.c, "pgbench-ha-logical", time.Second)
	defer primaryConns.Close()
	subConns := make([]*cluster.Conns, len(s.cfg.Subscribers))
	for i := range subConns {
		subConns[i] = cluster.NewConns(s.c, "pgbench-ha-logical", time.Second)
		defer subConns[i].Close()
	}
	t := time.NewTicker(s.cfg.LagInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := s.now()
		pts := make([]result.SubscriberPoint, len(s.cfg.Subscribers))
		var wg sync.WaitGroup
		wg.Add(1 + len(pts))
		slots := map[string]result.SubscriberPoint{}
		read := false
		go func() {
			defer wg.Done()
			slots, read = s.sampleSlots(ctx, primaryConns)
		}()
		for i, sub := range s.cfg.Subscribers {
			go func() {
				defer wg.Done()
				pts[i] = s.sampleSubscription(ctx, subConns[i], sub)
			}()
		}
		wg.Wait()
		s.mu.Lock()
		for _, p := range pts {
			p.Ms = ms(at)
			p.SlotUnread = !read
			if sl, ok := slots[p.Subscriber]; ok {
				p.Slot, p.SlotActive, p.LagBytes, p.RetainedBytes = true, sl.SlotActive, sl.LagBytes, sl.RetainedBytes
			}
			s.subs = append(s.subs, p)
		}
		s.mu.Unlock()
	}
}

// sampleSlots reads the logical slots on the current primary, by name,
// and whether it answered (false: the slots are not known, rather than
// gone).
func (s *Sampler) sampleSlots(ctx context.Context, cs *cluster.Conns) (map[string]result.SubscriberPoint, bool) {
	out := map[string]result.SubscriberPoint{}
	primary := s.roles.Primary()
	conn, err := cs.Get(ctx, primary)
	if err != nil {
		return out, false
	}
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s.queries.Add(1)
	rows, err := conn.Query(qctx, slotSQL)
	if err != nil {
		cs.Drop(primary)
		return out, false
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var p result.SubscriberPoint
		if err := rows.Scan(&name, &p.SlotActive, &p.LagBytes, &p.RetainedBytes); err == nil {
			out[name] = p
		}
	}
	if rows.Err() != nil {
		cs.Drop(primary)
		return map[string]result.SubscriberPoint{}, false
	}
	return out, true
}

// sampleSubscription reads sub's apply worker.
func (s *Sampler) sampleSubscription(ctx context.Context, cs *cluster.Conns, sub string) result.SubscriberPoint {
	p := result.SubscriberPoint{Subscriber: sub}
	conn, err := cs.Get(ctx, sub)
	if err != nil {
		return p
	}
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s.queries.Add(1)
	if err := conn.QueryRow(qctx, subscriptionSQL, sub).Scan(&p.Worker, &p.SinceMessageMs); err != nil {
		cs.Drop(sub)
	}
	return p
}

// Subscribers returns the subscribers' samples, after Run returned.
func (s *Sampler) Subscribers() []result.SubscriberPoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]result.SubscriberPoint(nil), s.subs...)
}
