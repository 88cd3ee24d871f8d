package metric

// Direction says which way a figure gets better.
type Direction int

// Directions.
const (
	Lower  Direction = iota // smaller is better: latency, lag, losses
	Higher                  // larger is better: throughput
)

// String returns "lower" or "higher".
func (d Direction) String() string {
	if d == Higher {
		return "higher"
	}
	return "lower"
}

// Need is what a figure needs from the scenario to be measured at all.
type Need int

// Needs.
const (
	NeedNothing        Need = iota // always measured
	NeedFault                      // a fault must fire (faults: not empty)
	NeedPromote                    // a fault and failover.mode: promote
	NeedReplica                    // at least one replica
	NeedCapacity                   // a burst at rate 0 in a paced workload
	NeedSubscriber                 // at least one logical subscriber
	NeedArchive                    // WAL archiving (topology.archive)
	NeedDump                       // a dump drill (drills: kind dump)
	NeedPITR                       // a pitr drill (drills: kind pitr)
	NeedArchiveStandby             // an archive-only standby (drills: kind archive_standby)
)

// Def describes one metric.
type Def struct {
	Name   string    // e.g. "p99_commit_ms"; units are part of the name
	Unit   string    // "ms", "writes/s", "writes", "bytes"
	Better Direction // which way is better
	Needs  Need      // what the scenario must have for it to be measured
	Doc    string    // one line: what it is
}

// Units.
const (
	UnitMs     = "ms"
	UnitTPS    = "writes/s"
	UnitWrites = "writes"
	UnitBytes  = "bytes"
	// UnitFailures counts failed attempts (of archive_command).
	UnitFailures = "failures"
)

// Defs lists every metric, in the order reports show them.
var Defs = []Def{
	{"tps", UnitTPS, Higher, NeedNothing, "writes acknowledged inside the measured window, per second of it; with a capacity burst, the schedule's writes per second outside it"},
	{"capacity_tps", UnitTPS, Higher, NeedCapacity, "writes acknowledged per second in the closed-loop bursts (rate 0) of a paced workload: the ceiling"},
	{"p50_commit_ms", UnitMs, Lower, NeedNothing, "median commit latency of acknowledged writes"},
	{"p90_commit_ms", UnitMs, Lower, NeedNothing, "90th percentile commit latency"},
	{"p99_commit_ms", UnitMs, Lower, NeedNothing, "99th percentile commit latency"},
	{"p999_commit_ms", UnitMs, Lower, NeedNothing, "99.9th percentile commit latency"},
	{"max_commit_ms", UnitMs, Lower, NeedNothing, "slowest acknowledged commit"},
	{"schedule_lag_p99_ms", UnitMs, Lower, NeedNothing, "99th percentile of how late a write started against the arrival schedule"},
	{"failed_writes", UnitWrites, Lower, NeedNothing, "writes that failed for sure"},
	{"unknown_writes", UnitWrites, Lower, NeedNothing, "writes whose outcome is unknown (the connection broke after sending)"},
	{"skipped_writes", UnitWrites, Lower, NeedNothing, "arrivals dropped because the queue of waiting writes was full"},
	{"not_sent_writes", UnitWrites, Lower, NeedNothing, "writes scheduled but still waiting for a writer when the window closed"},
	{"lost_acked_writes", UnitWrites, Lower, NeedNothing, "acknowledged writes absent from the final primary (the audit)"},
	{"ghost_writes", UnitWrites, Lower, NeedNothing, "writes not acknowledged (failed or unknown) yet present after the run"},
	{"write_unavailable_ms", UnitMs, Lower, NeedFault, "last acknowledged write before the fault to the first after it"},
	{"recovery_ms", UnitMs, Lower, NeedFault, "fault landed to the first acknowledged write after it, wherever it was acknowledged"},
	{"detect_ms", UnitMs, Lower, NeedPromote, "fault to the failure being detected"},
	{"promote_ms", UnitMs, Lower, NeedPromote, "promotion started to promotion done"},
	{"max_replay_lag_bytes", UnitBytes, Lower, NeedReplica, "largest replay lag in bytes, worst replica"},
	{"p99_replay_lag_bytes", UnitBytes, Lower, NeedReplica, "99th percentile replay lag in bytes, worst replica"},
	{"max_replay_lag_ms", UnitMs, Lower, NeedReplica, "largest server replay_lag, worst replica"},
	{"max_visibility_ms", UnitMs, Lower, NeedReplica, "largest end-to-end heartbeat visibility, worst replica"},
	{"p99_visibility_ms", UnitMs, Lower, NeedReplica, "99th percentile heartbeat visibility, worst replica"},
	{"bring_up_ms", UnitMs, Lower, NeedNothing, "time to build the cluster and have every standby streaming"},
	{"subscriber_missing_acked_writes", UnitWrites, Lower, NeedSubscriber, "acknowledged writes absent on a logical subscriber after the run, worst subscriber"},
	{"max_subscriber_lag_ms", UnitMs, Lower, NeedSubscriber, "longest from an acknowledged write's ack to its arrival on a logical subscriber, worst subscriber"},
	{"max_subscriber_lag_bytes", UnitBytes, Lower, NeedSubscriber, "largest lag in bytes of a logical subscriber's slot on the primary, worst subscriber"},
	{"max_archive_lag_bytes", UnitBytes, Lower, NeedArchive, "largest WAL position of the primary past the end of its last archived segment (a switched segment counts whole until archived)"},
	{"archive_failures", UnitFailures, Lower, NeedArchive, "failed archive_command attempts on the primaries during the window"},
	{"dump_ms", UnitMs, Lower, NeedDump, "pg_dump of the orders as of the dump drill's snapshot"},
	{"restore_ms", UnitMs, Lower, NeedDump, "a fresh server started and the dump restored into it (pg_restore)"},
	{"dump_missing_acked_writes", UnitWrites, Lower, NeedDump, "acknowledged writes the dump's restore lacks: those written after its snapshot"},
	{"pitr_ms", UnitMs, Lower, NeedPITR, "point-in-time recovery's RTO: the base backup copied, started and the WAL archive replayed to the restore point before the accident"},
	{"pitr_missing_acked_writes", UnitWrites, Lower, NeedPITR, "acknowledged writes before the PITR target missing after the recovery (its RPO in writes)"},
	{"pitr_rpo_ms", UnitMs, Lower, NeedPITR, "the PITR target minus the ack of the earliest acknowledged write before it that the recovery lacks (0 when none)"},
	{"archive_standby_missing_acked_writes", UnitWrites, Lower, NeedArchiveStandby, "acknowledged writes a standby fed by the WAL archive alone lacks when promoted at the end"},
	{"max_archive_standby_lag_bytes", UnitBytes, Lower, NeedArchiveStandby, "largest replay position of the archive-only standby behind the primary's WAL"},
}

// Lookup returns the definition of the metric called name.
func Lookup(name string) (Def, bool) {
	for _, d := range Defs {
		if d.Name == name {
			return d, true
		}
	}
	return Def{}, false
}

// Names returns the names of every metric, in Defs order.
func Names() []string {
	out := make([]string, len(Defs))
	for i, d := range Defs {
		out[i] = d.Name
	}
	return out
}

// Aggregations a threshold applies to a metric's values across the
// variants it selects.
const (
	AggMax  = "max"  // every variant's value ≤ the limit
	AggMin  = "min"  // every variant's value ≥ the limit
	AggMean = "mean" // the mean of the values, on the metric's bad side of the limit
	AggP50  = "p50"  // the median of the values (nearest rank)
	AggP90  = "p90"  // the 90th percentile of the values (nearest rank)
	AggP99  = "p99"  // the 99th percentile of the values (nearest rank)
)

// Aggregations lists the valid aggregations, in documentation order.
var Aggregations = []string{AggMax, AggMin, AggMean, AggP50, AggP90, AggP99}

// IsAggregation reports whether s is a valid aggregation.
func IsAggregation(s string) bool {
	for _, a := range Aggregations {
		if a == s {
			return true
		}
	}
	return false
}
