// Package quietconn gives the harness's PostgreSQL connections sockets
// whose reads and writes the Go scheduler does not hear of (Linux): on
// two cores shared with the servers, the scheduler's work around every
// system call of a round trip cost more client CPU than the protocol.
// The writers' connections and the probes' use it.
//
//	cfg, _ := pgx.ParseConfig(dsn)
//	quietconn.Config(cfg)
//	conn, err := pgx.ConnectConfig(ctx, cfg)
package quietconn

import (
	"context"
	"net"

	"github.com/jackc/pgx/v5"
)

// Config makes cfg's connections quiet: its dial function's sockets are
// wrapped by Wrap.
func Config(cfg *pgx.ConnConfig) {
	dial := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Wrap(c), nil
	}
}
