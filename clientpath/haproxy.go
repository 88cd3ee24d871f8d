package clientpath

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The two HAProxy backends (listen sections) of a path.
const (
	WriteBackend = "write" // the node whose check says /primary
	ReadBackend  = "read"  // the nodes whose check says /replica, round robin
)

// Server states as Servers and Watch report them.
const (
	Up   = "UP"
	Down = "DOWN"
)

// haproxyPorts are the ports HAProxy listens on.
type haproxyPorts struct {
	write, read int
}

// checkTarget is where HAProxy sends a node's health check.
type checkTarget struct {
	host string
	port int
}

// parseCheck reads a node's check URL: http://host:port, no path (the
// check path, /primary or /replica, is the backend's and appended).
func parseCheck(node, raw string) (checkTarget, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return checkTarget{}, fmt.Errorf("check URL of %s: %w", node, err)
	}
	if u.Scheme != "http" {
		return checkTarget{}, fmt.Errorf("check URL of %s: %q: scheme must be http", node, raw)
	}
	if u.Path != "" && u.Path != "/" {
		return checkTarget{}, fmt.Errorf("check URL of %s: %q: a base URL with no path (HAProxy appends /primary or /replica, the same for every server)", node, raw)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port <= 0 || u.Hostname() == "" {
		return checkTarget{}, fmt.Errorf("check URL of %s: %q: needs a host and a port", node, raw)
	}
	return checkTarget{host: u.Hostname(), port: port}, nil
}

var serverName = regexp.MustCompile(`^[A-Za-z0-9_.:-]+$`)

// haproxyConfig is HAProxy's configuration, after Patroni's documented
// haproxy.cfg: a write listener checking GET /primary and a read
// listener checking GET /replica, both in TCP mode, servers marked down
// after fall failed checks and up after rise good ones, and the sessions
// of a server marked down shut at once (on-marked-down shutdown-sessions),
// so that clients reconnect to the next primary rather than hang on the
// old one.
func haproxyConfig(cfg Config, ports haproxyPorts, socket string) (string, error) {
	var sb strings.Builder
	ms := func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }
	// A check that takes longer than timeout check fails; a checked node
	// answers within AgentTimeout (Patroni at once). A short Inter must
	// not make a busy machine's slow answer a failure.
	check := min(max(cfg.Inter, AgentTimeout+200*time.Millisecond), 2*time.Second)
	fmt.Fprintf(&sb, `# written by pgbench-ha clientpath
global
    maxconn 4096
    stats socket %s mode 600 level admin
    stats timeout 10s
    log stderr format iso local0 info

defaults
    mode tcp
    log global
    option tcplog
    option dontlog-normal
    option log-health-checks
    retries 1
    timeout connect 1s
    timeout client 30m
    timeout server 30m
    timeout check %s
`, socket, ms(check))
	servers := make([]string, len(cfg.Nodes))
	for i, n := range cfg.Nodes {
		if !serverName.MatchString(n.Name) {
			return "", fmt.Errorf("node name %q: HAProxy server names take letters, digits and _.:-", n.Name)
		}
		ct, err := parseCheck(n.Name, cfg.Check(n.Name))
		if err != nil {
			return "", err
		}
		servers[i] = fmt.Sprintf("    server %s %s check addr %s port %d\n",
			n.Name, net.JoinHostPort(n.Host, strconv.Itoa(n.Port)), ct.host, ct.port)
	}
	for _, l := range []struct {
		name, path string
		port       int
	}{{WriteBackend, "/primary", ports.write}, {ReadBackend, "/replica", ports.read}} {
		fmt.Fprintf(&sb, "\nlisten %s\n    bind 127.0.0.1:%d\n", l.name, l.port)
		if l.name == ReadBackend {
			sb.WriteString("    balance roundrobin\n")
		}
		fmt.Fprintf(&sb, "    option httpchk GET %s\n    http-check expect status 200\n", l.path)
		fmt.Fprintf(&sb, "    default-server inter %s fall %d rise %d on-marked-down shutdown-sessions\n",
			ms(cfg.Inter), cfg.Fall, cfg.Rise)
		for _, s := range servers {
			sb.WriteString(s)
		}
	}
	return sb.String(), nil
}

// serverStat is one server's line of HAProxy's `show stat`.
type serverStat struct {
	backend, server string
	status          string // UP, DOWN, "UP 1/3" (going down), "DOWN 1/2" (going up), MAINT, ...
	check           string // last check: "L7OK 200", "L7STS 503", "L4CON", "INI", ...
}

// state is the status as traffic sees it: a server going down ("UP 1/3")
// still takes connections, one going up ("DOWN 1/2") does not yet.
func (s serverStat) state() string {
	switch {
	case strings.HasPrefix(s.status, "UP"):
		return Up
	case strings.HasPrefix(s.status, "DOWN"):
		return Down
	}
	return s.status
}

// checked reports whether HAProxy has run the server's first check.
func (s serverStat) checked() bool {
	return s.check != "" && !strings.Contains(s.check, "INI")
}

// parseStat reads `show stat` CSV: a "# pxname,svname,..." header, then a
// line per frontend, server and backend; it keeps the servers.
func parseStat(r io.Reader) ([]serverStat, error) {
	br := bufio.NewReader(r)
	head, err := br.ReadString('\n')
	if err != nil && head == "" {
		return nil, fmt.Errorf("show stat: empty answer")
	}
	if !strings.HasPrefix(head, "# ") {
		return nil, fmt.Errorf("show stat: unexpected answer %q", strings.TrimSpace(head))
	}
	cols := map[string]int{}
	for i, c := range strings.Split(strings.TrimSpace(strings.TrimPrefix(head, "# ")), ",") {
		cols[c] = i
	}
	for _, c := range []string{"pxname", "svname", "status", "check_status", "check_code"} {
		if _, ok := cols[c]; !ok {
			return nil, fmt.Errorf("show stat: no %s column", c)
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	var out []serverStat
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("show stat: %w", err)
		}
		get := func(c string) string {
			if i := cols[c]; i < len(rec) {
				return rec[i]
			}
			return ""
		}
		sv := get("svname")
		if sv == "" || sv == "FRONTEND" || sv == "BACKEND" {
			continue
		}
		st := serverStat{backend: get("pxname"), server: sv, status: get("status"), check: get("check_status")}
		if code := get("check_code"); code != "" {
			st.check += " " + code
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].backend != out[j].backend {
			return out[i].backend < out[j].backend
		}
		return out[i].server < out[j].server
	})
	return out, nil
}

// showStat asks HAProxy's stats socket for `show stat`.
func showStat(ctx context.Context, socket string) ([]serverStat, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	defer c.Close()
	// A paused HAProxy accepts on its socket and answers nothing: ctx
	// ends the wait, not only the deadline.
	defer context.AfterFunc(ctx, func() { c.Close() })()
	deadline := time.Now().Add(2 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = c.SetDeadline(deadline)
	if _, err := io.WriteString(c, "show stat\n"); err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		return nil, fmt.Errorf("haproxy stats socket: %w", err)
	}
	return parseStat(strings.NewReader(string(b)))
}

// Event is a change of a server's state in one of HAProxy's backends, as
// Watch saw it.
type Event struct {
	// At is when Watch saw the change: up to one interval after HAProxy
	// made it.
	At      time.Time
	Backend string // WriteBackend or ReadBackend
	Server  string // the node's name
	// State is Up or Down (or HAProxy's word for another state, such as
	// MAINT); Prev is the state before, "" for the first report of the
	// server.
	State, Prev string
	// Check is HAProxy's last check of the server, such as "L7OK 200",
	// "L7STS 503" (answered, not 200), "L4CON" (refused), "L4TOUT".
	Check string
}

// serversMap turns stats into Servers' map.
func serversMap(stats []serverStat) map[string]string {
	m := make(map[string]string, len(stats))
	for _, s := range stats {
		m[s.backend+"/"+s.server] = s.state()
	}
	return m
}

// UpServers lists the servers of backend that servers (a map from
// Servers) has Up, sorted.
func UpServers(servers map[string]string, backend string) []string {
	var out []string
	for k, v := range servers {
		if b, s, ok := strings.Cut(k, "/"); ok && b == backend && v == Up {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}
