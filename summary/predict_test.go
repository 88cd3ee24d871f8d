package summary

import (
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestPredict: each model's range is the sum of its terms, from the
// settings; a fault no model covers has no prediction.
func TestPredict(t *testing.T) {
	s := time.Second
	patroni := Model{Mode: "patroni", TTL: 30 * s, LoopWait: 10 * s, PrimaryStartTimeout: 300 * s, Path: "haproxy", Inter: s, Rise: 2}
	tests := []struct {
		name          string
		m             Model
		kind, process string
		lo, hi        float64 // ms; 0, 0: no prediction
		model         string
	}{
		{"patroni defaults, leader killed, through HAProxy", patroni, "kill", "",
			20_000 + 0 + 30 + 1_000, 30_500 + 10_000 + 3_000 + 2_000, "patroni: leader node killed"},
		{"patroni, leader's PostgreSQL killed, direct", Model{Mode: "patroni", TTL: 30 * s, LoopWait: 10 * s, PrimaryStartTimeout: 300 * s, Path: "direct"}, "kill", "postgres",
			100, 10_000 + 5_000, "patroni: leader's PostgreSQL crashed, Patroni alive"},
		{"patroni, leader hung, PgBouncer per node", Model{Mode: "patroni", TTL: 20 * s, LoopWait: 2 * s, Path: "pgbouncer", PgBouncerNodes: true, Inter: s, Rise: 2}, "pause", "",
			18_000 + 30, 20_500 + 2_000 + 3_000, "patroni: leader node hung (paused)"},
		{"promote, killed, direct", Model{Mode: "promote", DetectAfter: s, ProbeInterval: 10 * time.Millisecond, Path: "direct"}, "kill", "",
			1_000 + 30, 1_000 + 10 + 500 + 1_000, "promote: primary killed"},
		{"patroni, strict synchronous mode, direct", Model{Mode: "patroni", TTL: 20 * s, LoopWait: 2 * s, SyncStrict: true, Path: "direct"}, "kill", "",
			18_000 + 30, 20_500 + 2_000 + 3_000 + 7_000, "patroni: leader node killed"},
		{"patroni alone killed: no model", patroni, "kill", "patroni", 0, 0, ""},
		{"a partition: no model", patroni, "partition", "", 0, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Predict(tc.m, tc.kind, tc.process)
			if tc.model == "" {
				if p != nil {
					t.Fatalf("got %+v, want no prediction", p)
				}
				return
			}
			if p == nil {
				t.Fatal("no prediction")
			}
			if p.Model != tc.model || p.LowMs != tc.lo || p.HighMs != tc.hi {
				t.Errorf("got %q %.0f..%.0f ms, want %q %.0f..%.0f ms", p.Model, p.LowMs, p.HighMs, tc.model, tc.lo, tc.hi)
			}
			var lo, hi float64
			for _, term := range p.Terms {
				lo, hi = lo+term.LowMs, hi+term.HighMs
				if term.Rule == "" || term.LowMs > term.HighMs {
					t.Errorf("term %+v", term)
				}
			}
			if lo != p.LowMs || hi != p.HighMs {
				t.Errorf("terms sum to %.0f..%.0f, range %.0f..%.0f", lo, hi, p.LowMs, p.HighMs)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		ms      float64
		verdict string
		says    string
	}{
		{999, result.VerdictBelow, "shorter"},
		{1_000, result.VerdictWithin, "explain"},
		{2_000, result.VerdictWithin, "1,000–2,000 ms"},
		{2_001, result.VerdictAbove, "longer"},
	} {
		p := &result.Prediction{LowMs: 1_000, HighMs: 2_000}
		Judge(p, tc.ms)
		if p.Verdict != tc.verdict || !strings.Contains(p.Sentence, tc.says) {
			t.Errorf("%.0f ms: %s %q", tc.ms, p.Verdict, p.Sentence)
		}
	}
}
