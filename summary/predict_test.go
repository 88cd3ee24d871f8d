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
		{"patroni, leader cut off etcd, through HAProxy", Model{Mode: "patroni", TTL: 20 * s, LoopWait: 5 * s, RetryTimeout: 5 * s, Path: "haproxy", Inter: s, Rise: 2}, "partition", ProcStore,
			-10_000 + 15_000 + 0 + 30 + 1_000, -5_000 + 20_500 + 5_000 + 3_000 + 2_000, "patroni: leader cut off etcd, failsafe_mode off"},
		{"patroni, leader isolated, failsafe_mode on: the same model", Model{Mode: "patroni", TTL: 20 * s, LoopWait: 5 * s, RetryTimeout: 5 * s, FailsafeMode: true, Path: "direct"}, "isolate", ProcStore,
			-10_000 + 15_000 + 0 + 30, -5_000 + 20_500 + 5_000 + 3_000, "patroni: leader isolated (cut off etcd and its replicas)"},
		{"patroni, leader cut off etcd under failsafe_mode: no model", Model{Mode: "patroni", TTL: 20 * s, LoopWait: 5 * s, RetryTimeout: 5 * s, FailsafeMode: true}, "partition", ProcStore, 0, 0, ""},
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

func TestCutsOffStore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		targets []string
		members int
		want    bool
	}{
		{[]string{"primary", "etcd1"}, 1, true},
		{[]string{"etcd1", "primary", "etcd2", "etcd3"}, 3, true},
		{[]string{"primary", "etcd1"}, 3, false},             // it still reaches etcd2, etcd3
		{[]string{"primary", "replica1", "etcd1"}, 1, false}, // a replica cut off too
		{[]string{"replica1", "etcd1"}, 1, false},            // not the old primary
		{[]string{"primary", "etcd1"}, 0, false},             // no store
	} {
		if got := cutsOffStore(tc.targets, "primary", tc.members); got != tc.want {
			t.Errorf("cutsOffStore(%v, %d) = %v, want %v", tc.targets, tc.members, got, tc.want)
		}
	}
}

// TestFailoverPredicts: Failover sets the prediction of a fault on the old
// primary and judges the measured outage against it.
func TestFailoverPredicts(t *testing.T) {
	t.Parallel()
	in := Input{Nodes: nodes, OldPrimary: "primary", FailoverMode: "patroni",
		Model:  Model{Mode: "patroni", TTL: 20 * time.Second, LoopWait: 5 * time.Second, RetryTimeout: 5 * time.Second, StoreMembers: 1, Path: "direct"},
		Ledger: ledgerOf(ack{0, 990, 0}, ack{0, 6000, 0}, ack{1, 20000, 0})}
	cut := result.Fault{Index: 0, Kind: "partition", Targets: []string{"primary", "etcd1"}, Outcome: result.OutcomeInjected, InjectedMs: fp(1000)}
	events := []result.Event{{Ms: 19000, Kind: result.EventDetected, Node: "primary"}, {Ms: 19500, Kind: result.EventPromoteStart, Node: "replica1"},
		{Ms: 19800, Kind: result.EventPromoteDone, Node: "replica1"}}
	f, _ := Failover(in, fired([]result.Fault{cut}), events)
	if f.Predicted == nil || f.Predicted.Model != "patroni: leader cut off etcd, failsafe_mode off" || f.Predicted.Verdict != result.VerdictWithin {
		t.Fatalf("prediction %+v for an outage of %v ms", f.Predicted, f.WriteUnavailableMs)
	}
	in.Model.StoreMembers = 3 // etcd2 and etcd3 still reachable: no model
	if f, _ := Failover(in, fired([]result.Fault{cut}), events); f.Predicted != nil {
		t.Errorf("prediction %+v for a partition that leaves two etcd members reachable", f.Predicted)
	}
}
