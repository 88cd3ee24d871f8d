// Package runner runs a scenario: one fresh cluster per matrix variant,
// the workload, the probes, the fault timeline and the failover controller
// on one clock, then the audit, into a result.json and a report.
//
//	res, dir, err := runner.Run(ctx, runner.Options{Scenario: s, Backend: b, OutDir: "results"})
package runner

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/audit"
	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/probe"
	"github.com/pgbench-ha/pgbench-ha/report"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

// ErrInterrupted is returned when the context was cancelled (Ctrl-C).
var ErrInterrupted = errors.New("interrupted")

// Progress receives live updates. Calls come from one goroutine at a time.
type Progress interface {
	Variant(index, total int, name string, duration time.Duration)
	Phase(name string)
	Tick(elapsed time.Duration, tps, lagBytes, visibilityMs float64, writers int64)
	VariantDone(v *result.Variant)
}

type nopProgress struct{}

func (nopProgress) Variant(int, int, string, time.Duration)              {}
func (nopProgress) Phase(string)                                         {}
func (nopProgress) Tick(time.Duration, float64, float64, float64, int64) {}
func (nopProgress) VariantDone(*result.Variant)                          {}

// Options configure Run.
type Options struct {
	Scenario    *scenario.Scenario
	Backend     cluster.Backend
	OutDir      string // results root; the run goes to OutDir/<scenario>/<run-id>
	ToolVersion string
	Progress    Progress
	// Grace lets writes in flight at the end of the window finish.
	Grace time.Duration
	// Finish, when set, completes the result (thresholds, say) before it
	// is written for the last time and the report is rendered.
	Finish func(*result.Result)
	// Report configures the rendering (SVG plots beside the PNGs).
	Report report.Options
}

// Run runs every variant of the scenario and writes result.json (after
// each variant, so an interrupted run leaves a partial one) and the
// report. It returns the result and the run folder even on error.
func Run(ctx context.Context, opts Options) (*result.Result, string, error) {
	s := opts.Scenario
	if opts.Progress == nil {
		opts.Progress = nopProgress{}
	}
	if opts.Grace == 0 {
		opts.Grace = 3 * time.Second
	}
	plans := scenario.Expand(s)
	runID := time.Now().UTC().Format("20060102T150405Z") + "-" + shortRandom()
	dir := filepath.Join(opts.OutDir, s.Name, runID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", fmt.Errorf("results folder: %w", err)
	}
	host, _ := os.Hostname()
	sum := sha256.Sum256(s.Source)
	res := &result.Result{
		SchemaVersion: result.SchemaVersion,
		Status:        result.StatusRunning,
		Run: result.RunMeta{
			ID: runID, ToolVersion: opts.ToolVersion, GoVersion: runtime.Version(),
			PostgresVersion: opts.Backend.ServerVersion(), Backend: opts.Backend.Name(),
			Scenario: s.Name, Description: s.Description, ScenarioFile: s.File,
			ScenarioSHA256: hex.EncodeToString(sum[:]), ScenarioYAML: string(s.Source),
			Seed: s.Seed, StartedAt: time.Now().UTC(), Host: host, OS: runtime.GOOS,
			Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), DurationS: s.Duration.D().Seconds(),
		},
	}
	for _, p := range plans {
		res.Variants = append(res.Variants, result.Variant{
			Name: p.Name, Settings: p.Values, Status: result.StatusPending, Phase: "pending",
			Series: emptySeries(), Events: []result.Event{},
		})
	}
	save := func() error {
		res.Run.FinishedAt = time.Now().UTC()
		return result.Write(filepath.Join(dir, "result.json"), res)
	}
	if err := save(); err != nil {
		return res, dir, err
	}
	var runErr error
	for i, p := range plans {
		if ctx.Err() != nil {
			break
		}
		v := &res.Variants[i]
		var err error
		for rep := 0; rep < s.Repeat.Times && err == nil && ctx.Err() == nil; rep++ {
			// Repetition 0 fills the variant; the others only add their
			// figures to its repetitions, each on a fresh cluster.
			rv := v
			if rep > 0 {
				rv = &result.Variant{Name: p.Name, Settings: p.Values, Series: emptySeries(), Events: []result.Event{}}
			}
			sc, shift := p.Shifted(rep)
			rp := p
			rp.Scenario = sc
			name := p.Name
			if s.Repeat.Times > 1 {
				name = fmt.Sprintf("%s (%d/%d)", p.Name, rep+1, s.Repeat.Times)
			}
			opts.Progress.Variant(i, len(plans), name, s.Duration.D())
			err = runVariant(ctx, opts, rp, rep, dir, rv, func() { _ = save() })
			if err == nil {
				rv.Status = result.StatusComplete
			}
			opts.Progress.VariantDone(rv)
			if s.Repeat.Times > 1 {
				v.Repetitions = append(v.Repetitions, repetitionOf(rep, shift, rv, err))
				v.Summary.Repeated = result.SummarizeRepetitions(v.Repetitions)
			}
			if err == nil {
				_ = save()
			}
		}
		if err != nil {
			v.Error = cluster.Redact(err.Error())
			if ctx.Err() != nil {
				v.Status = result.StatusInterrupted
				runErr = ErrInterrupted
			} else {
				v.Status = result.StatusFailed
				runErr = fmt.Errorf("variant %s: %w", p.Name, err)
			}
			_ = save()
			break
		}
		if err := save(); err != nil {
			return res, dir, err
		}
	}
	switch {
	case runErr == nil && ctx.Err() != nil:
		runErr = ErrInterrupted
		fallthrough
	case errors.Is(runErr, ErrInterrupted):
		res.Status = result.StatusInterrupted
		res.Error = "interrupted by the user"
	case runErr != nil:
		res.Status = result.StatusFailed
		res.Error = cluster.Redact(runErr.Error())
	default:
		res.Status = result.StatusComplete
	}
	if opts.Finish != nil {
		opts.Finish(res)
	}
	if err := save(); err != nil && runErr == nil {
		runErr = err
	}
	if err := report.RenderWith(res, dir, opts.Report); err != nil && runErr == nil {
		runErr = fmt.Errorf("report: %w", err)
	}
	return res, dir, runErr
}

func emptySeries() result.Series {
	return result.Series{Throughput: []result.ThroughputPoint{}, Replication: []result.ReplicationPoint{},
		Visibility: []result.VisibilityPoint{}, WAL: []result.WALPoint{}, Reads: []result.ReadPoint{}}
}

func shortRandom() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._=-]+`)

// events collects events from several goroutines.
type events struct {
	mu  sync.Mutex
	evs []result.Event
}

func (e *events) emit(ev result.Event) {
	e.mu.Lock()
	e.evs = append(e.evs, ev)
	e.mu.Unlock()
}

func (e *events) list() []result.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]result.Event(nil), e.evs...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ms < out[j].Ms })
	return out
}

// runVariant runs one plan on a fresh cluster and fills v.
func runVariant(ctx context.Context, opts Options, p scenario.Plan, rep int, dir string, v *result.Variant, save func()) (err error) {
	s := p.Scenario
	phase := func(name string) {
		v.Phase = name
		opts.Progress.Phase(name)
	}
	phase("bring-up")
	v.Status = result.StatusRunning
	logName := fmt.Sprintf("%d-%s", p.Index, unsafeChars.ReplaceAllString(p.Name, "_"))
	if rep > 0 {
		logName += fmt.Sprintf("-r%d", rep+1)
	}
	logRel := filepath.Join("logs", logName)
	v.LogDir = logRel
	spec := cluster.Spec{
		ID:               fmt.Sprintf("v%d-r%d", p.Index, rep),
		Settings:         map[string]map[string]string{},
		SyncStandbyNames: p.SynchronousStandbyNames(),
		LogDir:           filepath.Join(dir, logRel),
		Network:          s.HasNetworkFaults(),
		Clients:          scenario.ClientNames,
	}
	isSync := map[string]bool{}
	v.Topology = result.Topology{Primary: scenario.PrimaryName, SynchronousStandbyNames: spec.SyncStandbyNames,
		Settings: p.NodeSettings(scenario.PrimaryName), Replicas: []result.ReplicaInfo{}}
	var replicaNames []string
	for _, r := range s.Topology.Replicas {
		rs := cluster.ReplicaSpec{Name: r.Name}
		if s.SlotsEnabled() {
			rs.Slot = r.Name
		}
		spec.Replicas = append(spec.Replicas, rs)
		isSync[r.Name] = r.Sync
		replicaNames = append(replicaNames, r.Name)
		v.Topology.Replicas = append(v.Topology.Replicas, result.ReplicaInfo{Name: r.Name, Sync: r.Sync, Slot: rs.Slot})
	}
	for _, n := range s.NodeNames() {
		spec.Settings[n] = p.NodeSettings(n)
	}
	upStart := time.Now()
	c, err := opts.Backend.Up(ctx, spec)
	if err != nil {
		return fmt.Errorf("bring-up: %w", err)
	}
	defer func() {
		// On error the phase stays where it failed.
		if err == nil {
			phase("teardown")
		}
		dctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if derr := c.Down(dctx); derr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", derr)
		}
		if err == nil {
			phase("done")
		}
	}()
	v.Topology.BringUpMs = float64(time.Since(upStart).Microseconds()) / 1000

	// Load: schema, initial orders, heartbeat table; replicas caught up.
	phase("load")
	roles := cluster.NewRoles(scenario.PrimaryName, replicaNames)
	firstID, err := load(ctx, c, s)
	if err != nil {
		return err
	}
	start := time.Now()
	evs := &events{}
	sampler := probe.New(c, roles, probe.Config{Start: start, LagInterval: s.Probes.LagInterval.D(), HeartbeatInterval: s.Probes.HeartbeatInterval.D()})
	if err := sampler.Init(ctx); err != nil {
		return err
	}
	if err := catchUp(ctx, c, replicaNames); err != nil {
		return err
	}

	// The measured window: one clock for everything.
	phase("workload")
	start = time.Now()
	sampler = probe.New(c, roles, probe.Config{Start: start, LagInterval: s.Probes.LagInterval.D(), HeartbeatInterval: s.Probes.HeartbeatInterval.D()})
	evs.emit(result.Event{Ms: 0, Kind: "phase", Detail: "workload start"})
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sampler.Run(bg) }()
	timeline := chaos.New(c, roles, s.Faults, start, evs.emit)
	go func() { defer wg.Done(); timeline.Run(bg) }()
	var ctl *failover.Controller
	if s.Failover.Mode == scenario.FailoverPromote {
		ctl = failover.New(c, roles, failover.Config{
			DetectAfter: s.Failover.DetectAfter.D(), ProbeInterval: s.Failover.ProbeInterval.D(),
			Repoint: s.Failover.RepointEnabled(), Slots: s.SlotsEnabled(), Sync: isSync, Start: start, Emit: evs.emit,
			Client: scenario.ClientController,
		})
		wg.Add(1)
		go func() { defer wg.Done(); ctl.Run(bg) }()
	}
	led := workload.NewLedger(firstID)
	live := &workload.Live{}
	nodes := c.Nodes()
	writerNodes, nodeIndex := clientNodes(c, scenario.ClientWriters)
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		ticks(bg, opts.Progress, start, live, sampler)
	}()
	wcfg := workload.Config{
		DSN: cluster.MultiHost(writerNodes) + " " + appCreds(c), Writers: s.Workload.Writers,
		WriteTimeout: writeTimeout,
		Rate:         s.RateAt, Poisson: s.Workload.Arrival != "uniform", Seed: s.Seed, MaxQueue: s.Workload.MaxQueue,
		Ledger: led, Start: start, Duration: s.Duration.D(), Grace: opts.Grace,
		NodeOf: func(addr string) int {
			if i, ok := nodeIndex[addr]; ok {
				return i
			}
			return -1
		},
	}
	var reads []*workload.Reads
	readsDone := make(chan struct{})
	go func() {
		defer close(readsDone)
		reads = workload.RunReaders(ctx, readerConfigs(c, s, led, start))
	}()
	st, werr := workload.Run(ctx, wcfg, live)
	<-readsDone
	stopBG()
	wg.Wait()
	<-tickDone
	if werr != nil {
		return fmt.Errorf("workload: %w", werr)
	}
	window := time.Since(start)
	_ = timeline.HealAll(context.Background())

	// What happened, before the audit can fail.
	var tl *failover.Timeline
	if ctl != nil {
		t := ctl.Wait()
		tl = &t
	}
	fillSummary(v, s, st, led, sampler, replicaNames, isSync, window)
	v.Summary.Failover = failoverSummary(s, tl, timeline.Fired(), led, nodes, evs)
	v.Events = evs.list()
	repl, vis := sampler.Series()
	v.Series = emptySeries()
	v.Series.Replication = append(v.Series.Replication, repl...)
	v.Series.Visibility = append(v.Series.Visibility, vis...)
	v.Series.Throughput = throughput(st, s.Duration.D()+opts.Grace)
	v.Series.WAL = append([]result.WALPoint{}, sampler.WAL()...)
	v.Summary.Reads, v.Series.Reads = readResults(reads)
	v.Phases = phases(timeline.Fired(), st, repl, vis, s.Duration.D())
	v.CatchUps = catchUps(timeline.Fired(), replicaNames, repl, vis)
	v.Histogram = encodeHist(st.Latency)
	save()
	if ctx.Err() != nil {
		return ErrInterrupted
	}

	phase("audit")
	names := make([]string, len(nodes))
	for i, n := range nodes {
		names[i] = n.Name
	}
	a, err := audit.Run(ctx, c, roles, led, audit.Config{Timeout: s.Probes.AuditTimeout.D(), NodeNames: names})
	if err != nil {
		return err
	}
	v.Summary.Audit = a
	return nil
}

// writeTimeout bounds one write, as an application's would: a write on a
// connection into a partition gives up (its outcome unknown) and the
// writer reconnects.
const writeTimeout = 5 * time.Second

// clientNodes is where a client group connects: through its own links when
// the cluster has link proxies, directly otherwise; and the map from each
// address to the node's index, so the ledger knows who acknowledged.
func clientNodes(c cluster.Cluster, client string) ([]cluster.Node, map[string]int) {
	nodes := c.Nodes()
	index := map[string]int{}
	out := make([]cluster.Node, len(nodes))
	for i, n := range nodes {
		out[i] = n
		if nw, ok := c.(cluster.Networker); ok {
			// "" when the cluster was built without link proxies.
			if cs := nw.ClientConnString(client, n.Name, cluster.App); cs != "" {
				if cfg, err := pgx.ParseConfig(cs); err == nil {
					out[i].Host, out[i].Port = cfg.Host, int(cfg.Port)
				}
			}
		}
		index[fmt.Sprintf("%s:%d", out[i].Host, out[i].Port)] = i
	}
	return out, index
}

func appCreds(c cluster.Cluster) string {
	// Take user and password from the app connection string of the
	// primary; hosts come from MultiHost.
	cfg, err := pgx.ParseConfig(c.ConnString(scenario.PrimaryName, cluster.App))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("user=%s password=%s dbname=%s sslmode=disable", cfg.User, quoteValue(cfg.Password), cfg.Database)
}

func quoteValue(v string) string {
	out := "'"
	for _, r := range v {
		if r == '\'' || r == '\\' {
			out += `\`
		}
		out += string(r)
	}
	return out + "'"
}

// load creates the schema and the initial orders on the primary.
func load(ctx context.Context, c cluster.Cluster, s *scenario.Scenario) (int64, error) {
	conn, err := pgx.Connect(ctx, c.ConnString(scenario.PrimaryName, cluster.App))
	if err != nil {
		return 0, fmt.Errorf("load: %s", cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	first, err := workload.Prepare(ctx, conn, s.Seed, s.Workload.InitialOrders)
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	return first, nil
}

// catchUp waits until every replica has replayed what the primary has.
func catchUp(ctx context.Context, c cluster.Cluster, replicas []string) error {
	cs := cluster.NewConns(c, "pgbench-ha-load", 5*time.Second)
	defer cs.Close()
	conn, err := cs.Get(ctx, scenario.PrimaryName)
	if err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	var lsn string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return fmt.Errorf("catch up: %w", err)
	}
	for _, r := range replicas {
		ok, err := cluster.WaitReplayed(ctx, cs, r, lsn, 60*time.Second)
		if err != nil {
			return fmt.Errorf("catch up %s: %w", r, err)
		}
		if !ok {
			return fmt.Errorf("catch up: %s did not replay the initial data within 60s", r)
		}
	}
	return nil
}

func ticks(ctx context.Context, p Progress, start time.Time, live *workload.Live, s *probe.Sampler) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	type point struct {
		at    time.Duration
		acked int64
	}
	var hist []point
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Since(start)
		acked := live.Acked.Load()
		hist = append(hist, point{now, acked})
		for len(hist) > 1 && now-hist[0].at > time.Second {
			hist = hist[1:]
		}
		tps := 0.0
		if d := now - hist[0].at; d > 0 {
			tps = float64(acked-hist[0].acked) / d.Seconds()
		}
		lag, vis := s.Live()
		p.Tick(now, tps, lag, vis, live.Writers.Load())
	}
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ptr(f float64) *float64 { return &f }

func latencyOf(h *hdrhistogram.Histogram) result.Latency {
	if h.TotalCount() == 0 {
		return result.Latency{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1000 }
	return result.Latency{P50: q(50), P90: q(90), P99: q(99), P999: q(99.9),
		Max: float64(h.Max()) / 1000, Mean: h.Mean() / 1000, N: h.TotalCount()}
}

func fillSummary(v *result.Variant, s *scenario.Scenario, st *workload.Stats, led *workload.Ledger,
	sampler *probe.Sampler, replicas []string, sync map[string]bool, window time.Duration) {
	sum := &v.Summary
	sum.DurationS = s.Duration.D().Seconds()
	sum.Acked = led.Count(workload.Acked)
	sum.Failed = led.Count(workload.Failed)
	sum.Unknown = led.Count(workload.Unknown)
	sum.Attempted = sum.Acked + sum.Failed + sum.Unknown
	sum.Skipped = st.Skipped
	sum.TPS = float64(sum.Acked) / s.Duration.D().Seconds()
	sum.TargetRateTPS = s.Workload.Rate
	sum.CommitLatency = latencyOf(st.Latency)
	sum.ScheduleLagP99 = float64(st.SchedLag.ValueAtQuantile(99)) / 1000
	sum.Replicas = sampler.Summaries(replicas, sync)
	sum.InitialOrders = s.Workload.InitialOrders
}

func failoverSummary(s *scenario.Scenario, tl *failover.Timeline, fired []chaos.Fired, led *workload.Ledger,
	nodes []cluster.Node, evs *events) *result.Failover {
	if len(fired) == 0 {
		return nil
	}
	f := &result.Failover{Mode: s.Failover.Mode, DetectAfterMs: msOf(s.Failover.DetectAfter.D())}
	// The fault the failover answers: the first one on the primary, else
	// the first one.
	fault := fired[0]
	for _, fd := range fired {
		if fd.Fault.Node == scenario.PrimaryName || slices.Contains(fd.Fault.From, scenario.PrimaryName) ||
			slices.ContainsFunc(fd.Fault.Sides, func(side []string) bool { return slices.Contains(side, scenario.PrimaryName) }) {
			fault = fd
			break
		}
	}
	f.FaultMs = ptr(msOf(fault.At))
	f.OldPrimary = scenario.PrimaryName
	exclude := -1
	for i, n := range nodes {
		if n.Name == f.OldPrimary {
			exclude = i
		}
	}
	if last, ok := led.LastAckBefore(fault.At); ok {
		f.LastAckBeforeMs = ptr(msOf(last))
	}
	if tl != nil && tl.Detected > 0 {
		f.DetectedMs = ptr(msOf(tl.Detected))
	}
	if tl != nil && tl.Promoted {
		f.PromoteStartMs = ptr(msOf(tl.PromoteStart))
		f.PromoteDoneMs = ptr(msOf(tl.PromoteDone))
		f.NewPrimary = tl.NewPrimary
		f.Repointed = tl.Repointed
		f.SplitBrain = tl.SplitBrain
	}
	// Two writable primaries: acknowledgements from the old primary after
	// the first one from the new primary.
	if lastOld, ok := led.LastAckBy(exclude); ok && f.NewPrimary != "" {
		if first, _, ok := led.FirstAckAfter(fault.At, exclude); ok && lastOld > first {
			f.DualPrimaryMs = ptr(msOf(lastOld - first))
			f.LastAckOldPrimaryMs = ptr(msOf(lastOld))
		}
	}
	if first, node, ok := led.FirstAckAfter(fault.At, exclude); ok {
		f.FirstWriteMs = ptr(msOf(first))
		name := ""
		if node >= 0 && node < len(nodes) {
			name = nodes[node].Name
		}
		evs.emit(result.Event{Ms: msOf(first), Kind: "first_write", Node: name, Detail: "first acknowledged write after the fault"})
		if f.LastAckBeforeMs != nil {
			f.WriteUnavailableMs = ptr(*f.FirstWriteMs - *f.LastAckBeforeMs)
		}
	}
	return f
}

func throughput(st *workload.Stats, upTo time.Duration) []result.ThroughputPoint {
	n := int(upTo/time.Second) + 1
	if n > len(st.Acked) {
		n = len(st.Acked)
	}
	// Trim trailing empty seconds after the window.
	for n > 0 && st.Acked[n-1] == 0 && st.Failed[n-1] == 0 && st.Unknown[n-1] == 0 {
		n--
	}
	out := make([]result.ThroughputPoint, 0, n)
	for i := 0; i < n; i++ {
		h := st.PerSecond[i]
		p := result.ThroughputPoint{Second: i, Acked: st.Acked[i], Failed: st.Failed[i], Unknown: st.Unknown[i]}
		if h.TotalCount() > 0 {
			p.P50Ms = float64(h.ValueAtQuantile(50)) / 1000
			p.P99Ms = float64(h.ValueAtQuantile(99)) / 1000
			p.MaxMs = float64(h.Max()) / 1000
		}
		out = append(out, p)
	}
	return out
}

func encodeHist(h *hdrhistogram.Histogram) *result.Histogram {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil
	}
	return &result.Histogram{Unit: "us", Encoded: string(b)} // Encode already yields base64
}
