// Package localtest gives integration tests a local backend on real
// PostgreSQL servers.
//
//	b := localtest.Backend(t) // skipped with -short or without PostgreSQL, unless required
package localtest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// Backend returns a new local backend closed at the end of the test. The
// test is gated by testgate: skipped with -short, and when the server
// binaries are missing unless testgate.RequirePG is set.
func Backend(t testing.TB) *local.Backend {
	t.Helper()
	testgate.Integration(t)
	b, err := local.New(local.Options{})
	if errors.Is(err, local.ErrNoPostgres) {
		testgate.Missing(t, testgate.RequirePG, err)
	}
	if err != nil {
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
	return up(t, cluster.Spec{
		ID:               id,
		Replicas:         []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2", Slot: "replica2"}},
		SyncStandbyNames: "FIRST 1 (replica1)",
	})
}

// Cluster2 starts a primary and one asynchronous replica, replica1, with
// a slot, on a new local backend: the smallest cluster that can fail
// over. It is taken down, and the backend closed, with the test.
func Cluster2(t testing.TB, id string) cluster.Cluster {
	t.Helper()
	return up(t, cluster.Spec{ID: id, Replicas: []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}}})
}

// up starts spec on a new local backend, its logs in a temp dir; the
// cluster is taken down, and the backend closed, with the test.
func up(t testing.TB, spec cluster.Spec) cluster.Cluster {
	t.Helper()
	b := Backend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec.LogDir = t.TempDir()
	c, err := b.Up(ctx, spec)
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
