package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// pipeConn returns a PgConn whose server side is serve, run on the other
// end of an in-memory pipe: the real pgconn client code produces the
// errors, only the server's answers are scripted.
func pipeConn(t *testing.T, serve func(be *pgproto3.Backend, conn net.Conn)) *pgconn.PgConn {
	t.Helper()
	client, server := net.Pipe()
	cfg, err := pgconn.ParseConfig("host=127.0.0.1 port=1 user=test sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := pgconn.Construct(&pgconn.HijackedConn{
		Conn:              client,
		PID:               1,
		ParameterStatuses: map[string]string{},
		TxStatus:          'I',
		Frontend:          pgproto3.NewFrontend(client, client),
		Config:            cfg,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if serve != nil {
			serve(pgproto3.NewBackend(server, server), server)
		}
	}()
	t.Cleanup(func() {
		client.Close()
		server.Close()
		<-done
	})
	return pc
}

// exec runs one insert the way a writer does and returns its error.
func exec(ctx context.Context, pc *pgconn.PgConn) error {
	_, err := pc.Exec(ctx, "INSERT INTO orders (id, customer_id, sku, qty, amount_cents) VALUES (1, 1, 'SKU-1', 1, 100)").ReadAll()
	return err
}

// receiveQuery reads frontend messages until the query arrives.
func receiveQuery(be *pgproto3.Backend) bool {
	for {
		msg, err := be.Receive()
		if err != nil {
			return false
		}
		if _, ok := msg.(*pgproto3.Query); ok {
			return true
		}
	}
}

// mustPgError checks that err is the server's error with code, so the case
// tests what it says.
func mustPgError(t *testing.T, err error, code string) error {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Errorf("got %v (%T), want a server error %s", err, err, code)
	}
	return err
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want Outcome
	}{
		{"no error", func(*testing.T) error { return nil }, Acked},
		{"server error response", func(t *testing.T) error {
			pc := pipeConn(t, func(be *pgproto3.Backend, _ net.Conn) {
				if !receiveQuery(be) {
					return
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "23505", Message: `duplicate key value violates unique constraint "orders_pkey"`})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
				_ = be.Flush()
				receiveQuery(be) // until the client closes
			})
			return mustPgError(t, exec(context.Background(), pc), "23505")
		}, Failed},
		{"server error, read-only standby", func(t *testing.T) error {
			pc := pipeConn(t, func(be *pgproto3.Backend, _ net.Conn) {
				if !receiveQuery(be) {
					return
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "25006", Message: "cannot execute INSERT in a read-only transaction"})
				be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
				_ = be.Flush()
				receiveQuery(be)
			})
			return mustPgError(t, exec(context.Background(), pc), "25006")
		}, Failed},
		{"wrapped PgError", func(*testing.T) error {
			return fmt.Errorf("insert: %w", &pgconn.PgError{Severity: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"})
		}, Failed},
		{"connection lost after the query was sent", func(t *testing.T) error {
			pc := pipeConn(t, func(be *pgproto3.Backend, conn net.Conn) {
				if receiveQuery(be) {
					conn.Close() // the server died with the statement in flight
				}
			})
			return exec(context.Background(), pc)
		}, Unknown},
		{"deadline passed after the query was sent", func(t *testing.T) error {
			pc := pipeConn(t, func(be *pgproto3.Backend, _ net.Conn) {
				receiveQuery(be) // and never answer
				receiveQuery(be)
			})
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			return exec(ctx, pc)
		}, Unknown},
		{"context already done before sending", func(t *testing.T) error {
			pc := pipeConn(t, nil)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return exec(ctx, pc)
		}, Failed},
		{"connection already closed before sending", func(t *testing.T) error {
			pc := pipeConn(t, func(be *pgproto3.Backend, _ net.Conn) { receiveQuery(be) })
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = pc.Close(ctx)
			return exec(context.Background(), pc)
		}, Failed},
		{"bare unexpected EOF", func(*testing.T) error { return fmt.Errorf("read: %w", io.ErrUnexpectedEOF) }, Unknown},
		{"bare context deadline", func(*testing.T) error { return context.DeadlineExceeded }, Unknown},
		{"bare network error", func(*testing.T) error {
			return &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
		}, Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.err(t)
			if got := classify(err); got != tc.want {
				t.Errorf("classify(%v) = %v, want %v (SafeToRetry %v, %T)", err, got, tc.want, pgconn.SafeToRetry(err), err)
			}
		})
	}
}

func TestNeedsReconnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"unique violation keeps the connection", &pgconn.PgError{Code: "23505"}, false},
		{"read-only transaction", &pgconn.PgError{Code: "25006"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"internal error", &pgconn.PgError{Code: "XX000"}, true},
		{"serialization failure keeps the connection", &pgconn.PgError{Code: "40001"}, false},
		{"wrapped", fmt.Errorf("x: %w", &pgconn.PgError{Code: "25006"}), true},
		{"not a server error", io.ErrUnexpectedEOF, true},
		{"server error without a code", &pgconn.PgError{Message: "?"}, true},
		{"server error with a one-letter code", &pgconn.PgError{Code: "2"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := needsReconnect(tc.err); got != tc.want {
				t.Errorf("needsReconnect(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
