// Package report turns a run's result.json into something a person reads:
// an HTML page with PNG figures, and a short plain-text summary for the end
// of a run.
//
// The report is a pure function of a *result.Result: it imports the result
// schema, the standard library, gonum.org/v1/plot and hdrhistogram-go, and
// nothing that talks to a cluster. It never modifies the Result; long series
// are downsampled (Largest-Triangle-Three-Buckets, about 1000 points a line)
// on copies. Variants that did not run or failed before measuring anything
// (no series, nil Failover, Audit or Histogram) are shown as such rather than
// breaking the page.
//
// Render writes, into one folder:
//
//	report.html              header, status banners, one headline per variant,
//	                         the scenario's thresholds (passed or failed, with
//	                         each variant's value) when the result records
//	                         them, the comparison table, the figures, per-variant
//	                         details (topology, lag per replica, failover,
//	                         audit, lost writes), the scenario and environment
//	throughput.png           acknowledged and failed+unknown writes per second
//	latency-percentiles.png  commit latency by percentile, HDR style
//	commit-p99.png           per-second p99 commit latency
//	failover.png             fault → detected → promoted → first write, per variant
//	lag-bytes.png            replay lag in bytes per replica, a panel per variant
//	lag-ms.png               heartbeat visibility and server replay_lag, per variant
//	visibility.png           the worst replica's visibility, variants compared
//
// Time series shade the outage, from the fault to the first acknowledged
// write on the new primary. A figure with nothing to show is not written.
// The page is self-contained apart from those PNGs: inline CSS, no scripts,
// nothing fetched. RenderWith with Options{SVG: true} also writes each
// figure as an SVG beside its PNG (lag-bytes.svg, ...), drawn by the same
// code, and links to them.
//
// Usage:
//
//	r, err := result.Read("results/sync-vs-async/20250314-092653-7f3a")
//	if err != nil {
//		return err
//	}
//	report.WriteText(os.Stdout, r)
//	if err := report.Render(r, "results/sync-vs-async/20250314-092653-7f3a"); err != nil {
//		return err
//	}
//
// Render and WriteText may be called concurrently, on different folders for
// Render.
//
// To look at the report the tests build from synthetic data:
//
//	go test ./report/ -run Preview -preview /tmp/report
package report
