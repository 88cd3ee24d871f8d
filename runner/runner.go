// Package runner runs a scenario: one fresh cluster per matrix variant,
// the workload, the probes, the fault timeline and the failover controller
// on one clock, then the audit; package summary turns what was measured
// into the result. Writing result.json and rendering the report are the
// caller's (the CLI's), after it has checked the thresholds.
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
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/audit"
	"github.com/pgbench-ha/pgbench-ha/chaos"
	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/failover"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
	"github.com/pgbench-ha/pgbench-ha/probe"
	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/scenario"
	"github.com/pgbench-ha/pgbench-ha/summary"
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
	// Checkpoint, when set, is called with the result so far at the
	// start, when a variant's figures are in (before its audit) and after
	// each variant, so that a run killed hard leaves a partial
	// result.json. It is called from Run's goroutine.
	// dir is the run folder.
	Checkpoint func(dir string, r *result.Result)
	// Keep leaves the cluster of the last variant running after the run
	// (unless interrupted), when the backend can (cluster.Keeper);
	// Result.Run.Kept then says where it is.
	Keep bool
}

// Run runs every variant of the scenario, each on a fresh cluster, in
// the run folder OutDir/<scenario>/<run-id> (server logs go there). It
// returns the result and the run folder, even on error. A variant that
// fails is recorded with its error and the next one runs; the error
// returned names every variant that failed. An interrupted run returns
// ErrInterrupted with a partial result.
func Run(ctx context.Context, opts Options) (*result.Result, string, error) {
	s := opts.Scenario
	if opts.Progress == nil {
		opts.Progress = nopProgress{}
	}
	if opts.Grace == 0 {
		opts.Grace = 3 * time.Second
	}
	if err := Unsupported(s, opts.Backend.Name()); err != nil {
		return nil, "", err
	}
	if err := CheckServers(s, opts.Backend); err != nil {
		return nil, "", err
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
			Series: summary.EmptySeries(), Events: []result.Event{}, Faults: []result.Fault{},
		})
	}
	save := func() {
		res.Run.FinishedAt = time.Now().UTC()
		if opts.Checkpoint != nil {
			opts.Checkpoint(dir, res)
		}
	}
	save()
	var runErr error
	for i, p := range plans {
		if ctx.Err() != nil {
			break
		}
		v := &res.Variants[i]
		// The variant's own scenario: a matrix path (duration,
		// faults[0].at) may change it.
		ps := p.Scenario
		var err error
		for rep := 0; rep < ps.Repeat.Times && err == nil && ctx.Err() == nil; rep++ {
			// Repetition 0 fills the variant; the others only add their
			// figures to its repetitions, each on a fresh cluster.
			rv := v
			if rep > 0 {
				rv = &result.Variant{Name: p.Name, Settings: p.Values, Series: summary.EmptySeries(), Events: []result.Event{}, Faults: []result.Fault{}}
			}
			sc, shift := p.Shifted(rep)
			rp := p
			rp.Scenario = sc
			name := p.Name
			if ps.Repeat.Times > 1 {
				name = fmt.Sprintf("%s (%d/%d)", p.Name, rep+1, ps.Repeat.Times)
			}
			opts.Progress.Variant(i, len(plans), name, ps.Duration.D())
			var keep func(cluster.Kept)
			if opts.Keep && i == len(plans)-1 && rep == ps.Repeat.Times-1 {
				keep = func(k cluster.Kept) { res.Run.Kept = keptOf(p.Name, k) }
			}
			err = runVariant(ctx, opts, rp, rep, dir, rv, save, keep)
			if err == nil {
				rv.Status = result.StatusComplete
			}
			opts.Progress.VariantDone(rv)
			if ps.Repeat.Times > 1 {
				v.Repetitions = append(v.Repetitions, repetitionOf(rep, shift, rv, err))
				v.Summary.Repeated = result.SummarizeRepetitions(v.Repetitions)
			}
			if err == nil {
				save()
			}
		}
		if err != nil {
			v.Error = cluster.Redact(err.Error())
			if ctx.Err() != nil {
				v.Status = result.StatusInterrupted
				runErr = ErrInterrupted
				save()
				break
			}
			// The matrix goes on: a nightly run still measures the
			// variants that can run, and the error says which failed.
			v.Status = result.StatusFailed
			runErr = errors.Join(runErr, fmt.Errorf("variant %s: %w", p.Name, err))
		}
		save()
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
	res.Run.FinishedAt = time.Now().UTC()
	return res, dir, runErr
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

// keptOf is the result's record of a kept cluster.
func keptOf(variant string, k cluster.Kept) *result.KeptCluster {
	out := &result.KeptCluster{Variant: variant, Primary: k.Primary, File: k.File, Nodes: []result.KeptNode{}}
	for _, n := range k.Nodes {
		out.Nodes = append(out.Nodes, result.KeptNode{Name: n.Name, Host: n.Host, Port: n.Port})
	}
	return out
}

// runVariant runs one plan on a fresh cluster and fills v. With keep, the
// cluster is kept running at the end instead of torn down (unless the run
// was interrupted) and keep is told where it is.
func runVariant(ctx context.Context, opts Options, p scenario.Plan, rep int, dir string, v *result.Variant, save func(), keep func(cluster.Kept)) (err error) {
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
		Subscribers:      s.SubscriberNames(),
	}
	archiveRel := ""
	if s.ArchiveEnabled() {
		archiveRel = filepath.Join("archive", logName)
		spec.ArchiveDir = filepath.Join(dir, archiveRel)
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
	var roles *cluster.Roles
	be, closeBackend, err := backendFor(opts, s)
	if err != nil {
		return fmt.Errorf("bring-up: %w", err)
	}
	defer closeBackend()
	subPlans, err := prepareServer(be, s, &spec, v)
	if err != nil {
		return fmt.Errorf("bring-up: %w", err)
	}
	c, err := be.Up(ctx, spec)
	if err != nil {
		return fmt.Errorf("bring-up: %w", err)
	}
	if cv, ok := c.(cluster.Versioner); ok {
		v.Topology.PostgresVersion = cv.ServerVersion() // as the cluster runs it
	}
	defer func() {
		// On error the phase stays where it failed.
		if err == nil {
			phase("teardown")
		}
		dctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if k, ok := c.(cluster.Keeper); ok && keep != nil && ctx.Err() == nil {
			primary := scenario.PrimaryName
			if roles != nil {
				primary = roles.Primary()
			}
			kept, kerr := k.Keep(dctx, primary)
			if kerr == nil {
				keep(kept)
				if err == nil {
					phase("done")
				}
				return
			}
			if err == nil {
				err = kerr
			}
		}
		derr := c.Down(dctx)
		if derr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", derr)
		}
		if archiveRel != "" && derr == nil {
			// The cluster moved its archive into the run folder.
			v.ArchiveDir = archiveRel
			if a := v.Summary.Archive; a != nil {
				a.Files, a.Bytes, _ = dirSize(spec.ArchiveDir)
			}
		}
		if err == nil {
			phase("done")
		}
	}()
	v.Topology.BringUpMs = float64(time.Since(upStart).Microseconds()) / 1000

	// Load: schema, initial orders, heartbeat table; replicas caught up.
	phase("load")
	roles = cluster.NewRoles(scenario.PrimaryName, replicaNames)
	firstID, err := load(ctx, c, s)
	if err != nil {
		return err
	}
	drills, err := newDrills(s, c, roles, firstID)
	if err != nil {
		return err
	}
	defer drills.wait()
	start := time.Now()
	evs := &events{}
	probeCfg := probe.Config{Start: start, LagInterval: s.Probes.LagInterval.D(), HeartbeatInterval: s.Probes.HeartbeatInterval.D(),
		Subscribers: spec.Subscribers, Archive: s.ArchiveEnabled()}
	sampler := probe.New(c, roles, probeCfg)
	if err := sampler.Init(ctx); err != nil {
		return err
	}
	if err := subscribe(ctx, c, subPlans); err != nil {
		return err
	}
	if err := catchUp(ctx, c, replicaNames); err != nil {
		return err
	}
	writerNodes, nodeIndex := clientNodes(c, scenario.ClientWriters)
	cp, err := startPath(ctx, c, s, filepath.Join(dir, logRel), writerNodes)
	if err != nil {
		return err
	}
	defer cp.close()
	if cp.serverNode {
		// The server names the node: its own address.
		for i, n := range c.Nodes() {
			nodeIndex[fmt.Sprintf("%s:%d", n.Host, n.Port)] = i
			if ep, ok := c.(cluster.Endpoint); ok && ep.ServerAddr(n.Name) != "" {
				nodeIndex[ep.ServerAddr(n.Name)] = i
			}
		}
	}

	// The measured window: one clock for everything.
	phase("workload")
	start = time.Now()
	probeCfg.Start = start
	sampler = probe.New(c, roles, probeCfg)
	evs.emit(result.Event{Ms: 0, Kind: result.EventPhase, Detail: "workload start"})
	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); sampler.Run(bg) }()
	timeline := chaos.New(c, roles, s.Faults, start, evs.emit)
	// A fault on the path's HAProxy or PgBouncer acts on the path.
	timeline.Route(cp.route(c))
	go func() { defer wg.Done(); timeline.Run(bg) }()
	if drills != nil {
		drills.begin(ctx, bg, start, evs.emit)
	}
	if mgr := manager(c, roles, s, failover.Config{
		DetectAfter: s.Failover.DetectAfter.D(), ProbeInterval: s.Failover.ProbeInterval.D(),
		// An external cluster's standbys' configuration is not the
		// harness's to write.
		Repoint: s.Failover.RepointEnabled() && !s.IsExternal(), Slots: s.SlotsEnabled(), Sync: isSync, Start: start, Emit: evs.emit,
		SyncAfter: p.SynchronousAfterFailover,
		Client:    scenario.ClientController,
	}); mgr != nil {
		wg.Add(1)
		go func() { defer wg.Done(); mgr.Run(bg) }()
	}
	follow := newFollower(c, roles, subPlans, start, evs.emit)
	wg.Add(1)
	go func() { defer wg.Done(); follow.run(bg, ctx) }()
	led := workload.NewLedger(firstID)
	live := &workload.Live{}
	nodes := c.Nodes()
	wg.Add(1)
	go func() { defer wg.Done(); cp.watch(bg, start, evs.emit) }()
	tickDone := make(chan struct{})
	go func() {
		defer close(tickDone)
		ticks(bg, opts.Progress, start, live, sampler)
	}()
	wcfg := workload.Config{
		DSN: cp.writeDSN(c), Writers: s.Workload.Writers,
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
	cp.writerConfig(&wcfg)
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
	follow.wait()
	<-tickDone
	// After the workload, the summary, the checks and the audit make the
	// run's largest allocations (copies of the ledger, the final
	// primary's ids and insert times), each live for a while and then
	// garbage. Go's default GC target lets the heap grow to twice what is
	// live; a lower one keeps the peak near it, at a few ms of GC the
	// workload no longer pays.
	defer debug.SetGCPercent(debug.SetGCPercent(postRunGCPercent))
	// The runner always heals, also when the workload failed; a heal error
	// is recorded in the fault's record and as an error event.
	_ = timeline.HealAll(context.Background())
	managerHistory(ctx, c, start, evs.emit)
	if werr != nil {
		v.Faults, v.Events = timeline.Faults(), evs.list()
		return fmt.Errorf("workload: %w", werr)
	}
	var drillErr error
	if drills != nil {
		phase("drills")
		v.Drills, drillErr = drills.finish(ctx, led)
	}

	// What happened, before the audit can fail.
	repl, vis := sampler.Series()
	hbAcked, hbLost := sampler.Heartbeats()
	nodeNames := make([]string, len(nodes))
	for i, n := range nodes {
		nodeNames[i] = n.Name
	}
	in := summary.Input{
		Duration: s.Duration.D(), Grace: opts.Grace, TargetRateTPS: s.Workload.Rate, InitialOrders: s.Workload.InitialOrders,
		Writers: s.Workload.Writers, Capacity: capacitySpans(s),
		FailoverMode: s.Failover.Mode, DetectAfter: s.Failover.DetectAfter.D(), OldPrimary: scenario.PrimaryName,
		Nodes: nodeNames, Replicas: replicaNames, Sync: isSync,
		Stats: st, Ledger: led, Replication: repl, Visibility: vis, HeartbeatsAcked: hbAcked, HeartbeatsLost: hbLost, VisibilityFloor: sampler.Floor(), WAL: sampler.WAL(),
		Reads: reads, Faults: timeline.Faults(), Events: evs.list(), ProbeInterval: s.Failover.ProbeInterval.D(),
		Model: outageModel(s),
	}
	summary.Fill(v, in)
	if len(spec.Subscribers) > 0 {
		v.Series.Subscribers = sampler.Subscribers()
		v.Summary.Subscribers = summary.Subscribers(spec.Subscribers, v.Series.Subscribers)
		subscriberSummaries(v, subPlans, follow)
	}
	if s.ArchiveEnabled() {
		v.Series.Archive = sampler.Archive()
		v.Summary.Archive = summary.Archive(v.Series.Archive, float64(s.Duration.D().Microseconds())/1000)
	}
	v.Checks = summary.Checks(v, in)
	histRel := filepath.Join("history", logName+".csv.gz")
	if err := writeHistory(filepath.Join(dir, histRel), led, nodeNames); err != nil {
		return err
	}
	v.HistoryFile = histRel
	// A long run's sampled series go whole to a file of their own, and
	// downsampled into result.json, which stays small enough to read.
	if raw := v.Series; v.Series.Downsample(result.MaxSeriesPoints) {
		seriesRel := filepath.Join("series", logName+".json.gz")
		if err := result.WriteSeriesFile(filepath.Join(dir, seriesRel), raw); err != nil {
			return err
		}
		v.SeriesFile = seriesRel
	}
	save()
	if ctx.Err() != nil {
		return ErrInterrupted
	}

	phase("audit")
	a, err := audit.Run(ctx, c, roles, led, audit.Config{Timeout: s.Probes.AuditTimeout.D(), NodeNames: nodeNames,
		Inserted: &in.Inserted, Start: start, Deleted: drills.deleted()})
	if err != nil {
		return err
	}
	v.Summary.Audit = a
	// Every primary failed over, in order: what each wrote that the final
	// primary's timeline left behind.
	if f := v.Summary.Failover; f != nil {
		olds := []string{f.OldPrimary}
		for _, fo := range f.Failovers {
			olds = append(olds, fo.OldPrimary)
		}
		seen := map[string]bool{"": true, a.FinalPrimary: true}
		for _, old := range olds {
			if seen[old] {
				continue
			}
			seen[old] = true
			w, err := audit.WALBeyond(ctx, c, a.FinalPrimary, old)
			if err != nil {
				return err
			}
			if w != nil {
				a.WALBeyond = append(a.WALBeyond, *w)
			}
		}
	}
	if len(spec.Subscribers) > 0 {
		var promoted *float64
		if f := v.Summary.Failover; f != nil {
			promoted = f.PromoteDoneMs
		}
		subs, err := audit.Subscribers(ctx, c, roles, led, spec.Subscribers, audit.SubscriberConfig{
			Timeout: s.Probes.AuditTimeout.D(), Start: start, PromotedMs: promoted})
		if err != nil {
			return err
		}
		a.Subscribers = subs
	}
	summary.Audited(v, in)
	v.Checks = summary.Checks(v, in)
	if v.Drills != nil {
		v.Checks = append(v.Checks, summary.DrillChecks(v.Drills, s.Workload.Writers)...)
	}
	// Figures measured, but not of the scenario as written.
	return errors.Join(chaos.Failed(v.Faults), drillErr)
}

// dirSize counts the regular files in dir and their bytes.
func dirSize(dir string) (files, bytes int64, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range entries {
		if info, ierr := e.Info(); ierr == nil && info.Mode().IsRegular() {
			files++
			bytes += info.Size()
		}
	}
	return files, bytes, nil
}

// capacitySpans are the scenario's closed-loop bursts in ms, as the
// summary takes them.
func capacitySpans(s *scenario.Scenario) []result.Span {
	var out []result.Span
	for _, sp := range s.CapacitySpans() {
		out = append(out, result.Span{StartMs: float64(sp.From.Microseconds()) / 1000, EndMs: float64(sp.To.Microseconds()) / 1000})
	}
	return out
}

// writeHistory writes the ledger's history, gzip'd, to path: through a
// temporary file, so that a file under that name is whole.
func writeHistory(path string, led *workload.Ledger, nodes []string) error {
	if err := result.WriteGzip(path, func(w io.Writer) error { return led.WriteHistory(w, nodes) }); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// postRunGCPercent is the GC target (GOGC) from the end of a variant's
// workload to the end of the variant.
const postRunGCPercent = 20

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
	return fmt.Sprintf("user=%s password=%s dbname=%s sslmode=disable", cfg.User, pgquote.ConnValue(cfg.Password), cfg.Database)
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
