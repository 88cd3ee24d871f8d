// Package result defines the versioned schema of result.json, the one stream
// a run writes and that report and compare read. It is a leaf package: it
// imports nothing from the cluster, workload or fault packages.
//
// Every time offset is in milliseconds from the start of the variant's
// measured window (the moment the workload clock started), measured on the
// harness's monotonic clock. Units are part of field names.
package result

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/quantile"
)

// SchemaVersion is the version of the result.json layout written by this
// build. Readers refuse files with a newer major version.
//
// Version 2 typed the events (fault index, fault kind, lasting, outcome),
// added the variant's fault records and typed the phases; a version 1 file
// is read into the same shape by Read (see upgrade.go).
const SchemaVersion = 2

// Status values for a Result and for each Variant.
const (
	StatusComplete    = "complete"    // ran to the end
	StatusInterrupted = "interrupted" // stopped by the user (Ctrl-C); partial
	StatusFailed      = "failed"      // an error stopped it; partial
	StatusPending     = "pending"     // not started when the run stopped
	StatusRunning     = "running"     // still running, or the harness died
)

// Result is the whole of result.json.
type Result struct {
	SchemaVersion int       `json:"schema_version"`
	Status        string    `json:"status"`
	Error         string    `json:"error,omitempty"`
	Run           RunMeta   `json:"run"`
	Variants      []Variant `json:"variants"`
	// Thresholds are the scenario's thresholds checked against this run,
	// in file order; absent when the scenario has none.
	Thresholds []ThresholdResult `json:"thresholds,omitempty"`
}

// ThresholdResult is one threshold of the scenario (one metric, one
// aggregation, one limit) checked against the run.
type ThresholdResult struct {
	// Name reads like the threshold: "lost_acked_writes max <= 0 where
	// synchronous_commit in [on, remote_apply]".
	Name        string              `json:"name"`
	Metric      string              `json:"metric"`
	Aggregation string              `json:"aggregation"` // max | min | mean | p50 | p90 | p99
	Limit       float64             `json:"limit"`
	Bound       string              `json:"bound"` // "<=" or ">=": how the value must stand to the limit
	Where       map[string][]string `json:"where,omitempty"`
	Source      string              `json:"source,omitempty"` // scenario file:line
	// Value is the aggregate over the selected variants; null when no
	// selected variant measured the metric.
	Value   *float64 `json:"value"`
	Passed  bool     `json:"passed"`
	Message string   `json:"message"` // why it passed or failed, with the values
	// Variants are the selected variants and their values.
	Variants []ThresholdVariant `json:"variants"`
}

// ThresholdVariant is one selected variant's value of a threshold's
// metric.
type ThresholdVariant struct {
	Name  string   `json:"name"`
	Value *float64 `json:"value"` // null: not measured (the variant did not complete)
	// Passed says whether the variant's own value is within the limit.
	Passed bool `json:"passed"`
}

// RunMeta describes the run and its environment, enough to reproduce it.
type RunMeta struct {
	ID              string    `json:"id"`
	ToolVersion     string    `json:"tool_version"`
	GoVersion       string    `json:"go_version"`
	PostgresVersion string    `json:"postgres_version"`
	Backend         string    `json:"backend"`
	Scenario        string    `json:"scenario"`
	Description     string    `json:"description,omitempty"`
	ScenarioFile    string    `json:"scenario_file"`
	ScenarioSHA256  string    `json:"scenario_sha256"`
	ScenarioYAML    string    `json:"scenario_yaml"`
	Seed            int64     `json:"seed"`
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	Host            string    `json:"host"`
	OS              string    `json:"os"`
	Arch            string    `json:"arch"`
	CPUs            int       `json:"cpus"`
	DurationS       float64   `json:"duration_s"` // the workload window per variant
	// Kept is the cluster run --keep left running, if any.
	Kept *KeptCluster `json:"kept_cluster,omitempty"`
}

// KeptCluster is a cluster left running after the run (run --keep). Its
// passwords are only in File, which only its owner can read.
type KeptCluster struct {
	Variant string     `json:"variant"`
	Primary string     `json:"primary"`
	File    string     `json:"connection_file"`
	Nodes   []KeptNode `json:"nodes"`
}

// KeptNode is where one node of a kept cluster listens.
type KeptNode struct {
	Name string `json:"name"`
	Host string `json:"host"`
	Port int    `json:"port"`
}

// Variant is one matrix combination, run on a fresh cluster.
type Variant struct {
	Name     string            `json:"name"`     // e.g. "synchronous_commit=on"
	Settings map[string]string `json:"settings"` // the matrix values of this variant
	Status   string            `json:"status"`
	Error    string            `json:"error,omitempty"`
	// Phase is how far the variant got: bring-up, load, workload, failover,
	// audit, teardown, done.
	Phase     string     `json:"phase"`
	Topology  Topology   `json:"topology"`
	Summary   Summary    `json:"summary"`
	Series    Series     `json:"series"`
	Events    []Event    `json:"events"`
	Histogram *Histogram `json:"commit_latency_histogram,omitempty"`
	// ResponseHistogram is the response time of the same writes (ack
	// minus scheduled time), encoded the same way; absent when no
	// acknowledged write had a schedule (an unlimited rate).
	ResponseHistogram *Histogram `json:"response_time_histogram,omitempty"`
	// Repetitions, when the scenario repeats: one entry per run of the
	// variant (the first also fills Summary, Series and Events).
	Repetitions []Repetition `json:"repetitions,omitempty"`
	// Faults are the scenario's faults as this variant's timeline fired
	// them, in file order.
	Faults []Fault `json:"faults"`
	// Checks are the variant's self-checks: each figure set against a
	// second, independent way to get it.
	Checks []Check `json:"checks"`
	// Phases split the workload at fault boundaries.
	Phases []PhaseStats `json:"phases"`
	// CatchUps: per healed fault and replica, time back under the lag
	// thresholds.
	CatchUps []CatchUp `json:"catch_ups"`
	LogDir   string    `json:"log_dir,omitempty"` // relative to the run folder
	// HistoryFile is the ledger of every write sent, gzip'd CSV, relative
	// to the run folder (see README, "The history").
	HistoryFile string `json:"history_file,omitempty"`
	// SeriesFile, when set, holds the raw replication, visibility and
	// WAL series (gzip'd JSON, relative to the run folder): those in
	// Series were downsampled (Series.Downsample), the run being long.
	SeriesFile string `json:"series_file,omitempty"`
	// ArchiveDir holds the WAL every node archived, one file per segment
	// (and timeline history and .partial files), relative to the run
	// folder; set once the cluster is down and the archive was moved
	// there (not for a cluster kept running, whose archive stays with
	// it).
	ArchiveDir string `json:"archive_dir,omitempty"`
	// Drills are the restore drills and the accident they recover from
	// (drills.go); nil without them.
	Drills *Drills `json:"drills,omitempty"`
}

// Topology is the cluster as it was built for this variant.
type Topology struct {
	Primary                 string            `json:"primary"`
	Replicas                []ReplicaInfo     `json:"replicas"`
	SynchronousStandbyNames string            `json:"synchronous_standby_names"`
	Settings                map[string]string `json:"settings"` // effective settings on the primary
	BringUpMs               float64           `json:"bring_up_ms"`
	// PostgresVersion is the server version this variant's cluster ran
	// (Run.PostgresVersion is the backend's default; a variant of an image
	// of its own, topology.image, may run another). Image is that image,
	// on the docker backend.
	PostgresVersion string `json:"postgres_version,omitempty"`
	Image           string `json:"image,omitempty"`
}

// ReplicaInfo names a standby and how it replicates.
type ReplicaInfo struct {
	Name string `json:"name"`
	Sync bool   `json:"sync"`
	Slot string `json:"slot,omitempty"`
}

// Summary holds the headline figures of a variant.
type Summary struct {
	DurationS float64 `json:"duration_s"`
	Attempted int64   `json:"writes_attempted"`
	Acked     int64   `json:"writes_acked"`
	Failed    int64   `json:"writes_failed"`
	Unknown   int64   `json:"writes_unknown"`
	Skipped   int64   `json:"writes_skipped"` // dropped from a full queue
	// NotSent were scheduled but still waiting for a writer when the
	// window closed: never sent.
	NotSent int64 `json:"writes_not_sent"`
	// TPS is the writes acknowledged inside the window per second of it
	// (not those acknowledged in the grace after it); with a capacity,
	// the schedule's writes per second of the window outside it.
	TPS           float64 `json:"tps"`
	TargetRateTPS float64 `json:"target_rate_tps"`
	// CommitLatency is the service time of acknowledged writes: ack
	// minus send.
	CommitLatency Latency `json:"commit_latency_ms"`
	// ResponseTime is their response time: ack minus the time the
	// arrival schedule wanted the write sent, so the wait behind the
	// schedule counts (pgbench --rate's latency). Writes sent with no
	// schedule (an unlimited rate) are left out.
	ResponseTime   Latency `json:"response_time_ms"`
	ScheduleLagP99 float64 `json:"schedule_lag_p99_ms"`
	Replicas       []Lag   `json:"replicas"`
	// VisibilityFloor*Ms is heartbeat visibility polled on the primary
	// itself, where a heartbeat is visible at once: what the method adds
	// to every replica's visibility figure. Its p99 includes the poller's
	// reconnection to a new primary after a failover.
	VisibilityFloorP50Ms float64 `json:"visibility_floor_p50_ms"`
	VisibilityFloorP99Ms float64 `json:"visibility_floor_p99_ms"`
	// HeartbeatsAcked were acknowledged by a primary; HeartbeatsLost of
	// them were missing on the primary polled later while a later one was
	// there: acknowledged, then lost in a failover.
	HeartbeatsAcked int64   `json:"heartbeats_acked"`
	HeartbeatsLost  int64   `json:"heartbeats_lost"`
	Reads           []Reads `json:"reads,omitempty"`
	// Capacity is the closed-loop ceiling, measured in the unlimited-rate
	// bursts of a paced workload; absent without one. With it, TPS,
	// CommitLatency and ResponseTime are those of the schedule's writes
	// (TPS per second of the window outside the bursts): the bursts' own
	// writes are the capacity's.
	Capacity *Capacity `json:"capacity,omitempty"`
	// Repeated sums up every repetition when the scenario repeats.
	Repeated *RepeatSummary `json:"repeated,omitempty"`
	Failover *Failover      `json:"failover,omitempty"`
	Audit    *Audit         `json:"audit,omitempty"`
	// Subscribers sums up each logical subscriber's samples.
	Subscribers []SubscriberSummary `json:"subscribers,omitempty"`
	// Archive sums up the WAL archiver's samples, when the scenario
	// archives (topology.archive).
	Archive       *ArchiveSummary `json:"archive,omitempty"`
	InitialOrders int64           `json:"initial_orders"`
}

// Capacity is what the cluster took with every writer writing back to
// back, no schedule (a burst at rate 0 in a paced workload): its ceiling
// at this setting. Its spans are the phases of kind PhaseCapacity.
type Capacity struct {
	// StartMs and EndMs bound the spans; DurationMs is their total length,
	// what TPS is per.
	StartMs    float64 `json:"start_ms"`
	EndMs      float64 `json:"end_ms"`
	DurationMs float64 `json:"duration_ms"`
	Writers    int     `json:"writers"`
	// Acked were acknowledged in the spans; Errors failed or had an
	// unknown outcome there.
	Acked  int64   `json:"acked"`
	Errors int64   `json:"errors"`
	TPS    float64 `json:"tps"`
	// CommitLatency is the service time (send to ack) of the writes
	// acknowledged in the spans.
	CommitLatency Latency `json:"commit_latency_ms"`
}

// Reads sums up the reads of one node. A read asks for the newest order
// acknowledged before it was sent; it is stale when the node lacks it.
type Reads struct {
	Node           string  `json:"node"`
	Reads          int64   `json:"reads"`
	Stale          int64   `json:"stale_reads"`
	Errors         int64   `json:"read_errors"`
	StaleRate      float64 `json:"stale_rate"` // stale / answered
	StaleP50Ms     float64 `json:"stale_p50_ms"`
	StaleP99Ms     float64 `json:"stale_p99_ms"`
	StaleMaxMs     float64 `json:"stale_max_ms"`
	StaleMaxOrders int64   `json:"stale_max_orders"`
	UnavailableMs  float64 `json:"read_unavailable_ms"`
}

// Repetition is one run of a repeated variant, with its faults moved by
// ShiftMs.
type Repetition struct {
	Index       int     `json:"index"` // 1-based
	ShiftMs     float64 `json:"shift_ms"`
	Status      string  `json:"status"`
	Error       string  `json:"error,omitempty"`
	TPS         float64 `json:"tps"`
	P99CommitMs float64 `json:"p99_commit_ms"`
	// CapacityTPS is the repetition's capacity (summary.capacity.tps),
	// when the workload has a capacity phase.
	CapacityTPS *float64  `json:"capacity_tps,omitempty"`
	Lost        int64     `json:"lost_acked_writes"`
	Ghosts      int64     `json:"ghost_writes"`
	Failover    *Failover `json:"failover,omitempty"`
}

// RepeatSummary holds distributions over the completed repetitions.
type RepeatSummary struct {
	Runs               int          `json:"runs"`
	Complete           int          `json:"complete"`
	LostTotal          int64        `json:"lost_acked_writes_total"`
	WriteUnavailableMs Distribution `json:"write_unavailable_ms"`
	DetectMs           Distribution `json:"detect_ms"`  // detection minus fault
	PromoteMs          Distribution `json:"promote_ms"` // promotion done minus started
	LostAckedWrites    Distribution `json:"lost_acked_writes"`
	TPS                Distribution `json:"tps"`
	P99CommitMs        Distribution `json:"p99_commit_ms"`
	// CapacityTPS is over the repetitions that had a capacity phase: a
	// few seconds of closed loop vary more from run to run than the
	// levels they compare, so the order of close levels is read here.
	CapacityTPS *Distribution `json:"capacity_tps,omitempty"`
}

// Distribution is a nearest-rank summary of a figure over repetitions.
type Distribution struct {
	N   int     `json:"n"`
	Min float64 `json:"min"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	Max float64 `json:"max"`
}

// Latency holds percentiles in milliseconds.
type Latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
	N    int64   `json:"count"`
}

// Lag summarises one replica's lag over the measured window.
type Lag struct {
	Replica            string  `json:"replica"`
	Sync               bool    `json:"sync"`
	MaxReplayLagBytes  float64 `json:"max_replay_lag_bytes"`
	P99ReplayLagBytes  float64 `json:"p99_replay_lag_bytes"`
	MaxSentLagBytes    float64 `json:"max_sent_lag_bytes"`
	MaxReplayLagMs     float64 `json:"max_replay_lag_ms"` // server's replay_lag
	P99ReplayLagMs     float64 `json:"p99_replay_lag_ms"`
	MaxVisibilityMs    float64 `json:"max_visibility_ms"` // heartbeat end to end
	P99VisibilityMs    float64 `json:"p99_visibility_ms"`
	P50VisibilityMs    float64 `json:"p50_visibility_ms"`
	VisibilitySamples  int64   `json:"visibility_samples"`
	ReplicationSamples int64   `json:"replication_samples"`
	// HeartbeatsLost were acknowledged while it was a replica and never
	// seen on it, though a later one was; HeartbeatsUnseen were not seen
	// by the end, nor any later one. Neither is in the visibility figures.
	HeartbeatsLost   int64 `json:"heartbeats_lost"`
	HeartbeatsUnseen int64 `json:"heartbeats_unseen"`
	// InvalidSamples were left out of the byte and replay_lag figures: not
	// streaming, or positions out of order.
	InvalidSamples int64 `json:"invalid_replication_samples"`
}

// Failover is the timeline of one fault and the failover that followed.
// Every *_ms field is an offset from the start of the measured window, or
// null when the step did not happen.
type Failover struct {
	Mode           string   `json:"mode"` // none | promote
	FaultMs        *float64 `json:"fault_ms"`
	DetectedMs     *float64 `json:"detected_ms"`
	PromoteStartMs *float64 `json:"promote_start_ms"`
	PromoteDoneMs  *float64 `json:"promote_done_ms"`
	// FaultMs is when the fault landed: when its injection started, or
	// the last ack before it was seen to take effect when that came later
	// (a kill takes tens of ms, during which the old primary may still
	// acknowledge). InjectedMs is when its injection started.
	InjectedMs *float64 `json:"fault_injected_ms"`
	// FirstWriteMs is the acknowledgement that ended the write outage:
	// the first after the fault landed for a fault that stopped the old
	// primary at once; FirstWriteNode is where it was acknowledged.
	FirstWriteMs   *float64 `json:"first_write_ms"`
	FirstWriteNode string   `json:"first_write_node,omitempty"`
	// UnknownInFlight are the writes of unknown outcome sent before the
	// fault landed (FaultMs): in flight when it did. UnknownSentAfter
	// were sent at or after it, most to a connection already dead.
	UnknownInFlight  int64    `json:"unknown_in_flight_writes"`
	UnknownSentAfter int64    `json:"unknown_sent_after_writes"`
	LastAckBeforeMs  *float64 `json:"last_ack_before_fault_ms"`
	// OutageFromMs is the acknowledgement that opened the write outage
	// (WriteUnavailableMs runs from it to FirstWriteMs): the last before
	// the fault landed, or a later one when the old primary outlived the
	// fault a while (cut off its manager's store, it went on
	// acknowledging until it demoted itself). The outage is the longest
	// span without an acknowledgement from the last one before the fault
	// to the first on the new primary.
	OutageFromMs       *float64 `json:"outage_from_ms"`
	WriteUnavailableMs *float64 `json:"write_unavailable_ms"`
	// OldPrimaryAckedAfter are the writes the old primary acknowledged
	// after a fault on it landed (0 for a fault elsewhere);
	// OldPrimaryAckedAfterLost how many of them the final primary lacks
	// (null when none or when no audit read its rows).
	OldPrimaryAckedAfter     int64    `json:"old_primary_acked_after_fault"`
	OldPrimaryAckedAfterLost *int64   `json:"old_primary_acked_after_fault_lost"`
	DetectAfterMs            float64  `json:"detect_after_ms"` // configured detection time
	OldPrimary               string   `json:"old_primary"`
	NewPrimary               string   `json:"new_primary,omitempty"`
	Repointed                []string `json:"repointed,omitempty"`
	// SyncRestoredMs is when the new primary became synchronous again
	// (failover.synchronous: keep); null when it did not.
	SyncRestoredMs *float64 `json:"sync_restored_ms"`
	// ManagerPromotedMs is when the failover manager itself recorded the
	// promotion of NewPrimary (Patroni's /history: the new timeline's
	// history file written on it); null without such a record.
	ManagerPromotedMs *float64 `json:"manager_promoted_ms"`
	// DemotedMs is when the old primary was first seen answering
	// read-only, demoted by its manager before anyone was promoted (a
	// Patroni leader cut off etcd); null when it was not.
	DemotedMs *float64 `json:"demoted_ms"`
	// SplitBrain: the old primary still accepted writes (asked directly)
	// after the new one was promoted.
	SplitBrain bool `json:"split_brain"`
	// SplitBrains are the spans in which the old primary was a writable
	// primary beside the new one (asked directly, every 50 ms, from the
	// promotion to the end), with the writes it acknowledged.
	SplitBrains []SplitBrainSpan `json:"split_brains,omitempty"`
	// DualPrimaryMs is how long two nodes both acknowledged writes: from
	// the new primary's first ack to the old primary's last; null if never.
	DualPrimaryMs       *float64 `json:"dual_primary_ms"`
	LastAckOldPrimaryMs *float64 `json:"last_ack_old_primary_ms"`
	// Failovers lists every failover of the run in order, the first one
	// being the one the fields above describe: more than one when a
	// promoted node failed in turn and the next was promoted.
	Failovers []FailoverStep `json:"failovers,omitempty"`
	// Predicted is the range the manager's and the client path's settings
	// put the write outage in, and whether the measured one lies in it;
	// null when no model covers the fault.
	Predicted *Prediction `json:"predicted,omitempty"`
}

// Prediction is the write outage the settings predict: the sum of the
// terms' ranges (docs/failover-model.md gives the model and its sources).
type Prediction struct {
	Model  string           `json:"model"` // e.g. "patroni: leader node dead"
	LowMs  float64          `json:"low_ms"`
	HighMs float64          `json:"high_ms"`
	Terms  []PredictionTerm `json:"terms"`
	// Verdict sets the measured write outage against the range: within,
	// below or above; empty without a measured outage.
	Verdict string `json:"verdict,omitempty"`
	// Sentence says it in words, for the report.
	Sentence string `json:"sentence,omitempty"`
}

// PredictionTerm is one step of the outage and the range the settings
// give it.
type PredictionTerm struct {
	Name   string  `json:"name"`
	LowMs  float64 `json:"low_ms"`
	HighMs float64 `json:"high_ms"`
	// Rule is how the settings give the range ("ttl - loop_wait .. ttl").
	Rule string `json:"rule"`
}

// Prediction verdicts.
const (
	VerdictWithin = "within"
	VerdictBelow  = "below"
	VerdictAbove  = "above"
)

// FailoverStep is one failover: a primary found dead and what the
// controller did about it. Every *_ms field is an offset from the start
// of the measured window, or null when the step did not happen.
type FailoverStep struct {
	OldPrimary string `json:"old_primary"`
	NewPrimary string `json:"new_primary,omitempty"`
	// FirstFailureMs is when the first failing health probe started.
	FirstFailureMs *float64 `json:"first_failure_ms"`
	DetectedMs     float64  `json:"detected_ms"`
	PromoteStartMs *float64 `json:"promote_start_ms"`
	PromoteDoneMs  *float64 `json:"promote_done_ms"`
	Repointed      []string `json:"repointed,omitempty"`
	SyncRestoredMs *float64 `json:"sync_restored_ms"`
	// NoPrimary: nothing could be promoted; no primary was left.
	NoPrimary bool   `json:"no_primary,omitempty"`
	Error     string `json:"error,omitempty"`
}

// SplitBrainSpan is one span in which an old primary was writable beside
// the new one.
type SplitBrainSpan struct {
	Node   string   `json:"node"`
	FromMs float64  `json:"from_ms"`
	ToMs   *float64 `json:"to_ms"` // null: to the end of the run
	// AckedWrites are the writes the old primary acknowledged after the
	// promotion (or the previous span's end) and before this span's end.
	AckedWrites int64 `json:"acked_writes"`
}

// WALBeyond is what a failed-over primary wrote past the point where the
// final primary's timeline left its own (pg_waldump): WAL no promoted
// standby ever had.
type WALBeyond struct {
	Node     string `json:"node"`
	Timeline int    `json:"timeline"`
	FromLSN  string `json:"from_lsn"`
	// OrderInserts are the order rows inserted there; Commits the
	// transactions committed (heartbeats included).
	OrderInserts int64 `json:"order_inserts"`
	Commits      int64 `json:"commits"`
}

// SubscriberSummary is one logical subscriber's samples, summed up: the
// worst lag in bytes its slot had on the primary and the WAL it held
// there, and when the current primary stopped having its slot (a
// failover to a server that never had it) and its apply worker stopped
// hearing from the publisher.
type SubscriberSummary struct {
	Name             string   `json:"name"`
	MaxLagBytes      *float64 `json:"max_lag_bytes"`
	MaxRetainedBytes *float64 `json:"max_retained_bytes"`
	// SlotGoneMs is the first sample whose primary had no slot of its,
	// after one that had; nil when it always had one.
	SlotGoneMs *float64 `json:"slot_gone_ms"`
	// MaxSinceMessageMs is the longest its apply worker went without a
	// message from the publisher (as sampled).
	MaxSinceMessageMs *float64 `json:"max_since_message_ms"`
	// FailoverSlot: its subscription's slot was a failover slot
	// (PostgreSQL 17 and later: created with failover = true and
	// synchronized to the standbys, which stream through physical slots
	// the primary's synchronized_standby_slots names).
	FailoverSlot bool `json:"failover_slot"`
	// Follows are the harness re-pointing its subscription to each
	// promoted standby, in order; empty without a promotion.
	Follows []SubscriberFollow `json:"follows,omitempty"`
}

// SubscriberFollow is one re-pointing of a subscription to a new primary
// after a promotion (ALTER SUBSCRIPTION ... DISABLE, CONNECTION, ENABLE).
type SubscriberFollow struct {
	NewPrimary string `json:"new_primary"`
	// RepointMs is when the harness re-pointed it (ms of the run).
	RepointMs float64 `json:"repoint_ms"`
	// SlotThere: the new primary had the subscription's slot when the
	// harness looked (a failover slot synchronized to it).
	SlotThere bool `json:"slot_on_new_primary"`
	// Followed: the slot was in use on the new primary, by the
	// subscription, within the harness's wait; FollowedMs when first
	// seen so. Error says why not.
	Followed   bool     `json:"followed"`
	FollowedMs *float64 `json:"followed_ms,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// ArchiveSummary is the WAL archiver over the window: the worst lag of
// the archive behind the primary, failures, and when the last file was
// archived.
type ArchiveSummary struct {
	// Samples is how many samples had a primary answering.
	Samples int `json:"samples"`
	// MaxLagSegments and MaxLagBytes are the worst of the samples (see
	// ArchivePoint); nil when no sample had a segment archived.
	MaxLagSegments *int64   `json:"max_lag_segments"`
	MaxLagBytes    *float64 `json:"max_lag_bytes"`
	// MaxSinceArchivedMs is the longest the primary went without
	// archiving a file, as sampled.
	MaxSinceArchivedMs *float64 `json:"max_since_archived_ms"`
	// Failures is how many archive_command attempts failed during the
	// window: the growth of each primary's failed_count from its first
	// sample (the whole count for a primary promoted during the run,
	// whose count started at its promotion); LastFailedWAL the last file
	// that failed.
	Failures      int64  `json:"failures"`
	LastFailedWAL string `json:"last_failed_wal,omitempty"`
	// LastArchivedWAL is the last file archived at the last sample, and
	// LastArchivedMs when (ms from the start of the window, by the
	// server's clock: the sample's time minus its SinceArchivedMs);
	// EndMs is the end of the window, so EndMs minus it is how long
	// before the end the last file was archived (below 0: after it, the
	// samples going on while the writes in flight finish).
	LastArchivedWAL string   `json:"last_archived_wal"`
	LastArchivedMs  *float64 `json:"last_archived_ms"`
	EndMs           float64  `json:"end_ms"`
	// Files and Bytes are what the archive folder (ArchiveDir) holds
	// after the run: every file every node archived, the load before the
	// window included; set once the cluster is down.
	Files int64 `json:"files"`
	Bytes int64 `json:"bytes"`
}

// SubscriberAudit is one logical subscriber against the ledger: the
// acknowledged writes it does not hold, and how long after its ack each
// one it holds arrived (its own arrival column, by its clock).
type SubscriberAudit struct {
	Name string `json:"name"`
	// Acked is the acknowledged writes audited; Missing those absent on
	// the subscriber (MissingIDs the first of them).
	Acked      int64   `json:"acked"`
	Missing    int64   `json:"missing_acked_writes"`
	MissingIDs []int64 `json:"missing_ids_sample"`
	// After a promotion: MissingBefore are the missing writes acknowledged
	// before the new primary took writes (lost with the old primary's
	// slot), MissingAfter those acknowledged after; Followed is whether a
	// write acknowledged after it arrived (the subscription followed the
	// new primary). Nil without a promotion.
	MissingBefore *int64 `json:"missing_before_failover,omitempty"`
	MissingAfter  *int64 `json:"missing_after_failover,omitempty"`
	Followed      *bool  `json:"followed_failover,omitempty"`
	// ArrivalMs is the end-to-end lag of the writes it holds: arrival on
	// the subscriber minus the ack; ArrivalBySecond the same by the
	// second of the ack.
	// Below 0 when the row was applied there before the ack reached
	// the client (which may wait for a synchronous standby; a logical
	// walsender does not).
	ArrivalMs       Distribution       `json:"arrival_lag_ms"`
	ArrivalBySecond []ScheduleLagPoint `json:"arrival_lag_by_second"`
	// ArrivedBeforeSent counts rows whose arrival is earlier than the
	// write was sent: impossible, unless the subscriber's clock and the
	// harness's disagree (a self-check of the arrival figures).
	ArrivedBeforeSent int64 `json:"arrived_before_sent"`
	// Drained: the subscriber had confirmed the final primary's WAL
	// position when it was read; false when the final primary has no slot
	// of its (after a failover) or it did not catch up within the audit's
	// timeout.
	Drained bool `json:"drained"`
}

// Audit compares the ledger of writes with what the nodes hold.
type Audit struct {
	FinalPrimary string    `json:"final_primary"`
	Acked        int64     `json:"acked"`
	Lost         int64     `json:"lost_acked_writes"` // acked, absent on the final primary
	LostIDs      []int64   `json:"lost_ids_sample"`   // first ids lost (up to 100)
	LostAckMs    []float64 `json:"lost_ack_ms_sample"`
	Ghosts       int64     `json:"ghost_writes"` // failed for sure or never sent, yet present
	// UnknownFound are committed unknowns: the outcome was unknown (the
	// connection broke after sending) and the write is present, which is
	// legitimate; not ghosts.
	UnknownFound int64 `json:"unknown_present"`
	FailedFound  int64 `json:"failed_present"` // failed for sure, present
	Foreign      int64 `json:"foreign_rows"`   // present but never attempted
	// LostByNode counts lost writes by the node that acknowledged them.
	LostByNode map[string]int64 `json:"lost_by_node,omitempty"`
	// Timelines are the heartbeats the final primary holds, by writer
	// node and timeline; HeartbeatGapMs the longest gap between one
	// timeline's last heartbeat and the next one's first (server clock).
	Timelines      []TimelineSpan `json:"timelines,omitempty"`
	HeartbeatGapMs *float64       `json:"heartbeat_gap_ms,omitempty"`
	Nodes          []NodeAudit    `json:"nodes"`
	// WALBeyond, where the harness can read the WAL of the primaries
	// failed over, one entry each.
	WALBeyond []WALBeyond `json:"wal_beyond_switch,omitempty"`
	// Subscribers audits each logical subscriber against the ledger.
	Subscribers []SubscriberAudit `json:"subscribers,omitempty"`
	// DeletedOnPurpose are audited writes the scenario's accident
	// deleted (recorded by id): held, not lost.
	DeletedOnPurpose int64 `json:"deleted_on_purpose,omitempty"`
}

// TimelineSpan is the heartbeats one node wrote on one timeline.
type TimelineSpan struct {
	Node       string    `json:"node"`
	Timeline   string    `json:"timeline"` // hex, as in WAL file names
	FirstAt    time.Time `json:"first_at"`
	LastAt     time.Time `json:"last_at"`
	Heartbeats int64     `json:"heartbeats"`
}

// NodeAudit is the audit of one surviving node.
type NodeAudit struct {
	Node       string  `json:"node"`
	Role       string  `json:"role"` // primary | replica
	Rows       int64   `json:"rows"`
	Missing    int64   `json:"missing_acked"`
	MissingIDs []int64 `json:"missing_ids_sample"`
	CaughtUp   bool    `json:"caught_up"`
}

// Series holds the time series of a variant, raw (not downsampled).
type Series struct {
	Throughput  []ThroughputPoint  `json:"throughput"`
	Replication []ReplicationPoint `json:"replication"`
	Visibility  []VisibilityPoint  `json:"visibility"`
	// WAL is the primary's pg_wal size and its slots over time.
	WAL []WALPoint `json:"wal"`
	// Reads per second and node.
	Reads []ReadPoint `json:"reads"`
	// ScheduleLag is how late writes were sent, by the second the
	// schedule wanted them sent; seconds with no write sent are left out.
	ScheduleLag []ScheduleLagPoint `json:"schedule_lag"`
	// Subscribers are the logical subscribers' lag samples.
	Subscribers []SubscriberPoint `json:"subscribers,omitempty"`
	// Archive samples the WAL archiver of the current primary, when the
	// scenario archives (topology.archive).
	Archive []ArchivePoint `json:"archive,omitempty"`
}

// ArchivePoint is one sample of the current primary's WAL archiver
// (pg_stat_archiver) against the segment it writes.
type ArchivePoint struct {
	Ms   float64 `json:"ms"`
	Node string  `json:"node"` // the primary sampled
	// CurrentWAL is the segment the primary writes (pg_walfile_name of
	// pg_current_wal_lsn()); LastArchivedWAL the last file archived, ""
	// when none yet (its counts start at 0 on a promoted standby).
	CurrentWAL      string `json:"current_wal"`
	LastArchivedWAL string `json:"last_archived_wal"`
	// SinceArchivedMs is how long before the sample the last file was
	// archived, by the server's clock; nil when none was.
	SinceArchivedMs *float64 `json:"since_archived_ms"`
	// FailedCount is pg_stat_archiver's failed_count of the node (since
	// it started); LastFailedWAL the last file whose archiving failed.
	FailedCount   int64  `json:"failed_count"`
	LastFailedWAL string `json:"last_failed_wal,omitempty"`
	// LagSegments is how many segments the current one is ahead of the
	// last segment archived (1: only the one being written is not
	// archived); LagBytes the WAL position past the end of that segment,
	// which no archived segment holds: a segment switched by
	// archive_timeout counts whole until it is archived, its unused end
	// (padding) included. Nil when the last file archived is
	// not a segment (none, a timeline history file just after a
	// promotion). A .partial segment (the old timeline's last, archived
	// by a promoted standby) counts as the one before it.
	LagSegments *int64   `json:"lag_segments"`
	LagBytes    *float64 `json:"lag_bytes"`
}

// SubscriberPoint is one sample of one logical subscriber: its slot as
// the current primary has it (none after a failover on a server without
// failover slots), and its subscription as the subscriber sees it.
type SubscriberPoint struct {
	Ms         float64 `json:"ms"`
	Subscriber string  `json:"subscriber"`
	// Slot: the current primary has the subscription's slot. LagBytes is
	// the primary's WAL position minus the slot's confirmed_flush_lsn,
	// RetainedBytes minus its restart_lsn (the WAL it holds).
	Slot bool `json:"slot"`
	// SlotUnread: the primary did not answer the slot query in time (a
	// busy or paused server): the slot fields say nothing then.
	SlotUnread    bool     `json:"slot_unread,omitempty"`
	SlotActive    bool     `json:"slot_active"`
	LagBytes      *float64 `json:"lag_bytes"`
	RetainedBytes *float64 `json:"retained_bytes"`
	// Worker: the subscription's apply worker runs; SinceMessageMs is
	// how long since it last heard from the publisher.
	Worker         bool     `json:"worker"`
	SinceMessageMs *float64 `json:"since_message_ms"`
}

// ScheduleLagPoint is the writes the schedule wanted sent in one second
// that were sent, and how late: send minus scheduled time.
type ScheduleLagPoint struct {
	Second int     `json:"second"`
	Writes int64   `json:"writes"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// ReadPoint is one second of one node's reads.
type ReadPoint struct {
	Second int    `json:"second"`
	Node   string `json:"node"`
	Reads  int64  `json:"reads"`
	Stale  int64  `json:"stale"`
	Errors int64  `json:"errors"`
	// MaxStaleMs is the worst staleness of the second's stale reads.
	MaxStaleMs float64 `json:"max_stale_ms"`
}

// WALPoint is the WAL the primary keeps, at one sample: the size of
// pg_wal and, per replication slot, what it retains.
type WALPoint struct {
	Ms         float64     `json:"ms"`
	Node       string      `json:"node"` // the primary sampled
	PgWalBytes float64     `json:"pg_wal_bytes"`
	Slots      []SlotPoint `json:"slots"`
}

// SlotPoint is one replication slot at one sample.
type SlotPoint struct {
	Slot          string   `json:"slot"`
	Active        bool     `json:"active"`
	WalStatus     string   `json:"wal_status"`          // reserved, extended, unreserved, lost
	SafeWalBytes  *float64 `json:"safe_wal_size_bytes"` // null without max_slot_wal_keep_size
	RetainedBytes float64  `json:"retained_bytes"`      // current LSN minus restart_lsn
}

// Phase kinds: where a phase lies on the fault timeline.
const (
	PhaseWhole  = "whole"  // a window without faults
	PhaseBefore = "before" // before the first fault
	PhaseDuring = "during" // one fault, injected to healed (or the end)
	PhaseAfter  = "after"  // after the last heal
	// PhaseOutage is the fault a failover answers, from its injection to
	// the first write acknowledged after it (or the end).
	PhaseOutage = "outage"
	// PhaseRecovery runs from that first write until the failover is
	// done (promoted, and synchronous again when it restores that).
	PhaseRecovery = "recovery"
	// PhaseAfterFailover is the steady state on the new primary: from the
	// end of the failover to the next fault or the end.
	PhaseAfterFailover = "after_failover"
	// PhaseCapacity is a closed-loop burst (rate 0) of a paced workload:
	// every writer as fast as it can. It lies inside a steady phase
	// (before, after, after_failover or whole), whose figures leave it
	// out (Excluded).
	PhaseCapacity = "capacity"
)

// PhaseStats are the workload's figures over one phase of the timeline:
// before the first fault, during each fault (inject to heal), after; with
// a failover, the outage, the recovery and the steady state after it.
type PhaseStats struct {
	Name string `json:"name"` // "before", "during: pause replica1", "after failover"
	Kind string `json:"kind"` // one of the Phase* constants
	// Fault is the index (in Variant.Faults) of the fault a "during",
	// "outage" or "recovery" phase belongs to.
	Fault             *int    `json:"fault,omitempty"`
	StartMs           float64 `json:"start_ms"`
	EndMs             float64 `json:"end_ms"`
	TPS               float64 `json:"tps"`
	Acked             int64   `json:"acked"`
	Errors            int64   `json:"errors"` // failed + unknown
	P50CommitMs       float64 `json:"p50_commit_ms"`
	P99CommitMs       float64 `json:"p99_commit_ms"`
	MaxCommitMs       float64 `json:"max_commit_ms"`
	MaxReplayLagBytes float64 `json:"max_replay_lag_bytes"` // worst replica
	MaxVisibilityMs   float64 `json:"max_visibility_ms"`    // worst replica
	// MaxUnflushedBytes is the primary's own WAL not yet flushed, apart
	// from the replicas' lag, at worst in the phase.
	MaxUnflushedBytes float64 `json:"max_primary_unflushed_bytes"`
	// Replicas are each replica's lag in the phase, in topology order.
	Replicas []PhaseLag `json:"replicas,omitempty"`
	// Excluded are spans inside StartMs..EndMs left out of every figure
	// of the phase: capacity phases, which have their own.
	Excluded []Span `json:"excluded,omitempty"`
}

// Span is a stretch of the window, in ms from its start: StartMs
// inclusive to EndMs exclusive.
type Span struct {
	StartMs float64 `json:"start_ms"`
	EndMs   float64 `json:"end_ms"`
}

// PhaseLag is one replica's lag over one phase: bytes behind the
// primary's flush position from the valid samples, and the visibility of
// the heartbeats acknowledged in the phase.
type PhaseLag struct {
	Replica            string  `json:"replica"`
	ReplicationSamples int64   `json:"replication_samples"` // valid ones
	P50ReplayLagBytes  float64 `json:"p50_replay_lag_bytes"`
	MaxReplayLagBytes  float64 `json:"max_replay_lag_bytes"`
	VisibilitySamples  int64   `json:"visibility_samples"`
	P50VisibilityMs    float64 `json:"p50_visibility_ms"`
	P99VisibilityMs    float64 `json:"p99_visibility_ms"`
	MaxVisibilityMs    float64 `json:"max_visibility_ms"`
	HeartbeatsLost     int64   `json:"heartbeats_lost"`
}

// CatchUp is how long a replica took, after a fault healed, to be back
// under the catch-up thresholds.
type CatchUp struct {
	Fault         string   `json:"fault"` // the fault's name
	FaultIndex    *int     `json:"fault_index,omitempty"`
	Replica       string   `json:"replica"`
	HealMs        float64  `json:"heal_ms"`
	LagBytesLimit float64  `json:"lag_bytes_limit"`
	LagMsLimit    float64  `json:"lag_ms_limit"`
	BytesMs       *float64 `json:"caught_up_bytes_ms"` // after the heal; null: never
	VisibilityMs  *float64 `json:"caught_up_visibility_ms"`
}

// ThroughputPoint is one second of the workload.
type ThroughputPoint struct {
	Second  int     `json:"second"`
	Acked   int64   `json:"acked"`
	Failed  int64   `json:"failed"`
	Unknown int64   `json:"unknown"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
	MaxMs   float64 `json:"max_ms"`
}

// ReplicationPoint is one row of pg_stat_replication as seen by the primary
// at one sample. Byte lags are pg_wal_lsn_diff(current, x_lsn). The *_lag_ms
// fields are the server's own estimates, null when it had none (idle).
type ReplicationPoint struct {
	Ms          float64  `json:"ms"`
	Replica     string   `json:"replica"`
	State       string   `json:"state"`
	SentBytes   float64  `json:"sent_lag_bytes"`
	WriteBytes  float64  `json:"write_lag_bytes"`
	FlushBytes  float64  `json:"flush_lag_bytes"`
	ReplayBytes float64  `json:"replay_lag_bytes"`
	WriteLagMs  *float64 `json:"write_lag_ms"`
	FlushLagMs  *float64 `json:"flush_lag_ms"`
	ReplayLagMs *float64 `json:"replay_lag_ms"`
	// UnflushedBytes is the primary's own WAL written but not yet flushed
	// (pg_current_wal_lsn() - pg_current_wal_flush_lsn()): not sent to any
	// standby yet, so not in the byte lags.
	UnflushedBytes float64 `json:"primary_unflushed_bytes"`
}

// Valid reports whether a sample can count in lag figures: the standby
// streams, and its positions are in order (sent >= write >= flush >=
// replay, so the lags run the other way). A standby starting up or
// catching up after a re-attach reports positions that break this.
func (p ReplicationPoint) Valid() bool {
	return p.State == "streaming" && p.SentBytes <= p.WriteBytes && p.WriteBytes <= p.FlushBytes && p.FlushBytes <= p.ReplayBytes
}

// VisibilityPoint is one heartbeat on one replica: how long the heartbeat,
// acknowledged by the primary at Ms, took to be visible there. The series
// has a point per heartbeat attempt and replica (the replicas when it was
// made), and the summary's visibility figures are the same latencies.
// VisibilityMs is null when there is no latency to show: the attempt was
// not acknowledged (an outage), the heartbeat was lost, or it was not
// visible by the end.
type VisibilityPoint struct {
	Ms      float64 `json:"ms"` // the ack, or the end of the attempt
	Replica string  `json:"replica"`
	// Heartbeat is the attempt's id, unique in the run.
	Heartbeat    int64    `json:"heartbeat,omitempty"`
	VisibilityMs *float64 `json:"visibility_ms"`
	// State is one of the Heartbeat* constants; empty in files written
	// before heartbeats had ids, where every point was visible.
	State string `json:"state,omitempty"`
}

// Heartbeat states, in VisibilityPoint.State.
const (
	HeartbeatVisible  = "visible"   // acknowledged, then seen on the replica
	HeartbeatNotAcked = "not_acked" // the attempt failed, or none could be sent
	// HeartbeatLost was acknowledged yet never seen on the replica while
	// a later one was: it is not in the history the replica follows.
	HeartbeatLost = "lost"
	// HeartbeatUnseen was acknowledged and not seen on the replica by the
	// end (or by the time it stopped being a replica), nor a later one.
	HeartbeatUnseen = "unseen"
)

// Check is one self-check of a variant: a figure measured one way (Value)
// set against a second, independent way to get it (Expected).
type Check struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Expected  float64 `json:"expected"`
	Tolerance float64 `json:"tolerance"` // |value - expected| allowed
	// AtMost: the value may be anything up to expected + tolerance.
	AtMost  bool   `json:"at_most,omitempty"`
	Unit    string `json:"unit"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"` // the figures, for people
}

// FailedChecks counts the self-checks that failed over every variant.
func (r *Result) FailedChecks() int {
	n := 0
	for _, v := range r.Variants {
		for _, c := range v.Checks {
			if !c.Passed {
				n++
			}
		}
	}
	return n
}

// Event kinds.
const (
	EventPhase         = "phase"           // the workload started
	EventFault         = "fault"           // a fault's injection started (Fault set)
	EventEffective     = "fault_effective" // a fault was seen to take effect (Fault set)
	EventHeal          = "heal"            // a fault was healed (Fault set)
	EventHealed        = "healed"          // a healed fault was seen gone (Fault set)
	EventProbeFailed   = "probe_failed"    // the primary's health probe failed first
	EventDetected      = "detected"        // the primary was declared dead
	EventPromoteStart  = "promote_start"
	EventPromoteDone   = "promote_done"
	EventRepoint       = "repoint"         // a replica follows the new primary
	EventSyncRestored  = "sync_restored"   // the new primary replicates synchronously again
	EventDemoted       = "demoted"         // the primary answers read-only: its manager demoted it
	EventSplitBrain    = "split_brain"     // an old primary is writable after a promotion
	EventSplitBrainEnd = "split_brain_end" // the old primary is writable no more
	EventFirstWrite    = "first_write"     // first acknowledged write after the fault
	EventNoPrimary     = "no_primary"      // the primary failed and nothing could be promoted
	EventProxy         = "proxy"           // HAProxy marked a server up or down
	EventManager       = "manager"         // the failover manager's own record (Patroni's /history)
	EventError         = "error"           // something failed (Outcome says what, for a fault)
	// EventSubscription: a logical subscription was re-pointed to the new
	// primary (Node the subscriber; Detail whether it followed).
	EventSubscription = "subscription"
)

// Outcomes of a fault, in Fault.Outcome and in its events.
const (
	OutcomeInjected   = "injected"    // it was carried out
	OutcomeFailed     = "failed"      // its injection failed: it never happened
	OutcomeHealFailed = "heal_failed" // its heal failed
	OutcomeNotFired   = "not_fired"   // the run ended before its moment
)

// Event is one thing that happened, on the run's clock.
type Event struct {
	Ms     float64 `json:"ms"`
	Kind   string  `json:"kind"` // one of the Event* constants
	Node   string  `json:"node,omitempty"`
	Detail string  `json:"detail,omitempty"` // for people; never parsed
	// Fault is the index in Variant.Faults of the fault the event is
	// about (fault, fault_effective, heal, healed, and an error of one).
	Fault *int `json:"fault,omitempty"`
	// FaultKind, Lasting and Outcome repeat the fault's, so that a reader
	// of the events alone can tell them apart.
	FaultKind string `json:"fault_kind,omitempty"`
	Lasting   bool   `json:"lasting,omitempty"`
	Outcome   string `json:"outcome,omitempty"`
	// PrevProbeMs, on a probe_failed event, is when the probe before the
	// failing one started: that one succeeded, so the fault landed
	// between the two. A loaded machine can hold the prober up beyond
	// its interval; this says by how much.
	PrevProbeMs *float64 `json:"prev_probe_ms,omitempty"`
}

// Fault is one fault of the scenario as a variant's timeline fired it.
// Every *_ms field is an offset from the start of the measured window, or
// null when the step did not happen.
type Fault struct {
	Index int    `json:"index"` // position in the scenario's faults, from 0
	Kind  string `json:"kind"`  // kill, stop, pause, partition, ...
	// Process is the part of the node a kill hit when not all of it:
	// postgres (PostgreSQL alone, its manager alive) or patroni.
	Process string   `json:"process,omitempty"`
	Name    string   `json:"name"` // "pause replica1"
	Node    string   `json:"node,omitempty"`
	Targets []string `json:"targets"` // the nodes and client groups it names
	// Lasting: left unhealed, its effect lasts (a pause, a partition, a
	// stop) rather than being one act (a kill, a restart, a reset).
	Lasting bool    `json:"lasting"`
	AtMs    float64 `json:"at_ms"`  // when it was due
	ForMs   float64 `json:"for_ms"` // its for:, 0 when none
	Outcome string  `json:"outcome"`
	Error   string  `json:"error,omitempty"`
	// InjectedMs is when the injection started; EffectiveMs when the fault
	// was seen to take effect, for kinds that can tell.
	InjectedMs  *float64 `json:"injected_ms"`
	EffectiveMs *float64 `json:"effective_ms,omitempty"`
	// ReturnedMs is when the injection returned (an external cluster's
	// hook exited), which may be well before or after the effect.
	ReturnedMs *float64 `json:"returned_ms,omitempty"`
	// EffectError says why the fault was not seen to take effect.
	EffectError string `json:"effect_error,omitempty"`
	// LandedMs is when the fault landed as the backend saw it (a local
	// kill: every process of the node stopped), for kinds and backends
	// that can tell.
	LandedMs *float64 `json:"landed_ms,omitempty"`
	// HealedMs is when its heal returned; HealedSeenMs when the heal was
	// seen to take effect, for kinds that can tell.
	HealedMs     *float64 `json:"healed_ms"`
	HealedSeenMs *float64 `json:"healed_seen_ms,omitempty"`
	HealError    string   `json:"heal_error,omitempty"`
}

// Fired reports whether the fault was carried out.
func (f Fault) Fired() bool {
	return f.InjectedMs != nil && f.Outcome != OutcomeFailed && f.Outcome != OutcomeNotFired
}

// Histogram is an HDR histogram of latency in microseconds, in
// hdrhistogram-go's compressed encoding (Encode with
// V2CompressedEncodingCookieBase), which is already base64 text.
type Histogram struct {
	Unit    string `json:"unit"` // "us"
	Encoded string `json:"encoded"`
}

// Write writes r as indented JSON to path atomically (temp file + rename),
// so a reader never sees half a file.
func Write(path string, r *Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".result-*.json")
	if err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write result: %w", err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write result: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Read reads a result.json, or the result.json inside a run folder.
func Read(path string) (*Result, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "result.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Decode parses the contents of a result.json, upgrading an older schema
// version to this one. It fails on what is not JSON of a result, on a
// missing schema_version, and on one newer than this build understands.
func Decode(b []byte) (*Result, error) {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("not a result.json: %w", err)
	}
	if r.SchemaVersion == 0 {
		return nil, errors.New("no schema_version: not a pgbench-ha result")
	}
	if r.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("schema_version %d is newer than this build understands (%d); upgrade pgbench-ha", r.SchemaVersion, SchemaVersion)
	}
	upgrade(&r)
	return &r, nil
}

// NewDistribution is the nearest-rank summary of xs (not modified).
func NewDistribution(xs []float64) Distribution {
	if len(xs) == 0 {
		return Distribution{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return Distribution{N: len(s), Min: s[0], P50: quantile.NearestRank(s, 0.5), P90: quantile.NearestRank(s, 0.9), Max: s[len(s)-1]}
}

// SummarizeRepetitions turns the completed repetitions' figures into
// distributions.
func SummarizeRepetitions(reps []Repetition) *RepeatSummary {
	s := &RepeatSummary{Runs: len(reps)}
	var unavail, detect, promote, lost, tps, p99, capacity []float64
	for _, r := range reps {
		if r.Status != StatusComplete {
			continue
		}
		s.Complete++
		s.LostTotal += r.Lost
		lost = append(lost, float64(r.Lost))
		tps = append(tps, r.TPS)
		p99 = append(p99, r.P99CommitMs)
		if r.CapacityTPS != nil {
			capacity = append(capacity, *r.CapacityTPS)
		}
		if f := r.Failover; f != nil {
			if f.WriteUnavailableMs != nil {
				unavail = append(unavail, *f.WriteUnavailableMs)
			}
			if f.DetectedMs != nil && f.FaultMs != nil {
				detect = append(detect, *f.DetectedMs-*f.FaultMs)
			}
			if f.PromoteDoneMs != nil && f.PromoteStartMs != nil {
				promote = append(promote, *f.PromoteDoneMs-*f.PromoteStartMs)
			}
		}
	}
	s.WriteUnavailableMs = NewDistribution(unavail)
	s.DetectMs = NewDistribution(detect)
	s.PromoteMs = NewDistribution(promote)
	s.LostAckedWrites = NewDistribution(lost)
	s.TPS = NewDistribution(tps)
	s.P99CommitMs = NewDistribution(p99)
	if len(capacity) > 0 {
		d := NewDistribution(capacity)
		s.CapacityTPS = &d
	}
	return s
}
