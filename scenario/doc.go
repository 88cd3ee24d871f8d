// Package scenario reads pgbench-ha scenario files: the YAML that says
// which cluster to build, which workload to run against it, which faults to
// inject and which PostgreSQL settings to compare.
//
// Decoding is strict and happens before anything starts: an unknown key
// (with the closest valid one suggested), a value of the wrong type, a bad
// duration, a fault naming a node that does not exist, a setting that is
// not a PostgreSQL setting or that the harness sets itself are all
// problems. Every problem in a file is reported in one pass as a *Errors,
// one "file:line:col: message" line per problem. Keys left out get the
// defaults documented in scenarios/README.md. Thresholds are checked with
// the rest: their metric names against package metric's list, their where
// against the matrix.
//
// A scenario's matrix maps settings to lists of values; Expand turns it into
// one Plan per combination of values, and each Plan gives the
// postgresql.conf settings of every node and the primary's
// synchronous_standby_names. A matrix key whose first segment is a section
// of the scenario (failover.ttl, workload.rate, faults[0].at) is a path to
// a scenario value instead (IsScenarioPath): Parse decodes and validates
// the file once per combination of such values, with the values in place,
// and each Plan's Scenario is its variant's own.
//
// Usage:
//
//	s, err := scenario.Load("scenarios/sync-vs-async.yaml")
//	if err != nil {
//		return err // *scenario.Errors: one line per problem
//	}
//	for _, p := range scenario.Expand(s) {
//		// p.Name: "synchronous_commit=off", ...
//		conf := p.NodeSettings(scenario.PrimaryName) // postgresql.conf of the primary
//		ssn := p.SynchronousStandbyNames()          // "FIRST 1 (replica1)"
//		fmt.Println(p.Name, conf, ssn)
//	}
//
// The list of PostgreSQL setting names, pg_settings.txt, comes from the
// PostgreSQL 15 server and is embedded in the binary; go generate rebuilds
// it (as root, with the server installed).
//
// Everything in the package is safe for concurrent use once a Scenario is
// loaded, as long as nobody modifies the Scenario.
package scenario

//go:generate sh -c "su postgres -s /bin/sh -c '/usr/lib/postgresql/15/bin/postgres --describe-config' | cut -f1 | LC_ALL=C sort -u > pg_settings.txt"
