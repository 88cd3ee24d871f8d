package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgbench-ha/pgbench-ha/result"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestWriteTextGolden(t *testing.T) {
	cases := []struct {
		name   string
		result func(t *testing.T) *result.Result
	}{
		{"summary", func(t *testing.T) *result.Result { return synthResult(t) }},
		{"interrupted", func(t *testing.T) *result.Result {
			r := synthResult(t)
			r.Status = result.StatusInterrupted
			r.Error = "interrupted by the user (SIGINT)"
			r.Variants[4] = result.Variant{Name: "synchronous_commit=remote_apply", Status: result.StatusPending}
			return r
		}},
		{"catalogue", func(t *testing.T) *result.Result { return synthCatalogue(t) }},
		{"capacity", func(t *testing.T) *result.Result { return withCapacity(synthResult(t)) }},
		{"mixed-names", func(t *testing.T) *result.Result {
			r := synthResult(t)
			r.Variants[0].Name = "synchronous_commit=off,failover=promote,detect_after=1s,extra=a-rather-long-value"
			return r
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			WriteText(&buf, tc.result(t))
			got := buf.String()
			for i, line := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(line); n > textWidth {
					t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
				}
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report/ -run TestWriteTextGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("WriteText output differs from %s (rerun with -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestWriteTextNil(t *testing.T) {
	var buf bytes.Buffer
	WriteText(&buf, nil)
	WriteText(&buf, &result.Result{})
	if buf.Len() == 0 {
		t.Error("no output")
	}
}

// TestWriteTextReadsPhases: the table compares the levels before the
// fault and after the failover, not over the whole run, whose TPS and
// latency blend in the outage.
func TestWriteTextReadsPhases(t *testing.T) {
	v := result.Variant{Name: "synchronous_commit=on", Status: result.StatusComplete,
		Summary: result.Summary{Attempted: 9000, TPS: 700, CommitLatency: result.Latency{N: 10, P50: 9, P99: 900}},
		Phases: []result.PhaseStats{
			{Kind: result.PhaseBefore, TPS: 1000, Acked: 5000, P50CommitMs: 1.25, P99CommitMs: 3.5, MaxReplayLagBytes: 2048, MaxVisibilityMs: 7.5},
			{Kind: result.PhaseOutage, TPS: 0, Acked: 0},
			{Kind: result.PhaseAfterFailover, TPS: 990, Acked: 4000, P50CommitMs: 1.75, P99CommitMs: 4},
		}}
	var b strings.Builder
	WriteText(&b, &result.Result{Status: result.StatusComplete, Variants: []result.Variant{v}})
	var row string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "on  ") {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 9 || f[1] != "1,000" || f[2] != "1.25" || f[3] != "3.5" || f[4] != "1.75" || f[6] != "2.0" || f[8] != "7.5" {
		t.Errorf("row %q: want TPS 1,000, p50 1.25, p99 3.5, aft 1.75, lag 2.0 KiB, vis 7.5 from the phases\n%s", row, b.String())
	}
}

// withCapacity gives each variant of r with data a capacity, in the
// order pgbench gives the levels on a 2-core machine.
func withCapacity(r *result.Result) *result.Result {
	tps := map[string]float64{"off": 22_140, "local": 8_610, "remote_write": 7_020, "on": 6_480, "remote_apply": 5_930}
	for i := range r.Variants {
		v := &r.Variants[i]
		if !hasData(v) {
			continue
		}
		x := tps[v.Settings["synchronous_commit"]]
		v.Summary.Capacity = &result.Capacity{StartMs: 13000, EndMs: 16000, DurationMs: 3000, Writers: 8, Acked: int64(3 * x), TPS: x,
			CommitLatency: result.Latency{P50: 8000 / x, P99: 24000 / x, N: int64(3 * x)}}
	}
	return r
}

// TestWriteTextCapacity: each variant's capacity is a column of the text
// summary, which stays within its width; a variant that did not
// complete says so after its name.
func TestWriteTextCapacity(t *testing.T) {
	var b strings.Builder
	WriteText(&b, withCapacity(synthResult(t)))
	want := map[string][]string{"off": {"22.1k"}, "local": {"8.6k"}, "on": {"6.5k"}, "remote_apply": {"5.9k"}}
	head := false
	for _, l := range strings.Split(b.String(), "\n") {
		if utf8.RuneCountInString(l) > textWidth {
			t.Errorf("line %q is wider than %d", l, textWidth)
		}
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		if f[0] == "synchronous_commit" {
			head = f[1] == "TPS" && f[2] == "cap"
		}
		if w, ok := want[f[0]]; ok {
			if f[2] != w[0] {
				t.Errorf("row %q: want %s in the third field", l, w[0])
			}
			delete(want, f[0])
		}
	}
	if !strings.Contains(b.String(), "\nremote_write (failed)  ") {
		t.Errorf("no status after the failed variant's name:\n%s", b.String())
	}
	if !head || len(want) > 0 {
		t.Errorf("no cap column after TPS, or rows missing %v:\n%s", want, b.String())
	}
}

// TestPredictionShown: a failover's predicted range and verdict reach the
// text summary and the variant's failover table in the HTML report.
func TestPredictionShown(t *testing.T) {
	r := synthResult(t)
	v := &r.Variants[0]
	if v.Summary.Failover == nil {
		t.Fatal("the synthetic variant has no failover")
	}
	v.Summary.Failover.Predicted = &result.Prediction{Model: "patroni: leader node killed", LowMs: 20_030, HighMs: 43_000,
		Terms:   []result.PredictionTerm{{Name: "leader key expiry", LowMs: 20_000, HighMs: 30_000, Rule: "ttl - loop_wait .. ttl"}, {Name: "promotion", LowMs: 30, HighMs: 13_000, Rule: "r"}},
		Verdict: result.VerdictAbove, Sentence: "The write outage, 50,000 ms, is longer than the settings predict (20,030–43,000 ms)."}
	var b strings.Builder
	WriteText(&b, r)
	if !strings.Contains(strings.Join(strings.Fields(b.String()), " "), v.Name+": The write outage, 50,000 ms, is longer than the settings predict (20,030–43,000 ms). (patroni: leader node killed)") {
		t.Errorf("no prediction note in the text summary:\n%s", b.String())
	}
	_, page := mustRender(t, r)
	for _, want := range []string{"Predicted by the settings", "leader key expiry 20,000–30,000 ms", "is longer than the settings predict"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}

// TestPredictionBesideRepetitions: the repetitions' outages are drawn
// over the range the settings predict, and the legend says so.
func TestPredictionBesideRepetitions(t *testing.T) {
	r := synthCatalogue(t)
	fig, ok := prepare(r).repetitionsFigure()
	if !ok {
		t.Fatal("no repetitions figure")
	}
	if len(fig.legend) != 0 {
		t.Errorf("a legend without a prediction: %v", fig.legend)
	}
	r.Variants[3].Summary.Failover.Predicted = &result.Prediction{Model: "promote: primary killed", LowMs: 1_030, HighMs: 2_510}
	fig, _ = prepare(r).repetitionsFigure()
	if len(fig.legend) != 1 || fig.legend[0].label != "the outage the settings predict" || !strings.Contains(fig.note, "shaded band") {
		t.Errorf("legend %v, note %q", fig.legend, fig.note)
	}
	if err := fig.save(filepath.Join(t.TempDir(), "r.png")); err != nil {
		t.Fatal(err)
	}
}
