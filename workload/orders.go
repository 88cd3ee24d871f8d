// Package workload drives the deterministic write workload: seeded orders,
// an open-loop arrival schedule (Poisson like pgbench --rate, uniform, or
// unlimited), writers that survive failovers, and the Ledger that records
// the outcome of every write.
//
//	led := workload.NewLedger(firstID)
//	st, err := workload.Run(ctx, workload.Config{DSN: dsn, Writers: 8, Rate: rateAt, Ledger: led})
package workload

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Schema creates the orders table the workload writes.
const Schema = `CREATE TABLE IF NOT EXISTS orders (
	id           bigint PRIMARY KEY,
	customer_id  integer NOT NULL,
	sku          text NOT NULL,
	qty          integer NOT NULL,
	amount_cents bigint NOT NULL,
	created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
)`

// InsertSQL is the one statement a writer sends per order.
const InsertSQL = `INSERT INTO orders (id, customer_id, sku, qty, amount_cents) VALUES ($1, $2, $3, $4, $5)`

// Order is one deterministic order row.
type Order struct {
	ID          int64
	CustomerID  int32
	SKU         string
	Qty         int32
	AmountCents int64
}

// splitmix64 is a small, well-mixed hash: the same (seed, id) gives the
// same order on every machine.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// OrderFor returns order id of the workload seeded with seed.
func OrderFor(seed, id int64) Order {
	h := splitmix64(uint64(seed)*0x100000001b3 ^ uint64(id))
	h2 := splitmix64(h)
	qty := int32(h%5) + 1
	return Order{
		ID:          id,
		CustomerID:  int32((h >> 8) % 10000),
		SKU:         "SKU-" + strconv.FormatUint((h>>24)%500, 10),
		Qty:         qty,
		AmountCents: int64(qty) * int64(100+h2%99900),
	}
}

// Prepare creates the schema and loads the initial orders (ids 1..n) with
// COPY. It returns the first id the workload will use.
func Prepare(ctx context.Context, conn *pgx.Conn, seed, n int64) (int64, error) {
	if _, err := conn.Exec(ctx, Schema); err != nil {
		return 0, fmt.Errorf("create orders: %w", err)
	}
	if n > 0 {
		var id int64
		src := pgx.CopyFromFunc(func() ([]any, error) {
			if id >= n {
				return nil, nil
			}
			id++
			o := OrderFor(seed, id)
			return []any{o.ID, o.CustomerID, o.SKU, o.Qty, o.AmountCents}, nil
		})
		got, err := conn.CopyFrom(ctx, pgx.Identifier{"orders"},
			[]string{"id", "customer_id", "sku", "qty", "amount_cents"}, src)
		if err != nil {
			return 0, fmt.Errorf("load %d initial orders: %w", n, err)
		}
		if got != n {
			return 0, fmt.Errorf("load initial orders: copied %d of %d", got, n)
		}
	}
	return n + 1, nil
}

// Inserted is when the server inserted one order (its created_at, by the
// server's clock), as an offset from the run's start.
type Inserted struct {
	ID int64
	At time.Duration
}
