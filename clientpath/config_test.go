package clientpath

import (
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

var twoNodes = []cluster.Node{{Name: "primary", Host: "127.0.0.1", Port: 5001}, {Name: "replica1", Host: "127.0.0.1", Port: 5002}}

func checkURL(n string) string {
	return map[string]string{"primary": "http://127.0.0.1:8009", "replica1": "http://127.0.0.2:8010/"}[n]
}

func TestHAProxyConfig(t *testing.T) {
	t.Parallel()
	cfg := Config{Kind: HAProxy, Nodes: twoNodes, Check: checkURL}.withDefaults()
	got, err := haproxyConfig(cfg, haproxyPorts{write: 7001, read: 7002}, "/d/haproxy.sock")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"stats socket /d/haproxy.sock mode 600 level admin",
		"mode tcp",
		"timeout connect 1s",
		"timeout client 30m",
		"listen write\n    bind 127.0.0.1:7001\n    option httpchk GET /primary\n    http-check expect status 200\n",
		"listen read\n    bind 127.0.0.1:7002\n    balance roundrobin\n    option httpchk GET /replica\n",
		// Patroni's haproxy.cfg: inter 3s fall 3 rise 2.
		"default-server inter 3000ms fall 3 rise 2 on-marked-down shutdown-sessions",
		"server primary 127.0.0.1:5001 check addr 127.0.0.1 port 8009\n",
		"server replica1 127.0.0.1:5002 check addr 127.0.0.2 port 8010\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("haproxy.cfg lacks %q:\n%s", want, got)
		}
	}
	if n := strings.Count(got, "server primary "); n != 2 {
		t.Errorf("server primary in %d listeners, want 2", n)
	}
}

func TestHAProxyConfigRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		node  string
		check string
		want  string
	}{
		{"https", "n1", "https://127.0.0.1:8008", "scheme must be http"},
		{"path", "n1", "http://127.0.0.1:8008/patroni", "no path"},
		{"no port", "n1", "http://127.0.0.1", "needs a host and a port"},
		{"bad name", "n 1", "http://127.0.0.1:8008", "server names"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Kind: HAProxy, Nodes: []cluster.Node{{Name: tc.node, Host: "h", Port: 1}},
				Check: func(string) string { return tc.check }}.withDefaults()
			_, err := haproxyConfig(cfg, haproxyPorts{1, 2}, "s")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"direct", Config{Nodes: twoNodes}, nil},
		{"haproxy", Config{Kind: HAProxy, Nodes: twoNodes, Check: checkURL}, nil},
		{"pgbouncer per node needs no check", Config{Kind: PgBouncer, InFrontOf: FrontNodes, Nodes: twoNodes, User: "app", Password: "p"}, nil},
		{"every problem at once", Config{Kind: PgBouncer, PoolMode: "bogus", PoolSize: -1, InFrontOf: "x"},
			[]string{"no nodes", "pool mode \"bogus\"", "pool size -1", "in front of \"x\"", "User and Password"}},
		{"haproxy needs check", Config{Kind: HAProxy, Nodes: twoNodes}, []string{"needs Check"}},
		{"pgbouncer before haproxy needs check", Config{Kind: PgBouncer, Nodes: twoNodes, User: "a", Password: "b"}, []string{"needs Check"}},
		{"unknown kind", Config{Kind: "pgpool", Nodes: twoNodes}, []string{"kind \"pgpool\""}},
		{"twice", Config{Nodes: []cluster.Node{twoNodes[0], twoNodes[0]}}, []string{"twice"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.withDefaults().validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Errorf("err = %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want %q in it", err, w)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	if cfg.Kind != Direct || cfg.Inter != 3*time.Second || cfg.Fall != 3 || cfg.Rise != 2 ||
		cfg.PoolMode != Transaction || cfg.PoolSize != 20 || cfg.InFrontOf != FrontHAProxy {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestPgBouncerConfig(t *testing.T) {
	t.Parallel()
	cfg := Config{Kind: PgBouncer, PoolMode: Session, PoolSize: 7}.withDefaults()
	got := pgbouncerConfig(cfg, 6432, "127.0.0.1", 7001, "/d/users")
	for _, want := range []string{
		"* = host=127.0.0.1 port=7001\n",
		"listen_addr = 127.0.0.1\n", "listen_port = 6432\n", "unix_socket_dir =\n",
		"auth_type = scram-sha-256\n", "auth_file = /d/users\n",
		"pool_mode = session\n", "default_pool_size = 7\n",
		"server_login_retry = 0.5\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("pgbouncer.ini lacks %q:\n%s", want, got)
		}
	}
	if got, want := userlist("app", `p"w`), `"app" "p""w"`+"\n"; got != want {
		t.Errorf("userlist = %q, want %q", got, want)
	}
}

func TestParseStat(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/showstat.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stats, err := parseStat(f)
	if err != nil {
		t.Fatal(err)
	}
	got := serversMap(stats)
	want := map[string]string{
		"write/primary": Up, "write/replica1": Down,
		"read/primary":  Down, // DOWN 1/2: going up, takes nothing yet
		"read/replica1": Up,   // UP 1/3: going down, still takes connections
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("servers = %v, want %v", got, want)
	}
	checks := map[string]string{}
	for _, s := range stats {
		checks[s.backend+"/"+s.server] = s.check
	}
	if checks["write/replica1"] != "L7STS 503" || checks["read/replica1"] != "L4CON" {
		t.Errorf("checks = %v", checks)
	}
	if up := UpServers(got, WriteBackend); !reflect.DeepEqual(up, []string{"primary"}) {
		t.Errorf("UpServers(write) = %v", up)
	}
	if _, err := parseStat(strings.NewReader("Unknown command\n")); err == nil {
		t.Error("parseStat took an error message")
	}
}

func TestCheckedStates(t *testing.T) {
	t.Parallel()
	for check, want := range map[string]bool{"": false, "INI": false, "* INI": false, "L7OK 200": true, "L4CON": true} {
		if got := (serverStat{check: check}).checked(); got != want {
			t.Errorf("checked(%q) = %v, want %v", check, got, want)
		}
	}
}

// TestAgentRoutes: the agent answers only its paths and methods; a node
// it cannot reach is unhealthy on both.
func TestAgentRoutes(t *testing.T) {
	t.Parallel()
	s := &agentServer{node: "n1", conn: "host=127.0.0.1 port=1 user=x dbname=x sslmode=disable", timeout: 200 * time.Millisecond}
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/primary", http.StatusServiceUnavailable},
		{"OPTIONS", "/replica", http.StatusServiceUnavailable},
		{"GET", "/health", http.StatusNotFound},
		{"POST", "/primary", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d, want %d (%s)", tc.method, tc.path, rec.Code, tc.want, rec.Body)
		}
	}
}
