package verdict

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/metric"
	"github.com/pgbench-ha/pgbench-ha/result"
)

func TestExtractorsMatchDefs(t *testing.T) {
	t.Parallel()
	if len(extractors) != len(metric.Defs) {
		t.Fatalf("%d extractors, %d metric definitions", len(extractors), len(metric.Defs))
	}
	for i, d := range metric.Defs {
		if extractors[i].name != d.Name {
			t.Errorf("extractor %d is %q, metric.Defs has %q", i, extractors[i].name, d.Name)
		}
		if _, ok := defaultTolerances[d.Name]; !ok {
			t.Errorf("no default tolerance for %s", d.Name)
		}
	}
}

func TestValues(t *testing.T) {
	t.Parallel()
	r := fixtureResult()
	off := Values(&r.Variants[0])
	want := map[string]float64{
		"tps": 1400, "capacity_tps": 7000, "p99_commit_ms": 0.87, "lost_acked_writes": 26, "ghost_writes": 0,
		"write_unavailable_ms": 1122, "recovery_ms": 1117, "detect_ms": 1010, "promote_ms": 48,
		"max_replay_lag_bytes": 900_000, "p99_visibility_ms": 25, "bring_up_ms": 1200,
		"failed_writes": 6, "unknown_writes": 4,
		"subscriber_missing_acked_writes": 3, "max_subscriber_lag_ms": 40, "max_subscriber_lag_bytes": 70_000,
		"max_archive_lag_bytes": 5_000_000, "archive_failures": 0,
		"dump_ms": 120, "restore_ms": 1000, "dump_missing_acked_writes": 2000, "pitr_ms": 1500,
		"pitr_missing_acked_writes": 0, "pitr_rpo_ms": 0, "archive_standby_missing_acked_writes": 250,
		"max_archive_standby_lag_bytes": 3_000_000,
	}
	for k, v := range want {
		if got, ok := off[k]; !ok || math.Abs(got-v) > 1e-9 {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if len(off) != len(metric.Defs) {
		t.Errorf("a complete variant with every figure measured %d metrics, want %d", len(off), len(metric.Defs))
	}
	if got := Values(&r.Variants[2]); len(got) != 0 {
		t.Errorf("a failed variant measured %v, want nothing", got)
	}
	noFault := r.Variants[0]
	noFault.Summary.Failover = nil
	if _, ok := Value(&noFault, "write_unavailable_ms"); ok {
		t.Error("write_unavailable_ms measured without a fault")
	}
	noFault.Summary.Capacity = nil
	if _, ok := Value(&noFault, "capacity_tps"); ok {
		t.Error("capacity_tps measured without a capacity burst")
	}
}

func TestCompareSameResultPasses(t *testing.T) {
	t.Parallel()
	for name, r := range map[string]*result.Result{"complete": completeResult(), "partial": fixtureResult()} {
		c := Compare(r, r, nil)
		if c.Regressed() {
			t.Errorf("%s: comparing a result with itself regressed: %+v", name, c.Regressions())
		}
	}
}

func TestCompareDoctoredRegresses(t *testing.T) {
	t.Parallel()
	base := completeResult()
	c := Compare(base, doctored(base), DefaultTolerances())
	if !c.Regressed() {
		t.Fatal("a doubled p99 and 3 lost writes did not regress")
	}
	var got []string
	for _, r := range c.Regressions() {
		got = append(got, r.Variant+" "+r.Metric)
	}
	want := []string{"synchronous_commit=on p99_commit_ms", "synchronous_commit=on lost_acked_writes"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("regressions = %q, want %q", got, want)
	}
	for _, r := range c.Regressions() {
		if r.Metric == "p99_commit_ms" && math.Abs(r.ChangePct-100) > 1e-9 {
			t.Errorf("p99 change = %v%%, want +100%%", r.ChangePct)
		}
	}
	// A tolerance wide enough lets the latency through, not the loss.
	tol := DefaultTolerances()
	if err := tol.Set("p99_commit_ms=150%"); err != nil {
		t.Fatal(err)
	}
	c = Compare(base, doctored(base), tol)
	if n := len(c.Regressions()); n != 1 || c.Regressions()[0].Metric != "lost_acked_writes" {
		t.Errorf("with p99_commit_ms=150%%: regressions %+v, want lost_acked_writes only", c.Regressions())
	}
}

func TestCompareMissingVariant(t *testing.T) {
	t.Parallel()
	c := Compare(completeResult(), fixtureResult(), nil)
	if !c.Regressed() {
		t.Fatal("a variant that failed in the current run is not a regression")
	}
	// remote_apply failed: every metric of it is missing.
	for _, v := range c.Variants {
		if v.Name != "synchronous_commit=remote_apply" {
			continue
		}
		for _, m := range v.Metrics {
			if !m.Regression || m.Current.N != 0 {
				t.Errorf("%s: regression %v, current %+v; want a regression, not measured", m.Metric, m.Regression, m.Current)
			}
		}
	}
	cur := completeResult()
	cur.Variants = cur.Variants[:2]
	c = Compare(completeResult(), cur, nil)
	if got := c.MissingVariants(); !reflect.DeepEqual(got, []string{"synchronous_commit=remote_apply"}) {
		t.Errorf("missing = %q", got)
	}
}

// withP99 returns completeResult with the on variant's p99 set to ms.
func withP99(ms float64) *result.Result {
	r := completeResult()
	r.Variants[1].Summary.CommitLatency.P99 = ms
	return r
}

func TestBaselineSpread(t *testing.T) {
	t.Parallel()
	// Three baseline runs: p99 4, 6 and 8 ms; median 6, spread 2. The
	// default tolerance alone allows 25% of 6 = 1.5 ms.
	base, err := Aggregate(withP99(4), withP99(6), withP99(8))
	if err != nil {
		t.Fatal(err)
	}
	st := base.Variant("synchronous_commit=on").Metrics["p99_commit_ms"]
	if st != (Stat{Median: 6, Min: 4, Max: 8, N: 3}) {
		t.Fatalf("stat = %+v", st)
	}
	tests := []struct {
		name    string
		base    *Set
		current []float64
		regress bool
	}{
		{"within the spread", base, []float64{7.9}, false},
		{"beyond the spread", base, []float64{8.1}, true},
		{"one baseline run: tolerance only", mustAggregate(t, withP99(6)), []float64{7.9}, true},
		{"median of the current runs", base, []float64{6, 30, 6.5}, false},
		{"median of the current runs regressed", base, []float64{9, 30, 6.5}, true},
		{"better is not a regression", base, []float64{1}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sets []*Set
			for _, ms := range tc.current {
				sets = append(sets, mustAggregate(t, withP99(ms)))
			}
			cur, err := Merge(sets...)
			if err != nil {
				t.Fatal(err)
			}
			c := CompareSets(tc.base, cur, nil)
			if got := c.Regressed(); got != tc.regress {
				t.Errorf("regressed = %v, want %v: %+v", got, tc.regress, c.Regressions())
			}
		})
	}
}

func mustAggregate(t *testing.T, rs ...*result.Result) *Set {
	t.Helper()
	s, err := Aggregate(rs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAbsoluteFloor(t *testing.T) {
	t.Parallel()
	// 0.1 ms to 0.2 ms doubles, but stays under the 0.5 ms floor of p50.
	b, c := completeResult(), completeResult()
	b.Variants[0].Summary.CommitLatency.P50 = 0.1
	c.Variants[0].Summary.CommitLatency.P50 = 0.2
	if cmp := Compare(b, c, nil); cmp.Regressed() {
		t.Errorf("0.1 → 0.2 ms regressed: %+v", cmp.Regressions())
	}
}

func TestTolerancesSet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec    string
		metric  string
		want    Tolerance
		wantErr string
	}{
		{spec: "p99_commit_ms=15%", metric: "p99_commit_ms", want: Tolerance{Rel: 0.15, Abs: 1}},
		{spec: "lost_acked_writes=5", metric: "lost_acked_writes", want: Tolerance{Abs: 5}},
		{spec: " tps = 2.5% ", metric: "tps", want: Tolerance{Rel: 0.025, Abs: 5}},
		{spec: "40%", metric: "max_commit_ms", want: Tolerance{Rel: 0.4, Abs: 100}},
		{spec: "p99_commit=15%", wantErr: `unknown metric "p99_commit"`},
		{spec: "tps=fast", wantErr: "want NAME=PERCENT%"},
		{spec: "tps=-5%", wantErr: "want NAME=PERCENT%"},
		{spec: "5", wantErr: "needs a metric name"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			tol := DefaultTolerances()
			err := tol.Set(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Set(%q) = %v, want an error containing %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := tol.For(tc.metric); math.Abs(got.Rel-tc.want.Rel) > 1e-12 || got.Abs != tc.want.Abs {
				t.Errorf("For(%s) = %+v, want %+v", tc.metric, got, tc.want)
			}
		})
	}
}

func TestEvaluate(t *testing.T) {
	t.Parallel()
	got := Evaluate(fixtureResult(), fixtureThresholds())
	want := []struct {
		passed  bool
		value   *float64
		message string
	}{
		{true, ptr(0), "max of synchronous_commit=on is 0 writes, <= 0 writes"},
		{false, ptr(6.91), "not measured in synchronous_commit=remote_apply"},
		{false, ptr(1122), "not measured in synchronous_commit=remote_apply"},
		{true, ptr(1399.5), "min of 2 variants is 1,400 writes/s, >= 1,000 writes/s"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d results, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Passed != w.passed {
			t.Errorf("%s: passed = %v, want %v (%s)", g.Name, g.Passed, w.passed, g.Message)
		}
		if (g.Value == nil) != (w.value == nil) || (g.Value != nil && math.Abs(*g.Value-*w.value) > 1e-9) {
			t.Errorf("%s: value = %v, want %v", g.Name, g.Value, w.value)
		}
		if !strings.Contains(g.Message, w.message) {
			t.Errorf("%s: message %q, want it to contain %q", g.Name, g.Message, w.message)
		}
	}
	// On the complete run, the p99 threshold fails on the values alone and names them.
	got = Evaluate(completeResult(), fixtureThresholds()[1:2])
	if got[0].Passed || !strings.Contains(got[0].Message, "synchronous_commit=on (6.91 ms)") {
		t.Errorf("p99 max 5 on the complete run: %+v", got[0])
	}
	if Failed(got) != 1 {
		t.Errorf("Failed = %d", Failed(got))
	}
}

func TestEvaluateNoMatch(t *testing.T) {
	t.Parallel()
	got := Evaluate(completeResult(), []Threshold{{Metric: "tps", Aggregation: "min", Limit: 1, Where: map[string][]string{"synchronous_commit": {"local"}}}})
	if got[0].Passed || !strings.Contains(got[0].Message, "no variant matches synchronous_commit=local") {
		t.Errorf("%+v", got[0])
	}
}

func TestAggregate(t *testing.T) {
	t.Parallel()
	vals := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	tests := []struct {
		agg    string
		better metric.Direction
		want   float64
	}{
		{"max", metric.Lower, 10},
		{"min", metric.Lower, 1},
		{"mean", metric.Lower, 5.5},
		{"p50", metric.Lower, 5},
		{"p90", metric.Lower, 9},
		{"p99", metric.Lower, 10},
		// Higher is better: the value 90% of the variants reach.
		{"p90", metric.Higher, 2},
		{"p50", metric.Higher, 6},
	}
	for _, tc := range tests {
		if got := aggregate(tc.agg, tc.better, vals); got != tc.want {
			t.Errorf("%s (%s is better) = %v, want %v", tc.agg, tc.better, got, tc.want)
		}
	}
	th := Threshold{Metric: "tps", Aggregation: "p90", Limit: 1}
	if th.Bound() != ">=" {
		t.Errorf("tps p90 bound %s, want >=", th.Bound())
	}
}

func TestSetRoundTrip(t *testing.T) {
	t.Parallel()
	s, err := Aggregate(completeResult(), doctored(completeResult()))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "b", BaselineFile)
	if err := WriteSet(path, s); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSet(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != SetVersion || len(back.Runs) != 2 || len(back.Variants) != 3 {
		t.Fatalf("read back %+v", back)
	}
	st := back.Variant("synchronous_commit=on").Metrics["lost_acked_writes"]
	if st != (Stat{Median: 1.5, Min: 0, Max: 3, N: 2}) {
		t.Errorf("lost_acked_writes = %+v", st)
	}
	// A result.json reads as a set of one run.
	dir := t.TempDir()
	if err := result.Write(filepath.Join(dir, "result.json"), completeResult()); err != nil {
		t.Fatal(err)
	}
	one, err := ReadSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Runs) != 1 || one.Scenario != "sync-vs-async" {
		t.Errorf("result as set: %+v", one)
	}
	if _, err := Aggregate(completeResult(), func() *result.Result { r := completeResult(); r.Run.Scenario = "other"; return r }()); err == nil {
		t.Error("aggregating two scenarios did not fail")
	}
}

// repeated returns completeResult whose on variant ran three times,
// losing lost[i] writes and writes unavailable for unavailable[i] ms in
// repetition i.
func repeated(lost []int64, unavailable []float64) *result.Result {
	r := completeResult()
	v := &r.Variants[1]
	for i := range lost {
		f := *v.Summary.Failover
		f.WriteUnavailableMs = ptr(unavailable[i])
		v.Repetitions = append(v.Repetitions, result.Repetition{
			Index: i + 1, Status: result.StatusComplete, TPS: 1400, P99CommitMs: 6.91,
			Lost: lost[i], Failover: &f,
		})
	}
	return r
}

func TestRepetitions(t *testing.T) {
	t.Parallel()
	r := repeated([]int64{0, 2, 0}, []float64{1000, 1200, 9000})
	s := Samples(&r.Variants[1])
	if got := s["lost_acked_writes"]; !reflect.DeepEqual(got, []float64{0, 2, 0}) {
		t.Errorf("lost samples = %v", got)
	}
	if got, _ := Value(&r.Variants[1], "write_unavailable_ms"); got != 1200 {
		t.Errorf("write_unavailable_ms = %v, want the median 1200", got)
	}
	if got := s["p50_commit_ms"]; len(got) != 1 {
		t.Errorf("a figure repetitions do not record has %d samples, want the summary's one", len(got))
	}
	// One repetition losing writes fails max 0; the p90 over every
	// repetition of every variant sees the 9 s outage.
	res := Evaluate(r, []Threshold{
		{Metric: "lost_acked_writes", Aggregation: "max", Limit: 0, Where: map[string][]string{"synchronous_commit": {"on"}}},
		{Metric: "write_unavailable_ms", Aggregation: "p90", Limit: 5000},
		{Metric: "write_unavailable_ms", Aggregation: "p50", Limit: 5000},
	})
	if res[0].Passed || *res[0].Value != 2 {
		t.Errorf("lost max 0: %+v", res[0])
	}
	if res[1].Passed || *res[1].Value != 9000 || !strings.Contains(res[1].Message, "5 runs of 3 variants") {
		t.Errorf("unavailable p90: %+v", res[1])
	}
	if !res[2].Passed {
		t.Errorf("unavailable p50: %+v", res[2])
	}
	// Compared by their medians: the repetitions' spread is the baseline's.
	base, cur := mustAggregate(t, repeated([]int64{0, 2, 0}, []float64{1000, 1200, 1500})), mustAggregate(t, repeated([]int64{0, 0, 1}, []float64{1300, 1700, 1300}))
	if st := base.Variant("synchronous_commit=on").Metrics["write_unavailable_ms"]; st != (Stat{Median: 1200, Min: 1000, Max: 1500, N: 3}) {
		t.Errorf("baseline stat %+v", st)
	}
	if c := CompareSets(base, cur, nil); c.Regressed() {
		t.Errorf("within the repetitions' spread, yet regressed: %+v", c.Regressions())
	}
}
