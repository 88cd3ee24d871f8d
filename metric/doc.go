// Package metric names the summary figures of a variant that thresholds
// and baseline comparisons refer to, and the aggregations a threshold may
// apply to them across variants.
//
// It is the one list both the scenario decoder (which checks the names in a
// scenario's thresholds before anything runs) and the verdict package
// (which extracts the figures from a result.json) read. It imports nothing
// but the standard library.
//
//	d, ok := metric.Lookup("p99_commit_ms")
//	// d.Unit == "ms", d.Better == metric.Lower
//
// Everything here is read-only and safe for concurrent use.
package metric
