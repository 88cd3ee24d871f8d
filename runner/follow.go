package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// followWait is how long a re-pointed subscription has to be seen using
// its slot on the new primary.
const followWait = 15 * time.Second

// follower re-points each logical subscription to the new primary after
// a promotion, as an operator would (ALTER SUBSCRIPTION ... DISABLE, its
// apply worker ended, CONNECTION to the new primary, ENABLE), and
// records whether it
// followed: whether the new primary had the subscription's slot (a
// failover slot synchronized to it, PostgreSQL 17 and later) and the
// subscription came to use it. Before failover slots the new primary has
// no such slot, and the subscription cannot follow.
type follower struct {
	c     cluster.Cluster
	roles *cluster.Roles
	subs  []subscriberPlan
	start time.Time
	emit  func(result.Event)

	wg      sync.WaitGroup
	mu      sync.Mutex
	follows map[string][]result.SubscriberFollow
}

func newFollower(c cluster.Cluster, roles *cluster.Roles, subs []subscriberPlan, start time.Time, emit func(result.Event)) *follower {
	return &follower{c: c, roles: roles, subs: subs, start: start, emit: emit, follows: map[string][]result.SubscriberFollow{}}
}

// run watches the roles until watch ends; on each new primary it
// re-points every subscription, under work (which outlives watch, so
// that a promotion at the end of the window is still followed). Wait
// waits for the re-pointings under way.
func (f *follower) run(watch, work context.Context) {
	if len(f.subs) == 0 {
		return
	}
	last := f.roles.Primary()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-watch.Done():
			return
		case <-t.C:
		}
		p := f.roles.Primary()
		if p == last {
			continue
		}
		last = p
		for _, sub := range f.subs {
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				fo := f.repoint(work, sub, p)
				f.mu.Lock()
				f.follows[sub.name] = append(f.follows[sub.name], fo)
				f.mu.Unlock()
				detail := "re-pointed to " + p + ": followed"
				if !fo.Followed {
					detail = "re-pointed to " + p + ": did not follow: " + fo.Error
				}
				f.emit(result.Event{Ms: f.ms(time.Now()), Kind: result.EventSubscription, Node: sub.name, Detail: detail})
			}()
		}
	}
}

// wait waits for the re-pointings under way.
func (f *follower) wait() { f.wg.Wait() }

// of returns sub's re-pointings, in order.
func (f *follower) of(sub string) []result.SubscriberFollow {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]result.SubscriberFollow(nil), f.follows[sub]...)
}

func (f *follower) ms(t time.Time) float64 { return float64(t.Sub(f.start).Microseconds()) / 1000 }

// repoint points sub's subscription at primary and, when primary has its
// slot, waits until the slot is in use there.
func (f *follower) repoint(ctx context.Context, sub subscriberPlan, primary string) result.SubscriberFollow {
	fo := result.SubscriberFollow{NewPrimary: primary, RepointMs: f.ms(time.Now())}
	sc, ok := f.c.(cluster.Subscriberer)
	if !ok {
		fo.Error = "the backend has no subscribers"
		return fo
	}
	cs := cluster.NewConns(f.c, "pgbench-ha-follow", 5*time.Second)
	defer cs.Close()
	slotThere := func() (exists, active bool, err error) {
		conn, err := cs.Get(ctx, primary)
		if err != nil {
			return false, false, err
		}
		err = conn.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = $1 AND slot_type = 'logical'", sub.name).Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, false, nil
		}
		if err != nil {
			cs.Drop(primary)
			return false, false, err
		}
		return true, active, nil
	}
	exists, _, err := slotThere()
	if err != nil {
		fo.Error = fmt.Sprintf("read the slots on %s: %s", primary, cluster.Redact(err.Error()))
		return fo
	}
	fo.SlotThere = exists
	conn, err := cs.Get(ctx, sub.name)
	if err != nil {
		fo.Error = fmt.Sprintf("connect to %s: %s", sub.name, cluster.Redact(err.Error()))
		return fo
	}
	name := pgx.Identifier{sub.name}.Sanitize()
	for _, q := range []string{
		"ALTER SUBSCRIPTION " + name + " DISABLE",
		// A disabled subscription's apply worker exits when it next
		// looks, which one stuck connecting to the dead primary (a
		// container's address gone: no refusal, the connect hangs)
		// does not do for minutes: it is ended, and not started
		// again while the subscription is disabled.
		"SELECT pg_terminate_backend(pid) FROM pg_stat_subscription WHERE subname = " + pgquote.Literal(sub.name) + " AND pid IS NOT NULL",
		"ALTER SUBSCRIPTION " + name + " CONNECTION " + pgquote.Literal(sc.SubscriberConnInfo(sub.name, primary)),
		"ALTER SUBSCRIPTION " + name + " ENABLE",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			fo.Error = fmt.Sprintf("re-point %s: %s", sub.name, cluster.Redact(err.Error()))
			return fo
		}
	}
	if !exists {
		// Nothing will make one: the harness creates none (a new slot
		// would start from now, the writes before it silently skipped).
		fo.Error = fmt.Sprintf("%s has no slot %s: a logical slot lives on the primary it was made on, unless it is a failover slot (PostgreSQL %d and later) synchronized to the standby promoted",
			primary, sub.name, FailoverSlotsMajor)
		return fo
	}
	deadline := time.Now().Add(followWait)
	for {
		exists, active, err := slotThere()
		switch {
		case err == nil && active:
			fo.Followed = true
			at := f.ms(time.Now())
			fo.FollowedMs = &at
			return fo
		case ctx.Err() != nil:
			fo.Error = "interrupted"
			return fo
		case time.Now().After(deadline):
			switch {
			case err != nil:
				fo.Error = fmt.Sprintf("read the slots on %s: %s", primary, cluster.Redact(err.Error()))
			case !exists:
				fo.Error = fmt.Sprintf("slot %s on %s dropped after the re-pointing", sub.name, primary)
			default:
				fo.Error = fmt.Sprintf("slot %s on %s not in use %s after the re-pointing", sub.name, primary, followWait)
			}
			return fo
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}
