// Package testgate decides, in one place, whether an integration test
// runs. Integration tests start real servers or containers: with -short
// they are always skipped, so that `go test -short ./...` starts nothing.
// Otherwise a missing facility (PostgreSQL binaries, a Docker daemon or
// image) skips them, unless the environment variable that requires the
// facility is set: CI sets it, so nothing is skipped there.
//
//	func newBackend(t *testing.T) *local.Backend {
//		testgate.Integration(t)
//		b, err := local.New(local.Options{})
//		if errors.Is(err, local.ErrNoPostgres) {
//			testgate.Missing(t, testgate.RequirePG, err)
//		}
//		...
//	}
package testgate

import (
	"os"
	"testing"
)

// Environment variables that, set to a non-empty value, turn a missing
// facility into a test failure instead of a skip.
const (
	RequirePG     = "PGBENCH_HA_REQUIRE_PG"
	RequireDocker = "PGBENCH_HA_REQUIRE_DOCKER"
	// RequirePatroni: patroni, etcd and the cgroup v1 freezer the Patroni
	// backend needs (a CI host has them; a job container need not).
	RequirePatroni = "PGBENCH_HA_REQUIRE_PATRONI"
)

// Integration skips t under -short, whatever the environment requires:
// -short promises that no server is started.
func Integration(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped with -short")
	}
}

// Missing handles a facility t needs that is missing, as err says: it
// skips t, or fails it when the environment variable require is set.
func Missing(t testing.TB, require string, err error) {
	t.Helper()
	if os.Getenv(require) != "" {
		t.Fatalf("%v (%s is set: a missing facility fails the test)", err, require)
	} else {
		t.Skipf("missing: %v", err)
	}
}
