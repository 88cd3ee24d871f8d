package failover

import (
	"context"
	"slices"
	"testing"
)

func TestLeaderOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answers []nodeAnswer
		want    string
	}{
		{"nobody answers", nil, ""},
		{"nobody writable", []nodeAnswer{{name: "primary"}, {name: "replica1"}}, ""},
		{"the primary", []nodeAnswer{{"primary", true, 1, false}, {"replica1", false, 0, false}}, "primary"},
		{"a promoted replica", []nodeAnswer{{"primary", false, 0, false}, {"replica1", true, 2, false}}, "replica1"},
		{"split brain: the higher timeline", []nodeAnswer{{"primary", true, 1, false}, {"replica1", true, 2, false}, {"replica2", false, 0, false}}, "replica1"},
		{"split brain: the highest of three", []nodeAnswer{{"primary", true, 2, false}, {"replica1", true, 4, false}, {"replica2", true, 3, false}}, "replica1"},
		{"split brain on one timeline: the first listed", []nodeAnswer{{"primary", false, 0, false}, {"replica1", true, 2, false}, {"replica2", true, 2, false}}, "replica1"},
		{"an unreadable timeline loses to a readable one", []nodeAnswer{{"primary", true, 0, false}, {"replica1", true, 1, false}}, "replica1"},
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

// TestPick: a last leader that timed out stays the leader while nobody
// else answers as primary; one that refused does not, nor one another
// node replaced.
func TestPick(t *testing.T) {
	t.Parallel()
	stalled := []nodeAnswer{{name: "primary", timedOut: true}, {name: "replica1"}}
	refused := []nodeAnswer{{name: "primary"}, {name: "replica1"}}
	promoted := []nodeAnswer{{name: "primary", timedOut: true}, {"replica1", true, 2, false}}
	for _, tc := range []struct {
		name    string
		answers []nodeAnswer
		last    string
		want    string
	}{
		{"a stalled primary stays", stalled, "primary", "primary"},
		{"a refusing primary is gone", refused, "primary", ""},
		{"another primary replaces a stalled one", promoted, "primary", "replica1"},
		{"a stalled node that was not the leader is none", stalled, "replica1", ""},
		{"nobody before, nobody now", stalled, "", ""},
	} {
		if got := pick(tc.answers, tc.last); got != tc.want {
			t.Errorf("%s: pick = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestWords: the etcd source, and a source with no words of its own,
// keep the leader key's words; the writable node speaks of a primary.
func TestWords(t *testing.T) {
	t.Parallel()
	say := func(d Describer) []string {
		return []string{d.Released("a"), d.Moved("a", "b"), d.Took("b"), d.Again("a"), d.Since(), d.ReadFailed()}
	}
	key := []string{"the leader key of a expired or was released", "the leader key moved from a to b",
		"b took the leader key", "a holds the leader key again", "it took the leader key", "read the leader key"}
	for name, src := range map[string]LeaderSource{"etcd": &EtcdLeader{}, "no words": noWords{}} {
		if got := say(wordsOf(src)); !slices.Equal(got, key) {
			t.Errorf("%s: %q, want %q", name, got, key)
		}
	}
	primary := []string{"no node answers as primary (a no longer does)", "the primary moved from a to b",
		"b answers as primary", "a answers as primary again", "it answered as primary", "ask the nodes which is primary"}
	if got := say(wordsOf(&WritableNode{})); !slices.Equal(got, primary) {
		t.Errorf("writable node: %q, want %q", got, primary)
	}
}

type noWords struct{}

func (noWords) Leader(context.Context) (string, error) { return "", nil }
