package probe_test

import (
	"testing"

	"github.com/pgbench-ha/pgbench-ha/probe"
)

func TestSegmentNumber(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	tests := []struct {
		name string
		size int64
		want int64
		ok   bool
	}{
		{"000000010000000000000001", 16 * mib, 1, true},
		{"0000000100000001000000FF", 16 * mib, 256 + 255, true},
		{"000000020000000100000002", 16 * mib, 256 + 2, true},            // the timeline is left out
		{"000000010000000100000002", 64 * mib, 64 + 2, true},             // 64 segments per log at 64 MiB
		{"000000010000000000000100", 16 * mib, 0, false},                 // segment 256 of 256 per log
		{"00000002.history", 16 * mib, 0, false},                         // not a segment
		{"000000010000000000000003.00000028.backup", 16 * mib, 0, false}, // a backup history file
		{"", 16 * mib, 0, false},
		{"00000001000000000000000G", 16 * mib, 0, false},
		{"000000010000000000000001", 3 * mib, 0, false}, // not a power of two
	}
	for _, tt := range tests {
		got, ok := probe.SegmentNumber(tt.name, tt.size)
		if got != tt.want || ok != tt.ok {
			t.Errorf("SegmentNumber(%q, %d) = %d, %v; want %d, %v", tt.name, tt.size, got, ok, tt.want, tt.ok)
		}
	}
}

// TestArchiveLag: segments ahead of the last archived, and the bytes past
// its end, across a log boundary, after a forced switch, and across a
// promotion (a .partial of the old timeline, the new timeline's history
// file).
func TestArchiveLag(t *testing.T) {
	t.Parallel()
	const seg = 16 << 20
	lsn := func(segno, off int64) float64 { return float64(segno*seg + off) }
	tests := []struct {
		name          string
		current, last string
		lsn           float64
		segs          int64
		bytes         float64
		unknown       bool
	}{
		{name: "only the current one unarchived", current: "000000010000000000000005", last: "000000010000000000000004",
			lsn: lsn(5, 1000), segs: 1, bytes: 1000},
		{name: "three behind", current: "000000010000000000000007", last: "000000010000000000000004",
			lsn: lsn(7, 10), segs: 3, bytes: 2*seg + 10},
		{name: "just switched and archived", current: "000000010000000000000004", last: "000000010000000000000004",
			lsn: lsn(5, 0), segs: 0, bytes: 0},
		{name: "across a log boundary", current: "000000010000000100000001", last: "0000000100000000000000FE",
			lsn: lsn(257, 5), segs: 3, bytes: 2*seg + 5},
		{name: "a promoted standby's .partial", current: "000000020000000000000009", last: "000000010000000000000009.partial",
			lsn: lsn(9, 700), segs: 1, bytes: 700},
		{name: "the new timeline's first segment archived", current: "00000002000000000000000B", last: "00000002000000000000000A",
			lsn: lsn(11, 3), segs: 1, bytes: 3},
		{name: "the old timeline behind the new", current: "00000002000000000000000B", last: "000000010000000000000008",
			lsn: lsn(11, 3), segs: 3, bytes: 2*seg + 3},
		{name: "a history file", current: "000000020000000000000009", last: "00000002.history", unknown: true},
		{name: "nothing archived", current: "000000010000000000000002", last: "", unknown: true},
		{name: "no current segment", current: "", last: "000000010000000000000002", unknown: true},
	}
	for _, tt := range tests {
		segs, bytes := probe.ArchiveLag(tt.current, tt.last, tt.lsn, seg)
		if tt.unknown {
			if segs != nil || bytes != nil {
				t.Errorf("%s: lag %v segments, %v bytes; want unknown", tt.name, *segs, *bytes)
			}
			continue
		}
		if segs == nil || bytes == nil || *segs != tt.segs || *bytes != tt.bytes {
			t.Errorf("%s: lag %v segments, %v bytes; want %d, %v", tt.name, segs, bytes, tt.segs, tt.bytes)
		}
	}
}
