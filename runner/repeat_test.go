package runner

import (
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestRepetitionCapacity: a repetition records its capacity when its
// workload had a capacity phase, and none otherwise.
func TestRepetitionCapacity(t *testing.T) {
	v := &result.Variant{Status: result.StatusComplete}
	v.Summary.Capacity = &result.Capacity{TPS: 2_750}
	if r := repetitionOf(0, 0, v, nil); r.CapacityTPS == nil || *r.CapacityTPS != 2_750 {
		t.Errorf("capacity %v, want 2,750", r.CapacityTPS)
	}
	v.Summary.Capacity = nil
	if r := repetitionOf(1, 0, v, nil); r.CapacityTPS != nil {
		t.Errorf("capacity %v without a capacity phase, want none", *r.CapacityTPS)
	}
}
