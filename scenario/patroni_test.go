package scenario

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestPatroniDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want Failover
	}{
		{
			name: "async topology",
			src:  "failover: {mode: patroni}\ntopology: {replicas: [{}]}\n",
			want: Failover{Mode: FailoverPatroni, ProbeInterval: DefaultProbeInterval,
				TTLSeconds: 30, LoopWaitSeconds: 10, RetryTimeoutSeconds: 10, MaximumLagOnFailoverBytes: 1048576,
				PrimaryStartTimeoutSeconds: 300, EtcdMembers: 1},
		},
		{
			name: "a sync replica turns synchronous_mode on",
			src:  "failover: {mode: patroni}\ntopology: {replicas: [{sync: true}, {}]}\n",
			want: Failover{Mode: FailoverPatroni, ProbeInterval: DefaultProbeInterval,
				TTLSeconds: 30, LoopWaitSeconds: 10, RetryTimeoutSeconds: 10, MaximumLagOnFailoverBytes: 1048576,
				PrimaryStartTimeoutSeconds: 300, EtcdMembers: 1, SynchronousMode: true},
		},
		{
			name: "every key",
			src: `failover:
  mode: patroni
  ttl: 40
  loop_wait: 5
  retry_timeout: 15
  maximum_lag_on_failover: 0
  synchronous_mode: true
  synchronous_mode_strict: true
  failsafe_mode: true
  primary_start_timeout: 0
  etcd_members: 3
  probe_interval: 20ms
topology: {replicas: [{}]}
`,
			want: Failover{Mode: FailoverPatroni, ProbeInterval: Duration(20 * time.Millisecond),
				TTLSeconds: 40, LoopWaitSeconds: 5, RetryTimeoutSeconds: 15, MaximumLagOnFailoverBytes: 0,
				SynchronousMode: true, SynchronousModeStrict: true, FailsafeMode: true,
				PrimaryStartTimeoutSeconds: 0, EtcdMembers: 3},
		},
		{
			name: "the least ttl Patroni allows with the rule held",
			src:  "failover: {mode: patroni, ttl: 20, loop_wait: 2, retry_timeout: 9}\n",
			want: Failover{Mode: FailoverPatroni, ProbeInterval: DefaultProbeInterval,
				TTLSeconds: 20, LoopWaitSeconds: 2, RetryTimeoutSeconds: 9, MaximumLagOnFailoverBytes: 1048576,
				PrimaryStartTimeoutSeconds: 300, EtcdMembers: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, minimal+tt.src)
			if !reflect.DeepEqual(s.Failover, tt.want) {
				t.Errorf("failover:\ngot  %+v\nwant %+v", s.Failover, tt.want)
			}
		})
	}
	t.Run("promote keeps its defaults and no Patroni values", func(t *testing.T) {
		t.Parallel()
		s := mustParse(t, minimal+"failover: {mode: promote}\ntopology: {replicas: [{}]}\n")
		if f := s.Failover; f.TTLSeconds != 0 || f.EtcdMembers != 0 || f.DetectAfter != DefaultDetectAfter || !f.RepointEnabled() {
			t.Errorf("failover under promote: %+v", f)
		}
		if got := s.Services(); got != nil {
			t.Errorf("Services() under promote, direct = %q, want none", got)
		}
	})
}

func TestClientDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		src      string
		want     Client
		services []string
	}{
		{"direct by default", "", Client{Path: PathDirect}, nil},
		{"haproxy", "client: {path: haproxy}\n",
			Client{Path: PathHAProxy, HAProxy: HAProxy{Inter: Duration(3 * time.Second), Fall: 3, Rise: 2}}, []string{"haproxy"}},
		{"pgbouncer in front of haproxy", "client: {path: pgbouncer}\n",
			Client{Path: PathPgBouncer, HAProxy: HAProxy{Inter: Duration(3 * time.Second), Fall: 3, Rise: 2},
				PgBouncer: PgBouncer{PoolMode: PoolTransaction, PoolSize: 20, InFrontOf: InFrontOfHAProxy}}, []string{"haproxy", "pgbouncer"}},
		{"pgbouncer in front of the nodes", "client: {path: pgbouncer, pgbouncer: {in_front_of: nodes, pool_mode: session, pool_size: 5}}\n",
			Client{Path: PathPgBouncer, PgBouncer: PgBouncer{PoolMode: PoolSession, PoolSize: 5, InFrontOf: InFrontOfNodes}}, []string{"pgbouncer"}},
		{"haproxy tuned", "client: {path: haproxy, haproxy: {inter: 500ms, fall: 1, rise: 5}}\n",
			Client{Path: PathHAProxy, HAProxy: HAProxy{Inter: Duration(500 * time.Millisecond), Fall: 1, Rise: 5}}, []string{"haproxy"}},
		{"under patroni with three etcd members", "client: {path: haproxy}\nfailover: {mode: patroni, etcd_members: 3}\n",
			Client{Path: PathHAProxy, HAProxy: HAProxy{Inter: Duration(3 * time.Second), Fall: 3, Rise: 2}}, []string{"etcd1", "etcd2", "etcd3", "haproxy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, minimal+tt.src)
			if !reflect.DeepEqual(s.Client, tt.want) {
				t.Errorf("client:\ngot  %+v\nwant %+v", s.Client, tt.want)
			}
			if got := s.Services(); !slices.Equal(got, tt.services) {
				t.Errorf("Services() = %q, want %q", got, tt.services)
			}
		})
	}
}

// TestPatroniClientFaultErrors checks the exact problems of the keys of
// failover.mode patroni, the client path and the faults that name them.
func TestPatroniClientFaultErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "loop_wait + 2 retry_timeout over ttl",
			src:  "failover: {mode: patroni, ttl: 20}\ntopology: {replicas: [{}]}\n",
			want: []string{`test.yaml:3:32: failover.ttl: loop_wait (10) + 2 × retry_timeout (10) = 30 is more than ttl (20); Patroni requires loop_wait + 2 × retry_timeout <= ttl: raise ttl to 30 or lower the others`},
		},
		{
			name: "the rule reported at retry_timeout when ttl is left out",
			src:  "failover:\n  mode: patroni\n  retry_timeout: 15\n",
			want: []string{`test.yaml:5:18: failover.retry_timeout: loop_wait (10) + 2 × retry_timeout (15) = 40 is more than ttl (30); Patroni requires loop_wait + 2 × retry_timeout <= ttl: raise ttl to 40 or lower the others`},
		},
		{
			name: "below Patroni's least values",
			src:  "failover: {mode: patroni, ttl: 10, loop_wait: 0, retry_timeout: 2}\n",
			want: []string{
				`test.yaml:3:32: failover.ttl: must be at least 20 (Patroni's least ttl), got 10`,
				`test.yaml:3:47: failover.loop_wait: must be at least 1 (Patroni's least loop_wait), got 0`,
				`test.yaml:3:65: failover.retry_timeout: must be at least 3 (Patroni's least retry_timeout), got 2`,
			},
		},
		{
			name: "seconds are integers",
			src:  "failover: {mode: patroni, loop_wait: 10s, ttl: 30.5}\n",
			want: []string{
				`test.yaml:3:38: failover.loop_wait: want whole seconds as an integer, Patroni's unit, such as 30; got the duration "10s": write 10`,
				`test.yaml:3:48: failover.ttl: want an integer, got the number 30.5`,
			},
		},
		{
			name: "patroni keys under promote",
			src:  "failover: {mode: promote, ttl: 30, failsafe_mode: true}\ntopology: {replicas: [{}]}\n",
			want: []string{
				`test.yaml:3:32: failover.ttl: applies under failover.mode patroni only; failover.mode is promote`,
				`test.yaml:3:51: failover.failsafe_mode: applies under failover.mode patroni only; failover.mode is promote`,
			},
		},
		{
			name: "patroni keys under the default mode",
			src:  "failover:\n  etcd_members: 3\n",
			want: []string{`test.yaml:4:17: failover.etcd_members: applies under failover.mode patroni only; failover.mode is none`},
		},
		{
			name: "promote keys under patroni",
			src:  "failover: {mode: patroni, detect_after: 1s, repoint: false, synchronous: drop, probe_interval: 5ms}\n",
			want: []string{
				`test.yaml:3:41: failover.detect_after: does not apply under failover.mode patroni: Patroni declares the primary dead by its leader lock: use ttl, loop_wait and retry_timeout`,
				`test.yaml:3:54: failover.repoint: does not apply under failover.mode patroni: Patroni makes the replicas follow the new leader itself`,
				`test.yaml:3:74: failover.synchronous: does not apply under failover.mode patroni: Patroni keeps synchronous replication by synchronous_mode: use synchronous_mode (and synchronous_mode_strict)`,
			},
		},
		{
			name: "etcd members, lag and start timeout",
			src:  "failover: {mode: patroni, etcd_members: 2, maximum_lag_on_failover: -1, primary_start_timeout: -5}\n",
			want: []string{
				`test.yaml:3:41: failover.etcd_members: must be 1 or 3, got 2`,
				`test.yaml:3:69: failover.maximum_lag_on_failover: must not be negative, got -1 (bytes)`,
				`test.yaml:3:96: failover.primary_start_timeout: must not be negative, got -5 (seconds; 0 fails over at once)`,
			},
		},
		{
			name: "strict without synchronous_mode",
			src:  "failover: {mode: patroni, synchronous_mode_strict: true}\n",
			want: []string{`test.yaml:3:52: failover.synchronous_mode_strict: needs synchronous_mode: true (with a synchronous standby or a replica with sync: true)`},
		},
		{
			name: "synchronous_mode against the topology",
			src:  "failover: {mode: patroni, synchronous_mode: false}\ntopology: {replicas: [{sync: true}], sync_method: any}\n",
			want: []string{
				`test.yaml:3:45: failover.synchronous_mode: is false, but topology.replicas has sync: true (replica1); under patroni, Patroni names the synchronous standbys: set synchronous_mode: true or drop sync: true`,
				`test.yaml:4:51: topology.sync_method: any (quorum) is not supported under failover.mode patroni: Patroni's synchronous_mode takes the first sync_count standbys it chooses; use first`,
			},
		},
		{
			name: "client path",
			src:  "client: {path: haproxy2}\n",
			want: []string{`test.yaml:3:16: client.path: "haproxy2" is not a valid client path (did you mean "haproxy"?); valid: direct, haproxy, pgbouncer`},
		},
		{
			name: "proxies the path does not have",
			src:  "client: {path: direct, haproxy: {inter: 1s}, pgbouncer: {pool_size: 5}}\n",
			want: []string{
				`test.yaml:3:34: client.haproxy: applies when the client path goes through HAProxy (client.path haproxy, or pgbouncer with in_front_of: haproxy); client.path is direct`,
				`test.yaml:3:58: client.pgbouncer: applies when client.path is pgbouncer; client.path is direct`,
			},
		},
		{
			name: "haproxy checks",
			src:  "client: {path: haproxy, haproxy: {inter: 1500us, fall: 0, rise: 1001}}\n",
			want: []string{
				`test.yaml:3:42: client.haproxy.inter: must be a positive whole number of milliseconds (HAProxy's unit), got 1.5ms`,
				`test.yaml:3:56: client.haproxy.fall: must be between 1 and 1000 checks, got 0`,
				`test.yaml:3:65: client.haproxy.rise: must be between 1 and 1000 checks, got 1001`,
			},
		},
		{
			name: "pgbouncer values",
			src:  "client: {path: pgbouncer, pgbouncer: {pool_mode: batch, pool_size: 0, in_front_of: primary}}\n",
			want: []string{
				`test.yaml:3:50: client.pgbouncer.pool_mode: "batch" is not a valid pool_mode; valid: session, transaction, statement`,
				`test.yaml:3:68: client.pgbouncer.pool_size: must be between 1 and 10000, got 0`,
				`test.yaml:3:84: client.pgbouncer.in_front_of: "primary" is not a valid in_front_of; valid: haproxy, nodes`,
			},
		},
		{
			name: "haproxy behind no pgbouncer",
			src:  "client: {path: pgbouncer, pgbouncer: {in_front_of: nodes}, haproxy: {fall: 2}}\n",
			want: []string{`test.yaml:3:70: client.haproxy: applies when the client path goes through HAProxy (client.path haproxy, or pgbouncer with in_front_of: haproxy); client.path is pgbouncer in front of nodes`},
		},
		{
			name: "replicas may not take a service's name",
			src:  "topology: {replicas: [{name: haproxy}, {name: etcd1}]}\n",
			want: []string{
				`test.yaml:3:30: topology.replicas[0].name: "haproxy" is the name of a service a fault may target (etcd1.., haproxy, pgbouncer); choose another`,
				`test.yaml:3:47: topology.replicas[1].name: "etcd1" is the name of a service a fault may target (etcd1.., haproxy, pgbouncer); choose another`,
			},
		},
		{
			name: "patroni faults without patroni",
			src: `faults:
  - {at: 1s, kind: kill, node: etcd1}
  - {at: 2s, kind: kill, node: primary, process: postgres}
  - {at: 3s, kind: switchover}
  - {at: 4s, kind: pause, node: haproxy}
`,
			want: []string{
				`test.yaml:4:32: faults[0].node: no node named "etcd1"; etcd members are there under failover.mode patroni only; nodes: primary`,
				`test.yaml:5:50: faults[1].process: applies under failover.mode patroni only (PostgreSQL or Patroni alone); without Patroni a kill takes the whole node: remove process`,
				`test.yaml:6:6: faults[2]: a switchover is asked of the failover manager: Patroni's (POST /switchover), under failover.mode patroni, or an external cluster's, through its switchover hook`,
				`test.yaml:7:33: faults[3].node: no node named "haproxy"; haproxy is there when client.path goes through it; nodes: primary`,
			},
		},
		{
			name: "fault targets under patroni",
			src: `failover: {mode: patroni, etcd_members: 3}
client: {path: haproxy}
faults:
  - {at: 1s, kind: kill, node: etcd4}
  - {at: 2s, kind: kill, node: etcd2, process: postgres}
  - {at: 3s, kind: switchover, to: nobody}
  - {at: 4s, kind: stop, node: haproxy, mode: immediate}
  - {at: 5s, kind: kill, node: primary, process: systemd}
  - {at: 6s, kind: isolate, node: etcd1}
  - {at: 7s, kind: switchover, to: replica1, for: 1s}
`,
			want: []string{
				`test.yaml:6:32: faults[0].node: no node or service named "etcd4" (did you mean "etcd1"?); failover.etcd_members says how many etcd members there are; valid: primary, etcd1, etcd2, etcd3, haproxy`,
				`test.yaml:7:48: faults[1].process: postgres applies to a PostgreSQL node, not to etcd2; valid here: node`,
				`test.yaml:8:36: faults[2].to: no node named "nobody"; nodes: primary`,
				`test.yaml:9:47: faults[3].mode: applies to a PostgreSQL node (pg_ctl's shutdown modes), not to haproxy; remove mode`,
				`test.yaml:10:50: faults[4].process: "systemd" is not a valid process; valid: node, postgres, patroni`,
				`test.yaml:11:35: faults[5].node: no node named "etcd1"; etcd1 may be the node of kill, stop and pause only; nodes: primary`,
				`test.yaml:12:36: faults[6].to: no node named "replica1"; nodes: primary`,
				`test.yaml:12:51: faults[6].for: "for" does not apply to a switchover fault`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := problems(t, minimal+tt.src); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPatroniFaults(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+`failover: {mode: patroni, etcd_members: 3}
client: {path: pgbouncer}
topology: {replicas: [{}, {}]}
faults:
  - {at: 1s, kind: kill, node: primary, process: postgres}
  - {at: 2s, kind: kill, node: replica1, process: patroni, for: 3s}
  - {at: 3s, kind: kill, node: etcd3}
  - {at: 4s, kind: stop, node: pgbouncer, for: 1s}
  - {at: 5s, kind: pause, node: haproxy}
  - {at: 6s, kind: switchover, to: replica2}
  - {at: 7s, kind: switchover}
  - {at: 8s, kind: kill, node: replica2, process: node}
`)
	want := []string{
		"kill postgres on primary", "kill patroni on replica1", "kill etcd3", "stop pgbouncer (fast)",
		"pause haproxy", "switchover to replica2", "switchover", "kill replica2",
	}
	var got []string
	for _, f := range s.Faults {
		got = append(got, f.Spec.Describe())
	}
	if !slices.Equal(got, want) {
		t.Errorf("faults:\ngot  %q\nwant %q", got, want)
	}
}

// TestClientSettingsAcrossAMatrix: HAProxy's settings beside a matrix over
// the client path belong to the variants that go through HAProxy; the
// others leave them unused.
func TestClientSettingsAcrossAMatrix(t *testing.T) {
	src := "name: t\nduration: 10s\ntopology: {replicas: [{}]}\nfailover: {mode: promote}\n" +
		"client:\n  haproxy: {inter: 500ms}\n  pgbouncer: {pool_mode: session}\nmatrix:\n  client.path: [direct, haproxy, pgbouncer]\n"
	s, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	plans := Expand(s)
	if len(plans) != 3 {
		t.Fatalf("%d plans", len(plans))
	}
	if c := plans[1].Scenario.Client; c.Path != PathHAProxy || c.HAProxy.Inter.D() != 500*time.Millisecond {
		t.Errorf("haproxy variant: %+v", c)
	}
	if c := plans[2].Scenario.Client; c.PgBouncer.PoolMode != PoolSession || c.HAProxy.Inter.D() != 500*time.Millisecond {
		t.Errorf("pgbouncer variant: %+v", c)
	}
}
