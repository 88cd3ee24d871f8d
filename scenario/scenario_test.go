package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/fault"
)

// mustParse parses src as "test.yaml" and fails the test on any error.
func mustParse(t *testing.T, src string) *Scenario {
	t.Helper()
	s, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v\nsource:\n%s", err, src)
	}
	return s
}

// problems parses src and returns its problem lines; it fails the test if
// src is valid or the error is not *Errors.
func problems(t *testing.T, src string) []string {
	t.Helper()
	s, err := Parse("test.yaml", []byte(src))
	if err == nil {
		t.Fatalf("Parse succeeded (%+v), want problems\nsource:\n%s", s, src)
	}
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, want *Errors: %v", err, err)
	}
	return strings.Split(err.Error(), "\n")
}

const minimal = "name: t\nduration: 30s\n"

func TestDefaults(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+"topology:\n  replicas:\n    - {}\n    - sync: true\n")
	yes := true
	want := &Scenario{
		Name:     "t",
		Seed:     1,
		Duration: Duration(30 * time.Second),
		Backend:  "local",
		Topology: Topology{
			Replicas:   []Replica{{Name: "replica1"}, {Name: "replica2", Sync: true}},
			SyncMethod: "first",
			SyncCount:  1,
			Slots:      &yes,
		},
		Workload: Workload{Writers: 8, Arrival: "poisson", MaxQueue: 100000},
		Failover: Failover{
			Mode:          "none",
			DetectAfter:   Duration(time.Second),
			ProbeInterval: Duration(10 * time.Millisecond),
			Repoint:       &yes,
			Synchronous:   SyncKeep,
		},
		Client: Client{Path: PathDirect},
		Probes: Probes{
			LagInterval:       Duration(100 * time.Millisecond),
			HeartbeatInterval: Duration(100 * time.Millisecond),
			AuditTimeout:      Duration(30 * time.Second),
		},
		Repeat: Repeat{Times: 1},
	}
	s.File, s.Source = "", nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("defaults:\ngot  %+v\nwant %+v", s, want)
	}
	if !s.SlotsEnabled() || !s.Failover.RepointEnabled() {
		t.Errorf("SlotsEnabled/RepointEnabled = false by default")
	}
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, s *Scenario)
	}{
		{
			name: "explicit values override defaults",
			src: minimal + `seed: 0
backend: local
topology:
  sync_method: any
  sync_count: 1
  slots: false
  replicas:
    - {name: a, sync: true}
    - {name: b, sync: true}
workload: {writers: 2, rate: 12.5, arrival: uniform, initial_orders: 10, max_queue: 0}
failover: {mode: promote, detect_after: 250ms, probe_interval: 5ms, repoint: false}
probes: {lag_interval: 10ms, heartbeat_interval: 1m30s, audit_timeout: 1m}
`,
			check: func(t *testing.T, s *Scenario) {
				if s.Seed != 0 || s.Topology.SyncMethod != "any" || s.Topology.SyncCount != 1 || s.SlotsEnabled() {
					t.Errorf("topology/seed: %+v seed %d", s.Topology, s.Seed)
				}
				w := s.Workload
				if w.Writers != 2 || w.Rate != 12.5 || w.Arrival != "uniform" || w.InitialOrders != 10 || w.MaxQueue != 0 {
					t.Errorf("workload: %+v", w)
				}
				f := s.Failover
				if f.Mode != "promote" || f.DetectAfter.D() != 250*time.Millisecond || f.ProbeInterval.D() != 5*time.Millisecond || f.RepointEnabled() {
					t.Errorf("failover: %+v", f)
				}
				if s.Probes.HeartbeatInterval.D() != 90*time.Second || s.Probes.AuditTimeout.D() != time.Minute {
					t.Errorf("probes: %+v", s.Probes)
				}
			},
		},
		{
			name: "setting values keep the text as written",
			src: minimal + `topology:
  settings:
    synchronous_commit: off
    jit: false
    fsync: TRUE
    max_connections: 100
    random_page_cost: 1.10
    shared_buffers: 128MB
    work_mem: "0x10"
    DateStyle: 'iso, mdy'
    auto_explain.log_min_duration: 250ms
`,
			check: func(t *testing.T, s *Scenario) {
				want := map[string]string{
					"synchronous_commit":            "off",
					"jit":                           "false",
					"fsync":                         "TRUE",
					"max_connections":               "100",
					"random_page_cost":              "1.10",
					"shared_buffers":                "128MB",
					"work_mem":                      "0x10",
					"datestyle":                     "iso, mdy",
					"auto_explain.log_min_duration": "250ms",
				}
				if !reflect.DeepEqual(s.Topology.Settings, want) {
					t.Errorf("settings:\ngot  %v\nwant %v", s.Topology.Settings, want)
				}
			},
		},
		{
			name: "matrix keeps file order and value text",
			src: minimal + `matrix:
  work_mem: [4MB, 64MB]
  synchronous_commit: [off, local, remote_write, on, remote_apply]
  jit: [true, false]
`,
			check: func(t *testing.T, s *Scenario) {
				want := []Axis{
					{Setting: "work_mem", Values: []string{"4MB", "64MB"}, Line: 4},
					{Setting: "synchronous_commit", Values: []string{"off", "local", "remote_write", "on", "remote_apply"}, Line: 5},
					{Setting: "jit", Values: []string{"true", "false"}, Line: 6},
				}
				if !reflect.DeepEqual(s.Matrix, want) {
					t.Errorf("matrix:\ngot  %+v\nwant %+v", s.Matrix, want)
				}
			},
		},
		{
			name: "fault lines and bursts",
			src: minimal + `topology:
  replicas: [{name: r1}]
workload:
  rate: 100
  bursts:
    - {at: 1s, duration: 2s, rate: 0}
faults:
  - at: 0s
    kind: kill
    node: r1
  - {at: 29s, kind: kill, node: primary}
`,
			check: func(t *testing.T, s *Scenario) {
				want := []Fault{
					{At: 0, Spec: fault.Kill{Target: "r1"}, Line: 10},
					{At: Duration(29 * time.Second), Spec: fault.Kill{Target: "primary"}, Line: 13},
				}
				if !reflect.DeepEqual(s.Faults, want) {
					t.Errorf("faults:\ngot  %+v\nwant %+v", s.Faults, want)
				}
				wantB := []Burst{{At: Duration(time.Second), Duration: Duration(2 * time.Second), Rate: 0}}
				if !reflect.DeepEqual(s.Workload.Bursts, wantB) {
					t.Errorf("bursts: got %+v, want %+v", s.Workload.Bursts, wantB)
				}
			},
		},
		{
			name: "anchors, aliases and merge keys",
			src: `name: t
duration: 30s
probes:
  lag_interval: &every 50ms
  heartbeat_interval: *every
topology:
  settings: &common
    shared_buffers: 128MB
    work_mem: 4MB
  replicas:
    - name: replica1
      settings:
        <<: *common
        work_mem: 8MB
`,
			check: func(t *testing.T, s *Scenario) {
				want := map[string]string{"shared_buffers": "128MB", "work_mem": "8MB"}
				if got := s.Topology.Replicas[0].Settings; !reflect.DeepEqual(got, want) {
					t.Errorf("merged settings: got %v, want %v", got, want)
				}
				if s.Probes.HeartbeatInterval.D() != 50*time.Millisecond {
					t.Errorf("aliased heartbeat_interval = %s", s.Probes.HeartbeatInterval)
				}
			},
		},
		{
			name: "nulls are absent keys",
			src:  minimal + "description:\nfaults:\nmatrix:\ntopology:\n  settings:\n",
			check: func(t *testing.T, s *Scenario) {
				if s.Description != "" || s.Faults != nil || s.Matrix != nil || s.Topology.Settings != nil {
					t.Errorf("got %+v", s)
				}
			},
		},
		{
			name: "block description is trimmed",
			src:  minimal + "description: |\n  Line one.\n  Line two.\n",
			check: func(t *testing.T, s *Scenario) {
				if s.Description != "Line one.\nLine two." {
					t.Errorf("description = %q", s.Description)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, mustParse(t, tt.src))
		})
	}
}

// TestParseErrors has one case per kind of problem; each wants exactly the
// listed lines.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{
			name: "unknown top-level key",
			src:  minimal + "sede: 3\n",
			want: []string{`test.yaml:3:1: scenario: unknown key "sede" (did you mean "seed"?); valid keys: name, description, seed, duration, backend, topology, workload, faults, failover, client, external, probes, matrix, thresholds, repeat, accident, drills`},
		},
		{
			name: "unknown nested key without suggestion",
			src:  minimal + "probes:\n  sampling: 1s\n",
			want: []string{`test.yaml:4:3: probes: unknown key "sampling"; valid keys: lag_interval, heartbeat_interval, audit_timeout`},
		},
		{
			name: "wrong type",
			src:  minimal + "workload:\n  writers: \"8\"\n",
			want: []string{`test.yaml:4:12: workload.writers: want an integer, got the string "8"`},
		},
		{
			name: "wrong type for a section",
			src:  minimal + "topology: 3\n",
			want: []string{`test.yaml:3:11: topology: want a mapping of keys, got the integer 3`},
		},
		{
			name: "bad duration",
			src:  "name: t\nduration: 1h30\n",
			want: []string{`test.yaml:2:11: duration: bad duration "1h30"; want a Go duration such as 250ms, 30s or 1m30s`},
		},
		{
			name: "duration without unit",
			src:  "name: t\nduration: 30\n",
			want: []string{`test.yaml:2:11: duration: bad duration "30" (a unit is needed); want a Go duration such as 250ms, 30s or 1m30s`},
		},
		{
			name: "zero duration",
			src:  "name: t\nduration: 0s\n",
			want: []string{`test.yaml:2:11: duration: must be positive, got 0s`},
		},
		{
			name: "missing duration",
			src:  "name: t\n",
			want: []string{`test.yaml:1:1: missing required key "duration" (a Go duration such as 30s or 2m)`},
		},
		{
			name: "missing name",
			src:  "duration: 1s\n",
			want: []string{`test.yaml:1:1: missing required key "name" (lower-case letters, digits, '.', '_' and '-')`},
		},
		{
			name: "bad name",
			src:  "name: ../etc\nduration: 1s\n",
			want: []string{`test.yaml:1:7: name: "../etc" is not a valid name; use at most 63 lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (it names the results directory)`},
		},
		{
			name: "fault on unknown node",
			src:  minimal + "topology: {replicas: [{name: r1}]}\nfaults:\n  - {at: 1s, kind: kill, node: r2}\n",
			want: []string{`test.yaml:5:32: faults[0].node: no node named "r2" (did you mean "r1"?); nodes: primary, r1`},
		},
		{
			name: "unknown fault kind",
			src:  minimal + "faults:\n  - {at: 1s, kind: explode, node: primary}\n",
			want: []string{`test.yaml:4:20: faults[0].kind: "explode" is not a valid fault kind; valid: ` + strings.Join(fault.Names(), ", ")},
		},
		{
			name: "fault outside duration",
			src:  minimal + "faults:\n  - {at: 1m, kind: kill, node: primary}\n",
			want: []string{`test.yaml:4:10: faults[0].at: 1m0s is not within the scenario's duration; a fault must fire at or after 0s and before 30s`},
		},
		{
			name: "promote under failover.mode promote",
			src:  minimal + "failover: {mode: promote}\ntopology: {replicas: [{name: replica1}]}\nfaults:\n  - {at: 1s, kind: promote, node: replica1}\n",
			want: []string{`test.yaml:6:6: faults[0]: under failover.mode promote the manager decides which node is primary and would race a promote fault; promote applies under failover.mode none or external`},
		},
		{
			name: "promote of the primary, of an unknown node, without a node",
			src: minimal + `failover: {mode: external}
topology: {replicas: [{name: replica1}, {name: replica2}]}
faults:
  - {at: 1s, kind: promote, node: primary}
  - {at: 2s, kind: promote, node: replica3}
  - {at: 3s, kind: promote}
  - {at: 4s, kind: promote, node: replica1, for: 1s}
`,
			want: []string{
				`test.yaml:6:35: faults[0].node: primary is the primary; promote names a replica: replica1, replica2`,
				`test.yaml:7:35: faults[1].node: no node named "replica3" (did you mean "replica1"?); nodes: primary, replica1, replica2`,
				`test.yaml:8:6: faults[2]: missing required key "node" (a replica: replica1, replica2)`,
				`test.yaml:9:50: faults[3].for: "for" does not apply to a promote fault`,
			},
		},
		{
			name: "failover mode",
			src:  minimal + "failover: {mode: promotion}\n",
			want: []string{`test.yaml:3:18: failover.mode: "promotion" is not a valid failover mode (did you mean "promote"?); valid: none, promote, patroni, external`},
		},
		{
			name: "sync method",
			src:  minimal + "topology: {sync_method: All}\n",
			want: []string{`test.yaml:3:25: topology.sync_method: "All" is not a valid sync_method (did you mean "any"?); valid: first, any`},
		},
		{
			name: "sync count too large",
			src:  minimal + "topology:\n  sync_count: 2\n  replicas: [{sync: true}, {}]\n",
			want: []string{`test.yaml:4:15: topology.sync_count: is 2, larger than the number of sync replicas (1)`},
		},
		{
			name: "duplicate replica names after defaults",
			src:  minimal + "topology:\n  replicas:\n    - {}\n    - name: replica1\n",
			want: []string{`test.yaml:6:7: topology.replicas[1]: duplicate replica name "replica1" (first at line 5)`},
		},
		{
			name: "burst outside duration",
			src:  minimal + "workload:\n  bursts: [{at: 29s, duration: 2s, rate: 5}]\n",
			want: []string{`test.yaml:4:13: workload.bursts[0]: burst at 29s for 2s ends at 31s, after the scenario's duration 30s; a burst must end by 30s`},
		},
		{
			name: "negative rate",
			src:  minimal + "workload: {rate: -1}\n",
			want: []string{`test.yaml:3:18: workload.rate: must not be negative, got -1 (0 means as fast as possible)`},
		},
		{
			name: "zero writers",
			src:  minimal + "workload: {writers: 0}\n",
			want: []string{`test.yaml:3:21: workload.writers: must be at least 1, got 0`},
		},
		{
			name: "probe interval too short",
			src:  minimal + "probes: {lag_interval: 9ms, heartbeat_interval: 1us}\n",
			want: []string{
				`test.yaml:3:24: probes.lag_interval: must be at least 10ms, got 9ms`,
				`test.yaml:3:49: probes.heartbeat_interval: must be at least 10ms, got 1µs`,
			},
		},
		{
			name: "matrix key not a setting",
			src:  minimal + "matrix:\n  sync_commit: [on]\n",
			want: []string{`test.yaml:4:3: matrix: "sync_commit" is not a PostgreSQL 15 setting; custom settings need a dot, like auto_explain.log_min_duration`},
		},
		{
			name: "matrix empty values",
			src:  minimal + "matrix:\n  work_mem: []\n",
			want: []string{`test.yaml:4:13: matrix.work_mem: empty list of values; give at least one`},
		},
		{
			name: "matrix bad synchronous_commit",
			src:  minimal + "matrix:\n  synchronous_commit: [of]\n",
			want: []string{`test.yaml:4:24: matrix.synchronous_commit[0]: "of" is not a valid synchronous_commit (did you mean "off"?); valid: off, local, remote_write, on, remote_apply`},
		},
		{
			name: "setting not a PostgreSQL setting",
			src:  minimal + "topology:\n  settings: {max_wal_sizes: 1GB}\n",
			want: []string{`test.yaml:4:14: topology.settings: "max_wal_sizes" is not a PostgreSQL 15 setting (did you mean "max_wal_size"?); custom settings need a dot, like auto_explain.log_min_duration`},
		},
		{
			name: "setting owned by the harness",
			src:  minimal + "topology:\n  replicas:\n    - settings: {primary_slot_name: x}\n",
			want: []string{`test.yaml:5:18: topology.replicas[0].settings: "primary_slot_name" is set by the harness; remove it`},
		},
		{
			name: "synchronous_standby_names points at the sync keys",
			src:  minimal + "topology:\n  primary_settings: {synchronous_standby_names: '*'}\n",
			want: []string{`test.yaml:4:22: topology.primary_settings: "synchronous_standby_names" is set by the harness; use topology.replicas[].sync, topology.sync_method and topology.sync_count`},
		},
		{
			name: "bad synchronous_commit setting",
			src:  minimal + "topology:\n  settings: {synchronous_commit: yes}\n",
			want: []string{`test.yaml:4:34: topology.settings.synchronous_commit: "yes" is not a valid synchronous_commit; valid: off, local, remote_write, on, remote_apply`},
		},
		{
			name: "backend",
			src:  minimal + "backend: lokal\n",
			want: []string{`test.yaml:3:10: backend: "lokal" is not a valid backend (did you mean "local"?); valid: local, docker, external`},
		},
		{
			name: "duplicate key",
			src:  minimal + "name: u\n",
			want: []string{`test.yaml:3:1: scenario: duplicate key "name" (first at line 1)`},
		},
		{
			name: "syntax error",
			src:  "name: [\n",
			want: []string{`test.yaml:1:7: YAML syntax: sequence end token ']' not found`},
		},
		{
			name: "several problems at once, in file order",
			src: `name: t
duration: 10s
workload:
  writers: -1
faults:
  - {at: 20s, kind: kill, node: nobody}
probes: {lag_interval: 1ms}
`,
			want: []string{
				`test.yaml:4:12: workload.writers: must be at least 1, got -1`,
				`test.yaml:6:10: faults[0].at: 20s is not within the scenario's duration; a fault must fire at or after 0s and before 10s`,
				`test.yaml:6:33: faults[0].node: no node named "nobody"; nodes: primary`,
				`test.yaml:7:24: probes.lag_interval: must be at least 10ms, got 1ms`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, tt.src)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestErrorsFormat(t *testing.T) {
	t.Parallel()
	errs := Errors{
		{File: "a.yaml", Line: 3, Column: 5, Msg: "one"},
		{File: "a.yaml", Line: 4, Msg: "two"},
		{File: "a.yaml", Msg: "three"},
	}
	want := "a.yaml:3:5: one\na.yaml:4: two\na.yaml: three"
	if got := errs.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	if _, err := Load(filepath.Join("testdata", "does-not-exist.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: got %v, want os.ErrNotExist", err)
	}
	s, err := Load(filepath.Join("..", "scenarios", "sync-vs-async.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.File != filepath.Join("..", "scenarios", "sync-vs-async.yaml") || len(s.Source) == 0 {
		t.Errorf("File = %q, len(Source) = %d", s.File, len(s.Source))
	}
}

// TestShippedScenarios loads every scenario shipped in scenarios/ and the
// external backend's recipes in scenarios/external/.
func TestShippedScenarios(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "scenarios", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios/*.yaml")
	}
	recipes, err := filepath.Glob(filepath.Join("..", "scenarios", "external", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recipes) == 0 {
		t.Fatal("no scenarios/external/*.yaml")
	}
	files = append(files, recipes...)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			s, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(filepath.Base(f), ".yaml"); s.Name != want {
				t.Errorf("name %q does not match the file name %q", s.Name, want)
			}
			if s.Description == "" {
				t.Errorf("no description")
			}
		})
	}
}

func TestFlagship(t *testing.T) {
	t.Parallel()
	s, err := Load(filepath.Join("..", "scenarios", "sync-vs-async.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Seed != 42 || s.Duration.D() != 30*time.Second || s.Failover.Mode != FailoverPromote || s.Failover.DetectAfter.D() != time.Second {
		t.Errorf("scenario: %+v", s)
	}
	if got := s.Faults; len(got) != 1 || got[0].Kind() != "kill" || got[0].Spec.Node() != PrimaryName || got[0].At.D() != 18*time.Second {
		t.Errorf("faults: %+v", got)
	}
	if s.Probes.HeartbeatInterval.D() != 50*time.Millisecond || s.Probes.LagInterval.D() != 100*time.Millisecond {
		t.Errorf("probes: %+v", s.Probes)
	}
	plans := Expand(s)
	var names []string
	for _, p := range plans {
		names = append(names, p.Name)
		if got := p.SynchronousStandbyNames(); got != "FIRST 1 (replica1)" {
			t.Errorf("%s: synchronous_standby_names = %q", p.Name, got)
		}
	}
	want := []string{
		"synchronous_commit=off", "synchronous_commit=local", "synchronous_commit=remote_write",
		"synchronous_commit=on", "synchronous_commit=remote_apply",
	}
	if !slices.Equal(names, want) {
		t.Errorf("plans = %q, want %q", names, want)
	}
	for _, at := range []struct {
		t    time.Duration
		rate float64
	}{{0, 1000}, {8 * time.Second, 4000}, {12 * time.Second, 1000}, {13 * time.Second, 0}, {16 * time.Second, 1000}} {
		if got := s.RateAt(at.t); got != at.rate {
			t.Errorf("RateAt(%s) = %g, want %g", at.t, got, at.rate)
		}
	}
	// The capacity burst ends before the kill: a ceiling measured during
	// the outage would be the outage's.
	if got := s.CapacitySpans(); len(got) != 1 || got[0] != (Span{13 * time.Second, 16 * time.Second}) || got[0].To > s.Faults[0].At.D() {
		t.Errorf("capacity spans %v, want 13s..16s, before the kill", got)
	}
}

func TestPGSettingsFile(t *testing.T) {
	t.Parallel()
	lines := strings.Split(strings.TrimSpace(pgSettingsText), "\n")
	if len(lines) < 250 {
		t.Fatalf("pg_settings.txt has %d names, want the full list", len(lines))
	}
	if !slices.IsSorted(lines) || len(slices.Compact(slices.Clone(lines))) != len(lines) {
		t.Errorf("pg_settings.txt is not sorted and unique")
	}
	for _, name := range []string{"synchronous_commit", "shared_buffers", "wal_keep_size", "DateStyle", "datestyle", "auto_explain.log_min_duration"} {
		if !IsSetting(name) {
			t.Errorf("IsSetting(%q) = false", name)
		}
	}
	for _, name := range []string{"shared_buffer", "", ".x", "x.", "a b"} {
		if IsSetting(name) {
			t.Errorf("IsSetting(%q) = true", name)
		}
	}
	for _, name := range harnessSettings {
		if msg := checkSettingName(name); !strings.Contains(msg, "set by the harness") {
			t.Errorf("checkSettingName(%q) = %q, want set by the harness", name, msg)
		}
	}
}

func TestClosest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, word string
		options    []string
		want       string
	}{
		{"one typo", "writer", workloadKeys, "writers"},
		{"case only", "Name", scenarioKeys, "name"},
		{"too far", "sampling", probesKeys, ""},
		{"no options", "x", nil, ""},
		{"huge word", strings.Repeat("a", 1000), scenarioKeys, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := closest(tt.word, tt.options); got != tt.want {
				t.Errorf("closest(%q) = %q, want %q", tt.word, got, tt.want)
			}
		})
	}
}

func TestDurationText(t *testing.T) {
	t.Parallel()
	d := Duration(1500 * time.Millisecond)
	b, err := d.MarshalText()
	if err != nil || string(b) != "1.5s" {
		t.Fatalf("MarshalText = %q, %v", b, err)
	}
	var back Duration
	if err := back.UnmarshalText(b); err != nil || back != d {
		t.Fatalf("UnmarshalText(%q) = %v, %v", b, back, err)
	}
	if err := back.UnmarshalText([]byte("soon")); err == nil {
		t.Error("UnmarshalText(soon) succeeded")
	}
}

func TestFullFile(t *testing.T) {
	t.Parallel()
	s, err := Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	no := false
	want := &Scenario{
		Name:        "full.example_1",
		Description: "Every key, for the decoder's tests.",
		Seed:        7,
		Duration:    Duration(90 * time.Second),
		Backend:     "local",
		Topology: Topology{
			Replicas: []Replica{
				{Name: "east", Sync: true, Settings: map[string]string{"max_standby_streaming_delay": "30s"}},
				{Name: "west", Sync: true},
				{Name: "replica3"},
			},
			SyncMethod: "any",
			SyncCount:  1,
			Slots:      &no,
			Settings: map[string]string{
				"shared_buffers":                "128MB",
				"synchronous_commit":            "remote_write",
				"auto_explain.log_min_duration": "250ms",
			},
			PrimarySettings: map[string]string{"max_connections": "200"},
		},
		Workload: Workload{
			Writers: 16,
			Rate:    2500.5,
			Arrival: "uniform",
			Bursts: []Burst{
				{At: Duration(10 * time.Second), Duration: Duration(5 * time.Second), Rate: 0},
				{At: Duration(12 * time.Second), Duration: Duration(time.Second), Rate: 10},
			},
			InitialOrders: 1000,
			MaxQueue:      50,
		},
		Faults: []Fault{
			{At: Duration(45 * time.Second), Spec: fault.Kill{Target: "primary"}, Line: 39},
			{At: Duration(time.Minute), Spec: fault.Kill{Target: "replica3"}, Line: 42},
		},
		Failover: Failover{
			Mode:          "promote",
			DetectAfter:   Duration(500 * time.Millisecond),
			ProbeInterval: Duration(20 * time.Millisecond),
			Repoint:       &no,
			Synchronous:   SyncDrop,
		},
		Client: Client{Path: PathDirect},
		Probes: Probes{
			LagInterval:       Duration(50 * time.Millisecond),
			HeartbeatInterval: Duration(20 * time.Millisecond),
			AuditTimeout:      Duration(time.Minute),
		},
		Repeat: Repeat{Times: 1},
		Matrix: []Axis{
			{Setting: "synchronous_commit", Values: []string{"local", "on"}, Line: 56},
			{Setting: "work_mem", Values: []string{"4MB", "64MB", "1GB"}, Line: 57},
		},
	}
	s.File, s.Source = "", nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("full.yaml:\ngot  %+v\nwant %+v", s, want)
	}
	if n := len(Expand(s)); n != 6 {
		t.Errorf("Expand gave %d plans, want 6", n)
	}
	if got := Expand(s)[0].SynchronousStandbyNames(); got != "ANY 1 (east, west)" {
		t.Errorf("SynchronousStandbyNames() = %q", got)
	}
}

// TestREADMEExamples checks the scenario examples in scenarios/README.md:
// each YAML block with a name and a duration must be valid, unless the next
// block is a text block, which must then be exactly its problems (as
// demo.yaml).
func TestREADMEExamples(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "scenarios", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	type block struct{ lang, body string }
	var blocks []block
	parts := strings.Split(string(data), "```")
	for i := 1; i+1 < len(parts); i += 2 {
		lang, body, _ := strings.Cut(parts[i], "\n")
		blocks = append(blocks, block{lang, body})
	}
	checked := 0
	for i, b := range blocks {
		if b.lang != "yaml" || !strings.Contains(b.body, "\nduration:") {
			continue
		}
		checked++
		_, err := Parse("demo.yaml", []byte(b.body))
		if i+1 < len(blocks) && blocks[i+1].lang == "text" {
			want := strings.TrimSpace(blocks[i+1].body)
			if err == nil || err.Error() != want {
				t.Errorf("README block %d: problems differ\ngot:\n%v\nwant:\n%s", i, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("README block %d is not valid:\n%v", i, err)
		}
	}
	if checked < 2 {
		t.Errorf("checked %d README examples, want the annotated one and the error one", checked)
	}
}

func TestSynchronousAfterFailover(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, topology, sync string
		survivors            []string
		want                 string
	}{
		{"the async survivor becomes the synchronous standby", "replicas: [{name: replica1, sync: true}, {name: replica2}]", "", []string{"replica2"}, "FIRST 1 (replica2)"},
		{"sync replicas first, every survivor listed", "replicas: [{name: a}, {name: b, sync: true}, {name: c, sync: true}]\n  sync_count: 1", "", []string{"a", "c"}, "FIRST 1 (c, a)"},
		{"quorum keeps its method, count at most the survivors", "replicas: [{name: a, sync: true}, {name: b, sync: true}, {name: c, sync: true}]\n  sync_method: any\n  sync_count: 2", "", []string{"c"}, "ANY 1 (c)"},
		{"no standby survives: asynchronous", "replicas: [{name: a, sync: true}]", "", nil, ""},
		{"an asynchronous topology stays so", "replicas: [{name: a}, {name: b}]", "", []string{"b"}, ""},
		{"drop asks for it", "replicas: [{name: a, sync: true}, {name: b}]", "drop", []string{"b"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := "name: t\nduration: 10s\ntopology:\n  " + tc.topology + "\n"
			if tc.sync != "" {
				src += "failover: {synchronous: " + tc.sync + "}\n"
			}
			s := mustParse(t, src)
			if got := Expand(s)[0].SynchronousAfterFailover(tc.survivors); got != tc.want {
				t.Errorf("SynchronousAfterFailover(%v) = %q, want %q", tc.survivors, got, tc.want)
			}
		})
	}
}
