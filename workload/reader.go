package workload

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/internal/quantile"
)

// ReadSQL asks a node whether it has order $1, and the newest order it has.
const ReadSQL = `SELECT EXISTS (SELECT 1 FROM orders WHERE id = $1), coalesce((SELECT max(id) FROM orders), 0)`

// ReaderConfig configures one reader, reading from one node.
type ReaderConfig struct {
	Node     string
	DSN      string  // reaches Node (and only Node)
	Rate     float64 // reads per second, Poisson arrivals
	Seed     int64
	Ledger   *Ledger
	Start    time.Time
	Duration time.Duration
	Timeout  time.Duration // per read; default 2s
}

// Read is the outcome of one read.
type Read struct {
	At          time.Duration // when it was sent
	Done        time.Duration
	OK          bool // answered
	Stale       bool // the newest write acknowledged before it was sent was not there
	StaleMs     float64
	StaleOrders int64
}

// Reads is what a reader saw.
type Reads struct {
	Node  string
	Reads []Read
}

// RunReader reads at the configured rate until the window ends. Each read
// asks for the newest order acknowledged before the read was sent: when
// the node does not have it, the read is stale, by as many acknowledged
// orders as the node lacks and by the age of the oldest of them.
func RunReader(ctx context.Context, cfg ReaderConfig) *Reads {
	out := &Reads{Node: cfg.Node}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	pcfg, err := pgx.ParseConfig(cfg.DSN + " connect_timeout=2")
	if err != nil {
		return out
	}
	pcfg.RuntimeParams["application_name"] = "pgbench-ha-reader"
	rctx, cancel := context.WithDeadline(ctx, cfg.Start.Add(cfg.Duration))
	defer cancel()
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(len(cfg.Node))))
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	next := time.Duration(0)
	for {
		next += time.Duration(-math.Log(1-rng.Float64()) / cfg.Rate * float64(time.Second))
		if next >= cfg.Duration {
			return out
		}
		t := time.NewTimer(time.Until(cfg.Start.Add(next)))
		select {
		case <-rctx.Done():
			t.Stop()
			return out
		case <-t.C:
		}
		r := Read{At: time.Since(cfg.Start)}
		target := cfg.Ledger.NewestAcked()
		qctx, qcancel := context.WithTimeout(rctx, cfg.Timeout)
		if conn == nil {
			conn, err = pgx.ConnectConfig(qctx, pcfg)
			if err != nil {
				conn = nil
			}
		}
		if conn != nil {
			var has bool
			var newest int64
			err = conn.QueryRow(qctx, ReadSQL, target).Scan(&has, &newest)
			if err != nil {
				conn.Close(context.Background())
				conn = nil
			} else {
				r.OK = true
				if target > 0 && !has {
					r.Stale = true
					r.StaleOrders = target - newest
					if r.StaleOrders < 1 {
						r.StaleOrders = 1
					}
					if _, ackAt, ok := cfg.Ledger.FirstAckedAbove(newest); ok && ackAt < r.At {
						r.StaleMs = float64((r.At - ackAt).Microseconds()) / 1000
					}
				}
			}
		}
		qcancel()
		if rctx.Err() != nil {
			return out // cut short by the end of the window: not a read error
		}
		r.Done = time.Since(cfg.Start)
		out.Reads = append(out.Reads, r)
	}
}

// RunReaders runs one reader per config and waits for all.
func RunReaders(ctx context.Context, cfgs []ReaderConfig) []*Reads {
	out := make([]*Reads, len(cfgs))
	var wg sync.WaitGroup
	for i, c := range cfgs {
		wg.Add(1)
		go func(i int, c ReaderConfig) {
			defer wg.Done()
			out[i] = RunReader(ctx, c)
		}(i, c)
	}
	wg.Wait()
	return out
}

// ReadSummary sums up one reader.
type ReadSummary struct {
	Node           string
	Reads, Stale   int64
	Errors         int64
	StaleP50Ms     float64
	StaleP99Ms     float64
	StaleMaxMs     float64
	StaleMaxOrders int64
	// UnavailableMs is the longest time between two answered reads with
	// failed reads in between (like the write window).
	UnavailableMs float64
}

// Summarize computes the summary of a reader's reads.
func (rs *Reads) Summarize() ReadSummary {
	s := ReadSummary{Node: rs.Node}
	var stale []float64
	var lastOK time.Duration = -1
	failedSince := false
	for _, r := range rs.Reads {
		s.Reads++
		if !r.OK {
			s.Errors++
			failedSince = true
			continue
		}
		if failedSince && lastOK >= 0 {
			if w := float64((r.Done - lastOK).Microseconds()) / 1000; w > s.UnavailableMs {
				s.UnavailableMs = w
			}
		}
		failedSince = false
		lastOK = r.Done
		if r.Stale {
			s.Stale++
			stale = append(stale, r.StaleMs)
			if r.StaleOrders > s.StaleMaxOrders {
				s.StaleMaxOrders = r.StaleOrders
			}
		}
	}
	if len(stale) > 0 {
		sort.Float64s(stale)
		s.StaleP50Ms = quantile.NearestRank(stale, 0.5)
		s.StaleP99Ms = quantile.NearestRank(stale, 0.99)
		s.StaleMaxMs = stale[len(stale)-1]
	}
	return s
}

func (s ReadSummary) String() string {
	return fmt.Sprintf("%s: %d reads, %d stale, %d errors", s.Node, s.Reads, s.Stale, s.Errors)
}
