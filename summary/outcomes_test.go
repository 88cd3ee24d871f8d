package summary

import (
	"reflect"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// sent is a ledger entry of a write sent by writer 0: scheduled, sent
// and answered at the given ms (schedMs < 0: unpaced).
func sent(o workload.Outcome, schedMs, sentMs, atMs float64) workload.Entry {
	sched := ms(schedMs)
	if schedMs < 0 {
		sched = -1
	}
	return workload.Entry{Outcome: o, Node: 0, Writer: 0, Scheduled: sched, Sent: ms(sentMs), At: ms(atMs)}
}

// unsentEntry is an id no writer sent.
var unsentEntry = workload.Entry{Outcome: workload.Pending, Node: -1, Writer: -1, Scheduled: -1}

func TestResponseTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []workload.Entry
		// want are the response times (ms) recorded, any order; nil: no
		// histogram.
		want []float64
	}{
		{"no writes", nil, nil},
		{"on schedule: response is service plus the send's lateness",
			[]workload.Entry{sent(workload.Acked, 10, 12, 15)}, []float64{5}},
		{"queued behind the schedule: the wait counts",
			[]workload.Entry{sent(workload.Acked, 100, 1100, 1101), sent(workload.Acked, 200, 1100, 1102)}, []float64{1001, 902}},
		{"only acknowledged writes", []workload.Entry{
			sent(workload.Failed, 10, 11, 12), sent(workload.Unknown, 10, 11, 40), sent(workload.Pending, 10, 11, 0),
			sent(workload.Acked, 20, 21, 23),
		}, []float64{3}},
		{"sent ahead of the schedule: from the send", []workload.Entry{sent(workload.Acked, 10.2, 10, 13)}, []float64{3}},
		{"unpaced writes have no schedule", []workload.Entry{sent(workload.Acked, -1, 5, 6)}, nil},
		{"unsent ids are left out", []workload.Entry{unsentEntry, sent(workload.Acked, 1, 1, 2)}, []float64{1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := ResponseTime(workload.EntriesOf(tc.entries))
			if tc.want == nil {
				if h != nil {
					t.Fatalf("ResponseTime = %d values, want none (nil)", h.TotalCount())
				}
				return
			}
			if h == nil {
				t.Fatalf("ResponseTime = nil, want %v ms", tc.want)
			}
			if h.TotalCount() != int64(len(tc.want)) {
				t.Errorf("count %d, want %d", h.TotalCount(), len(tc.want))
			}
			for _, w := range tc.want {
				us, found := int64(w*1000), false
				for _, b := range h.Distribution() {
					found = found || (b.Count > 0 && b.From <= us && us <= b.To)
				}
				if !found {
					t.Errorf("no response time of %v ms recorded (min %d µs, max %d µs)", w, h.Min(), h.Max())
				}
			}
		})
	}
}

func TestScheduleLag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []workload.Entry
		want    []result.ScheduleLagPoint
	}{
		{"no writes", nil, []result.ScheduleLagPoint{}},
		{"by the second of the schedule, not of the send; empty seconds left out", []workload.Entry{
			sent(workload.Acked, 100, 101, 102), sent(workload.Acked, 200, 202, 203), sent(workload.Failed, 300, 303, 304),
			// due in second 2, held 1.5 s by an outage, sent in second 3
			sent(workload.Unknown, 2100, 3600, 3601),
		}, []result.ScheduleLagPoint{
			{Second: 0, Writes: 3, P50Ms: 2, P99Ms: 3, MaxMs: 3},
			{Second: 2, Writes: 1, P50Ms: 1500, P99Ms: 1500, MaxMs: 1500},
		}},
		{"ids sent out of schedule order", []workload.Entry{
			sent(workload.Acked, 1500, 1540, 1541), sent(workload.Acked, 1100, 1110, 1111),
		}, []result.ScheduleLagPoint{{Second: 1, Writes: 2, P50Ms: 10, P99Ms: 40, MaxMs: 40}}},
		{"a send a little early counts as on time", []workload.Entry{sent(workload.Acked, 1000.2, 1000, 1001)},
			[]result.ScheduleLagPoint{{Second: 1, Writes: 1}}},
		{"unsent and unpaced writes are left out", []workload.Entry{unsentEntry, sent(workload.Acked, -1, 10, 11)},
			[]result.ScheduleLagPoint{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := ScheduleLag(workload.EntriesOf(tc.entries)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ScheduleLag = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestUnknownSplit(t *testing.T) {
	t.Parallel()
	landed := ms(1000)
	tests := []struct {
		name          string
		entries       []workload.Entry
		inFlight, aft int64
	}{
		{"none", nil, 0, 0},
		{"sent before the fault landed: in flight", []workload.Entry{
			sent(workload.Unknown, 980, 990, 1200), sent(workload.Unknown, 990, 999.999, 1200),
		}, 2, 0},
		{"sent at or after it: afterwards", []workload.Entry{
			sent(workload.Unknown, 990, 1000, 1001), sent(workload.Unknown, 1001, 1005, 1006),
		}, 0, 2},
		{"one writer each side, other outcomes ignored", []workload.Entry{
			sent(workload.Acked, 900, 901, 902), sent(workload.Unknown, 950, 960, 1003),
			sent(workload.Failed, 1010, 1010, 1011), sent(workload.Unknown, 1020, 1020, 1021), unsentEntry,
		}, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, after := UnknownSplit(workload.EntriesOf(tc.entries), landed)
			if in != tc.inFlight || after != tc.aft {
				t.Errorf("UnknownSplit = %d in flight, %d after; want %d, %d", in, after, tc.inFlight, tc.aft)
			}
		})
	}
}

// TestFillOutcomes: response time beside service time, schedule lag by
// second and the unknown writes split at the fault's landing (the last
// ack before the kill was seen), from one ledger.
func TestFillOutcomes(t *testing.T) {
	t.Parallel()
	led := workload.NewLedger(1)
	type w struct {
		o                       workload.Outcome
		node                    int
		schedMs, sentMs, doneMs float64
		writer                  int
	}
	for i, x := range []w{
		{workload.Acked, 0, 100, 100, 101, 0},
		{workload.Acked, 0, 1000, 1000, 1002, 1},   // the last ack before the kill was seen: the fault lands at 1002
		{workload.Unknown, 0, 1001, 1001, 1100, 2}, // in flight when it landed
		{workload.Unknown, 0, 1003, 1003, 1004, 0}, // sent to a dead connection
		{workload.Acked, 1, 1010, 2080, 2081, 1},   // held through the outage
	} {
		id := int64(i + 1)
		led.Begin(id, x.writer, ms(x.schedMs), ms(x.sentMs))
		led.Finish(id, x.o, x.node, ms(x.doneMs))
	}
	kill := killAt(0, 1000, "primary")
	kill.EffectiveMs = fp(1050)
	var v result.Variant
	Fill(&v, Input{Duration: 3 * time.Second, Grace: time.Second, OldPrimary: "primary", Nodes: nodes, FailoverMode: "promote",
		Stats: statsOf(3, 1, 1000), Ledger: led, Faults: []result.Fault{kill}})
	f := v.Summary.Failover
	if f == nil || *f.FaultMs != 1002 {
		t.Fatalf("failover %+v, want the fault landed at 1002 ms", f)
	}
	if f.UnknownInFlight != 1 || f.UnknownSentAfter != 1 {
		t.Errorf("unknown: %d in flight, %d sent after; want 1, 1", f.UnknownInFlight, f.UnknownSentAfter)
	}
	r := v.Summary.ResponseTime
	if r.N != 3 || r.P50 != 2 || r.Max < 1071 || r.Max > 1072 {
		t.Errorf("response time %+v, want 3 writes, p50 2 ms, max 1071 ms", r)
	}
	if v.ResponseHistogram == nil || v.ResponseHistogram.Unit != "us" || v.ResponseHistogram.Encoded == "" {
		t.Errorf("response histogram %+v", v.ResponseHistogram)
	}
	want := []result.ScheduleLagPoint{{Second: 0, Writes: 1}, {Second: 1, Writes: 4, P50Ms: 0, P99Ms: 1070, MaxMs: 1070}}
	if !reflect.DeepEqual(v.Series.ScheduleLag, want) {
		t.Errorf("schedule lag %+v, want %+v", v.Series.ScheduleLag, want)
	}
}
