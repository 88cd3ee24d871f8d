// Package pgtest gives integration tests a local backend on real
// PostgreSQL servers.
//
//	b := pgtest.Backend(t) // skipped with -short or without PostgreSQL, unless required
package pgtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
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

// Cluster3 starts the cluster most integration tests use on a new local
// backend: primary, replica1 (synchronous, FIRST 1) and replica2
// (asynchronous), each replica with a slot. It is taken down, and the
// backend closed, with the test.
func Cluster3(t testing.TB, id string) cluster.Cluster {
	t.Helper()
	b := Backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.Up(ctx, cluster.Spec{
		ID:               id,
		Replicas:         []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2", Slot: "replica2"}},
		SyncStandbyNames: "FIRST 1 (replica1)",
		LogDir:           t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	return c
}
