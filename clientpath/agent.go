package clientpath

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// AgentTimeout bounds one health check of an Agent: connecting to the
// node and asking pg_is_in_recovery(). A node that takes longer (paused,
// unreachable) is unhealthy.
const AgentTimeout = time.Second

// Agent answers HAProxy's health checks for clusters without Patroni:
// one HTTP server per node on 127.0.0.1, answering GET (or HEAD, OPTIONS)
// /primary with 200 when the node accepts a connection within
// AgentTimeout and is not in recovery, /replica with 200 when it is in
// recovery, 503 otherwise. Each check opens a new connection, so a node
// that stops taking connections fails its checks. Its methods may be
// called concurrently.
type Agent struct {
	servers map[string]*agentServer
	urls    map[string]string
	wg      sync.WaitGroup
	once    sync.Once
	err     error
}

type agentServer struct {
	node    string
	conn    string
	ln      net.Listener
	srv     *http.Server
	timeout time.Duration
}

// NewAgent starts a health-check server for each node; connString gives
// the libpq connection string the agent checks a node with (any role can
// ask pg_is_in_recovery()). Call Close.
func NewAgent(nodes []cluster.Node, connString func(node string) string) (_ *Agent, err error) {
	a := &Agent{servers: map[string]*agentServer{}, urls: map[string]string{}}
	defer func() {
		if err != nil {
			_ = a.Close()
		}
	}()
	for _, n := range nodes {
		if _, dup := a.servers[n.Name]; dup {
			return nil, fmt.Errorf("clientpath agent: node %q twice", n.Name)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("clientpath agent: %w", err)
		}
		s := &agentServer{node: n.Name, conn: connString(n.Name), ln: ln, timeout: AgentTimeout}
		s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
		a.servers[n.Name] = s
		a.urls[n.Name] = "http://" + ln.Addr().String()
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			_ = s.srv.Serve(ln)
		}()
	}
	return a, nil
}

// URL is node's health-check base URL, "http://127.0.0.1:port"; "" for a
// node the agent does not check. It fits Config.Check.
func (a *Agent) URL(node string) string { return a.urls[node] }

// Close stops every server. It is safe to call more than once.
func (a *Agent) Close() error {
	a.once.Do(func() {
		var errs []error
		for _, s := range a.servers {
			if err := s.srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs = append(errs, err)
			}
		}
		a.wg.Wait()
		a.err = errors.Join(errs...)
	})
	return a.err
}

// ServeHTTP answers /primary and /replica.
func (s *agentServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var wantRecovery bool
	switch r.URL.Path {
	case "/primary", "/master", "/read-write":
		wantRecovery = false
	case "/replica", "/standby":
		wantRecovery = true
	default:
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	inRecovery, err := s.check(r.Context())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case err != nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s: %s\n", s.node, cluster.Redact(err.Error()))
	case inRecovery != wantRecovery:
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "%s: in recovery %t\n", s.node, inRecovery)
	default:
		fmt.Fprintf(w, "%s: in recovery %t\n", s.node, inRecovery)
	}
}

// check connects to the node and asks whether it is in recovery.
func (s *agentServer) check(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cfg, err := pgx.ParseConfig(s.conn)
	if err != nil {
		return false, err
	}
	cfg.RuntimeParams["application_name"] = "pgbench-ha-health"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer conn.Close(context.Background())
	var rec bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil {
		return false, err
	}
	return rec, nil
}
