package report

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"html/template"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/redact"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// ReportFile is the name of the HTML page Render writes.
const ReportFile = "report.html"

//go:embed report.html.tmpl
var pageTemplate string

var tmpl = template.Must(template.New("report").Parse(pageTemplate))

// Render writes dir/report.html and the PNG figures it shows (throughput.png,
// latency-percentiles.png, commit-p99.png, failover.png, lag-bytes.png,
// lag-ms.png, visibility.png, and when the result has the data for them
// phases.png, reads.png, wal.png, repetitions.png) into dir, creating dir if needed. A figure
// without data is not written, and a stale copy of it from an earlier render
// is removed. Render never modifies r. Variants without data (pending or
// failed) are shown as such.
//
// An undecodable histogram does not stop the report: the variant falls back
// to its summary percentiles and the problem is shown on the page.
func Render(r *result.Result, dir string) error {
	return RenderWith(r, dir, Options{})
}

// Options adjust RenderWith.
type Options struct {
	// SVG also writes every figure as an SVG file beside its PNG (the same
	// name ending in .svg), for people who embed plots in documents; the
	// page links to them. Without it, stale SVG files of an earlier
	// render are removed.
	SVG bool
}

// RenderWith is Render with options.
func RenderWith(r *result.Result, dir string, opts Options) error {
	if r == nil {
		return errors.New("render report: nil result")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	run := prepare(r)
	pg := buildPage(r, run)

	type maker struct {
		name string
		fn   func() (*figure, bool, error)
	}
	noErr := func(fn func() (*figure, bool)) func() (*figure, bool, error) {
		return func() (*figure, bool, error) { f, ok := fn(); return f, ok, nil }
	}
	makers := []maker{
		{pngThroughput, noErr(run.throughputFigure)},
		{pngPercentiles, run.percentilesFigure},
		{pngCommitP99, noErr(run.commitP99Figure)},
		{pngFailover, noErr(run.failoverFigure)},
		{pngLagBytes, noErr(run.lagBytesFigure)},
		{pngLagMs, noErr(run.lagMsFigure)},
		{pngVisibility, noErr(run.visibilityFigure)},
		{pngPhases, noErr(run.phasesFigure)},
		{pngReads, noErr(run.readsFigure)},
		{pngWAL, noErr(run.walFigure)},
		{pngSubscribers, noErr(run.subscribersFigure)},
		{pngArchive, noErr(run.archiveFigure)},
		{pngRepetitions, noErr(run.repetitionsFigure)},
	}
	written := map[string]bool{}
	for _, m := range makers {
		f, ok, ferr := m.fn()
		run.raise(f)
		if ferr != nil {
			pg.Warnings = append(pg.Warnings, redact.String(ferr.Error()))
		}
		path := filepath.Join(dir, m.name)
		svgPath := strings.TrimSuffix(path, ".png") + ".svg"
		if !ok || !opts.SVG {
			if err := os.Remove(svgPath); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("render report: %w", err)
			}
		}
		if !ok {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("render report: %w", err)
			}
			continue
		}
		if err := f.save(path); err != nil {
			return fmt.Errorf("render report: %w", err)
		}
		if opts.SVG {
			if err := f.saveSVG(svgPath); err != nil {
				return fmt.Errorf("render report: %w", err)
			}
		}
		written[m.name] = true
	}
	pg.Fig = written
	pg.SVG = opts.SVG

	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, pg); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, ReportFile), buf.Bytes()); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

func writeAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".report-*.html")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// page is what the template shows; every string is final text.
type page struct {
	Title       string
	Scenario    string
	Description string
	RunID       string
	Status      string
	StatusClass string
	Started     string
	Elapsed     string
	Banners     []banner
	Warnings    []string
	Headlines   []headline
	Compare     compareTable
	Failover    []failoverRow
	Variants    []variantView
	YAML        string
	YAMLFile    string
	Env         []kv
	Topologies  []topologyRow
	Fig         map[string]bool
	FigWidth    int
	// SummaryCurves names the variants whose percentile curve comes from
	// their summary, for want of a histogram.
	SummaryCurves string
	// SVG is true when every figure has an SVG copy to link to.
	SVG bool
	// Thresholds are the scenario's thresholds as checked after the run.
	Thresholds       []thresholdRow
	ThresholdsFailed int
	// Checks are the variants' self-checks; ChecksFailed how many failed.
	Checks       []checkRow
	ChecksFailed int
	// SplitBrains warn, in the failover section, of the variants where
	// two nodes took writes.
	SplitBrains []splitBrainView
	// Faults is the cross-variant view of the phases and catch-ups.
	Faults faultsView
	// Reads compares the stale reads of the variants; nil without reads.
	Reads *readsMatrix
	// WAL sums up the primary's WAL and its slots, per variant.
	WAL []walView
	// Subscribers are the logical subscribers, every variant's.
	Subscribers []subscriberRow
	// Archive is each variant's WAL archive, when it archived.
	Archive []archiveRow
	// Drills and Accidents are the restore drills (drills.go).
	Drills    []drillRow
	Accidents []accidentRow
	// Repeats sums up the repetitions of each repeated variant.
	Repeats []repeatSummaryRow
}

// checkRow is one self-check of one variant.
type checkRow struct {
	Passed                 bool
	Variant, Name, Message string
}

// buildChecks lists the variants' self-checks, the failed ones first.
func buildChecks(r *result.Result) ([]checkRow, int) {
	var failed, passed []checkRow
	for _, v := range r.Variants {
		for _, c := range v.Checks {
			row := checkRow{Passed: c.Passed, Variant: v.Name, Name: c.Name, Message: c.Message}
			if c.Passed {
				passed = append(passed, row)
			} else {
				failed = append(failed, row)
			}
		}
	}
	return append(failed, passed...), len(failed)
}

type thresholdRow struct {
	Passed   bool
	Name     string
	Message  string
	Source   string
	Variants []thresholdCell
}

type thresholdCell struct {
	Name, Value string
	Passed      bool
}

type banner struct {
	Class string // "failed" | "interrupted"
	Title string
	Text  string
}

type headline struct {
	Class string
	Name  string
	Parts []headlinePart
}

type kv struct{ K, V string }

// flaggedKV is a kv that may be shown as a problem.
type flaggedKV struct {
	K, V string
	Bad  bool
}

type cell struct {
	Text  string
	Sub   string // small print under the value
	Best  bool
	Title string
	Hide  bool // a column the table leaves out
}

type compareTable struct {
	Rows []compareRow
	// Capacity: some variant measured a capacity, so the table has its
	// column.
	Capacity bool
}

type compareRow struct {
	Name   string
	Key    string // Name split at its first "=", to let it wrap there
	Value  string
	Status string
	Class  string
	Cells  []cell
}

type failoverRow struct {
	Name, Key, Value                                string
	Mode, Primaries                                 string
	Detected, PromoteStart, PromoteDone, FirstWrite string
	LastAck, Unavailable, DetectAfter               string
	SplitBrain                                      bool
}

type topologyRow struct {
	Name, Settings, Primary, Replicas, SyncNames, BringUp string
}

type variantView struct {
	Anchor      string
	Name        string
	Status      string
	StatusClass string
	Phase       string
	Error       string
	HasData     bool
	Settings    []kv
	Topology    []kv
	Workload    []kv
	Latency     []latencyRow
	// ScheduleLag is the whole window's schedule lag p99.
	ScheduleLag string
	Replicas    []replicaRow
	VisFloor    string // visibility polled on the primary itself
	// HBLostAll says how many acknowledged heartbeats the primary after a
	// failover did not hold; empty when none was lost.
	HBLostAll    string
	Failover     []flaggedKV
	Audit        []flaggedKV
	AuditNodes   []nodeRow
	Lost         []lostRow
	LostNote     string
	Events       []eventRow
	Effective    []kv
	LogDir       string
	HistogramErr string
	// SplitBrain is the variant's split-brain warning; empty without one.
	SplitBrain string
	Timelines  []timelineRow
	// HeartbeatGap is the server-measured gap between timelines.
	HeartbeatGap string
	Phases       []phaseRow
	CatchUp      catchUpTable
	Reads        []readRow
	Repetitions  []repetitionRow
}

type replicaRow struct {
	Name, Sync                                      string
	MaxReplay, P99Replay, MaxSent                   string
	MaxReplayMs, P99ReplayMs                        string
	P50Vis, P99Vis, MaxVis, VisSamples, ReplSamples string
	Invalid                                         string // replication samples left out
	HBLost, HBUnseen                                string // heartbeats not shown
}

// latencyRow is one line of a variant's latency table: a percentile of
// the service time and of the response time.
type latencyRow struct{ K, Service, Response string }

type nodeRow struct {
	Node, Role, Rows, Missing, CaughtUp, MissingIDs string
	Bad                                             bool
}

type lostRow struct{ ID, AckMs, Rel string }

type eventRow struct{ At, Kind, Node, Detail string }

func statusClass(s string) string {
	switch s {
	case result.StatusComplete:
		return "ok"
	case result.StatusFailed:
		return "failed"
	case result.StatusInterrupted:
		return "interrupted"
	default:
		return "pending"
	}
}

// hasData reports whether a variant produced measurements.
func hasData(v *result.Variant) bool {
	s := v.Series
	return v.Summary.Attempted > 0 || len(s.Throughput) > 0 || len(s.Replication) > 0 || len(s.Visibility) > 0
}

func buildPage(r *result.Result, run *run) *page {
	m := r.Run
	pg := &page{
		Title:       "pgbench-ha: " + m.Scenario,
		Scenario:    m.Scenario,
		Description: redact.String(m.Description),
		RunID:       m.ID,
		Status:      orDash(r.Status),
		StatusClass: statusClass(r.Status),
		YAML:        redact.String(m.ScenarioYAML),
		YAMLFile:    m.ScenarioFile,
		FigWidth:    cssWidth,
	}
	if m.Scenario == "" {
		pg.Title = "pgbench-ha report"
	}
	if !m.StartedAt.IsZero() {
		pg.Started = m.StartedAt.Format("2006-01-02 15:04:05 MST")
		if !m.FinishedAt.IsZero() && m.FinishedAt.After(m.StartedAt) {
			pg.Elapsed = fmtDuration(float64(m.FinishedAt.Sub(m.StartedAt)) / float64(time.Millisecond))
		}
	}
	if r.Status != result.StatusComplete {
		b := banner{Class: statusClass(r.Status), Title: "Run " + orDash(r.Status)}
		if r.Error != "" {
			b.Text = redact.String(r.Error)
		}
		switch r.Status {
		case result.StatusInterrupted:
			b.Title = "Run interrupted: the results are partial"
		case result.StatusFailed:
			b.Title = "Run failed: the results are partial"
		}
		pg.Banners = append(pg.Banners, b)
	}
	for i := range r.Variants {
		v := &r.Variants[i]
		if v.Status != result.StatusFailed && v.Status != result.StatusInterrupted {
			continue
		}
		b := banner{Class: statusClass(v.Status),
			Title: fmt.Sprintf("%s %s during %s", v.Name, v.Status, orDash(v.Phase))}
		b.Text = redact.String(v.Error)
		pg.Banners = append(pg.Banners, b)
	}

	refs := capacityRefs(r.Variants)
	for i := range r.Variants {
		v := &r.Variants[i]
		share := ""
		if j := refs[i].index; j >= 0 {
			share = capacityShare(v.Summary.Capacity.TPS, r.Variants[j].Summary.Capacity.TPS, refs[i].label)
		}
		name, parts := headlineParts(v, share)
		class := statusClass(v.Status)
		if splitBrain(v.Summary.Failover) {
			class = "alarm"
		}
		pg.Headlines = append(pg.Headlines, headline{Class: class, Name: name, Parts: parts})
	}
	var fallback []string
	for i := range r.Variants {
		v := &r.Variants[i]
		if !hasData(v) {
			continue
		}
		if h, err := decodeHistogram(v.Histogram); h == nil || err != nil {
			fallback = append(fallback, v.Name)
		}
	}
	pg.SummaryCurves = strings.Join(fallback, ", ")
	pg.Thresholds, pg.ThresholdsFailed = buildThresholds(r.Thresholds)
	pg.Checks, pg.ChecksFailed = buildChecks(r)
	pg.Compare = buildCompare(r)
	pg.Failover = buildFailoverRows(r)
	for i := range r.Variants {
		pg.Variants = append(pg.Variants, buildVariant(&r.Variants[i], i))
		if t := splitBrainText(&r.Variants[i]); t != "" {
			pg.SplitBrains = append(pg.SplitBrains, splitBrainView{Name: r.Variants[i].Name, Text: t})
		}
	}
	pg.Faults = buildFaults(r)
	pg.Reads = buildReadsMatrix(r)
	pg.WAL = buildSlotRows(r)
	pg.Subscribers = buildSubscriberRows(r)
	pg.Archive = buildArchiveRows(r)
	pg.Drills, pg.Accidents = buildDrillRows(r)
	pg.Repeats = buildRepeatSummary(r)
	pg.Env = []kv{
		{"Scenario file", orDash(m.ScenarioFile)},
		{"Scenario sha256", orDash(m.ScenarioSHA256)},
		{"Seed", fmt.Sprint(m.Seed)},
		{"Workload window", fmtDuration(m.DurationS*1000) + " per variant"},
		{"PostgreSQL", runServerText(r)},
		{"pgbench-ha", orDash(m.ToolVersion)},
		{"Go", orDash(m.GoVersion)},
		{"Backend", orDash(m.Backend)},
		{"Host", orDash(m.Host)},
		{"OS/arch", orDash(strings.Trim(m.OS+"/"+m.Arch, "/"))},
		{"CPUs", fmt.Sprint(m.CPUs)},
		{"Started", orDash(fmtTime(m.StartedAt))},
		{"Finished", orDash(fmtTime(m.FinishedAt))},
	}
	for i := range r.Variants {
		v := &r.Variants[i]
		t := v.Topology
		var reps []string
		for _, rp := range t.Replicas {
			s := rp.Name
			var attrs []string
			if rp.Sync {
				attrs = append(attrs, "sync")
			} else {
				attrs = append(attrs, "async")
			}
			if rp.Slot != "" {
				attrs = append(attrs, "slot "+rp.Slot)
			}
			reps = append(reps, s+" ("+strings.Join(attrs, ", ")+")")
		}
		row := topologyRow{
			Name:      v.Name,
			Settings:  joinKV(v.Settings),
			Primary:   orDash(t.Primary),
			Replicas:  orDash(strings.Join(reps, "; ")),
			SyncNames: t.SynchronousStandbyNames,
			BringUp:   "–",
		}
		if row.SyncNames == "" {
			row.SyncNames = "'' (none: asynchronous)"
		}
		if t.BringUpMs > 0 {
			row.BringUp = fmtDuration(t.BringUpMs)
		}
		if t.Primary == "" && len(t.Replicas) == 0 {
			row.SyncNames = "–"
		}
		pg.Topologies = append(pg.Topologies, row)
	}
	return pg
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("2006-01-02 15:04:05 MST")
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "–"
	}
	return s
}

func joinKV(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+redact.String(m[k]))
	}
	return orDash(strings.Join(parts, ", "))
}

func sortedKV(m map[string]string) []kv {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		v := m[k]
		if redact.SecretKey(k) {
			v = redact.Mask
		}
		out = append(out, kv{k, redact.String(v)})
	}
	return out
}

// headlinePart is a clause of a headline; Bad clauses are highlighted.
type headlinePart struct {
	Text string
	Bad  bool
}

// headlineText is the one sentence that sums a variant up.
func headlineText(v *result.Variant) string {
	name, parts := headlineParts(v, "")
	var b strings.Builder
	b.WriteString(name + ": ")
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// headlineParts returns the variant's name and the rest of its headline,
// separators included; share, when not empty, is its capacity's share of
// another's ("31 % of off").
func headlineParts(v *result.Variant, share string) (string, []headlinePart) {
	name := v.Name
	if name == "" {
		name = "(unnamed variant)"
	}
	if !hasData(v) {
		switch v.Status {
		case result.StatusPending:
			return name, []headlinePart{{Text: "not run (the run stopped before it)."}}
		case result.StatusFailed, result.StatusInterrupted:
			s := fmt.Sprintf("%s during %s, no measurements", v.Status, orDash(v.Phase))
			if v.Error != "" {
				s += ": " + redact.String(firstLine(v.Error))
			}
			if !strings.HasSuffix(s, "…") {
				s += "."
			}
			return name, []headlinePart{{Text: s, Bad: v.Status == result.StatusFailed}}
		}
		return name, []headlinePart{{Text: "no measurements."}}
	}
	var parts []headlinePart
	add := func(text string, bad bool) {
		if len(parts) > 0 {
			parts = append(parts, headlinePart{Text: "; "})
		}
		parts = append(parts, headlinePart{Text: text, Bad: bad})
	}
	if a := v.Summary.Audit; a != nil {
		acked := a.Acked
		if acked == 0 {
			acked = v.Summary.Acked
		}
		add(fmt.Sprintf("%s of %s acknowledged writes lost", fmtInt(a.Lost), fmtInt(acked)), a.Lost > 0)
		if a.Ghosts > 0 {
			parts = append(parts, headlinePart{Text: fmt.Sprintf(" (%s ghost writes)", fmtInt(a.Ghosts))})
		}
	} else {
		add(fmt.Sprintf("%s acknowledged writes, not audited", fmtInt(v.Summary.Acked)), false)
	}
	if sb := splitBrainHeadline(v); sb != "" {
		add(sb, true)
	}
	if f := v.Summary.Failover; f != nil && f.WriteUnavailableMs != nil {
		add("writes unavailable "+fmtDuration(*f.WriteUnavailableMs), false)
	} else if f != nil && f.FaultMs != nil && f.FirstWriteMs == nil && !writesContinued(v) {
		add("writes did not resume", true)
	}
	if rs := staleHeadline(v.Summary.Reads); rs != "" {
		add(rs, false)
	}
	if l := v.Summary.CommitLatency; l.N > 0 || l.P99 > 0 {
		add("p99 commit "+fmtMs(l.P99)+" ms", false)
	}
	add(fmtCount(v.Summary.TPS)+" TPS", false)
	if c := v.Summary.Capacity; c != nil {
		t := "capacity " + fmtCount(c.TPS) + " TPS"
		if share != "" {
			t += " (" + share + ")"
		}
		add(t, false)
	}
	end := "."
	if v.Status != result.StatusComplete {
		end = fmt.Sprintf(" (%s during %s: partial).", v.Status, orDash(v.Phase))
	}
	parts = append(parts, headlinePart{Text: end})
	return name, parts
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// worstLag returns the replicas with the largest replay lag in bytes and
// the largest visibility.
func worstLag(s result.Summary) (bytesName string, bytes float64, visName string, vis float64, ok bool) {
	bytes, vis = -1, -1
	for _, l := range s.Replicas {
		if l.MaxReplayLagBytes > bytes {
			bytes, bytesName = l.MaxReplayLagBytes, l.Replica
		}
		if l.MaxVisibilityMs > vis {
			vis, visName = l.MaxVisibilityMs, l.Replica
		}
	}
	return bytesName, bytes, visName, vis, len(s.Replicas) > 0
}

// compareColumns are the comparison table's numeric columns; higher says
// whether a larger value is better. Throughput, commit latency and lag are
// read in two phases, before the fault and after the failover, never
// blended with the outage; lost writes and the outage are the whole run's.
var compareColumns = []struct {
	head, unit string
	higher     bool
}{
	{"TPS before", "", true},
	{"TPS after", "", true},
	{"capacity", "TPS, closed loop", true},
	{"p50 before", "ms", false},
	{"p50 after", "ms", false},
	{"p99 before", "ms", false},
	{"p99 after", "ms", false},
	{"response p99", "ms", false},
	{"replay lag before", "p50, worst replica", false},
	{"replay lag after", "p50, worst replica", false},
	{"visibility before", "p50 ms, worst replica", false},
	{"visibility after", "p50 ms, worst replica", false},
	{"writes unavailable", "ms", false},
	{"lost", "acked writes", false},
	{"ghosts", "", false},
	{"unknown", "outcome", false},
}

// comparedPhases are the phases the comparison reads: the steady state
// before the first fault (the whole run without one), and after the
// failover (or, without one, after the last heal); nil when absent.
func comparedPhases(v *result.Variant) (before, after *result.PhaseStats) {
	for i := range v.Phases {
		p := &v.Phases[i]
		switch p.Kind {
		case result.PhaseBefore, result.PhaseWhole:
			before = p
		case result.PhaseAfterFailover:
			after = p
		case result.PhaseAfter:
			if after == nil || after.Kind != result.PhaseAfterFailover {
				after = p
			}
		}
	}
	return before, after
}

// phaseLagP50 is the worst replica's p50 replay lag (bytes) and p50
// visibility (ms) in a phase, each with its replica; ok false without
// samples.
func phaseLagP50(p *result.PhaseStats) (bytesName string, bytes float64, bytesOK bool, visName string, vis float64, visOK bool) {
	for _, l := range p.Replicas {
		if l.ReplicationSamples > 0 && (!bytesOK || l.P50ReplayLagBytes > bytes) {
			bytesName, bytes, bytesOK = l.Replica, l.P50ReplayLagBytes, true
		}
		if l.VisibilitySamples > 0 && (!visOK || l.P50VisibilityMs > vis) {
			visName, vis, visOK = l.Replica, l.P50VisibilityMs, true
		}
	}
	return
}

func buildCompare(r *result.Result) compareTable {
	var t compareTable
	type val struct {
		v  float64
		ok bool
	}
	vals := make([][]val, len(r.Variants))
	refs := capacityRefs(r.Variants)
	for i := range r.Variants {
		v := &r.Variants[i]
		s := v.Summary
		row := compareRow{Name: v.Name, Status: orDash(v.Status), Class: statusClass(v.Status)}
		row.Key, row.Value, _ = strings.Cut(v.Name, "=")
		cells := make([]cell, len(compareColumns))
		vs := make([]val, len(compareColumns))
		if hasData(v) {
			set := func(i int, x float64, text string) {
				cells[i].Text = text
				vs[i] = val{x, true}
			}
			before, after := comparedPhases(v)
			for k, p := range []*result.PhaseStats{before, after} {
				if p == nil {
					continue
				}
				span := p.Name + ", " + fmtTenths(p.StartMs) + "–" + fmtTenths(p.EndMs) + " s"
				for _, x := range p.Excluded {
					span += " without the capacity phase, " + fmtTenths(x.StartMs) + "–" + fmtTenths(x.EndMs) + " s"
				}
				set(0+k, p.TPS, fmtCount(p.TPS))
				cells[0+k].Title = span
				if p.Acked > 0 {
					set(3+k, p.P50CommitMs, fmtMs(p.P50CommitMs))
					set(5+k, p.P99CommitMs, fmtMs(p.P99CommitMs))
					cells[3+k].Title, cells[5+k].Title = span, span
				}
				bn, b, bok, vn, vis, vok := phaseLagP50(p)
				var tipsB, tipsV []string
				for _, l := range p.Replicas {
					tipsB = append(tipsB, fmt.Sprintf("%s: p50 %s, max %s", l.Replica, fmtBytes(l.P50ReplayLagBytes), fmtBytes(l.MaxReplayLagBytes)))
					tipsV = append(tipsV, fmt.Sprintf("%s: p50 %s, p99 %s, max %s ms", l.Replica, fmtMs(l.P50VisibilityMs), fmtMs(l.P99VisibilityMs), fmtMs(l.MaxVisibilityMs)))
				}
				if bok {
					set(8+k, b, fmtBytes(b))
					cells[8+k].Sub, cells[8+k].Title = bn, strings.Join(tipsB, "; ")
				}
				if vok {
					set(10+k, vis, fmtMs(vis))
					cells[10+k].Sub, cells[10+k].Title = vn, strings.Join(tipsV, "; ")
				}
			}
			if s.ResponseTime.N > 0 {
				set(7, s.ResponseTime.P99, fmtMs(s.ResponseTime.P99))
			}
			if f := s.Failover; f != nil && f.WriteUnavailableMs != nil {
				set(12, *f.WriteUnavailableMs, fmtMs(*f.WriteUnavailableMs))
			}
			if a := s.Audit; a != nil {
				set(13, float64(a.Lost), fmtInt(a.Lost))
				set(14, float64(a.Ghosts), fmtInt(a.Ghosts))
			}
			if s.HeartbeatsLost > 0 {
				cells[13].Sub = fmtInt(s.HeartbeatsLost) + " heartbeats"
			}
			if c := s.Capacity; c != nil {
				set(2, c.TPS, fmtCount(c.TPS))
				cells[2].Title = fmt.Sprintf("closed loop, %s writers, %s s: commit p50 %s ms, p99 %s ms", fmtInt(int64(c.Writers)),
					capacitySpan(v), fmtMs(c.CommitLatency.P50), fmtMs(c.CommitLatency.P99))
				if j, label := refs[i].index, refs[i].label; j >= 0 {
					cells[2].Sub = capacityShare(c.TPS, r.Variants[j].Summary.Capacity.TPS, label)
				}
			}
			set(15, float64(s.Unknown), fmtInt(s.Unknown))
			if f := s.Failover; f != nil && s.Unknown > 0 && f.UnknownInFlight+f.UnknownSentAfter == s.Unknown {
				cells[15].Sub = fmtInt(f.UnknownInFlight) + " in flight"
				cells[15].Title = unknownText(s)
			}
		}
		for j := range cells {
			if cells[j].Text == "" {
				cells[j].Text = "–"
			}
		}
		row.Cells = cells
		vals[i] = vs
		t.Rows = append(t.Rows, row)
	}
	// Mark the best value of each column, ties included, when at least
	// two variants have one and they differ.
	for j, col := range compareColumns {
		best, n := math.NaN(), 0
		for i := range vals {
			x := vals[i][j]
			if !x.ok {
				continue
			}
			n++
			if math.IsNaN(best) || (col.higher && x.v > best) || (!col.higher && x.v < best) {
				best = x.v
			}
		}
		if n < 2 {
			continue
		}
		allEqual := true
		for i := range vals {
			if vals[i][j].ok && vals[i][j].v != best {
				allEqual = false
			}
		}
		if allEqual {
			continue // nothing to choose between
		}
		for i := range vals {
			if vals[i][j].ok && vals[i][j].v == best {
				t.Rows[i].Cells[j].Best = true
			}
		}
	}
	for i := range r.Variants {
		t.Capacity = t.Capacity || (hasData(&r.Variants[i]) && r.Variants[i].Summary.Capacity != nil)
	}
	if !t.Capacity {
		for i := range t.Rows {
			t.Rows[i].Cells[2].Hide = true
		}
	}
	return t
}

// capacityRef is the variant a capacity is set against: its index (-1:
// none) and how the comparison names it.
type capacityRef struct {
	index int
	label string
}

// capacityRefs returns, for each variant with a capacity, the variant its
// capacity is set against: the one with the same settings but
// synchronous_commit off, the level that waits for nothing ("off");
// without one that has a capacity, the variant with the highest capacity
// ("best"). A variant is not set against itself.
func capacityRefs(vs []result.Variant) []capacityRef {
	out := make([]capacityRef, len(vs))
	has := func(i int) bool { return hasData(&vs[i]) && vs[i].Summary.Capacity != nil }
	best := -1
	for i := range vs {
		if has(i) && (best < 0 || vs[i].Summary.Capacity.TPS > vs[best].Summary.Capacity.TPS) {
			best = i
		}
	}
	for i := range vs {
		out[i] = capacityRef{index: -1}
		if !has(i) {
			continue
		}
		ref := capacityRef{best, "best"}
		if level, ok := vs[i].Settings["synchronous_commit"]; ok {
			for j := range vs {
				if has(j) && vs[j].Settings["synchronous_commit"] == "off" && sameOtherSettings(vs[i].Settings, vs[j].Settings, "synchronous_commit") {
					ref = capacityRef{j, "off"}
					break
				}
			}
			if level == "off" && ref.label == "off" {
				continue
			}
		}
		if ref.index != i {
			out[i] = ref
		}
	}
	return out
}

// sameOtherSettings reports whether a and b agree on every setting but
// skip.
func sameOtherSettings(a, b map[string]string, skip string) bool {
	for k, v := range a {
		if w, ok := b[k]; k != skip && (!ok || v != w) {
			return false
		}
	}
	for k := range b {
		if _, ok := a[k]; k != skip && !ok {
			return false
		}
	}
	return true
}

// capacityShare is tps as a share of ref's: "31 % of off".
func capacityShare(tps, ref float64, label string) string {
	if ref <= 0 {
		return ""
	}
	return fmt.Sprintf("%.0f %% of %s", 100*tps/ref, label)
}

// capacitySpan is where a variant's capacity phases lie, in s: "13–16".
func capacitySpan(v *result.Variant) string {
	var spans []string
	for _, p := range v.Phases {
		if p.Kind == result.PhaseCapacity {
			spans = append(spans, fmtTenths(p.StartMs)+"–"+fmtTenths(p.EndMs))
		}
	}
	if len(spans) == 0 {
		c := v.Summary.Capacity
		return fmtTenths(c.StartMs) + "–" + fmtTenths(c.EndMs)
	}
	return strings.Join(spans, ", ")
}

// relMsUnit is relMs with the unit, or "–".
func relMsUnit(p, fault *float64) string {
	if p == nil {
		return "–"
	}
	return relMs(p, fault) + " ms"
}

// relMs formats p as an offset from the fault.
func relMs(p, fault *float64) string {
	if p == nil {
		return "–"
	}
	if fault == nil {
		return fmtMs(*p) + " (run clock)"
	}
	d := *p - *fault
	if d >= 0 {
		return "+" + fmtMs(d)
	}
	return "−" + fmtMs(-d)
}

func buildFailoverRows(r *result.Result) []failoverRow {
	var out []failoverRow
	for i := range r.Variants {
		v := &r.Variants[i]
		f := v.Summary.Failover
		if !failoverShown(v) {
			continue
		}
		row := failoverRow{
			Name:         v.Name,
			Mode:         orDash(f.Mode),
			Primaries:    orDash(f.OldPrimary),
			Detected:     relMs(f.DetectedMs, f.FaultMs),
			PromoteStart: relMs(f.PromoteStartMs, f.FaultMs),
			PromoteDone:  relMs(f.PromoteDoneMs, f.FaultMs),
			FirstWrite:   relMs(f.FirstWriteMs, f.FaultMs),
			LastAck:      relMs(f.LastAckBeforeMs, f.FaultMs),
			Unavailable:  "–",
			DetectAfter:  fmtMs(f.DetectAfterMs),
		}
		row.Key, row.Value, _ = strings.Cut(v.Name, "=")
		if f.NewPrimary != "" {
			row.Primaries += " → " + f.NewPrimary
		}
		if f.WriteUnavailableMs != nil {
			row.Unavailable = fmtMs(*f.WriteUnavailableMs)
		}
		row.SplitBrain = f.SplitBrain || f.DualPrimaryMs != nil
		out = append(out, row)
	}
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// latencyRows are the service time's and the response time's percentiles
// side by side; the response time is "–" when it was not measured (an
// unlimited rate, or a result from before it was).
func latencyRows(service, response result.Latency) []latencyRow {
	rt := func(v float64) string {
		if response.N == 0 {
			return "–"
		}
		return fmtMs(v)
	}
	n := "–"
	if response.N > 0 {
		n = fmtInt(response.N)
	}
	return []latencyRow{
		{"p50", fmtMs(service.P50), rt(response.P50)},
		{"p90", fmtMs(service.P90), rt(response.P90)},
		{"p99", fmtMs(service.P99), rt(response.P99)},
		{"p99.9", fmtMs(service.P999), rt(response.P999)},
		{"max", fmtMs(service.Max), rt(response.Max)},
		{"mean", fmtMs(service.Mean), rt(response.Mean)},
		{"writes", fmtInt(service.N), n},
	}
}

// unknownText is the count of unknown writes, split at the fault when
// there was one.
func unknownText(s result.Summary) string {
	t := fmtInt(s.Unknown)
	if f := s.Failover; f != nil && s.Unknown > 0 && f.UnknownInFlight+f.UnknownSentAfter == s.Unknown {
		t += fmt.Sprintf(" (%s in flight when the fault landed, %s sent after it)", fmtInt(f.UnknownInFlight), fmtInt(f.UnknownSentAfter))
	}
	return t
}

// maxLostShown caps the lost-write sample on the page.
const maxLostShown = 25

func buildVariant(v *result.Variant, i int) variantView {
	s := v.Summary
	vv := variantView{
		Anchor:      fmt.Sprintf("variant-%d", i+1),
		Name:        v.Name,
		Status:      orDash(v.Status),
		StatusClass: statusClass(v.Status),
		Phase:       orDash(v.Phase),
		Error:       redact.String(v.Error),
		HasData:     hasData(v),
		Settings:    sortedKV(v.Settings),
		Effective:   sortedKV(v.Topology.Settings),
		LogDir:      v.LogDir,
	}
	t := v.Topology
	vv.Topology = []kv{{"Primary", orDash(t.Primary)}}
	for _, rp := range t.Replicas {
		d := "async"
		if rp.Sync {
			d = "sync"
		}
		if rp.Slot != "" {
			d += ", slot " + rp.Slot
		}
		vv.Topology = append(vv.Topology, kv{"Replica " + rp.Name, d})
	}
	ssn := t.SynchronousStandbyNames
	if ssn == "" {
		ssn = "'' (none)"
	}
	vv.Topology = append(vv.Topology, kv{"synchronous_standby_names", ssn})
	if sv := serverText(t); sv != "" {
		vv.Topology = append(vv.Topology, kv{"PostgreSQL", sv})
	}
	if t.BringUpMs > 0 {
		vv.Topology = append(vv.Topology, kv{"Bring-up", fmtDuration(t.BringUpMs)})
	}
	evs := append([]result.Event(nil), v.Events...)
	sort.SliceStable(evs, func(a, b int) bool { return evs[a].Ms < evs[b].Ms })
	for _, e := range evs {
		vv.Events = append(vv.Events, eventRow{
			At: fmtSeconds(e.Ms) + " s", Kind: e.Kind, Node: e.Node, Detail: redact.String(e.Detail),
		})
	}
	if !vv.HasData {
		return vv
	}
	target := "unlimited"
	if s.TargetRateTPS > 0 {
		target = fmtCount(s.TargetRateTPS) + " TPS"
	}
	vv.Workload = []kv{
		{"Window", fmtDuration(s.DurationS * 1000)},
		{"Throughput", fmtCount(s.TPS) + " TPS (target " + target + ")"},
		{"Attempted", fmtInt(s.Attempted)},
		{"Acknowledged", fmtInt(s.Acked)},
		{"Failed", fmtInt(s.Failed)},
		{"Unknown outcome", unknownText(s)},
		{"Skipped (queue full)", fmtInt(s.Skipped)},
		{"Initial orders", fmtInt(s.InitialOrders)},
	}
	vv.Latency = latencyRows(s.CommitLatency, s.ResponseTime)
	vv.ScheduleLag = fmtMs(s.ScheduleLagP99) + " ms"
	if _, err := decodeHistogram(v.Histogram); err != nil {
		vv.HistogramErr = redact.String(err.Error())
	}
	for _, rl := range s.Replicas {
		vv.Replicas = append(vv.Replicas, replicaRow{
			Name: rl.Replica, Sync: map[bool]string{true: "sync", false: "async"}[rl.Sync],
			MaxReplay: fmtBytes(rl.MaxReplayLagBytes), P99Replay: fmtBytes(rl.P99ReplayLagBytes),
			MaxSent:     fmtBytes(rl.MaxSentLagBytes),
			MaxReplayMs: fmtMs(rl.MaxReplayLagMs), P99ReplayMs: fmtMs(rl.P99ReplayLagMs),
			P50Vis: fmtMs(rl.P50VisibilityMs), P99Vis: fmtMs(rl.P99VisibilityMs), MaxVis: fmtMs(rl.MaxVisibilityMs),
			VisSamples: fmtInt(rl.VisibilitySamples), ReplSamples: fmtInt(rl.ReplicationSamples),
			HBLost: fmtInt(rl.HeartbeatsLost), HBUnseen: fmtInt(rl.HeartbeatsUnseen),
		})
		if rl.InvalidSamples > 0 {
			vv.Replicas[len(vv.Replicas)-1].Invalid = fmtInt(rl.InvalidSamples)
		}
	}
	if s.VisibilityFloorP50Ms > 0 {
		vv.VisFloor = fmtMs(s.VisibilityFloorP50Ms) + " ms at the median, " + fmtMs(s.VisibilityFloorP99Ms) + " ms at p99"
	}
	if s.HeartbeatsLost > 0 {
		vv.HBLostAll = fmt.Sprintf("Of the %s heartbeats the primaries acknowledged, %s were missing on the primary after the failover: lost.", fmtInt(s.HeartbeatsAcked), fmtInt(s.HeartbeatsLost))
	}
	if f := s.Failover; f != nil && failoverShown(v) {
		prim := orDash(f.OldPrimary)
		if f.NewPrimary != "" {
			prim += " → " + f.NewPrimary
		}
		vv.Failover = []flaggedKV{
			{K: "Mode", V: orDash(f.Mode)},
			{K: "Primary", V: prim},
			{K: "Fault at", V: faultAt(f.FaultMs)},
			{K: "Last ack before the fault", V: relMsUnit(f.LastAckBeforeMs, f.FaultMs)},
			{K: "Detected", V: detectedText(f)},
			{K: "Promotion started", V: relMsUnit(f.PromoteStartMs, f.FaultMs)},
			{K: "Promotion done", V: relMsUnit(f.PromoteDoneMs, f.FaultMs)},
			{K: "First write after the outage", V: firstWriteAt(f)},
			{K: "Writes unavailable", V: unavailableText(f)},
		}
		if f.ManagerPromotedMs != nil {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Promotion, by the manager's record", V: relMsUnit(f.ManagerPromotedMs, f.FaultMs)})
		}
		if f.DemotedMs != nil {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Old primary demoted by its manager", V: relMsUnit(f.DemotedMs, f.FaultMs) + " (answered read-only, no one promoted yet)"})
		}
		if f.OldPrimaryAckedAfter > 0 {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Acknowledged by the old primary after the fault", V: ackedAfterText(f),
				Bad: f.OldPrimaryAckedAfterLost != nil && *f.OldPrimaryAckedAfterLost > 0})
		}
		if pr := f.Predicted; pr != nil {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Predicted by the settings", V: predictedText(pr), Bad: pr.Verdict != "" && pr.Verdict != result.VerdictWithin})
		}
		if len(f.Repointed) > 0 {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Repointed", V: strings.Join(f.Repointed, ", ")})
		}
		if f.SplitBrain || f.DualPrimaryMs != nil {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Split brain", V: "yes: " + orDash(f.OldPrimary) + " still took writes after the promotion", Bad: true})
		}
		if f.DualPrimaryMs != nil {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Two primaries acknowledging", V: fmtDuration(*f.DualPrimaryMs)})
		}
		if f.LastAckOldPrimaryMs != nil {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Last ack by the old primary", V: relMsUnit(f.LastAckOldPrimaryMs, f.FaultMs)})
		}
		if a := s.Audit; a != nil && a.HeartbeatGapMs != nil {
			vv.Failover = append(vv.Failover, flaggedKV{K: "Server-measured gap", V: fmtDuration(*a.HeartbeatGapMs) + " between heartbeat timelines"})
		}
	}
	vv.SplitBrain = splitBrainText(v)
	vv.Phases = buildPhaseRows(v)
	vv.CatchUp = buildCatchUps([]*result.Variant{v})
	vv.Reads = buildReadRows(s.Reads)
	vv.Repetitions = buildRepetitionRows(v)
	if a := s.Audit; a != nil {
		vv.Audit = []flaggedKV{
			{K: "Final primary", V: orDash(a.FinalPrimary)},
			{K: "Acknowledged", V: fmtInt(a.Acked)},
			{K: "Lost (acknowledged, absent)", V: fmtInt(a.Lost), Bad: a.Lost > 0},
			{K: "Ghosts (failed or never sent, yet present)", V: fmtInt(a.Ghosts)},
			{K: "Committed unknowns (outcome unknown, present: legitimate)", V: fmtInt(a.UnknownFound)},
			{K: "Failed, yet present", V: fmtInt(a.FailedFound)},
			{K: "Foreign rows (never attempted)", V: fmtInt(a.Foreign), Bad: a.Foreign > 0},
		}
		if by := lostByNodeText(a, s.Failover); by != "" {
			vv.Audit = append(vv.Audit, flaggedKV{K: "Lost, by the node that acknowledged them", V: by, Bad: true})
		}
		vv.Timelines = buildTimelineRows(a)
		if a.HeartbeatGapMs != nil {
			vv.HeartbeatGap = fmtDuration(*a.HeartbeatGapMs)
		}
		for _, n := range a.Nodes {
			ids := make([]string, 0, len(n.MissingIDs))
			for j, id := range n.MissingIDs {
				if j == 10 {
					ids = append(ids, "…")
					break
				}
				ids = append(ids, fmt.Sprint(id))
			}
			vv.AuditNodes = append(vv.AuditNodes, nodeRow{
				Node: n.Node, Role: orDash(n.Role), Rows: fmtInt(n.Rows), Missing: fmtInt(n.Missing),
				CaughtUp: yesNo(n.CaughtUp), MissingIDs: orDash(strings.Join(ids, ", ")),
				Bad: n.Missing > 0 || !n.CaughtUp,
			})
		}
		var fault *float64
		if s.Failover != nil {
			fault = s.Failover.FaultMs
		}
		for j, id := range a.LostIDs {
			if j == maxLostShown {
				break
			}
			row := lostRow{ID: fmt.Sprint(id), AckMs: "–", Rel: "–"}
			if j < len(a.LostAckMs) {
				ack := a.LostAckMs[j]
				row.AckMs = fmtMs(ack)
				row.Rel = relMs(&ack, fault)
			}
			vv.Lost = append(vv.Lost, row)
		}
		if len(a.LostIDs) > 0 {
			vv.LostNote = fmt.Sprintf("The first %d of %s lost writes", len(vv.Lost), fmtInt(a.Lost))
			if len(vv.Lost) == int(a.Lost) {
				vv.LostNote = fmt.Sprintf("All %d lost writes", len(vv.Lost))
			}
		}
	}
	return vv
}

// mathSigns writes the comparisons of threshold names and messages as
// people read them.
var mathSigns = strings.NewReplacer(" <= ", " ≤ ", " >= ", " ≥ ")

// buildThresholds shows the threshold results recorded in the result.
func buildThresholds(ts []result.ThresholdResult) ([]thresholdRow, int) {
	var rows []thresholdRow
	failed := 0
	for _, t := range ts {
		name := t.Name
		if name == "" {
			name = t.Metric + " " + t.Aggregation + " " + t.Bound + " " + fmtCount(t.Limit)
		}
		row := thresholdRow{Passed: t.Passed, Name: mathSigns.Replace(name), Message: mathSigns.Replace(redact.String(t.Message)), Source: t.Source}
		value := func(x float64) string {
			switch {
			case strings.HasSuffix(t.Metric, "_ms"):
				return fmtMs(x) + " ms"
			case strings.HasSuffix(t.Metric, "_bytes"):
				return fmtBytes(x)
			}
			if t.Metric == "tps" {
				return fmtCount(x) + " TPS"
			}
			return fmtCount(x)
		}
		for _, v := range t.Variants {
			c := thresholdCell{Name: v.Name, Value: "not measured", Passed: v.Passed}
			if v.Value != nil {
				c.Value = value(*v.Value)
			}
			row.Variants = append(row.Variants, c)
		}
		if !t.Passed {
			failed++
		}
		rows = append(rows, row)
	}
	return rows, failed
}

func fmtMsOpt(p *float64, unit string) string {
	if p == nil {
		return "–"
	}
	return fmtMs(*p) + unit
}

func faultAt(p *float64) string {
	if p == nil {
		return "–"
	}
	return fmtDuration(*p) + " into the window"
}

// firstWriteAt is when the first write after the fault was acknowledged,
// relative to the fault, and where.
// detectedText is when the failure was detected and by what rule: the
// controller's configured detect_after, or a manager's leader key.
func detectedText(f *result.Failover) string {
	s := relMsUnit(f.DetectedMs, f.FaultMs)
	switch f.Mode {
	case "patroni":
		return s + " (the leader key expired or moved)"
	case "external":
		return s + " (no node answered as the primary: seen by the harness, not the manager)"
	}
	return s + " (configured: " + fmtMs(f.DetectAfterMs) + " ms)"
}

// msRange is lo–hi, spaced when a bound is negative.
func msRange(lo, hi float64) string {
	if lo < 0 || hi < 0 {
		return strings.ReplaceAll(fmtMs(lo), "-", "−") + " – " + strings.ReplaceAll(fmtMs(hi), "-", "−")
	}
	return fmtMs(lo) + "–" + fmtMs(hi)
}

// unavailableText is the write outage, with where it opened when the old
// primary outlived the fault.
func unavailableText(f *result.Failover) string {
	s := fmtMsOpt(f.WriteUnavailableMs, " ms")
	if f.WriteUnavailableMs != nil && f.OutageFromMs != nil && f.FaultMs != nil && *f.OutageFromMs > *f.FaultMs {
		s += " (from its last acknowledgement, " + relMs(f.OutageFromMs, f.FaultMs) + " ms after the fault)"
	}
	return s
}

// ackedAfterText says what the old primary acknowledged after the fault
// and what became of it.
func ackedAfterText(f *result.Failover) string {
	s := fmtInt(f.OldPrimaryAckedAfter) + " writes"
	if l := f.OldPrimaryAckedAfterLost; l != nil {
		if *l == 0 {
			s += ", every one on the final primary"
		} else {
			s += ", " + fmtInt(*l) + " of them lost (not on the final primary)"
		}
	}
	return s
}

func firstWriteAt(f *result.Failover) string {
	s := relMsUnit(f.FirstWriteMs, f.FaultMs)
	if f.FirstWriteMs != nil && f.FirstWriteNode != "" {
		s += " (on " + f.FirstWriteNode + ")"
	}
	return s
}

// predictedText is a prediction in one line: the range, its model and
// terms, and the verdict's sentence.
func predictedText(p *result.Prediction) string {
	terms := make([]string, len(p.Terms))
	for i, t := range p.Terms {
		terms[i] = fmt.Sprintf("%s %s ms", t.Name, msRange(t.LowMs, t.HighMs))
	}
	s := fmt.Sprintf("%s–%s ms (%s: %s)", fmtMs(p.LowMs), fmtMs(p.HighMs), p.Model, strings.Join(terms, " + "))
	if p.Sentence != "" {
		s += ". " + p.Sentence
	}
	return s
}
