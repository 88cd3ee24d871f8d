package scenario

import (
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestIsScenarioPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want bool
	}{
		{"failover.ttl", true},
		{"failover.mode", true},
		{"workload.rate", true},
		{"client.path", true},
		{"faults[0].at", true},
		{"topology.replicas[1].sync", true},
		{"topology.settings.auto_explain.log_min_duration", true},
		{"duration", true},
		{"Failover.TTL", true},
		{"repeat.times", true}, // a scenario key, refused by the matrix
		{"synchronous_commit", false},
		{"auto_explain.log_min_duration", false}, // an extension setting: dots, but no section
		{"pg_stat_statements.max", false},
		{"work_mem", false},
	}
	for _, tt := range tests {
		if got := IsScenarioPath(tt.key); got != tt.want {
			t.Errorf("IsScenarioPath(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		path string
		want []pathSeg
	}{
		{"failover.ttl", []pathSeg{{key: "failover"}, {key: "ttl"}}},
		{"faults[0].at", []pathSeg{{key: "faults"}, {index: 0}, {key: "at"}}},
		{"faults[12]", []pathSeg{{key: "faults"}, {index: 12}}},
		{"topology.replicas[1].settings.auto_explain.log_min_duration",
			[]pathSeg{{key: "topology"}, {key: "replicas"}, {index: 1}, {key: "settings"}, {key: "auto_explain.log_min_duration"}}},
		{"topology.primary_settings.work_mem", []pathSeg{{key: "topology"}, {key: "primary_settings"}, {key: "work_mem"}}},
	}
	for _, tt := range tests {
		got, err := parsePath(tt.path)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parsePath(%q) = %v, %v; want %v", tt.path, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "a.", "a..b", "a[", "a[-1]", "a[x]", "a]b", "a b", "a[0]b", ".a"} {
		if got, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) = %v, want an error", bad, got)
		}
	}
}

// TestExpandPaths checks that each variant of a matrix over scenario
// paths gets its own scenario, which differs from the file exactly at
// the paths, while PostgreSQL axes (a dotted extension setting among
// them) stay settings.
func TestExpandPaths(t *testing.T) {
	t.Parallel()
	const src = minimal + `topology:
  replicas: [{}, {}]
failover:
  mode: patroni
  loop_wait: 5
workload:
  rate: 500
faults:
  - {at: 5s, kind: kill, node: primary}
matrix:
  failover.ttl: [30, 25]
  auto_explain.log_min_duration: [10ms]
  workload.rate: [1000, 2000]
  faults[0].at: [10s, 20s]
thresholds:
  - metric: lost_acked_writes
    max: 0
    where:
      failover.ttl: [25]
      faults[0].at: 10s
`
	s := mustParse(t, src)
	var kinds []bool
	for _, ax := range s.Matrix {
		kinds = append(kinds, ax.Path)
	}
	if want := []bool{true, false, true, true}; !slices.Equal(kinds, want) {
		t.Fatalf("axes' Path = %v, want %v", kinds, want)
	}
	plans := Expand(s)
	if len(plans) != 8 {
		t.Fatalf("got %d plans, want 8", len(plans))
	}
	if got, want := plans[5].Name, "failover.ttl=25,auto_explain.log_min_duration=10ms,workload.rate=1000,faults[0].at=20s"; got != want {
		t.Errorf("plan 5 name = %q, want %q", got, want)
	}
	seen := map[*Scenario]bool{}
	for _, p := range plans {
		v := p.Scenario
		if v == s {
			t.Fatalf("plan %s shares the file's scenario", p.Name)
		}
		seen[v] = true
		ttl, rate, at := p.Values["failover.ttl"], p.Values["workload.rate"], p.Values["faults[0].at"]
		if got := v.Failover.TTLSeconds; itoa(got) != ttl {
			t.Errorf("%s: ttl %d", p.Name, got)
		}
		if got := v.Workload.Rate; ftoa(got) != rate {
			t.Errorf("%s: rate %g", p.Name, got)
		}
		if got := v.Faults[0].At.String(); got != at {
			t.Errorf("%s: faults[0].at %s", p.Name, got)
		}
		// Everything else is the file's.
		c := *v
		c.Failover.TTLSeconds = s.Failover.TTLSeconds
		c.Workload.Rate = s.Workload.Rate
		c.Faults = slices.Clone(c.Faults)
		c.Faults[0].At = s.Faults[0].At
		c.variants = s.variants
		if !reflect.DeepEqual(&c, s) {
			t.Errorf("%s: the variant differs from the file beyond its paths:\ngot  %+v\nwant %+v", p.Name, c, *s)
		}
		if v.File != s.File || string(v.Source) != string(s.Source) {
			t.Errorf("%s: File/Source not the file's", p.Name)
		}
		ns := p.NodeSettings(PrimaryName)
		if want := map[string]string{"auto_explain.log_min_duration": "10ms"}; !reflect.DeepEqual(ns, want) {
			t.Errorf("%s: NodeSettings = %v, want only the setting axis %v", p.Name, ns, want)
		}
	}
	// The setting axis does not multiply the scenarios: 2 ttl × 2 rate × 2 at.
	if len(seen) != 8 {
		t.Errorf("%d distinct scenarios, want 8", len(seen))
	}
	// Plans 0 and 1 differ only in faults[0].at.
	if plans[0].Scenario.Faults[0].At.D() != 10*time.Second || plans[1].Scenario.Faults[0].At.D() != 20*time.Second {
		t.Errorf("faults[0].at: %s, %s", plans[0].Scenario.Faults[0].At, plans[1].Scenario.Faults[0].At)
	}
	if len(s.Thresholds) != 1 || len(s.Thresholds[0].Where) != 2 || s.Thresholds[0].Where[0].Setting != "failover.ttl" {
		t.Errorf("thresholds where: %+v", s.Thresholds)
	}
}

func itoa(n int) string     { return strconv.Itoa(n) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// TestExpandPathsAdd checks paths the file leaves out: the keys, and the
// mappings on the way, are added.
func TestExpandPathsAdd(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+`topology:
  replicas: [{}, {}]
matrix:
  failover.mode: [promote, patroni]
  client.path: [haproxy, pgbouncer]
  client.haproxy.fall: [5]
  topology.replicas[0].sync: [true]
  topology.primary_settings.auto_explain.log_min_duration: [5ms]
faults:
  - {at: 5s, kind: kill, node: primary}
`)
	plans := Expand(s)
	if len(plans) != 4 {
		t.Fatalf("got %d plans, want 4", len(plans))
	}
	type want struct {
		mode, path, poolMode string
		services             []string
	}
	wants := []want{
		{"promote", "haproxy", "", []string{"haproxy"}},
		{"promote", "pgbouncer", "transaction", []string{"haproxy", "pgbouncer"}},
		{"patroni", "haproxy", "", []string{"etcd1", "haproxy"}},
		{"patroni", "pgbouncer", "transaction", []string{"etcd1", "haproxy", "pgbouncer"}},
	}
	for i, p := range plans {
		v, w := p.Scenario, wants[i]
		if v.Failover.Mode != w.mode || v.Client.Path != w.path || v.Client.PgBouncer.PoolMode != w.poolMode {
			t.Errorf("%s: mode %q path %q pool_mode %q, want %+v", p.Name, v.Failover.Mode, v.Client.Path, v.Client.PgBouncer.PoolMode, w)
		}
		if v.Client.HAProxy.Fall != 5 || v.Client.HAProxy.Rise != DefaultHAProxyRise {
			t.Errorf("%s: haproxy %+v", p.Name, v.Client.HAProxy)
		}
		if got := v.Services(); !slices.Equal(got, w.services) {
			t.Errorf("%s: Services() = %q, want %q", p.Name, got, w.services)
		}
		if got := v.SyncReplicas(); !slices.Equal(got, []string{"replica1"}) {
			t.Errorf("%s: SyncReplicas() = %q", p.Name, got)
		}
		if got := v.Topology.PrimarySettings; !reflect.DeepEqual(got, map[string]string{"auto_explain.log_min_duration": "5ms"}) {
			t.Errorf("%s: primary_settings = %v", p.Name, got)
		}
		// Patroni's defaults under patroni, the harness's under promote.
		if (v.Failover.TTLSeconds == DefaultTTLSeconds) != (w.mode == "patroni") || v.Failover.SynchronousMode != (w.mode == "patroni") {
			t.Errorf("%s: failover %+v", p.Name, v.Failover)
		}
		if ns := p.NodeSettings(PrimaryName); !reflect.DeepEqual(ns, map[string]string{"auto_explain.log_min_duration": "5ms"}) {
			t.Errorf("%s: NodeSettings = %v: a path taken for a setting", p.Name, ns)
		}
	}
	if s.Failover.Mode != FailoverNone || s.Client.Path != PathDirect {
		t.Errorf("the file's own scenario changed: %+v %+v", s.Failover, s.Client)
	}
}

func TestExpandPathsSettingsOnly(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+"matrix:\n  auto_explain.log_min_duration: [1ms, 2ms]\n  synchronous_commit: [off, on]\n")
	for _, ax := range s.Matrix {
		if ax.Path {
			t.Errorf("axis %s is a path, want a setting", ax.Setting)
		}
	}
	for _, p := range Expand(s) {
		if p.Scenario != s {
			t.Errorf("%s: a settings-only matrix gives the plan a scenario of its own", p.Name)
		}
		if got := p.NodeSettings(PrimaryName)["auto_explain.log_min_duration"]; got != p.Values["auto_explain.log_min_duration"] || got == "" {
			t.Errorf("%s: auto_explain.log_min_duration = %q", p.Name, got)
		}
	}
}

// TestMatrixPathErrors checks the exact problems of matrix paths: those
// of the matrix itself, and those of some variants only, which name them.
func TestMatrixPathErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "an invalid combination names its variants",
			src:  "topology: {replicas: [{}]}\nfailover: {mode: patroni, loop_wait: 10}\nmatrix:\n  failover.ttl: [30, 20]\n  workload.rate: [100, 200]\n",
			want: []string{`test.yaml:6:22: failover.ttl: loop_wait (10) + 2 × retry_timeout (10) = 30 is more than ttl (20); Patroni requires loop_wait + 2 × retry_timeout <= ttl: raise ttl to 30 or lower the others (in every variant with failover.ttl=20, matrix line 6)`},
		},
		{
			name: "a key that fits one mode only",
			src:  "topology: {replicas: [{}]}\nfailover: {ttl: 30}\nmatrix:\n  failover.mode: [promote, patroni]\n",
			want: []string{`test.yaml:4:17: failover.ttl: applies under failover.mode patroni only; failover.mode is promote (in every variant with failover.mode=promote, matrix line 6)`},
		},
		{
			name: "a fault moved out of the window",
			src:  "faults:\n  - {at: 1s, kind: kill, node: primary}\nmatrix:\n  faults[0].at: [10s, 40s]\n  faults[0].kind: [kill, pause]\n",
			want: []string{`test.yaml:6:23: faults[0].at: 40s is not within the scenario's duration; a fault must fire at or after 0s and before 30s (in every variant with faults[0].at=40s, matrix line 6)`},
		},
		{
			name: "a value of the wrong type",
			src:  "failover: {mode: patroni}\nmatrix:\n  failover.ttl: [30, 30s]\n  seed: [1, 2]\n",
			want: []string{`test.yaml:5:22: failover.ttl: want whole seconds as an integer, Patroni's unit, such as 30; got the duration "30s": write 30 (in every variant with failover.ttl=30s, matrix line 5)`},
		},
		{
			name: "a problem of every variant is the file's",
			src:  "matrix:\n  failover.bogus: [1, 2]\n",
			want: []string{`test.yaml:4:3: failover: unknown key "bogus"; valid keys: mode, detect_after, probe_interval, repoint, synchronous, ttl, loop_wait, retry_timeout, maximum_lag_on_failover, synchronous_mode, synchronous_mode_strict, failsafe_mode, primary_start_timeout, etcd_members`},
		},
		{
			name: "a problem of the file beside the matrix, once",
			src:  "seed: 1\nseed: 2\nmatrix:\n  workload.rate: [1, 2]\n",
			want: []string{`test.yaml:4:1: scenario: duplicate key "seed" (first at line 3)`},
		},
		{
			name: "a list entry the file does not have",
			src:  "faults:\n  - {at: 1s, kind: kill, node: primary}\nmatrix:\n  faults[3].at: [1s]\n",
			want: []string{`test.yaml:6:3: matrix: faults[3].at: faults has 1 entry in the file, so no [3]`},
		},
		{
			name: "keys that are no path",
			src:  "matrix:\n  repeat.times: [1, 2]\n  name: [a]\n  workload..rate: [1]\n  faults[x].at: [1s]\n  topology.replicas[0]sync: [true]\n",
			want: []string{
				`test.yaml:4:3: matrix: "repeat.times": repeat cannot vary between variants; a matrix path starts with one of duration, seed, topology, workload, faults, failover, client, probes`,
				`test.yaml:5:3: matrix: "name": name cannot vary between variants; a matrix path starts with one of duration, seed, topology, workload, faults, failover, client, probes`,
				`test.yaml:6:3: matrix: "workload..rate" is not a valid path such as failover.ttl or faults[0].at: want a key (lower-case letters, digits and '_') at ".rate"`,
				`test.yaml:7:3: matrix: "faults[x].at" is not a valid path such as failover.ttl or faults[0].at: want '.' or [n] at "[x].at"`,
				`test.yaml:8:3: matrix: "topology.replicas[0]sync" is not a valid path such as failover.ttl or faults[0].at: want '.' or [n] at "sync"`,
			},
		},
		{
			name: "through a scalar",
			src:  "matrix:\n  duration.x: [1]\n",
			want: []string{`test.yaml:4:3: matrix: duration.x: duration is the string "30s" in the file, not a mapping with a key x`},
		},
		{
			name: "through a merge",
			src:  "workload:\n  <<: {rate: 5}\nmatrix:\n  workload.reads.rate: [1]\n",
			want: []string{`test.yaml:6:3: matrix: workload.reads.rate: workload.reads may come from a merge (<<) in the file; write reads out there to vary it`},
		},
		{
			name: "a mapping as a value",
			src:  "matrix:\n  failover.ttl: [30, {a: 1}]\n",
			want: []string{`test.yaml:4:23: matrix.failover.ttl[1]: want a value (a string, number or boolean), got a mapping`},
		},
		{
			name: "where names a value the path does not take",
			src:  "matrix:\n  client.path: [haproxy, pgbouncer]\nthresholds:\n  - {metric: tps, min: 1, where: {client.path: [haproxy, direct]}}\n",
			want: []string{`test.yaml:6:58: thresholds[0].where.client.path[1]: "direct" is not a value of matrix.client.path; values: haproxy, pgbouncer`},
		},
		{
			name: "a setting of a replica checked as a setting",
			src:  "topology:\n  replicas:\n    - name: a\nmatrix:\n  topology.replicas[0].settings.work_mem: [1MB]\n  topology.replicas[0].settings.wal_level: [minimal]\n",
			want: []string{`test.yaml:8:45: topology.replicas[0].settings.wal_level: "minimal" is not a valid wal_level; valid: replica, logical`},
		},
		{
			name: "a whole list entry replaced by a scalar",
			src:  "faults:\n  - {at: 1s, kind: kill, node: primary}\nmatrix:\n  faults[0]: [x]\n",
			want: []string{`test.yaml:6:15: faults[0]: want a mapping of keys, got the string "x"`},
		},
		{
			name: "duplicate values",
			src:  "matrix:\n  workload.rate: [1, 1]\n",
			want: []string{`test.yaml:4:22: matrix.workload.rate[1]: duplicate value "1" (first at line 4)`},
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

func TestPatroniFile(t *testing.T) {
	t.Parallel()
	s, err := Load(filepath.Join("testdata", "patroni.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plans := Expand(s)
	if len(plans) != 12 {
		t.Fatalf("%d plans, want 12", len(plans))
	}
	p := plans[7] // ttl 40, process postgres, remote_apply
	if p.Name != "failover.ttl=40,faults[0].process=postgres,synchronous_commit=remote_apply" {
		t.Errorf("plan 7 = %s", p.Name)
	}
	v := p.Scenario
	if v.Failover.TTLSeconds != 40 || v.Faults[0].Spec.Describe() != "kill postgres on primary" || v.Failover.EtcdMembers != 3 {
		t.Errorf("plan 7 scenario: %+v, %s", v.Failover, v.Faults[0].Spec.Describe())
	}
	if got := p.NodeSettings("replica1"); !reflect.DeepEqual(got, map[string]string{"synchronous_commit": "remote_apply"}) {
		t.Errorf("NodeSettings = %v", got)
	}
	if got, want := v.Services(), []string{"etcd1", "etcd2", "etcd3", "haproxy", "pgbouncer"}; !slices.Equal(got, want) {
		t.Errorf("Services() = %q, want %q", got, want)
	}
}

// TestExpandPathsShapes puts a value where the file's YAML has different
// shapes: a mapping with one key, a null, an anchored mapping.
func TestExpandPathsShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
	}{
		{"block mapping with one key", "failover:\n  mode: patroni\nmatrix:\n  failover.ttl: [30, 40]\n"},
		{"null", "failover:\nmatrix:\n  failover.mode: [patroni]\n  failover.ttl: [30, 40]\n"},
		{"anchored flow mapping", "failover: &f {mode: patroni}\nmatrix:\n  failover.ttl: [30, 40]\n"},
		{"no failover at all", "matrix:\n  failover.mode: [patroni]\n  failover.ttl: [30, 40]\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, minimal+tt.src)
			var got []int
			for _, p := range Expand(s) {
				if p.Scenario.Failover.Mode != FailoverPatroni {
					t.Errorf("%s: mode %q", p.Name, p.Scenario.Failover.Mode)
				}
				got = append(got, p.Scenario.Failover.TTLSeconds)
			}
			if !slices.Equal(got, []int{30, 40}) {
				t.Errorf("ttl of the variants = %v, want [30 40]", got)
			}
		})
	}
}
