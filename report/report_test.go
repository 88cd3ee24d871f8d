package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"html"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/pgbench-ha/pgbench-ha/result"
)

var preview = flag.String("preview", "", "also render the synthetic report into this folder, to look at")

// TestRenderPreview writes the synthetic report where a person can open
// it: go test ./report/ -run Preview -preview /tmp/report
func TestRenderPreview(t *testing.T) {
	if *preview == "" {
		return
	}
	if err := Render(synthCatalogue(t), *preview); err != nil {
		t.Fatal(err)
	}
	t.Logf("open file://%s", filepath.Join(*preview, ReportFile))
}

func mustRender(t *testing.T, r *result.Result) (dir, page string) {
	t.Helper()
	dir = t.TempDir()
	if err := Render(r, dir); err != nil {
		t.Fatalf("Render: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	return dir, string(b)
}

var tags = regexp.MustCompile(`<[^>]*>`)

// pageText is the page without its tags, for looking up sentences that
// carry markup.
func pageText(page string) string {
	return tags.ReplaceAllString(page, "")
}

// checkPNG decodes a figure and fails unless it has a sensible size and
// visibly more than a blank canvas.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	b := img.Bounds()
	if b.Dx() < 1000 || b.Dy() < 300 || b.Dy() > 20000 {
		t.Errorf("%s: size %dx%d, want at least 1000x300", filepath.Base(path), b.Dx(), b.Dy())
	}
	colors := map[color.RGBA]bool{}
	nonWhite, seen := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			seen++
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			colors[c] = true
			if c.R < 0xf0 || c.G < 0xf0 || c.B < 0xf0 {
				nonWhite++
			}
		}
	}
	frac := float64(nonWhite) / float64(seen)
	if len(colors) < 20 || frac < 0.01 {
		t.Errorf("%s looks blank: %d colours, %.2f%% non-white pixels", filepath.Base(path), len(colors), 100*frac)
	}
	// Not only grey: the data lines are in colour.
	if !hasSaturated(img) {
		t.Errorf("%s has no coloured pixels: data missing?", filepath.Base(path))
	}
}

func hasSaturated(img image.Image) bool {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			c := color.RGBAModel.Convert(img.At(x, y)).(color.RGBA)
			hi := max(c.R, c.G, c.B)
			lo := min(c.R, c.G, c.B)
			if int(hi)-int(lo) > 80 {
				return true
			}
		}
	}
	return false
}

// olderFigures are the figures of a result without the fault catalogue's
// measurements (phases, reads, WAL, repetitions).
var olderFigures = []string{pngThroughput, pngPercentiles, pngCommitP99, pngFailover, pngLagBytes, pngLagMs, pngVisibility}

func TestRender(t *testing.T) {
	t.Parallel()
	r := synthResult(t)
	dir, page := mustRender(t, r)

	for _, name := range []string{pngPhases, pngReads, pngWAL, pngRepetitions} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s written for a result without its data", name)
		}
	}
	for _, id := range []string{`id="reads"`, `id="faults"`, `id="wal"`, `id="repetitions"`, "Split brain"} {
		if strings.Contains(page, id) {
			t.Errorf("report.html shows %s without its data", id)
		}
	}
	for _, name := range olderFigures {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("figure not written: %v", err)
			}
			if !strings.Contains(page, `src="`+name+`"`) {
				t.Errorf("report.html does not show %s", name)
			}
			checkPNG(t, path)
		})
	}

	wants := []string{
		"<!DOCTYPE html>",
		"sync-vs-async",
		"20250314-092653-7f3a",
		html.EscapeString(r.Run.Description),
		"2025-03-14 09:26:53 UTC",
		// The failed variant's banner, with its phase and error.
		"synchronous_commit=remote_write failed during bring-up",
		"could not connect to server: connection refused",
		// The audit.
		"Lost (acknowledged, absent)",
		"37,032", "34,506", "48,210",
		// Lost ids with their ack relative to the fault.
		"−241", "−6.5",
		// Failover.
		"primary → replica1",
		// Environment.
		"15.13", "v0.3.0", "go1.26.8", "bench-01", "linux/amd64", r.Run.ScenarioSHA256,
		html.EscapeString(`FIRST 1 ("replica1")`),
		// The scenario YAML, escaped.
		"kill the primary under &lt;sync&gt; &amp; async commit",
	}
	for _, v := range r.Variants {
		wants = append(wants, html.EscapeString(v.Name))
	}
	text := pageText(page)
	for _, h := range synthHeadlines {
		if !strings.Contains(text, html.EscapeString(h)) {
			t.Errorf("report.html lacks the headline %q", h)
		}
	}
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	for _, bad := range []string{"<sync>", "s3cr3t-do-not-show", "<script", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("report.html contains %q", bad)
		}
	}
	if !strings.Contains(page, `class="num best"`) {
		t.Error("no best value marked in the comparison table")
	}
}

func TestCompareBest(t *testing.T) {
	t.Parallel()
	r := synthPhased(t)
	ct := buildCompare(r)
	col := func(head string) int {
		for j, c := range compareColumns {
			if c.head == head {
				return j
			}
		}
		t.Fatalf("no column %q", head)
		return -1
	}
	best := func(head string) []string {
		var names []string
		for _, row := range ct.Rows {
			if row.Cells[col(head)].Best {
				names = append(names, strings.TrimPrefix(row.Name, "synchronous_commit="))
			}
		}
		return names
	}
	cases := []struct {
		head string
		want string
	}{
		{"TPS before", "remote_apply"},
		// After the failover the levels rank otherwise: the comparison
		// reads that phase, not the whole run.
		{"TPS after", "local"},
		{"p99 before", "off"},
		{"p99 after", "local"},
		{"replay lag after", "remote_apply"},
		{"writes unavailable", "local"},
		{"lost", "on,remote_apply"}, // ties are all marked
		{"unknown", ""},             // every variant has the same: nothing to mark
		{"ghosts", ""},
	}
	for _, tc := range cases {
		if got := strings.Join(best(tc.head), ","); got != tc.want {
			t.Errorf("best %s: got %q, want %q", tc.head, got, tc.want)
		}
	}
	for _, c := range ct.Rows[2].Cells {
		if c.Best || c.Text != "–" {
			t.Errorf("failed variant has a value: %+v", c)
		}
	}
}

// TestRenderHeadlineAudit checks the audit numbers of every variant.
func TestRenderAuditNumbers(t *testing.T) {
	t.Parallel()
	r := synthResult(t)
	_, page := mustRender(t, r)
	for _, v := range r.Variants {
		a := v.Summary.Audit
		if a == nil {
			continue
		}
		section := sectionOf(t, page, v.Name)
		for _, w := range []string{
			"<th>Final primary</th><td>" + a.FinalPrimary + "</td>",
			"<th>Lost (acknowledged, absent)</th><td" + map[bool]string{true: ` class="bad"`}[a.Lost > 0] + ">" + fmtInt(a.Lost) + "</td>",
			"<th>Ghosts (failed or never sent, yet present)</th><td>" + fmtInt(a.Ghosts) + "</td>",
			"<th>Committed unknowns (outcome unknown, present: legitimate)</th><td>" + fmtInt(a.UnknownFound) + "</td>",
			"<th>Failed, yet present</th><td>" + fmtInt(a.FailedFound) + "</td>",
		} {
			if !strings.Contains(section, w) {
				t.Errorf("%s: audit lacks %q", v.Name, w)
			}
		}
		for _, n := range a.Nodes {
			if !strings.Contains(section, "<td>"+n.Node+"</td><td>"+n.Role+"</td>") {
				t.Errorf("%s: no audit row for node %s", v.Name, n.Node)
			}
		}
	}
}

// sectionOf returns the part of the page about one variant.
func sectionOf(t *testing.T, page, name string) string {
	t.Helper()
	h := "<h3>" + html.EscapeString(name) + " "
	i := strings.Index(page, h)
	if i < 0 {
		t.Fatalf("no section for %s", name)
	}
	rest := page[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestRenderDoesNotModifyResult(t *testing.T) {
	t.Parallel()
	r := synthCatalogue(t)
	// Unsorted series must stay unsorted.
	s := r.Variants[0].Series.Replication
	s[0], s[len(s)-1] = s[len(s)-1], s[0]
	w := r.Variants[1].Series.WAL
	w[0], w[len(w)-1] = w[len(w)-1], w[0]
	e := r.Variants[0].Events
	e[0], e[len(e)-1] = e[len(e)-1], e[0]
	before, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	mustRender(t, r)
	after, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("Render modified the result")
	}
}

// TestRenderPartial renders results that stop early or lack parts.
func TestRenderPartial(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		result func(t *testing.T) *result.Result
		want   []string
		pngs   []string // figures that must exist
		nopngs []string // figures that must not
	}{
		{
			name: "interrupted with pending variants",
			result: func(t *testing.T) *result.Result {
				r := synthResult(t)
				r.Status = result.StatusInterrupted
				r.Error = "interrupted by the user (SIGINT)"
				r.Variants[3] = result.Variant{Name: "synchronous_commit=on", Status: result.StatusInterrupted, Phase: "workload"}
				r.Variants[4] = result.Variant{Name: "synchronous_commit=remote_apply", Status: result.StatusPending}
				return r
			},
			want: []string{"Run interrupted: the results are partial", "interrupted by the user (SIGINT)",
				"synchronous_commit=remote_apply: not run", "synchronous_commit=on interrupted during workload"},
			pngs: olderFigures,
		},
		{
			name: "nothing ran",
			result: func(t *testing.T) *result.Result {
				return &result.Result{SchemaVersion: 1, Status: result.StatusFailed, Error: "bring-up: initdb: exit status 1",
					Run:      result.RunMeta{Scenario: "x"},
					Variants: []result.Variant{{Name: "a", Status: result.StatusFailed, Phase: "bring-up"}, {Name: "b", Status: result.StatusPending}}}
			},
			want:   []string{"Run failed: the results are partial", "initdb: exit status 1", "The scenario file was not recorded."},
			nopngs: figureNames,
		},
		{
			name: "empty result",
			result: func(t *testing.T) *result.Result {
				return &result.Result{}
			},
			want:   []string{"pgbench-ha report"},
			nopngs: figureNames,
		},
		{
			name: "no histogram, no failover, no audit",
			result: func(t *testing.T) *result.Result {
				r := synthResult(t)
				for i := range r.Variants {
					v := &r.Variants[i]
					v.Histogram = nil
					v.Summary.Failover = nil
					v.Summary.Audit = nil
					var evs []result.Event
					for _, e := range v.Events {
						if e.Kind == "phase" {
							evs = append(evs, e)
						}
					}
					v.Events = evs
					v.Faults = nil
				}
				return r
			},
			want:   []string{"from the summary percentiles", "37,032 acknowledged writes, not audited"},
			pngs:   []string{pngPercentiles, pngThroughput, pngLagBytes, pngLagMs},
			nopngs: []string{pngFailover},
		},
		{
			name: "corrupt histogram",
			result: func(t *testing.T) *result.Result {
				r := synthResult(t)
				r.Variants[0].Histogram.Encoded = "not base64!"
				return r
			},
			want: []string{"Report warning", "decode commit latency histogram", "Histogram unusable"},
			pngs: []string{pngPercentiles},
		},
		{
			name: "flat zero lag",
			result: func(t *testing.T) *result.Result {
				r := synthResult(t)
				for i := range r.Variants {
					s := &r.Variants[i].Series
					s.Replication = append([]result.ReplicationPoint(nil), s.Replication...)
					for j := range s.Replication {
						s.Replication[j].ReplayBytes = 0
						s.Replication[j].ReplayLagMs = nil
					}
				}
				return r
			},
			pngs: []string{pngLagBytes, pngLagMs},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, page := mustRender(t, tc.result(t))
			text := pageText(page)
			for _, w := range tc.want {
				if !strings.Contains(text, html.EscapeString(w)) {
					t.Errorf("report.html lacks %q", w)
				}
			}
			for _, name := range tc.pngs {
				if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
					t.Errorf("%s not written", name)
					continue
				}
				if tc.name != "flat zero lag" {
					checkPNG(t, filepath.Join(dir, name))
				}
			}
			for _, name := range tc.nopngs {
				if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
					t.Errorf("%s written without data", name)
				}
				if strings.Contains(page, `src="`+name+`"`) {
					t.Errorf("report.html shows %s without data", name)
				}
			}
		})
	}
}

// TestRenderRemovesStaleFigures renders into a folder that holds figures
// from an earlier, fuller run.
func TestRenderRemovesStaleFigures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Render(synthResult(t), dir); err != nil {
		t.Fatal(err)
	}
	r := synthResult(t)
	for i := range r.Variants {
		r.Variants[i].Summary.Failover = nil
	}
	if err := Render(r, dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, pngFailover)); err == nil {
		t.Error("stale failover.png left behind")
	}
}

func TestRenderNil(t *testing.T) {
	t.Parallel()
	if err := Render(nil, t.TempDir()); err == nil {
		t.Error("Render(nil) succeeded")
	}
}

// TestRenderLongRun renders an hour sampled every 100 ms: the figures are
// downsampled and a single spike must survive it.
func TestRenderLongRun(t *testing.T) {
	t.Parallel()
	r := synthResult(t)
	v := &r.Variants[0]
	const n = 36_000
	repl := make([]result.ReplicationPoint, 0, 2*n)
	vis := make([]result.VisibilityPoint, 0, n)
	for i := 0; i < n; i++ {
		ms := float64(i * 100)
		b := float64(1000 + (i*7919)%50_000)
		if i == n/2 {
			b = 5e7 // one spike that must stay visible
		}
		repl = append(repl,
			result.ReplicationPoint{Ms: ms, Replica: "replica1", ReplayBytes: b / 10},
			result.ReplicationPoint{Ms: ms, Replica: "replica2", ReplayBytes: b})
		vis = append(vis, result.VisibilityPoint{Ms: ms, Replica: "replica2", VisibilityMs: ptr(b / 1000)})
	}
	v.Series.Replication, v.Series.Visibility = repl, vis

	var xy plotter.XYs
	for _, p := range repl {
		if p.Replica == "replica2" {
			xy = append(xy, plotter.XY{X: p.Ms / 1000, Y: p.ReplayBytes})
		}
	}
	down := lttb(xy, maxPlotPoints)
	if len(down) != maxPlotPoints {
		t.Errorf("downsampled to %d points, want %d", len(down), maxPlotPoints)
	}
	spike := false
	for _, p := range down {
		spike = spike || p.Y == 5e7
	}
	if !spike {
		t.Error("the spike did not survive downsampling")
	}

	dir, _ := mustRender(t, r)
	checkPNG(t, filepath.Join(dir, pngLagBytes))
	checkPNG(t, filepath.Join(dir, pngLagMs))
}

// TestCompareCapacity: the comparison gives each variant's capacity and
// its share of the capacity of the variant with synchronous_commit off;
// without such a variant, of the highest capacity. Without any capacity
// the column is left out.
func TestCompareCapacity(t *testing.T) {
	t.Parallel()
	col := -1
	for j, c := range compareColumns {
		if c.head == "capacity" {
			col = j
		}
	}
	if col < 0 {
		t.Fatal("no capacity column")
	}
	ct := buildCompare(withCapacity(synthResult(t)))
	want := map[string][2]string{"off": {"22,140", ""}, "local": {"8,610", "39 % of off"}, "remote_write": {"–", ""},
		"on": {"6,480", "29 % of off"}, "remote_apply": {"5,930", "27 % of off"}}
	if !ct.Capacity {
		t.Error("a run with capacities has no capacity column")
	}
	for _, row := range ct.Rows {
		c := row.Cells[col]
		if w := want[row.Value]; c.Text != w[0] || c.Sub != w[1] || c.Hide {
			t.Errorf("%s: capacity %q, %q (hidden %v); want %q, %q", row.Name, c.Text, c.Sub, c.Hide, w[0], w[1])
		}
		if c.Best != (row.Value == "off") {
			t.Errorf("%s: best %v", row.Name, c.Best)
		}
	}

	r := withCapacity(synthResult(t))
	for i := range r.Variants {
		r.Variants[i].Settings = map[string]string{"wal_compression": r.Variants[i].Settings["synchronous_commit"]}
	}
	for _, row := range buildCompare(r).Rows {
		if c := row.Cells[col]; row.Value == "local" && c.Sub != "39 % of best" {
			t.Errorf("without synchronous_commit: local %q, want 39 %% of best", c.Sub)
		}
	}

	ct = buildCompare(synthResult(t))
	if ct.Capacity || !ct.Rows[0].Cells[col].Hide {
		t.Error("a run without capacities shows the capacity column")
	}
}
