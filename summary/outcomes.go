package summary

import (
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgbench-ha/pgbench-ha/internal/quantile"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// ResponseTime is the histogram (µs) of the response time of the
// acknowledged writes: ack minus the time the arrival schedule wanted the
// write sent. Unlike the service time (ack minus send) it counts the wait
// of a write behind the schedule, queued while every writer was busy or
// held while no node took writes: the latency an open-loop client sees,
// free of coordinated omission (pgbench --rate reports it). A write sent
// with no schedule (an unlimited rate) has no response time. Nil when no
// acknowledged write had a schedule.
func ResponseTime(entries workload.Entries) *hdrhistogram.Histogram {
	var h *hdrhistogram.Histogram
	for _, e := range entries.All() {
		if e.Outcome != workload.Acked || !e.WasSent() || e.Scheduled < 0 {
			continue
		}
		if h == nil {
			h = workload.NewHistogram()
		}
		// A write sent a little ahead of its schedule (the dispatcher
		// wakes up to 200 µs early) counts from its send.
		_ = h.RecordValue(workload.ClampUs(e.At - min(e.Scheduled, e.Sent)))
	}
	return h
}

// ScheduleLag is, for each second of the schedule, the writes the
// schedule wanted sent in it that were sent, with how late (send minus
// scheduled time): nearest-rank p50 and p99, and the largest. An outage
// shows as the seconds whose writes waited for a writable node, each as
// late as it was early in the outage. Seconds without such a write are
// left out.
func ScheduleLag(entries workload.Entries) []result.ScheduleLagPoint {
	var bySecond [][]time.Duration
	for _, e := range entries.All() {
		if !e.WasSent() || e.Scheduled < 0 {
			continue
		}
		s := int(e.Scheduled / time.Second)
		for len(bySecond) <= s {
			bySecond = append(bySecond, nil)
		}
		bySecond[s] = append(bySecond[s], max(e.Sent-e.Scheduled, 0))
	}
	out := []result.ScheduleLagPoint{}
	for s, lags := range bySecond {
		if len(lags) == 0 {
			continue
		}
		slices.Sort(lags)
		at := func(q float64) float64 { return msOf(lags[quantile.Index(len(lags), q)]) }
		out = append(out, result.ScheduleLagPoint{Second: s, Writes: int64(len(lags)),
			P50Ms: at(0.5), P99Ms: at(0.99), MaxMs: msOf(lags[len(lags)-1])})
	}
	return out
}

// UnknownSplit divides the writes of unknown outcome at the moment the
// fault landed: inFlight were sent before it, so the fault caught them
// between send and answer and either outcome is possible; after were sent
// at or after it, most of them the next write of a writer whose
// connection the fault had already broken, which cannot have reached a
// server. Without the split every writer contributes one unknown write
// to every kill, whatever the setting.
func UnknownSplit(entries workload.Entries, landed time.Duration) (inFlight, after int64) {
	for _, e := range entries.All() {
		if e.Outcome != workload.Unknown {
			continue
		}
		if e.WasSent() && e.Sent < landed {
			inFlight++
		} else {
			after++
		}
	}
	return inFlight, after
}
