// Package verdict turns result.json files into decisions a CI job can act
// on: the named summary figures of each variant (the metrics of package
// metric), thresholds evaluated against a run, comparisons of a run with a
// baseline under tolerances, and the JUnit XML and Markdown that CI systems
// and pull-request comments show.
//
// It is a leaf above the result schema: it imports result, metric and the
// standard library, nothing that talks to a cluster.
//
// Comparing a run with a committed baseline:
//
//	base, err := verdict.ReadSet("results/baselines/sync-vs-async/baseline.json")
//	if err != nil {
//		return err
//	}
//	cur, err := verdict.ReadSet("results/sync-vs-async/20250314T092653Z-7f3a")
//	if err != nil {
//		return err
//	}
//	tol := verdict.DefaultTolerances()
//	if err := tol.Set("p99_commit_ms=15%"); err != nil {
//		return err
//	}
//	c := verdict.CompareSets(base, cur, tol)
//	if c.Regressed() {
//		// fail the job
//	}
//
// Evaluating thresholds:
//
//	res := verdict.Evaluate(r, []verdict.Threshold{{Metric: "lost_acked_writes", Aggregation: "max", Limit: 0}})
//
// A baseline (a Set) carries, per variant and metric, the median of several
// runs and the range they spanned; a change is a regression only when the
// current median is outside the baseline median by more than both the
// tolerance and the spread the baseline itself showed.
//
// Every function is safe for concurrent use; none modifies its arguments.
package verdict
