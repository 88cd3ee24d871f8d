// Package pgtest gives integration tests a local backend on real
// PostgreSQL servers.
//
//	b := pgtest.Backend(t) // skipped with -short or without PostgreSQL, unless required
package pgtest

import (
	"errors"
	"os"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/cluster/local"
)

// RequireEnv, when set to a non-empty value, turns a missing PostgreSQL
// into a test failure instead of a skip: CI sets it, so nothing is skipped
// there.
const RequireEnv = "PGBENCH_HA_REQUIRE_PG"

// Backend returns a new local backend closed at the end of the test. The
// test is skipped with -short, or when the server binaries are missing and
// RequireEnv is not set.
func Backend(t testing.TB) *local.Backend {
	t.Helper()
	required := os.Getenv(RequireEnv) != ""
	if testing.Short() && !required {
		t.Skip("integration test: skipped with -short")
	}
	b, err := local.New(local.Options{})
	if err != nil {
		if errors.Is(err, local.ErrNoPostgres) && !required {
			t.Skipf("PostgreSQL server binaries missing: %v", err)
		}
		t.Fatalf("local backend: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("close backend: %v", err)
		}
	})
	return b
}
