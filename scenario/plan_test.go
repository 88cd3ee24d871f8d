package scenario

import (
	"reflect"
	"testing"
	"time"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	type want struct {
		name   string
		values map[string]string
	}
	tests := []struct {
		name  string
		src   string
		plans []want
	}{
		{
			name:  "no matrix",
			src:   minimal,
			plans: []want{{"default", map[string]string{}}},
		},
		{
			name: "one axis",
			src:  minimal + "matrix:\n  synchronous_commit: [off, on]\n",
			plans: []want{
				{"synchronous_commit=off", map[string]string{"synchronous_commit": "off"}},
				{"synchronous_commit=on", map[string]string{"synchronous_commit": "on"}},
			},
		},
		{
			name: "first axis varies slowest",
			src:  minimal + "matrix:\n  work_mem: [4MB, 8MB]\n  synchronous_commit: [off, local, on]\n",
			plans: []want{
				{"work_mem=4MB,synchronous_commit=off", map[string]string{"work_mem": "4MB", "synchronous_commit": "off"}},
				{"work_mem=4MB,synchronous_commit=local", map[string]string{"work_mem": "4MB", "synchronous_commit": "local"}},
				{"work_mem=4MB,synchronous_commit=on", map[string]string{"work_mem": "4MB", "synchronous_commit": "on"}},
				{"work_mem=8MB,synchronous_commit=off", map[string]string{"work_mem": "8MB", "synchronous_commit": "off"}},
				{"work_mem=8MB,synchronous_commit=local", map[string]string{"work_mem": "8MB", "synchronous_commit": "local"}},
				{"work_mem=8MB,synchronous_commit=on", map[string]string{"work_mem": "8MB", "synchronous_commit": "on"}},
			},
		},
		{
			name: "three axes",
			src:  minimal + "matrix:\n  jit: [on]\n  fsync: [on, off]\n  work_mem: [1MB, 2MB]\n",
			plans: []want{
				{"jit=on,fsync=on,work_mem=1MB", map[string]string{"jit": "on", "fsync": "on", "work_mem": "1MB"}},
				{"jit=on,fsync=on,work_mem=2MB", map[string]string{"jit": "on", "fsync": "on", "work_mem": "2MB"}},
				{"jit=on,fsync=off,work_mem=1MB", map[string]string{"jit": "on", "fsync": "off", "work_mem": "1MB"}},
				{"jit=on,fsync=off,work_mem=2MB", map[string]string{"jit": "on", "fsync": "off", "work_mem": "2MB"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, tt.src)
			plans := Expand(s)
			if len(plans) != len(tt.plans) {
				t.Fatalf("got %d plans, want %d: %+v", len(plans), len(tt.plans), plans)
			}
			var order []string
			for _, ax := range s.Matrix {
				order = append(order, ax.Setting)
			}
			for i, p := range plans {
				w := tt.plans[i]
				if p.Index != i || p.Name != w.name || !reflect.DeepEqual(p.Values, w.values) || p.Scenario != s {
					t.Errorf("plan %d = {Index %d, Name %q, Values %v}, want {%d, %q, %v}", i, p.Index, p.Name, p.Values, i, w.name, w.values)
				}
				if !reflect.DeepEqual(p.ValueOrder, order) {
					t.Errorf("plan %d ValueOrder = %q, want %q", i, p.ValueOrder, order)
				}
			}
		})
	}
}

func TestSynchronousStandbyNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		topology string
		want     string
	}{
		{"no replicas", "topology: {}\n", ""},
		{"only async", "topology: {replicas: [{}, {}]}\n", ""},
		{"first, default count", "topology: {replicas: [{sync: true}, {}]}\n", "FIRST 1 (replica1)"},
		{"first, two of three", "topology: {replicas: [{sync: true}, {sync: true}, {sync: true}], sync_count: 2}\n", "FIRST 2 (replica1, replica2, replica3)"},
		{"any, default count", "topology: {sync_method: any, replicas: [{}, {sync: true}, {sync: true}]}\n", "ANY 2 (replica2, replica3)"},
		{"any one", "topology: {sync_method: any, sync_count: 1, replicas: [{name: a, sync: true}, {name: b, sync: true}]}\n", "ANY 1 (a, b)"},
		{"keyword names are quoted", "topology: {replicas: [{name: first, sync: true}, {name: any, sync: true}]}\n", `FIRST 2 ("first", "any")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, minimal+tt.topology)
			if got := Expand(s)[0].SynchronousStandbyNames(); got != tt.want {
				t.Errorf("SynchronousStandbyNames() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestQuoteStandbyName(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, want string }{
		{"replica1", "replica1"},
		{"_r", "_r"},
		{"first", `"first"`},
		{"any", `"any"`},
		{"Replica", `"Replica"`},
		{"1st", `"1st"`},
		{"a-b", `"a-b"`},
		{`a"b`, `"a""b"`},
		{"*", `"*"`},
	}
	for _, tt := range tests {
		if got := quoteStandbyName(tt.name); got != tt.want {
			t.Errorf("quoteStandbyName(%q) = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestNodeSettings(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+`topology:
  settings: {shared_buffers: 128MB, work_mem: 4MB, synchronous_commit: on}
  primary_settings: {work_mem: 8MB, max_connections: 200}
  replicas:
    - name: r1
      settings: {work_mem: 16MB, max_standby_streaming_delay: 30s}
    - name: r2
matrix:
  synchronous_commit: [off, remote_apply]
  work_mem: [1MB]
`)
	plans := Expand(s)
	tests := []struct {
		name string
		plan int
		node string
		want map[string]string
	}{
		{"primary", 0, "primary", map[string]string{"shared_buffers": "128MB", "work_mem": "1MB", "synchronous_commit": "off", "max_connections": "200"}},
		{"replica with settings", 0, "r1", map[string]string{"shared_buffers": "128MB", "work_mem": "1MB", "synchronous_commit": "off", "max_standby_streaming_delay": "30s"}},
		{"replica without settings", 1, "r2", map[string]string{"shared_buffers": "128MB", "work_mem": "1MB", "synchronous_commit": "remote_apply"}},
		{"unknown node", 1, "nobody", map[string]string{"shared_buffers": "128MB", "work_mem": "1MB", "synchronous_commit": "remote_apply"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := plans[tt.plan].NodeSettings(tt.node); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("NodeSettings(%q):\ngot  %v\nwant %v", tt.node, got, tt.want)
			}
		})
	}
	t.Run("without a matrix", func(t *testing.T) {
		t.Parallel()
		s := mustParse(t, minimal+"topology: {settings: {work_mem: 4MB}, primary_settings: {work_mem: 8MB}, replicas: [{}]}\n")
		p := Expand(s)[0]
		if got := p.NodeSettings("primary"); !reflect.DeepEqual(got, map[string]string{"work_mem": "8MB"}) {
			t.Errorf("primary: %v", got)
		}
		if got := p.NodeSettings("replica1"); !reflect.DeepEqual(got, map[string]string{"work_mem": "4MB"}) {
			t.Errorf("replica1: %v", got)
		}
	})
	t.Run("result is a copy", func(t *testing.T) {
		t.Parallel()
		p := plans[0]
		p.NodeSettings("primary")["work_mem"] = "changed"
		if got := p.NodeSettings("primary")["work_mem"]; got != "1MB" {
			t.Errorf("NodeSettings shares its map: work_mem = %q", got)
		}
	})
}

func TestRateAt(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+`workload:
  rate: 100
  bursts:
    - {at: 5s, duration: 10s, rate: 500}
    - {at: 8s, duration: 2s, rate: 0}
    - {at: 20s, duration: 1s, rate: 50}
`)
	tests := []struct {
		name string
		at   time.Duration
		want float64
	}{
		{"before any burst", 0, 100},
		{"burst starts inclusive", 5 * time.Second, 500},
		{"later burst wins on overlap", 8 * time.Second, 0},
		{"later burst ends exclusive", 10 * time.Second, 500},
		{"first burst ends exclusive", 15 * time.Second, 100},
		{"rate below base", 20*time.Second + 500*time.Millisecond, 50},
		{"after the last burst", 29 * time.Second, 100},
		{"negative offset", -time.Second, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := s.RateAt(tt.at); got != tt.want {
				t.Errorf("RateAt(%s) = %g, want %g", tt.at, got, tt.want)
			}
		})
	}
}

func TestCapacitySpans(t *testing.T) {
	t.Parallel()
	sec := time.Second
	tests := []struct {
		name     string
		workload string
		want     []Span
	}{
		{"no bursts", "workload: {rate: 100}\n", nil},
		{"paced bursts only", "workload: {rate: 100, bursts: [{at: 5s, duration: 2s, rate: 500}]}\n", nil},
		{"one unlimited burst", "workload: {rate: 100, bursts: [{at: 8s, duration: 4s, rate: 4000}, {at: 13s, duration: 3s, rate: 0}]}\n",
			[]Span{{13 * sec, 16 * sec}}},
		{"a later paced burst cuts it", "workload: {rate: 100, bursts: [{at: 5s, duration: 10s, rate: 0}, {at: 8s, duration: 2s, rate: 50}]}\n",
			[]Span{{5 * sec, 8 * sec}, {10 * sec, 15 * sec}}},
		{"a later unlimited burst wins", "workload: {rate: 100, bursts: [{at: 5s, duration: 10s, rate: 500}, {at: 8s, duration: 2s, rate: 0}]}\n",
			[]Span{{8 * sec, 10 * sec}}},
		{"adjacent bursts merge", "workload: {rate: 100, bursts: [{at: 2s, duration: 2s, rate: 0}, {at: 4s, duration: 3s, rate: 0}]}\n",
			[]Span{{2 * sec, 7 * sec}}},
		{"to the end of the window", "workload: {rate: 100, bursts: [{at: 27s, duration: 3s, rate: 0}]}\n",
			[]Span{{27 * sec, 30 * sec}}},
		{"unpaced workload", "workload: {rate: 0, bursts: [{at: 5s, duration: 2s, rate: 500}]}\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustParse(t, minimal+tt.workload)
			if got := s.CapacitySpans(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CapacitySpans() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNodeNames(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+"topology: {replicas: [{name: b}, {}, {name: a}]}\n")
	if got, want := s.NodeNames(), []string{"primary", "b", "replica2", "a"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NodeNames() = %q, want %q", got, want)
	}
	if got, want := (&Scenario{}).NodeNames(), []string{"primary"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NodeNames() without replicas = %q, want %q", got, want)
	}
}
