// Package summary turns the raw measurements of one variant (the ledger of
// writes, the writers' histograms, the probes' samples, the fault records
// and the events) into its figures in result.Variant. It is pure: no
// cluster, no clock, no I/O, so every definition is table-tested without
// PostgreSQL, the way package audit splits Run (I/O) from Compare (pure).
//
//	summary.Fill(&v, summary.Input{Window: 30*time.Second, Stats: st, Ledger: led, ...})
package summary
