package patronitest_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain gives the package a temp dir of its own: the runs' servers,
// Patroni, etcd and proxies live under it, so the check that a test left
// nothing running (ourProcesses) sees this package's processes only, not
// those of the tests go test runs beside it. Its name is outside the
// pgbench-ha-* pattern that cleanup looks for; PostgreSQL, run as its own
// user, must be able to traverse it.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pbha-patronitest-")
	if err == nil {
		err = os.Chmod(dir, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "patronitest:", err)
		os.Exit(1)
	}
	os.Setenv("TMPDIR", dir)
	code := m.Run()
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintln(os.Stderr, "patronitest:", err)
		code = max(code, 1)
	}
	os.Exit(code)
}
