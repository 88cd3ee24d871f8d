// Package clustertest is the conformance suite every cluster backend
// passes: bring-up to streaming, each fault the backend's clusters can
// inject (found by type assertion) and its heal, failover by the harness's
// own controller, the audit of acknowledged writes, and teardown.
//
//	func TestConformance(t *testing.T) {
//		b := newBackend(t) // skipped when the backend's facility is missing
//		clustertest.Exercise(t, b)
//	}
//
// Exercise builds one cluster (a primary, replica1 synchronous with FIRST
// 1, replica2 asynchronous, a physical slot each) and runs the steps on it
// in order as subtests; the failover and the audit come last because they
// change who is primary.
package clustertest
