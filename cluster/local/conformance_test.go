package local_test

import (
	"testing"

	"github.com/pgbench-ha/pgbench-ha/clustertest"
	"github.com/pgbench-ha/pgbench-ha/internal/pgtest"
)

// TestConformance runs the suite every backend passes.
func TestConformance(t *testing.T) {
	clustertest.Exercise(t, pgtest.Backend(t))
}
