package clientpath

import (
	"fmt"
	"strings"
)

// pgbouncerConfig is one PgBouncer's pgbouncer.ini: listening on
// 127.0.0.1:port (no Unix socket), every database forwarded to the
// server at host:port, clients authenticated with SCRAM against
// authFile, which holds the app role's password in plain text so that
// PgBouncer can log in to PostgreSQL (scram-sha-256 there) with it.
//
// The timeouts are set for failover rather than for a quiet production
// server: a server login that failed is retried after 0.5 s (default
// 15 s, which would hold writes back 15 s after HAProxy switched), and a
// client whose pool cannot reach its server fails at once ("pgbouncer
// cannot connect to server") rather than waiting, so that a multi-host
// client moves on to the next host.
func pgbouncerConfig(cfg Config, port int, host string, serverPort int, authFile string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `; written by pgbench-ha clientpath
[databases]
* = host=%s port=%d

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
pool_mode = %s
default_pool_size = %d
max_client_conn = 2000
ignore_startup_parameters = extra_float_digits
server_connect_timeout = 2
server_login_retry = 0.5
server_lifetime = 3600
server_idle_timeout = 600
query_wait_timeout = 30
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
stats_period = 60
`, host, serverPort, port, authFile, cfg.PoolMode, cfg.PoolSize)
	return sb.String()
}

// userlist is PgBouncer's auth_file: the user and its plain password,
// each in double quotes, a double quote doubled.
func userlist(user, password string) string {
	q := func(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
	return q(user) + " " + q(password) + "\n"
}
