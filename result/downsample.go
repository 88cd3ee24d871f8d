package result

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// MaxSeriesPoints is how many points one replica's replication or
// visibility series, or one node's WAL series, may have in result.json
// before Downsample thins it: 2000 is 200 s of replication samples at
// the default 100 ms, so the flagship scenario keeps every point, and a
// figure is about 1000 pixels wide.
const MaxSeriesPoints = 2000

// Downsample thins the sampled series that grow with the run's length,
// replication, visibility, WAL and archive, so that each replica's (the
// primary's for WAL and archive) has about limit points at most, and
// reports whether it changed any. A group with limit points or fewer is
// left whole. A longer one is cut into limit/2 spans of equal time; each
// span keeps its worst points (the largest replay lag in bytes and in ms,
// the slowest visible heartbeat, the largest pg_wal and slot retention,
// the largest archive lag), and every point where something
// changed is kept whatever its span: a replication state or validity, a
// heartbeat not acknowledged, lost or unseen, a slot's status or activity
// and the node sampled, an archive_command that failed, with the first
// and last point of each group. The
// plots keep their peaks and steps; the figures in the summary come from
// the raw series, which the runner keeps in the variant's series file.
func (s *Series) Downsample(limit int) bool {
	limit = max(limit, 4)
	changed := false
	repl := groups(len(s.Replication), func(i int) string { return s.Replication[i].Replica })
	keep := make([]bool, len(s.Replication))
	for _, g := range repl {
		changed = thin(g, limit, keep, func(i int) float64 { return s.Replication[i].Ms },
			func(prev, i int) bool {
				p, q := s.Replication[prev], s.Replication[i]
				return p.State != q.State || p.Valid() != q.Valid()
			},
			func(i int) (float64, bool) { return s.Replication[i].ReplayBytes, true },
			func(i int) (float64, bool) { return orNone(s.Replication[i].ReplayLagMs) },
		) || changed
	}
	s.Replication = kept(s.Replication, keep)

	vis := groups(len(s.Visibility), func(i int) string { return s.Visibility[i].Replica })
	keep = make([]bool, len(s.Visibility))
	for _, g := range vis {
		changed = thin(g, limit, keep, func(i int) float64 { return s.Visibility[i].Ms },
			func(_, i int) bool { return s.Visibility[i].VisibilityMs == nil },
			func(i int) (float64, bool) { return orNone(s.Visibility[i].VisibilityMs) },
		) || changed
	}
	s.Visibility = kept(s.Visibility, keep)

	// One group for the WAL: the primary sampled changes at a failover,
	// and that change is kept.
	all := make([]int, len(s.WAL))
	for i := range all {
		all[i] = i
	}
	keep = make([]bool, len(s.WAL))
	slots := map[string]bool{}
	for _, p := range s.WAL {
		for _, sp := range p.Slots {
			slots[sp.Slot] = true
		}
	}
	values := []func(int) (float64, bool){func(i int) (float64, bool) { return s.WAL[i].PgWalBytes, true }}
	for name := range slots {
		values = append(values, func(i int) (float64, bool) {
			for _, sp := range s.WAL[i].Slots {
				if sp.Slot == name {
					return sp.RetainedBytes, true
				}
			}
			return 0, false
		})
	}
	changed = thin(all, limit, keep, func(i int) float64 { return s.WAL[i].Ms },
		func(prev, i int) bool { return walChanged(s.WAL[prev], s.WAL[i]) }, values...) || changed
	s.WAL = kept(s.WAL, keep)

	subs := groups(len(s.Subscribers), func(i int) string { return s.Subscribers[i].Subscriber })
	keep = make([]bool, len(s.Subscribers))
	for _, g := range subs {
		changed = thin(g, limit, keep, func(i int) float64 { return s.Subscribers[i].Ms },
			func(prev, i int) bool {
				p, q := s.Subscribers[prev], s.Subscribers[i]
				return p.Slot != q.Slot || p.SlotUnread != q.SlotUnread || p.SlotActive != q.SlotActive || p.Worker != q.Worker
			},
			func(i int) (float64, bool) { return orNone(s.Subscribers[i].LagBytes) },
			func(i int) (float64, bool) { return orNone(s.Subscribers[i].RetainedBytes) },
			func(i int) (float64, bool) { return orNone(s.Subscribers[i].SinceMessageMs) },
		) || changed
	}
	s.Subscribers = kept(s.Subscribers, keep)

	// One group for the archive, the primary sampled changing at a
	// failover, kept like a failed attempt.
	all = make([]int, len(s.Archive))
	for i := range all {
		all[i] = i
	}
	keep = make([]bool, len(s.Archive))
	changed = thin(all, limit, keep, func(i int) float64 { return s.Archive[i].Ms },
		func(prev, i int) bool {
			p, q := s.Archive[prev], s.Archive[i]
			return p.Node != q.Node || p.FailedCount != q.FailedCount || (p.LagBytes == nil) != (q.LagBytes == nil)
		},
		func(i int) (float64, bool) { return orNone(s.Archive[i].LagBytes) },
	) || changed
	s.Archive = kept(s.Archive, keep)
	return changed
}

func orNone(v *float64) (float64, bool) {
	if v == nil {
		return 0, false
	}
	return *v, true
}

// walChanged reports whether a slot came, went or changed status or
// activity between two WAL samples, or the node sampled changed.
func walChanged(p, q WALPoint) bool {
	if p.Node != q.Node || len(p.Slots) != len(q.Slots) {
		return true
	}
	for k := range p.Slots {
		a, b := p.Slots[k], q.Slots[k]
		if a.Slot != b.Slot || a.Active != b.Active || a.WalStatus != b.WalStatus {
			return true
		}
	}
	return false
}

// groups splits indices 0..n-1 by key, each group in index order.
func groups(n int, key func(int) string) [][]int {
	at := map[string]int{}
	var out [][]int
	for i := 0; i < n; i++ {
		k := key(i)
		g, ok := at[k]
		if !ok {
			g = len(out)
			at[k] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], i)
	}
	return out
}

// thin marks in keep the points of group g to keep (see Downsample) and
// reports whether it left any out. change(prev, i) says whether point i
// must be kept, given the point before it in the group; each of values
// gives a figure whose largest per span is kept (false: none here).
func thin(g []int, limit int, keep []bool, ms func(int) float64, change func(prev, i int) bool, values ...func(int) (float64, bool)) bool {
	if len(g) <= limit {
		for _, i := range g {
			keep[i] = true
		}
		return false
	}
	t0, t1 := ms(g[0]), ms(g[0])
	for _, i := range g {
		t0, t1 = min(t0, ms(i)), max(t1, ms(i))
	}
	spans := limit / 2
	width := (t1 - t0) / float64(spans)
	span := func(i int) int {
		if width <= 0 {
			return 0
		}
		return min(int((ms(i)-t0)/width), spans-1)
	}
	keep[g[0]], keep[g[len(g)-1]] = true, true
	for k := 1; k < len(g); k++ {
		if change(g[k-1], g[k]) {
			keep[g[k]], keep[g[k-1]] = true, true
		}
	}
	for _, value := range values {
		best, bestSpan, bestV := -1, -1, 0.0
		for _, i := range g {
			v, ok := value(i)
			if sp := span(i); sp != bestSpan {
				if best >= 0 {
					keep[best] = true
				}
				best, bestSpan = -1, sp
			}
			if ok && (best < 0 || v > bestV) {
				best, bestV = i, v
			}
		}
		if best >= 0 {
			keep[best] = true
		}
	}
	return true
}

func kept[T any](pts []T, keep []bool) []T {
	out := make([]T, 0, len(pts))
	for i, p := range pts {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

// RawSeries is the content of a series file: a variant's sampled series
// as measured, before Downsample.
type RawSeries struct {
	Replication []ReplicationPoint `json:"replication"`
	Visibility  []VisibilityPoint  `json:"visibility"`
	WAL         []WALPoint         `json:"wal"`
	Archive     []ArchivePoint     `json:"archive,omitempty"`
}

// WriteSeriesFile writes the raw sampled series of s to path as gzip'd
// JSON, through a temporary file, so a file under that name is whole.
func WriteSeriesFile(path string, s Series) error {
	err := WriteGzip(path, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(RawSeries{Replication: s.Replication, Visibility: s.Visibility, WAL: s.WAL, Archive: s.Archive})
	})
	if err != nil {
		return fmt.Errorf("series file: %w", err)
	}
	return nil
}

// WriteGzip writes what write writes to path, gzip'd, through a temporary
// file beside it renamed at the end, so that a file under that name is
// whole; the dirs on the way are made.
func WriteGzip(path string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename, nothing
	z := gzip.NewWriter(f)
	err = write(z)
	if cerr := z.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}

// ReadSeriesFile reads a series file written by WriteSeriesFile.
func ReadSeriesFile(path string) (*RawSeries, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var raw RawSeries
	if err := json.NewDecoder(io.Reader(z)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &raw, nil
}
