package local_test

import (
	"testing"

	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/clustertest"
)

// TestConformance runs the suite every backend passes.
func TestConformance(t *testing.T) {
	clustertest.Exercise(t, localtest.Backend(t))
}
