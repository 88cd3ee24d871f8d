package main

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/verdict"
)

// TestThresholdsSelectMatrixPaths checks that a threshold's where selects
// variants by a matrix path as by a setting: the variants' names and
// settings in result.json come from the plans, paths included.
func TestThresholdsSelectMatrixPaths(t *testing.T) {
	t.Parallel()
	s, err := scenario.Load(filepath.Join("..", "..", "scenario", "testdata", "patroni.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := &result.Result{}
	var want []string
	for _, p := range scenario.Expand(s) {
		r.Variants = append(r.Variants, result.Variant{Name: p.Name, Settings: p.Values})
		if p.Values["faults[0].process"] != "node" {
			want = append(want, p.Name)
		}
	}
	ths := thresholdsOf(s)
	if len(ths) != 1 {
		t.Fatalf("%d thresholds, want 1", len(ths))
	}
	if got := ths[0].Where["faults[0].process"]; !slices.Equal(got, []string{"postgres", "patroni"}) {
		t.Fatalf("where = %v", ths[0].Where)
	}
	res := verdict.Evaluate(r, ths)
	var got []string
	for _, v := range res[0].Variants {
		got = append(got, v.Name)
	}
	if !slices.Equal(got, want) || len(got) != 8 {
		t.Errorf("selected variants:\ngot  %q\nwant %q", got, want)
	}
}
