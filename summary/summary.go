package summary

import (
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// Input is what one variant measured, raw.
type Input struct {
	// Duration is the scheduled workload window; Grace the time writes in
	// flight at its end had to finish.
	Duration, Grace time.Duration
	TargetRateTPS   float64
	InitialOrders   int64
	// Writers is the number of writer connections.
	Writers int
	// Capacity are the closed-loop bursts of a paced workload, in ms from
	// the start of the window, in time order (scenario.CapacitySpans):
	// the variant's capacity is measured there, and the headline TPS and
	// commit latency are then those of the schedule's writes.
	Capacity []result.Span
	// FailoverMode and DetectAfter are the scenario's failover settings.
	FailoverMode string
	DetectAfter  time.Duration
	// OldPrimary is the node that was primary when the window started.
	OldPrimary string
	// Nodes names the ledger's node indexes.
	Nodes []string
	// Replicas are the standbys as built, in order; Sync says which were
	// synchronous.
	Replicas []string
	Sync     map[string]bool

	Stats  *workload.Stats
	Ledger *workload.Ledger
	// Replication and Visibility are the probes' series: the visibility
	// series has a point per heartbeat attempt and replica.
	Replication []result.ReplicationPoint
	Visibility  []result.VisibilityPoint
	// HeartbeatsAcked were acknowledged by a primary; HeartbeatsLost of
	// them were missing on the primary polled later.
	HeartbeatsAcked, HeartbeatsLost int64
	// VisibilityFloor are the latencies (ms) of the same polling done on
	// the primary itself: the method's own floor.
	VisibilityFloor []float64
	WAL             []result.WALPoint
	Reads           []*workload.Reads
	// Faults are the timeline's records, in file order; Events every
	// event of the variant.
	Faults []result.Fault
	Events []result.Event
	// ProbeInterval is how often the failover controller probes the
	// primary.
	ProbeInterval time.Duration
	// Model holds the manager's and client path's settings the outage
	// model reads; without a Mode, no outage is predicted.
	Model Model
	// Inserted is when the final primary inserted each write of the run
	// it holds, by its own clock, sorted by id; read after the audit.
	Inserted []workload.Inserted
}

// Fill sets v's summary, series, phases, catch-ups, faults, events and
// histogram from in. It adds the first_write event when writes resumed
// after a fault.
func Fill(v *result.Variant, in Input) {
	sum := &v.Summary
	st, led := in.Stats, in.Ledger
	sum.DurationS = in.Duration.Seconds()
	sum.Acked = led.Count(workload.Acked)
	sum.Failed = led.Count(workload.Failed)
	sum.Unknown = led.Count(workload.Unknown)
	sum.Attempted = sum.Acked + sum.Failed + sum.Unknown
	sum.Skipped = st.Skipped
	sum.NotSent = st.NotSent
	sum.TargetRateTPS = in.TargetRateTPS
	entries := led.View()
	response := ResponseTime(entries)
	sum.ResponseTime = Latency(response)
	sum.ScheduleLagP99 = float64(st.SchedLag.ValueAtQuantile(99)) / 1000
	sum.Replicas = Lags(in.Replicas, in.Sync, in.Replication, in.Visibility)
	_, sum.VisibilityFloorP50Ms = maxP(in.VisibilityFloor, 0.5)
	_, sum.VisibilityFloorP99Ms = maxP(in.VisibilityFloor, 0.99)
	sum.HeartbeatsAcked, sum.HeartbeatsLost = in.HeartbeatsAcked, in.HeartbeatsLost
	sum.InitialOrders = in.InitialOrders

	v.Faults = append([]result.Fault{}, in.Faults...)
	events := append([]result.Event(nil), in.Events...)
	// In time order: a failover's steps are read in the order they came.
	sort.SliceStable(events, func(i, j int) bool { return events[i].Ms < events[j].Ms })
	f, first := failover(in, entries, fired(in.Faults), events)
	if f != nil {
		landed := durOf(*f.FaultMs)
		f.UnknownInFlight, f.UnknownSentAfter = UnknownSplit(entries, landed)
	}
	sum.Failover = f
	if first != nil {
		events = append(events, *first)
	}
	sort.SliceStable(events, func(i, j int) bool { return events[i].Ms < events[j].Ms })
	v.Events = append([]result.Event{}, events...)

	v.Series = EmptySeries()
	v.Series.Replication = append(v.Series.Replication, in.Replication...)
	v.Series.Visibility = append(v.Series.Visibility, in.Visibility...)
	v.Series.Throughput = Throughput(st, in.Duration+in.Grace)
	v.Series.ScheduleLag = ScheduleLag(entries)
	v.Series.WAL = append(v.Series.WAL, in.WAL...)
	sum.Reads, v.Series.Reads = Reads(in.Reads)
	v.Phases = Phases(fired(in.Faults), f, in.Replicas, st, in.Replication, in.Visibility, in.Duration, in.Capacity)
	v.CatchUps = CatchUps(fired(in.Faults), in.Replicas, in.Replication, in.Visibility)
	// With closed-loop bursts, the headline figures are the schedule's:
	// its writes per second of the window outside the bursts, and their
	// commit latency. A write of the schedule acknowledged in a burst (a
	// backlog draining) counts; the burst's own writes are the capacity.
	sum.Capacity = Capacity(entries, CapacitySpans(v.Phases), in.Writers)
	paced := len(in.Capacity) > 0
	sum.TPS = TPS(ackedWithin(entries, in.Duration, paced), in.Duration-time.Duration(spanMs(in.Capacity)*float64(time.Millisecond)))
	commit := st.Latency
	if paced {
		commit = commitLatency(entries)
	}
	sum.CommitLatency = Latency(commit)
	v.Histogram = EncodeHistogram(commit)
	v.ResponseHistogram = EncodeHistogram(response)
}

// EmptySeries is a Series with every list empty, not null.
func EmptySeries() result.Series {
	return result.Series{Throughput: []result.ThroughputPoint{}, Replication: []result.ReplicationPoint{},
		Visibility: []result.VisibilityPoint{}, WAL: []result.WALPoint{}, Reads: []result.ReadPoint{},
		ScheduleLag: []result.ScheduleLagPoint{}}
}

// fired keeps the faults that were carried out: a fault whose injection
// failed never happened, and gets no phase and no failover.
func fired(fs []result.Fault) []result.Fault {
	var out []result.Fault
	for _, f := range fs {
		if f.Fired() {
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return *out[i].InjectedMs < *out[j].InjectedMs })
	return out
}

// ackedWithin counts the writes acknowledged inside the window, only
// those of the schedule when paced (a closed loop's are capacity): an ack
// in the grace after the window is a write of the backlog, not
// throughput.
func ackedWithin(entries workload.Entries, window time.Duration, paced bool) int64 {
	var n int64
	for _, e := range entries.All() {
		if e.Outcome == workload.Acked && e.At < window && (!paced || (e.WasSent() && e.Scheduled >= 0)) {
			n++
		}
	}
	return n
}

// commitLatency is the commit latency (send to ack, µs) of the
// acknowledged writes of the schedule, the same values the writers
// record: the writes the response time is of.
func commitLatency(entries workload.Entries) *hdrhistogram.Histogram {
	h := workload.NewHistogram()
	for _, e := range entries.All() {
		if e.Outcome == workload.Acked && e.WasSent() && e.Scheduled >= 0 {
			_ = h.RecordValue(workload.ClampUs(e.At - e.Sent))
		}
	}
	return h
}

// Capacity sums up the writes that ended in the capacity spans: those
// acknowledged, per second of the spans, with their commit latency, and
// those that failed or whose outcome is unknown. nil without spans.
func Capacity(entries workload.Entries, spans []result.Span, writers int) *result.Capacity {
	if len(spans) == 0 {
		return nil
	}
	c := &result.Capacity{StartMs: spans[0].StartMs, EndMs: spans[len(spans)-1].EndMs, DurationMs: spanMs(spans), Writers: writers}
	h := workload.NewHistogram()
	for _, e := range entries.All() {
		if !e.WasSent() || !inSpans(msOf(e.At), spans) {
			continue
		}
		switch e.Outcome {
		case workload.Acked:
			c.Acked++
			_ = h.RecordValue(workload.ClampUs(e.At - e.Sent))
		case workload.Failed, workload.Unknown:
			c.Errors++
		}
	}
	if c.DurationMs > 0 {
		c.TPS = float64(c.Acked) / (c.DurationMs / 1000)
	}
	c.CommitLatency = Latency(h)
	return c
}

// spanMs is the total length of spans, in ms.
func spanMs(spans []result.Span) float64 {
	var ms float64
	for _, s := range spans {
		ms += s.EndMs - s.StartMs
	}
	return ms
}

// TPS is acknowledged writes per second of the window.
func TPS(acked int64, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return float64(acked) / window.Seconds()
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ptr(f float64) *float64 { return &f }

// Latency is the percentiles of an HDR histogram of microseconds, in ms.
func Latency(h *hdrhistogram.Histogram) result.Latency {
	if h == nil || h.TotalCount() == 0 {
		return result.Latency{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1000 }
	return result.Latency{P50: q(50), P90: q(90), P99: q(99), P999: q(99.9),
		Max: float64(h.Max()) / 1000, Mean: h.Mean() / 1000, N: h.TotalCount()}
}

// EncodeHistogram is h in the result's compressed encoding, or nil.
func EncodeHistogram(h *hdrhistogram.Histogram) *result.Histogram {
	if h == nil {
		return nil
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil
	}
	return &result.Histogram{Unit: "us", Encoded: string(b)} // Encode already yields base64
}

// Throughput is the workload by second, up to upTo, without trailing
// empty seconds.
func Throughput(st *workload.Stats, upTo time.Duration) []result.ThroughputPoint {
	n := int(upTo/time.Second) + 1
	if n > len(st.Acked) {
		n = len(st.Acked)
	}
	for n > 0 && st.Acked[n-1] == 0 && st.Failed[n-1] == 0 && st.Unknown[n-1] == 0 {
		n--
	}
	out := make([]result.ThroughputPoint, 0, n)
	for i := 0; i < n; i++ {
		p := result.ThroughputPoint{Second: i, Acked: st.Acked[i], Failed: st.Failed[i], Unknown: st.Unknown[i]}
		if i < len(st.PerSecond) {
			if h := st.PerSecond[i]; h != nil && h.TotalCount() > 0 {
				p.P50Ms = float64(h.ValueAtQuantile(50)) / 1000
				p.P99Ms = float64(h.ValueAtQuantile(99)) / 1000
				p.MaxMs = float64(h.Max()) / 1000
			}
		}
		out = append(out, p)
	}
	return out
}
