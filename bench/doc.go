// Package bench holds benchmarks that set the harness against the tools it
// stands in for, on real PostgreSQL servers of this machine:
//
//   - BenchmarkWriterVsPgbench: the workload writer and pgbench, the same
//     one-row INSERT over 8 connections with no rate limit, against the
//     same 3-node cluster (one synchronous standby, one asynchronous).
//   - BenchmarkBringUp: local.Backend.Up for that cluster, cold (a new
//     backend, so its one initdb counts) and warm (a second Up), next to
//     the same steps done with initdb, pg_ctl, psql and pg_basebackup.
//   - BenchmarkProbeOverhead: the writer's closed-loop TPS with the probes
//     of package probe running (as the flagship scenario sets them)
//     against without, on one cluster: what measuring costs.
//
// bench/soak.sh (make soak) measures the other cost, as the work grows:
// a long run's peak memory, result.json and report render time.
//
// The package has no code of its own; run the benchmarks once each, which
// is what bench/run.sh (make bench) does and summarizes:
//
//	go test -run '^$' -bench . -benchtime=1x -count=1 ./bench/
//
// They need the PostgreSQL server binaries and pgbench, and are skipped
// when those are missing.
package bench
