package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/internal/quietconn"
)

// Conns keeps one admin connection per node for one goroutine, opening it
// on first use and again after it breaks. It is not safe for concurrent
// use: give each goroutine its own.
type Conns struct {
	c       Cluster
	timeout time.Duration
	conns   map[string]*pgx.Conn
	app     string
	client  string
}

// NewConns returns an empty set; connect attempts give up after timeout.
// The connections carry application_name app.
func NewConns(c Cluster, app string, timeout time.Duration) *Conns {
	return &Conns{c: c, timeout: timeout, conns: map[string]*pgx.Conn{}, app: app}
}

// Via makes the connections go through the links of a client group when
// the cluster has link proxies (Networker), so the connections see the
// network faults that group sees. It returns cs.
func (cs *Conns) Via(client string) *Conns {
	cs.client = client
	return cs
}

// Get returns the open connection to node, connecting if needed.
func (cs *Conns) Get(ctx context.Context, node string) (*pgx.Conn, error) {
	return cs.Open(ctx, node, cs.timeout)
}

// Open is Get with its own connect timeout: a set whose timeout is short
// (a health probe's) opens its connections ahead, unhurried, so that a
// slow connection set-up is not taken for a failing node.
func (cs *Conns) Open(ctx context.Context, node string, timeout time.Duration) (*pgx.Conn, error) {
	if conn := cs.conns[node]; conn != nil && !conn.IsClosed() {
		return conn, nil
	}
	connStr := cs.c.ConnString(node, Admin)
	if n, ok := cs.c.(Networker); ok && cs.client != "" {
		// "" when the cluster was built without link proxies.
		if via := n.ClientConnString(cs.client, node, Admin); via != "" {
			connStr = via
		}
	}
	cfg, err := pgx.ParseConfig(connStr)
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = timeout
	cfg.RuntimeParams["application_name"] = cs.app
	quietconn.Config(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cs.conns[node] = conn
	return conn, nil
}

// Drop closes node's connection after an error, so the next Get reconnects.
func (cs *Conns) Drop(node string) {
	if conn := cs.conns[node]; conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		conn.Close(ctx)
		cancel()
		delete(cs.conns, node)
	}
}

// Close closes every connection.
func (cs *Conns) Close() {
	for n := range cs.conns {
		cs.Drop(n)
	}
}

// WaitReplayed waits until replica has replayed up to target (an LSN of
// the primary, "0/3000060") and everything it received. It reports false
// when timeout passed first, and an error when the replica is unreachable.
func WaitReplayed(ctx context.Context, cs *Conns, replica, target string, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := cs.Get(ctx, replica)
		if err != nil {
			return false, err
		}
		var done *bool
		err = conn.QueryRow(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn
			AND pg_last_wal_replay_lsn() >= coalesce(pg_last_wal_receive_lsn(), '0/0')`, target).Scan(&done)
		if err != nil {
			cs.Drop(replica)
			return false, err
		}
		if done != nil && *done {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// WaitAnswers waits, within timeout, until node answers a query on a new
// admin connection; the error says the last reason it did not.
func WaitAnswers(ctx context.Context, c Cluster, node string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		qctx, qcancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(qctx, c.ConnString(node, Admin))
		if err == nil {
			_, err = conn.Exec(qctx, "SELECT 1")
			conn.Close(context.Background())
		}
		qcancel()
		if err == nil {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s does not answer after %s: %s", node, timeout, Redact(last.Error()))
		case <-time.After(20 * time.Millisecond):
		}
	}
}
