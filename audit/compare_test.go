package audit

import (
	"reflect"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// ledger builds ledger entries from outcome letters: a acked, f failed,
// u unknown, p pending; entry i is acknowledged at (i+1) ms.
func ledger(outcomes string) []workload.Entry {
	es := make([]workload.Entry, len(outcomes))
	for i, c := range outcomes {
		e := workload.Entry{Node: 0, At: time.Duration(i+1) * time.Millisecond}
		switch c {
		case 'a':
			e.Outcome = workload.Acked
		case 'f':
			e.Outcome = workload.Failed
		case 'u':
			e.Outcome = workload.Unknown
		default:
			e.Outcome, e.Node, e.At = workload.Pending, -1, 0
		}
		es[i] = e
	}
	return es
}

// span returns the ids from..to inclusive, without those in skip.
func span(from, to int64, skip ...int64) []int64 {
	out := []int64{}
	for id := from; id <= to; id++ {
		keep := true
		for _, s := range skip {
			if s == id {
				keep = false
			}
		}
		if keep {
			out = append(out, id)
		}
	}
	return out
}

func TestCompare(t *testing.T) {
	t.Parallel()
	const first = 1001 // ids 1..1000 were the initial orders
	tests := []struct {
		name    string
		entries string
		nodes   []Rows
		want    *result.Audit
	}{
		{
			name:    "no nodes",
			entries: "aaa",
			nodes:   nil,
			want:    &result.Audit{LostIDs: []int64{}, LostAckMs: []float64{}},
		},
		{
			name:    "everything acked is everywhere",
			entries: "aaaa",
			nodes: []Rows{
				{Node: "primary", Role: "primary", IDs: span(first, first+3)},
				{Node: "replica1", Role: "replica", IDs: span(first, first+3)},
			},
			want: &result.Audit{
				FinalPrimary: "primary", Acked: 4, LostIDs: []int64{}, LostAckMs: []float64{},
				Nodes: []result.NodeAudit{
					{Node: "primary", Role: "primary", Rows: 4, MissingIDs: []int64{}},
					{Node: "replica1", Role: "replica", Rows: 4, MissingIDs: []int64{}},
				},
			},
		},
		{
			name:    "lost acked writes on the final primary",
			entries: "aaaaaa",
			nodes: []Rows{
				{Node: "replica1", Role: "primary", IDs: span(first, first+5, first+2, first+4, first+5)},
			},
			want: &result.Audit{
				FinalPrimary: "replica1", Acked: 6, Lost: 3,
				LostIDs: []int64{first + 2, first + 4, first + 5}, LostAckMs: []float64{3, 5, 6},
				Nodes: []result.NodeAudit{
					{Node: "replica1", Role: "primary", Rows: 3, Missing: 3, MissingIDs: []int64{first + 2, first + 4, first + 5}},
				},
			},
		},
		{
			name:    "missing on a replica only is not lost",
			entries: "aaaa",
			nodes: []Rows{
				{Node: "replica1", Role: "primary", IDs: span(first, first+3)},
				{Node: "replica2", Role: "replica", IDs: span(first, first+3, first+1)},
			},
			want: &result.Audit{
				FinalPrimary: "replica1", Acked: 4, LostIDs: []int64{}, LostAckMs: []float64{},
				Nodes: []result.NodeAudit{
					{Node: "replica1", Role: "primary", Rows: 4, MissingIDs: []int64{}},
					{Node: "replica2", Role: "replica", Rows: 3, Missing: 1, MissingIDs: []int64{first + 1}},
				},
			},
		},
		{
			name:    "ghosts: failed and never-sent writes present; an unknown one present is a committed unknown, not a ghost",
			entries: "aufpuf",
			nodes: []Rows{
				// Present: acked, unknown(+1), failed(+2), pending(+3); the
				// second unknown and failed (+4, +5) are absent.
				{Node: "primary", Role: "primary", IDs: span(first, first+3)},
				// A replica's ghosts are not counted.
				{Node: "replica1", Role: "replica", IDs: span(first, first+5)},
			},
			want: &result.Audit{
				FinalPrimary: "primary", Acked: 1, LostIDs: []int64{}, LostAckMs: []float64{},
				Ghosts: 2, UnknownFound: 1, FailedFound: 1,
				Nodes: []result.NodeAudit{
					{Node: "primary", Role: "primary", Rows: 4, MissingIDs: []int64{}},
					{Node: "replica1", Role: "replica", Rows: 6, MissingIDs: []int64{}},
				},
			},
		},
		{
			name:    "foreign rows and initial orders",
			entries: "aa",
			nodes: []Rows{
				// 5 and 1000 are initial orders (ignored); first+2 and
				// first+10 were never attempted.
				{Node: "primary", Role: "primary", IDs: []int64{5, 1000, first, first + 1, first + 2, first + 10}},
				{Node: "replica1", Role: "replica", IDs: []int64{first, first + 1, first + 7}},
			},
			want: &result.Audit{
				FinalPrimary: "primary", Acked: 2, Foreign: 2, LostIDs: []int64{}, LostAckMs: []float64{},
				Nodes: []result.NodeAudit{
					{Node: "primary", Role: "primary", Rows: 6, MissingIDs: []int64{}},
					{Node: "replica1", Role: "replica", Rows: 3, MissingIDs: []int64{}},
				},
			},
		},
		{
			name:    "empty ledger: every row is foreign",
			entries: "",
			nodes:   []Rows{{Node: "primary", Role: "primary", IDs: []int64{first, first + 1}}},
			want: &result.Audit{
				FinalPrimary: "primary", Foreign: 2, LostIDs: []int64{}, LostAckMs: []float64{},
				Nodes: []result.NodeAudit{{Node: "primary", Role: "primary", Rows: 2, MissingIDs: []int64{}}},
			},
		},
		{
			name:    "a node with no rows misses every acked write",
			entries: "apa",
			nodes: []Rows{
				{Node: "primary", Role: "primary", IDs: nil},
			},
			want: &result.Audit{
				FinalPrimary: "primary", Acked: 2, Lost: 2,
				LostIDs: []int64{first, first + 2}, LostAckMs: []float64{1, 3},
				Nodes: []result.NodeAudit{{Node: "primary", Role: "primary", Missing: 2, MissingIDs: []int64{first, first + 2}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Compare(first, workload.EntriesOf(ledger(tc.entries)), tc.nodes)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Compare =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestCompareSampleCaps(t *testing.T) {
	t.Parallel()
	const first, n, lost = 1, 1000, 250
	entries := make([]workload.Entry, n)
	for i := range entries {
		entries[i] = workload.Entry{Outcome: workload.Acked, Node: 1, At: time.Duration(i)*time.Millisecond + 500*time.Microsecond}
	}
	// The final primary lacks ids 501..750; the replica lacks every even id.
	var primary, replica []int64
	for id := int64(first); id < first+n; id++ {
		if id < 501 || id > 750 {
			primary = append(primary, id)
		}
		if id%2 == 1 {
			replica = append(replica, id)
		}
	}
	a := Compare(first, workload.EntriesOf(entries), []Rows{
		{Node: "replica1", Role: "primary", IDs: primary},
		{Node: "replica2", Role: "replica", IDs: replica},
	})
	if a.Lost != lost {
		t.Errorf("Lost = %d, want %d", a.Lost, lost)
	}
	if len(a.LostIDs) != SampleSize || len(a.LostAckMs) != SampleSize {
		t.Fatalf("len(LostIDs) = %d, len(LostAckMs) = %d, want both %d", len(a.LostIDs), len(a.LostAckMs), SampleSize)
	}
	for i, id := range a.LostIDs {
		if want := int64(501 + i); id != want {
			t.Fatalf("LostIDs[%d] = %d, want %d (the first lost ids, in order)", i, id, want)
		}
		// LostAckMs is parallel to LostIDs: the ack time of that id.
		if want := float64(id-first) + 0.5; a.LostAckMs[i] != want {
			t.Errorf("LostAckMs[%d] = %v for id %d, want %v", i, a.LostAckMs[i], id, want)
		}
	}
	if len(a.Nodes) != 2 {
		t.Fatalf("Nodes = %+v", a.Nodes)
	}
	if p := a.Nodes[0]; p.Missing != lost || len(p.MissingIDs) != SampleSize || p.MissingIDs[0] != 501 {
		t.Errorf("primary node audit = missing %d, %d sampled from %v; want %d, %d from 501", p.Missing, len(p.MissingIDs), p.MissingIDs[:1], lost, SampleSize)
	}
	r := a.Nodes[1]
	if r.Missing != n/2 || len(r.MissingIDs) != SampleSize {
		t.Errorf("replica node audit = missing %d, %d sampled; want %d, %d", r.Missing, len(r.MissingIDs), n/2, SampleSize)
	}
	for i, id := range r.MissingIDs {
		if want := int64(2 * (i + 1)); id != want {
			t.Fatalf("replica MissingIDs[%d] = %d, want %d", i, id, want)
		}
	}
	if a.Acked != n || a.Ghosts != 0 || a.Foreign != 0 {
		t.Errorf("Acked %d Ghosts %d Foreign %d, want %d 0 0", a.Acked, a.Ghosts, a.Foreign, n)
	}
}
