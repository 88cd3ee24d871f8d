package verdict

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// SetVersion is the version of the baseline file layout this build writes.
const SetVersion = 1

// BaselineFile is the file name of a baseline inside a baseline folder
// (results/baselines/<scenario>/baseline.json).
const BaselineFile = "baseline.json"

// Set is the metrics of one or more runs of one scenario, per variant: the
// median of each metric over the runs and the range the runs spanned.
// Written to a file, it is a baseline (see results/baselines/README.md).
type Set struct {
	// Version is the baseline file layout; 0 for a Set made in memory.
	Version        int        `json:"pgbench_ha_baseline"`
	Scenario       string     `json:"scenario"`
	ScenarioSHA256 string     `json:"scenario_sha256,omitempty"`
	CreatedAt      time.Time  `json:"created_at,omitzero"`
	Runs           []RunRef   `json:"runs"`
	Variants       []VariantS `json:"variants"`
}

// RunRef names one run a Set was made from.
type RunRef struct {
	ID              string    `json:"id"`
	Status          string    `json:"status"`
	StartedAt       time.Time `json:"started_at,omitzero"`
	ToolVersion     string    `json:"tool_version,omitempty"`
	PostgresVersion string    `json:"postgres_version,omitempty"`
	Host            string    `json:"host,omitempty"`
	CPUs            int       `json:"cpus,omitempty"`
}

// VariantS is one variant of a Set.
type VariantS struct {
	Name     string            `json:"name"`
	Settings map[string]string `json:"settings,omitempty"`
	// Complete is how many of the runs completed this variant.
	Complete int `json:"complete"`
	// Metrics holds the metrics measured in at least one run.
	Metrics map[string]Stat `json:"metrics"`
}

// Stat is a metric over several runs.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"` // how many runs measured it
}

// Spread is the largest distance of a run's value from the median.
func (s Stat) Spread() float64 {
	return math.Max(s.Max-s.Median, s.Median-s.Min)
}

// Aggregate makes a Set of one or more results of the same scenario. A
// variant's metric is the median over the runs that measured it, and over
// their repetitions when the scenario repeats (see Samples: only completed
// variants count); its range spans them all. Variants are in the order of the
// first result, then any the others add.
func Aggregate(rs ...*result.Result) (*Set, error) {
	if len(rs) == 0 {
		return nil, errors.New("aggregate: no results")
	}
	s := &Set{Scenario: rs[0].Run.Scenario, ScenarioSHA256: rs[0].Run.ScenarioSHA256}
	values := map[string]map[string][]float64{}
	index := map[string]int{}
	for _, r := range rs {
		if r == nil {
			return nil, errors.New("aggregate: nil result")
		}
		if r.Run.Scenario != s.Scenario {
			return nil, fmt.Errorf("aggregate: run %s is of scenario %q, not %q", r.Run.ID, r.Run.Scenario, s.Scenario)
		}
		if r.Run.ScenarioSHA256 != s.ScenarioSHA256 {
			s.ScenarioSHA256 = "" // several versions of the file
		}
		s.Runs = append(s.Runs, RunRef{
			ID: r.Run.ID, Status: r.Status, StartedAt: r.Run.StartedAt, ToolVersion: r.Run.ToolVersion,
			PostgresVersion: r.Run.PostgresVersion, Host: r.Run.Host, CPUs: r.Run.CPUs,
		})
		for i := range r.Variants {
			v := &r.Variants[i]
			j, ok := index[v.Name]
			if !ok {
				j = len(s.Variants)
				index[v.Name] = j
				s.Variants = append(s.Variants, VariantS{Name: v.Name, Settings: clone(v.Settings), Metrics: map[string]Stat{}})
				values[v.Name] = map[string][]float64{}
			}
			if v.Status == result.StatusComplete {
				s.Variants[j].Complete++
			}
			for name, xs := range Samples(v) {
				values[v.Name][name] = append(values[v.Name][name], xs...)
			}
		}
	}
	for i := range s.Variants {
		vs := &s.Variants[i]
		for name, xs := range values[vs.Name] {
			vs.Metrics[name] = statOf(xs)
		}
	}
	return s, nil
}

func clone(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// statOf summarises xs (not empty).
func statOf(xs []float64) Stat {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stat{Median: med, Min: s[0], Max: s[n-1], N: n}
}

// Variant returns the variant called name, or nil.
func (s *Set) Variant(name string) *VariantS {
	for i := range s.Variants {
		if s.Variants[i].Name == name {
			return &s.Variants[i]
		}
	}
	return nil
}

// WriteSet writes s as indented JSON to path, stamping its Version and
// rounding figures to three decimals.
func WriteSet(path string, s *Set) error {
	out := *s
	out.Version = SetVersion
	round := func(x float64) float64 { return math.Round(x*1000) / 1000 }
	out.Variants = make([]VariantS, len(s.Variants))
	for i, v := range s.Variants {
		v.Metrics = make(map[string]Stat, len(s.Variants[i].Metrics))
		for name, st := range s.Variants[i].Metrics {
			v.Metrics[name] = Stat{Median: round(st.Median), Min: round(st.Min), Max: round(st.Max), N: st.N}
		}
		out.Variants[i] = v
	}
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}

// ReadSet reads what compare takes as a baseline or as a current run: a
// baseline file (baseline.json, written by WriteSet), a folder holding
// one, a result.json, or a run folder holding one. A result becomes a Set
// of one run.
func ReadSet(path string) (*Set, error) {
	file := path
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		file = filepath.Join(path, BaselineFile)
		if _, err := os.Stat(file); err != nil {
			file = filepath.Join(path, "result.json")
		}
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := DecodeSet(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// DecodeSet parses the contents of a baseline file or of a result.json,
// which becomes a Set of one run.
func DecodeSet(b []byte) (*Set, error) {
	var probe struct {
		Version *int `json:"pgbench_ha_baseline"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("not a result.json or baseline: %w", err)
	}
	if probe.Version == nil {
		r, err := result.Decode(b)
		if err != nil {
			return nil, err
		}
		return Aggregate(r)
	}
	if *probe.Version > SetVersion {
		return nil, fmt.Errorf("baseline version %d is newer than this build understands (%d); upgrade pgbench-ha", *probe.Version, SetVersion)
	}
	var s Set
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("not a baseline: %w", err)
	}
	for i := range s.Variants {
		if s.Variants[i].Metrics == nil {
			s.Variants[i].Metrics = map[string]Stat{}
		}
	}
	return &s, nil
}

// Merge makes one Set of several, as if their runs had been aggregated
// together, for a current side given as several run folders. The medians
// are recomputed from the per-run figures when every Set holds one run;
// otherwise (sets of sets) the medians of the medians are taken.
func Merge(sets ...*Set) (*Set, error) {
	if len(sets) == 0 {
		return nil, errors.New("merge: nothing to merge")
	}
	if len(sets) == 1 {
		return sets[0], nil
	}
	out := &Set{Scenario: sets[0].Scenario, ScenarioSHA256: sets[0].ScenarioSHA256}
	values := map[string]map[string][]float64{}
	index := map[string]int{}
	for _, s := range sets {
		if s.Scenario != out.Scenario {
			return nil, fmt.Errorf("merge: %q and %q are different scenarios", out.Scenario, s.Scenario)
		}
		if s.ScenarioSHA256 != out.ScenarioSHA256 {
			out.ScenarioSHA256 = ""
		}
		out.Runs = append(out.Runs, s.Runs...)
		for _, v := range s.Variants {
			j, ok := index[v.Name]
			if !ok {
				j = len(out.Variants)
				index[v.Name] = j
				out.Variants = append(out.Variants, VariantS{Name: v.Name, Settings: clone(v.Settings), Metrics: map[string]Stat{}})
				values[v.Name] = map[string][]float64{}
			}
			out.Variants[j].Complete += v.Complete
			for name, st := range v.Metrics {
				values[v.Name][name] = append(values[v.Name][name], st.Median)
			}
		}
	}
	for i := range out.Variants {
		vs := &out.Variants[i]
		for name, xs := range values[vs.Name] {
			vs.Metrics[name] = statOf(xs)
		}
	}
	return out, nil
}
