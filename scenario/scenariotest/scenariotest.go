// Package scenariotest loads scenarios written inline in tests.
package scenariotest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// Load writes yaml to a file of the test's and loads it as a scenario
// file, failing the test on any problem.
func Load(t testing.TB, yaml string) *scenario.Scenario {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := scenario.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
