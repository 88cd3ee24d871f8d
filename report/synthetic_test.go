package report

import (
	"math"
	"math/rand"
	"strconv"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// The synthetic run: 30 s windows sampled every 100 ms, the primary killed
// at 18 s, replica1 promoted, replica2 repointed to it.
const (
	synthWindowMs = 30_000
	synthStepMs   = 100
	synthKillMs   = 18_000
)

const synthYAML = `name: sync-vs-async
description: "kill the primary under <sync> & async commit"
seed: 42
duration: 30s
topology:
  replicas:
    - name: replica1
      sync: true
    - name: replica2
matrix:
  - setting: synchronous_commit
    values: [off, local, remote_write, on, remote_apply]
faults:
  - at: 18s
    kind: kill
    node: primary
failover:
  mode: promote
  detect_after: 1s
`

// synthVariant is the knobs of one synthetic variant.
type synthVariant struct {
	level       string
	tps         float64
	acked       int64
	p50, p99    float64 // ms
	lagScale    float64 // typical replay lag of the async replica, bytes
	syncLag     float64 // typical replay lag of the sync replica, bytes
	visMs       float64 // typical visibility, ms
	lost        int64
	unavailable float64
	failed      bool
}

var synthVariants = []synthVariant{
	{level: "off", tps: 1234.4, acked: 37_032, p50: 0.41, p99: 1.2, lagScale: 300_000, syncLag: 250_000, visMs: 35, lost: 37, unavailable: 1930},
	{level: "local", tps: 1150.2, acked: 34_506, p50: 0.62, p99: 1.9, lagScale: 200_000, syncLag: 150_000, visMs: 28, lost: 12, unavailable: 1870},
	{level: "remote_write", failed: true},
	{level: "on", tps: 802.7, acked: 24_081, p50: 1.3, p99: 3.2, lagScale: 90_000, syncLag: 6_000, visMs: 12, lost: 0, unavailable: 1905},
	{level: "remote_apply", tps: 1607, acked: 48_210, p50: 1.7, p99: 4.1, lagScale: 60_000, syncLag: 40, visMs: 4, lost: 0, unavailable: 1900},
}

func ptr(v float64) *float64 { return &v }

func intp(i int) *int { return &i }

func ptr64(v int64) *int64 { return &v }

// synthResult builds a realistic result.json for the synchronous_commit
// matrix, deterministic for a given seed.
func synthResult(t testing.TB) *result.Result {
	t.Helper()
	start := time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)
	r := &result.Result{
		SchemaVersion: result.SchemaVersion,
		Status:        result.StatusComplete,
		Run: result.RunMeta{
			ID:              "20250314-092653-7f3a",
			ToolVersion:     "v0.3.0",
			GoVersion:       "go1.26.8",
			PostgresVersion: "15.13",
			Backend:         "local",
			Scenario:        "sync-vs-async",
			Description:     "What each synchronous_commit level costs, and what it saves when the primary dies.",
			ScenarioFile:    "scenarios/sync-vs-async.yaml",
			ScenarioSHA256:  "9f2c1e0d6b7a8c5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e",
			ScenarioYAML:    synthYAML,
			Seed:            42,
			StartedAt:       start,
			FinishedAt:      start.Add(4*time.Minute + 12*time.Second),
			Host:            "bench-01",
			OS:              "linux",
			Arch:            "amd64",
			CPUs:            8,
			DurationS:       30,
		},
	}
	for i, sv := range synthVariants {
		r.Variants = append(r.Variants, synthVariantResult(t, sv, int64(i+1)))
	}
	return r
}

func synthVariantResult(t testing.TB, sv synthVariant, seed int64) result.Variant {
	t.Helper()
	name := "synchronous_commit=" + sv.level
	v := result.Variant{
		Name:     name,
		Settings: map[string]string{"synchronous_commit": sv.level},
		Topology: result.Topology{
			Primary: "primary",
			Replicas: []result.ReplicaInfo{
				{Name: "replica1", Sync: true, Slot: "replica1"},
				{Name: "replica2", Slot: "replica2"},
			},
			SynchronousStandbyNames: `FIRST 1 ("replica1")`,
			Settings: map[string]string{
				"synchronous_commit": sv.level,
				"wal_level":          "replica",
				"max_wal_senders":    "10",
				"primary_conninfo":   "host=127.0.0.1 port=54321 user=replicator password=s3cr3t-do-not-show",
			},
			BringUpMs: 2140,
		},
	}
	if sv.failed {
		v.Status = result.StatusFailed
		v.Phase = "bring-up"
		v.Error = "bring up replica2: pg_basebackup: error: could not connect to server: connection refused\nretried 3 times"
		v.Topology.Replicas = nil
		v.Topology.Settings = nil
		v.Topology.BringUpMs = 0
		v.Events = []result.Event{{Ms: 0, Kind: "phase", Detail: "bring-up"}, {Ms: 0, Kind: "error", Detail: "pg_basebackup failed"}}
		return v
	}
	v.Status = result.StatusComplete
	v.Phase = "done"
	v.LogDir = "logs/" + sv.level
	rng := rand.New(rand.NewSource(seed))

	detect := float64(synthKillMs + 1000)
	promoteStart := detect + 40
	promoteDone := detect + 560
	firstWrite := float64(synthKillMs) - 30 + sv.unavailable
	v.Faults = []result.Fault{{Index: 0, Kind: "kill", Name: "kill -9", Node: "primary", Targets: []string{"primary"},
		AtMs: synthKillMs, Outcome: result.OutcomeInjected, InjectedMs: ptr(synthKillMs)}}
	v.Events = []result.Event{
		{Ms: 0, Kind: "phase", Detail: "workload"},
		{Ms: synthKillMs, Kind: "fault", Node: "primary", Detail: "kill -9", Fault: intp(0), FaultKind: "kill", Outcome: result.OutcomeInjected},
		{Ms: detect, Kind: "detected", Node: "primary"},
		{Ms: promoteStart, Kind: "promote_start", Node: "replica1"},
		{Ms: promoteDone, Kind: "promote_done", Node: "replica1"},
		{Ms: promoteDone + 120, Kind: "repoint", Node: "replica2"},
		{Ms: firstWrite, Kind: "first_write", Node: "replica1"},
		{Ms: synthWindowMs, Kind: "phase", Detail: "audit"},
	}

	// Replication: the old primary reports both replicas until the kill,
	// the new primary reports replica2 once it is repointed.
	var maxR1, maxR2, maxR1Ms, maxR2Ms, maxVis1, maxVis2 float64
	for ms := 0.0; ms < synthWindowMs; ms += synthStepMs {
		burst := 1.0
		if math.Mod(ms, 6000) < 700 {
			burst = 6 // a write burst every six seconds
		}
		if ms < synthKillMs {
			r1 := sv.syncLag * burst * rng.ExpFloat64()
			if rng.Intn(5) == 0 {
				r1 = 0 // caught up at that instant
			}
			r2 := sv.lagScale * burst * (0.3 + rng.ExpFloat64())
			v.Series.Replication = append(v.Series.Replication,
				repl(ms, "replica1", r1, rng), repl(ms, "replica2", r2, rng))
			maxR1, maxR2 = math.Max(maxR1, r1), math.Max(maxR2, r2)
		} else if ms >= promoteDone+200 {
			// replica2 catches up from the old timeline, then follows.
			since := ms - promoteDone - 200
			r2 := sv.lagScale*8*math.Exp(-since/1500) + sv.lagScale*burst*rng.ExpFloat64()*0.5
			p := repl(ms, "replica2", r2, rng)
			v.Series.Replication = append(v.Series.Replication, p)
			maxR2 = math.Max(maxR2, r2)
		}
		// Visibility: a heartbeat per sample, on replica1 until it is
		// promoted and on replica2 throughout; none acknowledged in the
		// outage, and the one just before it, never replicated, lost.
		hb := int64(ms/synthStepMs) + 1
		vis2 := sv.visMs * burst * (0.5 + rng.ExpFloat64())
		p2 := result.VisibilityPoint{Ms: ms + 3, Replica: "replica2", Heartbeat: hb, VisibilityMs: ptr(vis2), State: result.HeartbeatVisible}
		switch {
		case ms >= synthKillMs && ms < firstWrite:
			p2.VisibilityMs, p2.State = nil, result.HeartbeatNotAcked
		case ms < synthKillMs && ms+100 >= synthKillMs:
			p2.VisibilityMs, p2.State = nil, result.HeartbeatLost
		default:
			maxVis2 = math.Max(maxVis2, vis2)
		}
		v.Series.Visibility = append(v.Series.Visibility, p2)
		if ms < synthKillMs {
			vis1 := sv.visMs * 0.6 * burst * (0.5 + rng.ExpFloat64())
			v.Series.Visibility = append(v.Series.Visibility, result.VisibilityPoint{Ms: ms + 2, Replica: "replica1", Heartbeat: hb, VisibilityMs: ptr(vis1), State: result.HeartbeatVisible})
			maxVis1 = math.Max(maxVis1, vis1)
		}
	}
	for _, p := range v.Series.Replication {
		if p.ReplayLagMs == nil {
			continue
		}
		if p.Replica == "replica1" {
			maxR1Ms = math.Max(maxR1Ms, *p.ReplayLagMs)
		} else {
			maxR2Ms = math.Max(maxR2Ms, *p.ReplayLagMs)
		}
	}

	// Throughput per second and the commit latency histogram.
	hist := hdrhistogram.New(1, 60_000_000, 3)
	for s := 0; s < synthWindowMs/1000; s++ {
		tp := result.ThroughputPoint{Second: s}
		ms := float64(s * 1000)
		switch {
		case ms+1000 <= synthKillMs || ms >= firstWrite+1000:
			tp.Acked = int64(sv.tps * (0.95 + 0.1*rng.Float64()))
			tp.Failed = int64(rng.Intn(2))
		case ms < synthKillMs: // the second of the kill
			tp.Acked = int64(sv.tps * 0.3)
			tp.Unknown = 4
			tp.Failed = 60
		case ms < firstWrite: // nobody to write to
			tp.Failed = int64(sv.tps * 0.2)
		default: // reconnecting
			tp.Acked = int64(sv.tps * 0.55)
			tp.Failed = 35
		}
		for i := int64(0); i < tp.Acked; i += 10 {
			us := int64(sv.p50 * 1000 * math.Exp(0.45*rng.NormFloat64()))
			if rng.Intn(400) == 0 {
				us *= 8
			}
			if err := hist.RecordValues(max(us, 1), 10); err != nil {
				t.Fatal(err)
			}
		}
		tp.P50Ms = sv.p50 * (0.9 + 0.2*rng.Float64())
		tp.P99Ms = sv.p99 * (0.8 + 0.4*rng.Float64())
		tp.MaxMs = tp.P99Ms * 2.5
		if tp.Acked == 0 {
			tp.P50Ms, tp.P99Ms, tp.MaxMs = 0, 0, 0
		}
		if ms >= firstWrite && ms < firstWrite+1000 {
			tp.P99Ms, tp.MaxMs = 1400, 1850
		}
		v.Series.Throughput = append(v.Series.Throughput, tp)
	}
	// The writes that waited through the failover.
	if err := hist.RecordValues(1_400_000, 30); err != nil {
		t.Fatal(err)
	}
	enc, err := hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	v.Histogram = &result.Histogram{Unit: "us", Encoded: string(enc)}
	// Response time: the same writes, each also as late as it was sent;
	// the writes due during the outage waited for it.
	resp := hdrhistogram.Import(hist.Export())
	if err := resp.RecordValues(int64(sv.unavailable*1000), 40); err != nil {
		t.Fatal(err)
	}
	if enc, err = resp.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err != nil {
		t.Fatal(err)
	}
	v.ResponseHistogram = &result.Histogram{Unit: "us", Encoded: string(enc)}
	for s := 0; s < synthWindowMs/1000; s++ {
		ms := float64(s * 1000)
		p := result.ScheduleLagPoint{Second: s, Writes: int64(sv.tps), P50Ms: 0.02, P99Ms: 0.3, MaxMs: 0.8}
		if ms+1000 > synthKillMs && ms < firstWrite {
			late := firstWrite - math.Max(ms, synthKillMs)
			p.P50Ms, p.P99Ms, p.MaxMs = late/2, late, late
		}
		v.Series.ScheduleLag = append(v.Series.ScheduleLag, p)
	}

	unknown := int64(4)
	v.Summary = result.Summary{
		DurationS:     30,
		Attempted:     sv.acked + 260 + unknown,
		Acked:         sv.acked,
		Failed:        260,
		Unknown:       unknown,
		TPS:           sv.tps,
		TargetRateTPS: 0,
		CommitLatency: result.Latency{
			P50: sv.p50, P90: sv.p50 * 1.8, P99: sv.p99, P999: sv.p99 * 3,
			Max: 1850, Mean: sv.p50 * 1.2, N: sv.acked,
		},
		ResponseTime: result.Latency{
			P50: sv.p50 * 1.05, P90: sv.p50 * 1.9, P99: sv.p99 * 1.3, P999: sv.unavailable * 0.6,
			Max: sv.unavailable, Mean: sv.p50 * 1.5, N: sv.acked,
		},
		ScheduleLagP99: 0.8,
		Replicas: []result.Lag{
			{Replica: "replica1", Sync: true, MaxReplayLagBytes: maxR1, P99ReplayLagBytes: maxR1 * 0.8,
				MaxSentLagBytes: maxR1 * 0.5, MaxReplayLagMs: maxR1Ms, P99ReplayLagMs: maxR1Ms * 0.7,
				MaxVisibilityMs: maxVis1, P99VisibilityMs: maxVis1 * 0.8, P50VisibilityMs: sv.visMs,
				VisibilitySamples: 180, ReplicationSamples: 180},
			{Replica: "replica2", MaxReplayLagBytes: maxR2, P99ReplayLagBytes: maxR2 * 0.8,
				MaxSentLagBytes: maxR2 * 0.5, MaxReplayLagMs: maxR2Ms, P99ReplayLagMs: maxR2Ms * 0.7,
				MaxVisibilityMs: maxVis2, P99VisibilityMs: maxVis2 * 0.6, P50VisibilityMs: sv.visMs * 1.2,
				VisibilitySamples: 300, ReplicationSamples: 273},
		},
		Failover: &result.Failover{
			Mode:               "promote",
			FaultMs:            ptr(synthKillMs),
			DetectedMs:         ptr(detect),
			PromoteStartMs:     ptr(promoteStart),
			PromoteDoneMs:      ptr(promoteDone),
			FirstWriteMs:       ptr(firstWrite),
			LastAckBeforeMs:    ptr(synthKillMs - 30),
			WriteUnavailableMs: ptr(sv.unavailable),
			DetectAfterMs:      1000,
			OldPrimary:         "primary",
			NewPrimary:         "replica1",
			Repointed:          []string{"replica2"},
			UnknownInFlight:    1,
			UnknownSentAfter:   unknown - 1,
		},
		InitialOrders: 10_000,
	}
	a := &result.Audit{
		FinalPrimary: "replica1",
		Acked:        sv.acked,
		Lost:         sv.lost,
		UnknownFound: 3,
		FailedFound:  0,
		Ghosts:       3,
	}
	firstID := int64(10_000) + sv.acked*18/30
	for i := int64(0); i < min(sv.lost, 100); i++ {
		a.LostIDs = append(a.LostIDs, firstID+i*7)
		a.LostAckMs = append(a.LostAckMs, synthKillMs-float64(sv.lost-i)*6.5)
	}
	a.Nodes = []result.NodeAudit{
		{Node: "replica1", Role: "primary", Rows: 10_000 + sv.acked - sv.lost + 3, Missing: sv.lost,
			MissingIDs: a.LostIDs[:min(len(a.LostIDs), 20)], CaughtUp: true},
		{Node: "replica2", Role: "replica", Rows: 10_000 + sv.acked - sv.lost + 3, Missing: sv.lost,
			MissingIDs: a.LostIDs[:min(len(a.LostIDs), 20)], CaughtUp: true},
	}
	v.Summary.Audit = a
	return v
}

func repl(ms float64, replica string, replay float64, rng *rand.Rand) result.ReplicationPoint {
	p := result.ReplicationPoint{
		Ms: ms, Replica: replica, State: "streaming",
		SentBytes:   replay * 0.2,
		WriteBytes:  replay * 0.5,
		FlushBytes:  replay * 0.7,
		ReplayBytes: replay,
	}
	// The server's estimates are null when the standby is idle.
	if replay > 0 && rng.Intn(8) != 0 {
		lag := 0.2 + replay/40_000*(0.8+0.4*rng.Float64())
		p.WriteLagMs, p.FlushLagMs, p.ReplayLagMs = ptr(lag*0.3), ptr(lag*0.6), ptr(lag)
	}
	return p
}

// synthHeadlines are the sentences the report must carry for synthResult.
var synthHeadlines = []string{
	"synchronous_commit=off: 37 of 37,032 acknowledged writes lost (3 ghost writes); writes unavailable 1.9 s; p99 commit 1.2 ms; 1,234 TPS.",
	"synchronous_commit=local: 12 of 34,506 acknowledged writes lost (3 ghost writes); writes unavailable 1.9 s; p99 commit 1.9 ms; 1,150 TPS.",
	"synchronous_commit=remote_write: failed during bring-up, no measurements: bring up replica2: pg_basebackup: error: could not connect to server: connection refused …",
	"synchronous_commit=on: 0 of 24,081 acknowledged writes lost (3 ghost writes); writes unavailable 1.9 s; p99 commit 3.2 ms; 803 TPS.",
	"synchronous_commit=remote_apply: 0 of 48,210 acknowledged writes lost (3 ghost writes); writes unavailable 1.9 s; p99 commit 4.1 ms; 1,607 TPS.",
}

// The fault catalogue on top of the synthetic run: replica2 paused from 6
// to 10 s, then the kill at 18 s; reads on both replicas; WAL and slots
// sampled; a split brain in synchronous_commit=off; the last two
// variants repeated ten times.
const (
	synthPauseMs = 6_000
	synthHealMs  = 10_000
)

// synthCatalogue is synthResult with every measurement of the fault
// catalogue filled in.
func synthCatalogue(t testing.TB) *result.Result {
	t.Helper()
	r := synthResult(t)
	staleScale := map[string]float64{"off": 0.31, "local": 0.24, "on": 0.08, "remote_apply": 0.0}
	for i := range r.Variants {
		v := &r.Variants[i]
		if v.Status != result.StatusComplete {
			continue
		}
		level := v.Settings["synchronous_commit"]
		rng := rand.New(rand.NewSource(int64(100 + i)))
		pause := len(v.Faults)
		v.Faults = append(v.Faults, result.Fault{Index: pause, Kind: "pause", Name: "pause replica2", Node: "replica2",
			Targets: []string{"replica2"}, Lasting: true, AtMs: synthPauseMs, ForMs: synthHealMs - synthPauseMs,
			Outcome: result.OutcomeInjected, InjectedMs: ptr(synthPauseMs + float64(i)), HealedMs: ptr(synthHealMs + float64(i))})
		v.Events = append(v.Events,
			result.Event{Ms: synthPauseMs + float64(i), Kind: "fault", Node: "replica2", Detail: "pause replica2",
				Fault: intp(pause), FaultKind: "pause", Lasting: true, Outcome: result.OutcomeInjected},
			result.Event{Ms: synthHealMs + float64(i), Kind: "heal", Node: "replica2", Detail: "pause replica2",
				Fault: intp(pause), FaultKind: "pause", Lasting: true})
		v.Phases = []result.PhaseStats{
			{Name: "before", Kind: result.PhaseBefore, StartMs: 0, EndMs: synthPauseMs, TPS: v.Summary.TPS, Acked: int64(v.Summary.TPS * 6),
				P50CommitMs: v.Summary.CommitLatency.P50, P99CommitMs: v.Summary.CommitLatency.P99, MaxCommitMs: v.Summary.CommitLatency.P99 * 2,
				MaxReplayLagBytes: 300_000, MaxVisibilityMs: 40},
			{Name: "during: pause replica2", Kind: result.PhaseDuring, Fault: intp(pause), StartMs: synthPauseMs, EndMs: synthHealMs, TPS: v.Summary.TPS * 1.02, Acked: int64(v.Summary.TPS * 4.08),
				P50CommitMs: v.Summary.CommitLatency.P50 * 1.1, P99CommitMs: v.Summary.CommitLatency.P99 * 1.4, MaxCommitMs: v.Summary.CommitLatency.P99 * 3,
				MaxReplayLagBytes: 8_100_000, MaxVisibilityMs: 4_000},
			{Name: "during: kill primary", Kind: result.PhaseDuring, Fault: intp(0), StartMs: synthKillMs, EndMs: synthWindowMs, TPS: v.Summary.TPS * 0.8, Acked: int64(v.Summary.TPS * 9.6),
				Errors: 260, P50CommitMs: v.Summary.CommitLatency.P50, P99CommitMs: v.Summary.CommitLatency.P99 * 6, MaxCommitMs: 1850,
				MaxReplayLagBytes: 2_000_000, MaxVisibilityMs: 2_100},
		}
		cu := result.CatchUp{Fault: "pause replica2", FaultIndex: intp(pause), Replica: "replica2", HealMs: synthHealMs + float64(i),
			LagBytesLimit: 1 << 20, LagMsLimit: 100, BytesMs: ptr(420), VisibilityMs: ptr(610)}
		if level == "local" {
			cu.BytesMs, cu.VisibilityMs = ptr(980), nil // never under 100 ms
		}
		v.CatchUps = []result.CatchUp{cu}

		// Reads: 200 a second on each replica, stale more often under
		// weaker levels and while replica2 is paused; errors while
		// replica1 is promoted.
		v.Summary.Reads = nil
		for _, node := range []string{"replica1", "replica2"} {
			sum := result.Reads{Node: node}
			for s := 0; s < synthWindowMs/1000; s++ {
				p := result.ReadPoint{Second: s, Node: node, Reads: 200}
				rate := staleScale[level]
				if node == "replica2" && s*1000 >= synthPauseMs && s*1000 < synthHealMs {
					rate = 1
				}
				if node == "replica2" && level == "remote_apply" {
					rate = math.Max(rate, 0.12)
				}
				p.Stale = int64(float64(p.Reads) * rate * (0.8 + 0.4*rng.Float64()))
				p.Stale = min(p.Stale, p.Reads)
				if node == "replica1" && s*1000 >= synthKillMs+1000 && s*1000 < synthKillMs+2000 {
					p.Errors = 40
				}
				if p.Stale > 0 {
					p.MaxStaleMs = 2 + 30*rng.Float64()
				}
				sum.Reads += p.Reads
				sum.Stale += p.Stale
				sum.Errors += p.Errors
				v.Series.Reads = append(v.Series.Reads, p)
			}
			if answered := sum.Reads - sum.Errors; answered > 0 {
				sum.StaleRate = float64(sum.Stale) / float64(answered)
			}
			if sum.Stale > 0 {
				sum.StaleP50Ms, sum.StaleP99Ms, sum.StaleMaxMs, sum.StaleMaxOrders = 1.2, 24, 4_010, 73
			}
			if sum.Errors > 0 {
				sum.UnavailableMs = 1_000
			}
			v.Summary.Reads = append(v.Summary.Reads, sum)
		}

		// WAL: replica2's slot holds WAL back while it is paused; under
		// local the slot runs out of max_slot_wal_keep_size and is lost.
		for ms := 250.0; ms < synthWindowMs; ms += 250 {
			node := "primary"
			if ms >= synthKillMs+1_200 {
				node = "replica1"
			}
			wp := result.WALPoint{Ms: ms, Node: node, PgWalBytes: 48 << 20}
			ret2 := 2_000.0
			if ms >= synthPauseMs && ms < synthHealMs+300 {
				ret2 = (ms - synthPauseMs) * 9_000
			}
			status2, safe2 := "reserved", ptr(40<<20-ret2)
			if level == "local" {
				switch {
				case ms >= synthHealMs-500: // and for good
					status2 = "lost"
					ret2, safe2 = 0, nil
				case ms >= synthHealMs-1_500 && ms < synthHealMs:
					status2 = "unreserved"
				case ms >= synthHealMs-2_500 && ms < synthHealMs:
					status2 = "extended"
				}
			}
			wp.PgWalBytes = math.Max(wp.PgWalBytes, ret2+16<<20)
			if node == "primary" {
				wp.Slots = []result.SlotPoint{
					{Slot: "replica1", Active: true, WalStatus: "reserved", SafeWalBytes: ptr(40 << 20), RetainedBytes: 1_500},
					{Slot: "replica2", Active: !(ms >= synthPauseMs && ms < synthHealMs), WalStatus: status2, SafeWalBytes: safe2, RetainedBytes: ret2},
				}
			} else {
				wp.Slots = []result.SlotPoint{{Slot: "replica2", Active: true, WalStatus: "reserved", SafeWalBytes: ptr(40 << 20), RetainedBytes: 900}}
			}
			v.Series.WAL = append(v.Series.WAL, wp)
		}

		a := v.Summary.Audit
		a.LostByNode = map[string]int64{}
		if a.Lost > 0 {
			a.LostByNode["primary"] = a.Lost
		}
		t0 := r.Run.StartedAt.Add(time.Duration(i) * time.Minute)
		a.Timelines = []result.TimelineSpan{
			{Node: "primary", Timeline: "00000001", FirstAt: t0, LastAt: t0.Add(17_950 * time.Millisecond), Heartbeats: 180},
			{Node: "replica1", Timeline: "00000002", FirstAt: t0.Add(19_600 * time.Millisecond), LastAt: t0.Add(30 * time.Second), Heartbeats: 104},
		}
		a.HeartbeatGapMs = ptr(1_650)

		// A logical subscriber: its slot's lag until the failover, when
		// the promoted standby has no slot of its; arrivals until then.
		var arrivals []result.ScheduleLagPoint
		for ms := 100.0; ms < synthWindowMs; ms += 100 {
			p := result.SubscriberPoint{Ms: ms, Subscriber: "sub1", Worker: true, SinceMessageMs: ptr(math.Min(ms, 30))}
			if ms < synthKillMs {
				p.Slot, p.SlotActive, p.LagBytes, p.RetainedBytes = true, true, ptr(20_000+float64(int(ms)%3_000)*40), ptr(200_000)
			} else {
				p.SinceMessageMs = ptr(ms - synthKillMs)
			}
			v.Series.Subscribers = append(v.Series.Subscribers, p)
		}
		for sec := 0; float64(sec*1000) < synthKillMs; sec++ {
			arrivals = append(arrivals, result.ScheduleLagPoint{Second: sec, Writes: 1000, P50Ms: 3, P99Ms: 9, MaxMs: 12 + float64(sec)})
		}
		before, after, followed := int64(4), int64(11_000), false
		a.Subscribers = []result.SubscriberAudit{{Name: "sub1", Acked: a.Acked, Missing: before + after, MissingIDs: []int64{}, MissingBefore: &before,
			MissingAfter: &after, Followed: &followed, ArrivalMs: result.Distribution{N: int(a.Acked - before - after), Min: 1, P50: 3, P90: 8, Max: 30},
			ArrivalBySecond: arrivals}}
		v.Summary.Subscribers = []result.SubscriberSummary{{Name: "sub1", MaxLagBytes: ptr(140_000), MaxRetainedBytes: ptr(200_000), SlotGoneMs: ptr(synthKillMs + 100)}}

		// The WAL archive at archive_timeout 1s: a saw, a segment a
		// second; after the kill the promoted standby's history file,
		// then its own segments. The first variant's command failed twice.
		failed := int64(0)
		for ms := 100.0; ms < synthWindowMs; ms += 100 {
			p := result.ArchivePoint{Ms: ms, Node: "primary", CurrentWAL: "000000010000000000000010", LastArchivedWAL: "00000001000000000000000F",
				SinceArchivedMs: ptr(float64(int(ms) % 1000)), LagSegments: ptr64(1), LagBytes: ptr(float64(int(ms)%1000) * 300)}
			if i == 0 && ms >= 5_000 {
				failed = min(2, int64(ms-5_000)/100+1)
				p.FailedCount, p.LastFailedWAL = failed, "000000010000000000000009"
			}
			if ms >= synthKillMs {
				p.Node, p.CurrentWAL, p.FailedCount, p.LastFailedWAL = "replica1", "000000020000000000000020", 0, ""
				p.LastArchivedWAL, p.LagSegments, p.LagBytes = "00000002.history", nil, nil
				if ms >= synthKillMs+2_000 {
					p.LastArchivedWAL, p.LagSegments, p.LagBytes = "00000002000000000000001F", ptr64(1), ptr(float64(int(ms)%1000)*500)
				}
			}
			v.Series.Archive = append(v.Series.Archive, p)
		}
		v.ArchiveDir = "archive/" + strconv.Itoa(i) + "-" + v.Name
		v.Summary.Archive = &result.ArchiveSummary{Samples: len(v.Series.Archive), MaxLagSegments: ptr64(1), MaxLagBytes: ptr(499_500),
			MaxSinceArchivedMs: ptr(2_100), Failures: failed, LastArchivedWAL: "00000002000000000000001F", LastArchivedMs: ptr(29_000),
			EndMs: synthWindowMs, Files: 34, Bytes: 34 << 24}
		if failed > 0 {
			v.Summary.Archive.LastFailedWAL = "000000010000000000000009"
		}
	}

	// The old primary of synchronous_commit=off kept taking writes.
	off := &r.Variants[0]
	f := off.Summary.Failover
	f.SplitBrain = true
	f.DualPrimaryMs = ptr(850)
	f.LastAckOldPrimaryMs = ptr(*f.FirstWriteMs + 850)
	off.Events = append(off.Events, result.Event{Ms: *f.PromoteDoneMs + 40, Kind: "split_brain", Node: "primary",
		Detail: "primary is still a writable primary after replica1 was promoted"})

	// Ten repetitions of the last two variants, faults shifted.
	for _, i := range []int{3, 4} {
		v := &r.Variants[i]
		rng := rand.New(rand.NewSource(int64(200 + i)))
		var un, det, lost []float64
		for k := 1; k <= 10; k++ {
			shift := float64((k-1)%5-2) * 400
			fault := synthKillMs + shift
			u := 1_750 + 400*rng.Float64()
			if k == 7 {
				u = 3_400 // one slow failover
			}
			rp := result.Repetition{Index: k, ShiftMs: shift, Status: result.StatusComplete,
				TPS: v.Summary.TPS * (0.97 + 0.06*rng.Float64()), P99CommitMs: v.Summary.CommitLatency.P99 * (0.9 + 0.2*rng.Float64()),
				CapacityTPS: ptr(3_000 + 100*float64(k)),
				Failover: &result.Failover{Mode: "promote", FaultMs: ptr(fault), DetectedMs: ptr(fault + 1_000 + 20*rng.Float64()),
					PromoteStartMs: ptr(fault + 1_040), PromoteDoneMs: ptr(fault + 1_560), FirstWriteMs: ptr(fault + u - 30),
					LastAckBeforeMs: ptr(fault - 30), WriteUnavailableMs: ptr(u), OldPrimary: "primary", NewPrimary: "replica1"}}
			if k == 10 && i == 4 {
				rp.Status, rp.Error, rp.Failover = result.StatusFailed, "bring up replica1: timeout", nil
			}
			v.Repetitions = append(v.Repetitions, rp)
			if rp.Status == result.StatusComplete {
				un = append(un, u)
				det = append(det, *rp.Failover.DetectedMs-fault)
				lost = append(lost, 0)
			}
		}
		if i == 3 {
			// The runner's summary; remote_apply's is left to the report.
			v.Summary.Repeated = &result.RepeatSummary{Runs: 10, Complete: len(un),
				WriteUnavailableMs: result.NewDistribution(un), DetectMs: result.NewDistribution(det), LostAckedWrites: result.NewDistribution(lost)}
		}
	}
	return r
}

// synthPhased is synthResult with the phases summary.Phases cuts for a
// failover: before, the outage, after the failover. The steady state on
// the new primary does not rank the levels as the steady state before.
func synthPhased(t testing.TB) *result.Result {
	t.Helper()
	r := synthResult(t)
	after := map[string]struct{ tps, p99 float64 }{"off": {1100, 3.6}, "local": {1700, 2.28}, "on": {790, 4.8}, "remote_apply": {1500, 5.7}}
	for i := range r.Variants {
		v := &r.Variants[i]
		if v.Status != result.StatusComplete {
			continue
		}
		s, f := v.Summary, v.Summary.Failover
		r1, r2 := s.Replicas[0], s.Replicas[1]
		a := after[v.Settings["synchronous_commit"]]
		v.Phases = []result.PhaseStats{
			{Name: "before", Kind: result.PhaseBefore, StartMs: 0, EndMs: synthKillMs, TPS: s.TPS, Acked: int64(s.TPS * 18),
				P50CommitMs: s.CommitLatency.P50, P99CommitMs: s.CommitLatency.P99, MaxCommitMs: s.CommitLatency.P99 * 2,
				MaxReplayLagBytes: r2.MaxReplayLagBytes, MaxVisibilityMs: r2.MaxVisibilityMs,
				Replicas: []result.PhaseLag{
					{Replica: "replica1", ReplicationSamples: 180, P50ReplayLagBytes: r1.P99ReplayLagBytes / 4, MaxReplayLagBytes: r1.MaxReplayLagBytes,
						VisibilitySamples: 180, P50VisibilityMs: r1.P50VisibilityMs, P99VisibilityMs: r1.P99VisibilityMs, MaxVisibilityMs: r1.MaxVisibilityMs},
					{Replica: "replica2", ReplicationSamples: 180, P50ReplayLagBytes: r2.P99ReplayLagBytes / 4, MaxReplayLagBytes: r2.MaxReplayLagBytes,
						VisibilitySamples: 180, P50VisibilityMs: r2.P50VisibilityMs, P99VisibilityMs: r2.P99VisibilityMs, MaxVisibilityMs: r2.MaxVisibilityMs, HeartbeatsLost: 1}},
			},
			{Name: "outage: kill -9", Kind: result.PhaseOutage, Fault: intp(0), StartMs: synthKillMs, EndMs: *f.FirstWriteMs, Errors: 260},
			{Name: "after failover", Kind: result.PhaseAfterFailover, StartMs: *f.FirstWriteMs, EndMs: synthWindowMs, TPS: a.tps, Acked: int64(a.tps * 10),
				P50CommitMs: s.CommitLatency.P50 * 1.1, P99CommitMs: a.p99, MaxCommitMs: a.p99 * 2,
				MaxReplayLagBytes: r2.P99ReplayLagBytes, MaxVisibilityMs: r2.P50VisibilityMs * 3,
				Replicas: []result.PhaseLag{{Replica: "replica2", ReplicationSamples: 90, P50ReplayLagBytes: r2.P99ReplayLagBytes / 8, MaxReplayLagBytes: r2.P99ReplayLagBytes,
					VisibilitySamples: 90, P50VisibilityMs: r2.P50VisibilityMs * 1.5, P99VisibilityMs: r2.P50VisibilityMs * 2.5, MaxVisibilityMs: r2.P50VisibilityMs * 3}}},
		}
	}
	return r
}
