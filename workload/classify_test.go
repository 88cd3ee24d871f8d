package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// pipeSession returns a writer's session whose server is serve, run on
// the other end of an in-memory pipe: the real pgx client code (the
// extended protocol, the statement prepared first, as a writer does)
// produces the errors; only the server's answers are scripted. serve is
// called once the insert's Bind, Execute and Sync have arrived.
func pipeSession(t *testing.T, serve func(be *pgproto3.Backend, conn net.Conn)) *session {
	t.Helper()
	client, server := net.Pipe()
	cfg, err := pgx.ParseConfig("host=127.0.0.1 port=1 user=test dbname=test sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	cfg.DialFunc = func(context.Context, string, string) (net.Conn, error) { return client, nil }
	done := make(chan struct{})
	go func() {
		defer close(done)
		be := pgproto3.NewBackend(server, server)
		if !startup(be) || !prepare(be) || !receiveExecute(be) {
			return
		}
		if serve != nil {
			serve(be, server)
		}
	}()
	t.Cleanup(func() {
		client.Close()
		server.Close()
		<-done
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := dial(ctx, cfg, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startup answers a client's startup: trust, ready.
func startup(be *pgproto3.Backend) bool {
	if _, err := be.ReceiveStartupMessage(); err != nil {
		return false
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: 2})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	return be.Flush() == nil
}

// prepare answers pgx's preparation of the insert: Parse, Describe, Sync.
func prepare(be *pgproto3.Backend) bool {
	for {
		msg, err := be.Receive()
		if err != nil {
			return false
		}
		switch msg.(type) {
		case *pgproto3.Parse:
			be.Send(&pgproto3.ParseComplete{})
		case *pgproto3.Describe:
			// id bigint, customer_id integer, sku text, qty integer, amount_cents bigint
			be.Send(&pgproto3.ParameterDescription{ParameterOIDs: []uint32{20, 23, 25, 23, 20}})
			be.Send(&pgproto3.NoData{})
		case *pgproto3.Sync:
			be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
			return be.Flush() == nil
		}
	}
}

// receiveExecute reads the insert's messages up to its Sync and reports
// whether an Execute came.
func receiveExecute(be *pgproto3.Backend) bool {
	executed := false
	for {
		msg, err := be.Receive()
		if err != nil {
			return false
		}
		switch msg.(type) {
		case *pgproto3.Execute:
			executed = true
		case *pgproto3.Sync:
			return executed
		}
	}
}

// untilClosed reads until the client goes away.
func untilClosed(be *pgproto3.Backend) {
	for {
		if _, err := be.Receive(); err != nil {
			return
		}
	}
}

// The server's answers to an insert, in the order PostgreSQL sends them.
var (
	bound       = []pgproto3.BackendMessage{&pgproto3.BindComplete{}, &pgproto3.NoData{}}
	inserted    = &pgproto3.CommandComplete{CommandTag: []byte("INSERT 0 1")}
	ready       = &pgproto3.ReadyForQuery{TxStatus: 'I'}
	adminFATAL  = &pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "57P01", Message: "terminating connection due to administrator command"}
	syncWarning = &pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "57P01",
		Message: "canceling the wait for synchronous replication and terminating connection due to administrator command",
		Detail:  "The transaction has already committed locally, but might not have been replicated to the standby."}
	cancelWarning = &pgproto3.NoticeResponse{Severity: "WARNING", SeverityUnlocalized: "WARNING", Code: "01000",
		Message: "canceling wait for synchronous replication due to user request",
		Detail:  "The transaction has already committed locally, but might not have been replicated to the standby."}
)

// answer sends msgs and then either keeps the connection open until the
// client leaves or, with hangUp, closes it.
func answer(hangUp bool, msgs ...pgproto3.BackendMessage) func(*pgproto3.Backend, net.Conn) {
	return func(be *pgproto3.Backend, conn net.Conn) {
		for _, m := range msgs {
			be.Send(m)
		}
		_ = be.Flush()
		if hangUp {
			conn.Close()
			return
		}
		untilClosed(be)
	}
}

func with(first []pgproto3.BackendMessage, more ...pgproto3.BackendMessage) []pgproto3.BackendMessage {
	return append(append([]pgproto3.BackendMessage(nil), first...), more...)
}

// mustPgError checks that err is the server's error with code, so the case
// tests what it says.
func mustPgError(t *testing.T, err error, code string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Errorf("got %v (%T), want a server error %s", err, err, code)
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		serve func(*pgproto3.Backend, net.Conn)
		// timeout, when set, bounds the write the way the writer's deadline does.
		timeout time.Duration
		code    string // the server error the client must see, if any
		want    Outcome
	}{
		{"acknowledged", answer(false, with(bound, inserted, ready)...), 0, "", Acked},
		{"server error response", answer(false, with(bound, &pgproto3.ErrorResponse{Severity: "ERROR", Code: "23505",
			Message: `duplicate key value violates unique constraint "orders_pkey"`}, ready)...), 0, "23505", Failed},
		{"server error, read-only standby", answer(false, with(bound, &pgproto3.ErrorResponse{Severity: "ERROR", Code: "25006",
			Message: "cannot execute INSERT in a read-only transaction"}, ready)...), 0, "25006", Failed},
		{"FATAL 57P01 before the statement completed", answer(true, with(bound, adminFATAL)...), 0, "57P01", Failed},
		{"ERROR at commit, after the statement completed", answer(false, with(bound, inserted, &pgproto3.ErrorResponse{
			Severity: "ERROR", Code: "23503", Message: "insert or update violates foreign key constraint"}, ready)...), 0, "23503", Failed},
		// The extended protocol commits at Sync, after CommandComplete.
		{"FATAL 57P01 after the statement completed, before its commit", answer(true, with(bound, inserted, adminFATAL)...), 0, "57P01", Failed},
		{"FATAL 57P01 after \"already committed locally\"", answer(true, with(bound, inserted, syncWarning, adminFATAL)...), 0, "57P01", Unknown},
		{"connection closed after \"already committed locally\"", answer(true, with(bound, inserted, syncWarning)...), 0, "", Unknown},
		{"synchronous wait cancelled: committed and acknowledged", answer(false, with(bound, inserted, cancelWarning, ready)...), 0, "", Acked},
		{"connection lost after the insert was sent", answer(true), 0, "", Unknown},
		// PgBouncer's answer when its server connection dies under the
		// insert: an error, but not the server's.
		{"a pooler's server connection crashed under the insert", answer(false, with(bound, &pgproto3.ErrorResponse{Severity: "ERROR", Code: "08P01",
			Message: "server conn crashed?"}, ready)...), 0, "08P01", Unknown},
		{"deadline passed after the insert was sent", answer(false), 50 * time.Millisecond, "", Unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := pipeSession(t, tc.serve)
			if tc.timeout > 0 {
				_ = s.conn.PgConn().Conn().SetDeadline(time.Now().Add(tc.timeout))
			}
			got, err := s.insert(OrderFor(1, 1))
			if tc.code != "" {
				mustPgError(t, err, tc.code)
			}
			if got != tc.want {
				t.Errorf("insert: %v, want %v (error %v, %T, SafeToRetry %v)", got, tc.want, err, err, pgconn.SafeToRetry(err))
			}
		})
	}
}

// TestClassifyBeforeSending: what fails before the insert leaves the
// client did not commit.
func TestClassifyBeforeSending(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  func(t *testing.T) error
		want Outcome
	}{
		{"connection already closed before sending", func(t *testing.T) error {
			s := pipeSession(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_ = s.conn.Close(ctx)
			_, err := s.insert(OrderFor(1, 1))
			return err
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
			if got := classify(err, false); got != tc.want {
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
