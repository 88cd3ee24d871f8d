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
//	report.html              header, status banners, one headline per variant
//	                         (with its stale-read rate and any split brain),
//	                         the scenario's thresholds (passed or failed, with
//	                         each variant's value) when the result records
//	                         them, the comparison table, the stale reads per
//	                         node and variant, the figures, the fault phases
//	                         and catch-ups, the failover (split-brain
//	                         warnings first), WAL retention per slot, the
//	                         repetitions, per-variant details (topology,
//	                         phases, catch-up, reads, lag per replica,
//	                         failover, audit, heartbeat timelines,
//	                         repetitions, lost writes), the scenario and
//	                         environment
//	throughput.png           acknowledged and failed+unknown writes per second
//	latency-percentiles.png  commit latency and response time by percentile,
//	                         HDR style
//	commit-p99.png           per-second p99 commit latency, and p99 schedule
//	                         lag by second of the schedule
//	failover.png             fault → detected → promoted → first write, per variant
//	lag-bytes.png            replay lag in bytes per replica, a panel per variant
//	lag-ms.png               heartbeat visibility and server replay_lag, per variant
//	visibility.png           the worst replica's visibility, variants compared
//	phases.png               p99 commit latency and TPS per phase, a bar per variant
//	reads.png                stale reads and read errors per second and node
//	wal.png                  pg_wal and each slot's retained bytes, with its
//	                         wal_status changes, for variants where the WAL
//	                         has a story (a slot left wal_status reserved, was
//	                         limited by max_slot_wal_keep_size or held a
//	                         segment back, or pg_wal grew)
//	subscribers.png          logical subscribers: each acknowledged write's
//	                         arrival lag, and the slot's lag in bytes
//	archive.png              WAL archive lag: the primary's WAL past the end
//	                         of the last segment it archived
//	repetitions.png          the write outage of every repetition, p50/p90/max
//
// Time series shade each fault that lasts from its "fault" event to the
// "heal" event of the same detail (or to the end when never healed) and
// label it; an instant fault (a kill, a restart, a reset) is a red line.
// The outage, from the fault to the first acknowledged write on the new
// primary, is shaded apart, in red; a fault that did not stop writes (on a
// replica, or a split brain where the old primary kept taking them) has no
// outage. A figure with nothing to show is not written, so a result
// written before these measurements existed renders as it did.
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
