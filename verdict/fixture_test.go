package verdict

import (
	"time"

	"github.com/pgbench-ha/pgbench-ha/result"
)

func ptr(f float64) *float64 { return &f }

// fixtureVariant is a complete variant of the synthetic run: the primary
// killed at 18 s, replica1 promoted.
func fixtureVariant(level string, tps, p99 float64, lost, ghosts int64, unavailable float64) result.Variant {
	acked := int64(tps * 30)
	fault := 18000.0
	return result.Variant{
		Name:     "synchronous_commit=" + level,
		Settings: map[string]string{"synchronous_commit": level},
		Status:   result.StatusComplete,
		Phase:    "done",
		Topology: result.Topology{Primary: "primary", BringUpMs: 1200},
		Summary: result.Summary{
			DurationS: 30, Attempted: acked + 10, Acked: acked, Failed: 6, Unknown: 4, TPS: tps,
			CommitLatency:  result.Latency{P50: p99 / 4, P90: p99 / 2, P99: p99, P999: p99 * 2, Max: p99 * 5, Mean: p99 / 3, N: acked},
			ScheduleLagP99: 12,
			Capacity: &result.Capacity{StartMs: 13000, EndMs: 16000, DurationMs: 3000, Writers: 8, Acked: int64(tps * 15), TPS: tps * 5,
				CommitLatency: result.Latency{P50: p99 / 2, P99: p99 * 2, N: int64(tps * 15)}},
			Replicas: []result.Lag{
				{Replica: "replica1", Sync: true, MaxReplayLagBytes: 40_000, P99ReplayLagBytes: 20_000, MaxReplayLagMs: 4, MaxVisibilityMs: 20, P99VisibilityMs: 8},
				{Replica: "replica2", MaxReplayLagBytes: 900_000, P99ReplayLagBytes: 300_000, MaxReplayLagMs: 30, MaxVisibilityMs: 60, P99VisibilityMs: 25},
			},
			Failover: &result.Failover{
				Mode: "promote", FaultMs: ptr(fault), DetectedMs: ptr(fault + 1010), PromoteStartMs: ptr(fault + 1012),
				PromoteDoneMs: ptr(fault + 1060), FirstWriteMs: ptr(fault + unavailable - 5), LastAckBeforeMs: ptr(fault - 5),
				WriteUnavailableMs: ptr(unavailable), DetectAfterMs: 1000, OldPrimary: "primary", NewPrimary: "replica1",
			},
			Audit: &result.Audit{FinalPrimary: "replica1", Acked: acked, Lost: lost, Ghosts: ghosts,
				Subscribers: []result.SubscriberAudit{{Name: "sub1", Acked: acked, Missing: 3, ArrivalMs: result.Distribution{N: 10, Max: 40}}}},
			Subscribers: []result.SubscriberSummary{{Name: "sub1", MaxLagBytes: ptr(70_000)}},
			Archive:     &result.ArchiveSummary{Samples: 300, MaxLagBytes: ptr(5_000_000), Failures: 0, EndMs: 30_000},
		},
		Drills: &result.Drills{
			Dump:           &result.DrillResult{Kind: "dump", DumpMs: ptr(120), ServerMs: ptr(900), RestoreMs: ptr(100), MissingAcked: 2000},
			PITR:           &result.DrillResult{Kind: "pitr", RecoveryMs: ptr(1500), MissingAcked: 0, RPOMs: 0},
			ArchiveStandby: &result.DrillResult{Kind: "archive_standby", MaxLagBytes: ptr(3_000_000), MissingAcked: 250},
		},
	}
}

// fixtureResult is a run of three variants: off loses writes, on does
// not, remote_apply failed during the workload.
func fixtureResult() *result.Result {
	start := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	failed := result.Variant{
		Name: "synchronous_commit=remote_apply", Settings: map[string]string{"synchronous_commit": "remote_apply"},
		Status: result.StatusFailed, Phase: "workload", Error: "workload: connection refused\nmore detail",
		Topology: result.Topology{Primary: "primary", BringUpMs: 1300},
	}
	return &result.Result{
		SchemaVersion: result.SchemaVersion,
		Status:        result.StatusFailed,
		Error:         "variant synchronous_commit=remote_apply: workload: connection refused",
		Run: result.RunMeta{
			ID: "20250314T092653Z-7f3a01", ToolVersion: "v1.2.3", GoVersion: "go1.26", PostgresVersion: "15.18",
			Backend: "local", Scenario: "sync-vs-async", ScenarioFile: "scenarios/sync-vs-async.yaml",
			ScenarioSHA256: "abc123", Seed: 42, StartedAt: start, FinishedAt: start.Add(2 * time.Minute),
			Host: "ci-runner", OS: "linux", Arch: "amd64", CPUs: 8, DurationS: 30,
		},
		Variants: []result.Variant{
			fixtureVariant("off", 1400, 0.87, 26, 0, 1122),
			fixtureVariant("on", 1399.5, 6.91, 0, 1, 1076),
			failed,
		},
	}
}

// fixtureThresholds are thresholds of every kind against fixtureResult:
// the first passes, the second fails on a variant, the third fails
// because a selected variant did not complete.
func fixtureThresholds() []Threshold {
	return []Threshold{
		{Metric: "lost_acked_writes", Aggregation: "max", Limit: 0, Where: map[string][]string{"synchronous_commit": {"on"}}, Source: "scenarios/sync-vs-async.yaml:61"},
		{Metric: "p99_commit_ms", Aggregation: "max", Limit: 5, Source: "scenarios/sync-vs-async.yaml:64"},
		{Metric: "write_unavailable_ms", Aggregation: "p90", Limit: 5000, Source: "scenarios/sync-vs-async.yaml:66"},
		{Metric: "tps", Aggregation: "min", Limit: 1000, Where: map[string][]string{"synchronous_commit": {"off", "on"}}, Source: "scenarios/sync-vs-async.yaml:68"},
	}
}

// doctored returns a copy of r whose synchronous_commit=on variant
// regressed: p99 commit latency doubled and 3 acknowledged writes lost.
func doctored(r *result.Result) *result.Result {
	c := *r
	c.Run.ID = "20250315T092653Z-9b2c44"
	c.Variants = append([]result.Variant(nil), r.Variants...)
	v := c.Variants[1]
	s := v.Summary
	s.CommitLatency.P99 *= 2
	a := *s.Audit
	a.Lost = 3
	s.Audit = &a
	v.Summary = s
	c.Variants[1] = v
	return &c
}

// completeResult is fixtureResult with every variant complete.
func completeResult() *result.Result {
	r := fixtureResult()
	r.Status, r.Error = result.StatusComplete, ""
	r.Variants[2] = fixtureVariant("remote_apply", 1398, 8.26, 0, 0, 1065)
	return r
}
