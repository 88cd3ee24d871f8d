package metric

import (
	"regexp"
	"testing"
)

func TestDefs(t *testing.T) {
	t.Parallel()
	name := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	seen := map[string]bool{}
	for _, d := range Defs {
		if !name.MatchString(d.Name) || seen[d.Name] {
			t.Errorf("bad or duplicate name %q", d.Name)
		}
		seen[d.Name] = true
		if d.Unit == "" || d.Doc == "" {
			t.Errorf("%s: no unit or doc", d.Name)
		}
		if got, ok := Lookup(d.Name); !ok || got != d {
			t.Errorf("Lookup(%q) = %+v, %v", d.Name, got, ok)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
	if len(Names()) != len(Defs) {
		t.Error("Names and Defs differ in length")
	}
	for _, a := range Aggregations {
		if !IsAggregation(a) {
			t.Errorf("IsAggregation(%q) = false", a)
		}
	}
	if IsAggregation("p95") {
		t.Error("p95 is an aggregation")
	}
	if d, _ := Lookup("tps"); d.Better != Higher {
		t.Error("tps: lower is better")
	}
}
