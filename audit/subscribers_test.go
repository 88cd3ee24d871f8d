package audit

import (
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/workload"
)

// TestJudgeSubscriber: every acknowledged write absent on the subscriber
// is counted missing, before or after the promotion by its ack; arrival
// lags are arrival minus ack; writes not acknowledged are not judged.
func TestJudgeSubscriber(t *testing.T) {
	ack := func(ms int) workload.Entry {
		return workload.Entry{At: time.Duration(ms) * time.Millisecond, Sent: time.Duration(ms-2) * time.Millisecond, Outcome: workload.Acked}
	}
	entries := []workload.Entry{
		ack(100), ack(200), {At: 250 * time.Millisecond, Outcome: workload.Failed}, ack(1500), ack(3000), ack(3100), ack(4200),
	}
	// ids 10..16; the subscriber holds 10, 11, 12 (a failed write that
	// went through), 13, and 15 (arrived late, after the promotion).
	arrived := map[int64]float64{10: 105, 11: 230, 12: 260, 13: 1510, 15: 3900}
	early := judgeSubscriber("sub1", workload.EntriesOf(entries), 10, map[int64]float64{10: 99, 11: 197}, nil, true)
	if early.ArrivedBeforeSent != 1 {
		t.Errorf("arrived before sent: %d, want 1 (id 11 at 197 ms, sent at 198)", early.ArrivedBeforeSent)
	}
	promoted := 3050.0
	a := judgeSubscriber("sub1", workload.EntriesOf(entries), 10, arrived, &promoted, false)
	if a.Acked != 6 || a.Missing != 2 || len(a.MissingIDs) != 2 || a.MissingIDs[0] != 14 || a.MissingIDs[1] != 16 {
		t.Errorf("acked %d, missing %d %v", a.Acked, a.Missing, a.MissingIDs)
	}
	if *a.MissingBefore != 1 || *a.MissingAfter != 1 || !*a.Followed {
		t.Errorf("before %d, after %d, followed %v", *a.MissingBefore, *a.MissingAfter, *a.Followed)
	}
	if a.ArrivalMs.N != 4 || a.ArrivalMs.Min != 5 || a.ArrivalMs.Max != 800 {
		t.Errorf("arrival: %+v", a.ArrivalMs)
	}
	if len(a.ArrivalBySecond) != 3 || a.ArrivalBySecond[0].Second != 0 || a.ArrivalBySecond[0].Writes != 2 || a.ArrivalBySecond[2].MaxMs != 800 {
		t.Errorf("by second: %+v", a.ArrivalBySecond)
	}
	none := judgeSubscriber("sub1", workload.EntriesOf(entries), 10, arrived, nil, true)
	if none.Followed != nil || none.MissingBefore != nil || none.Missing != 2 {
		t.Errorf("without a promotion: %+v", none)
	}
}
