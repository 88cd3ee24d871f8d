package audit

import (
	"slices"
	"testing"
)

// TestWithDeleted: the ids deleted on purpose merge into a node's ids,
// sorted, once each.
func TestWithDeleted(t *testing.T) {
	t.Parallel()
	tests := []struct{ ids, deleted, want []int64 }{
		{nil, nil, nil},
		{[]int64{1, 3}, nil, []int64{1, 3}},
		{nil, []int64{2}, []int64{2}},
		{[]int64{1, 3, 5}, []int64{2, 3, 6}, []int64{1, 2, 3, 5, 6}},
	}
	for _, tt := range tests {
		if got := withDeleted(tt.ids, tt.deleted); !slices.Equal(got, tt.want) {
			t.Errorf("withDeleted(%v, %v) = %v, want %v", tt.ids, tt.deleted, got, tt.want)
		}
	}
}
