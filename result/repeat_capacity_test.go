package result

import "testing"

// TestSummarizeRepetitionsCapacity: the capacity distribution is over the
// completed repetitions that had a capacity phase, and absent when none
// had one.
func TestSummarizeRepetitionsCapacity(t *testing.T) {
	c := func(v float64) *float64 { return &v }
	s := SummarizeRepetitions([]Repetition{
		{Index: 1, Status: StatusComplete, CapacityTPS: c(3_000)},
		{Index: 2, Status: StatusFailed, CapacityTPS: c(9_999)},
		{Index: 3, Status: StatusComplete, CapacityTPS: c(2_000)},
		{Index: 4, Status: StatusComplete},
	})
	if d := s.CapacityTPS; d == nil || d.N != 2 || d.Min != 2_000 || d.Max != 3_000 || d.P50 != 2_000 {
		t.Errorf("capacity over the repetitions: %+v, want 2 of them, 2,000 to 3,000", d)
	}
	if s := SummarizeRepetitions([]Repetition{{Index: 1, Status: StatusComplete}}); s.CapacityTPS != nil {
		t.Errorf("capacity without a capacity phase: %+v, want none", s.CapacityTPS)
	}
}
