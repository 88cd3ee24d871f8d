package failover

import "testing"

func TestLeaderOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers []nodeAnswer
		want    string
	}{
		{"nobody answers", nil, ""},
		{"nobody writable", []nodeAnswer{{name: "primary"}, {name: "replica1"}}, ""},
		{"the primary", []nodeAnswer{{"primary", true, 1}, {"replica1", false, 0}}, "primary"},
		{"a promoted replica", []nodeAnswer{{"primary", false, 0}, {"replica1", true, 2}}, "replica1"},
		{"split brain: the higher timeline", []nodeAnswer{{"primary", true, 1}, {"replica1", true, 2}, {"replica2", false, 0}}, "replica1"},
		{"split brain: the highest of three", []nodeAnswer{{"primary", true, 2}, {"replica1", true, 4}, {"replica2", true, 3}}, "replica1"},
		{"split brain on one timeline: the first listed", []nodeAnswer{{"primary", false, 0}, {"replica1", true, 2}, {"replica2", true, 2}}, "replica1"},
		{"an unreadable timeline loses to a readable one", []nodeAnswer{{"primary", true, 0}, {"replica1", true, 1}}, "replica1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := leaderOf(tc.answers); got != tc.want {
				t.Errorf("leaderOf(%+v) = %q, want %q", tc.answers, got, tc.want)
			}
		})
	}
}
