package verdict

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeSet checks that DecodeSet, which reads what compare is
// given as a baseline or a current run, never panics, and that what it
// accepts can be compared and printed.
func FuzzDecodeSet(f *testing.F) {
	for _, file := range []string{
		filepath.Join("..", "results", "baselines", "sync-vs-async", "baseline.json"),
		filepath.Join("..", "cmd", "pgbench-ha", "testdata", "flagship-result.json"),
	} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"pgbench_ha_baseline": 1, "scenario": "s", "variants": [{"name": "a", "metrics": {"tps": {"median": 1, "min": 0, "max": 2, "n": 3}}}]}`))
	f.Add([]byte(`{"pgbench_ha_baseline": 1, "variants": [{"name": "a"}, {"name": "a", "metrics": null}]}`))
	f.Add([]byte(`{"pgbench_ha_baseline": 2}`))
	f.Add([]byte(`{"pgbench_ha_baseline": null, "schema_version": 1, "variants": [{"name": "v", "status": "complete"}]}`))
	f.Add([]byte(`{"schema_version": 1}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSet(data)
		if err != nil {
			if s != nil {
				t.Fatalf("DecodeSet returned a set and an error: %v", err)
			}
			return
		}
		if s.Version > SetVersion {
			t.Fatalf("accepted baseline version %d", s.Version)
		}
		c := CompareSets(s, s, DefaultTolerances())
		if c.Regressed() {
			t.Fatalf("a set regressed against itself: %+v", c.Regressions())
		}
		WriteComparisonText(io.Discard, &c)
	})
}
