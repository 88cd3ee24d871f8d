package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics and that what it returns is
// consistent: either a scenario that expands into plans, or *Errors whose
// problems all carry a position.
func FuzzParse(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{
		filepath.Join("testdata", "*.yaml"),
		filepath.Join("testdata", "bad", "*.yaml"),
		filepath.Join("..", "scenarios", "*.yaml"),
	} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, files...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed files")
	}
	for _, file := range seeds {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("name: x\nduration: 1s\ntopology: &t {<<: *t}\n"))
	f.Add([]byte("a: &a {k: v}\nb: &b {<<: [*a, *a, *a]}\nc: {<<: [*b, *b, *b]}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse("fuzz.yaml", data)
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want *Errors: %v", err, err)
			}
			if s != nil {
				t.Fatalf("Parse returned a scenario and an error")
			}
			if len(*errs) == 0 {
				t.Fatalf("empty *Errors")
			}
			for _, p := range *errs {
				if p.Line < 1 || p.Column < 1 || p.Msg == "" || p.File != "fuzz.yaml" {
					t.Fatalf("bad problem %+v", p)
				}
			}
			return
		}
		plans := Expand(s)
		if len(plans) == 0 || len(plans) > MaxVariants {
			t.Fatalf("%d plans", len(plans))
		}
		for _, p := range plans {
			if p.Scenario == nil {
				t.Fatalf("plan %s has no scenario", p.Name)
			}
			for _, node := range s.NodeNames() {
				for k := range p.NodeSettings(node) {
					if IsHarnessSetting(k) || !IsSetting(k) {
						t.Fatalf("plan %s node %s has setting %q", p.Name, node, k)
					}
				}
			}
			_ = p.SynchronousStandbyNames()
		}
		_ = s.RateAt(s.Duration.D() / 2)
	})
}
