package report

import (
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

func TestRenderThresholds(t *testing.T) {
	t.Parallel()
	r := synthResult(t)
	zero, big := 0.0, 37.0
	r.Thresholds = []result.ThresholdResult{
		{Name: "lost_acked_writes max <= 0 where synchronous_commit=on", Metric: "lost_acked_writes", Aggregation: "max",
			Bound: "<=", Value: &zero, Passed: true, Message: "max of synchronous_commit=on is 0 writes, <= 0 writes",
			Source: "scenarios/sync-vs-async.yaml:61", Variants: []result.ThresholdVariant{{Name: "synchronous_commit=on", Value: &zero, Passed: true}}},
		{Name: "lost_acked_writes max <= 0", Metric: "lost_acked_writes", Aggregation: "max", Bound: "<=", Value: &big,
			Message:  "max of 4 variants is 37 writes, > 0 writes; over the limit: synchronous_commit=off (37 writes)",
			Variants: []result.ThresholdVariant{{Name: "synchronous_commit=off", Value: &big}, {Name: "synchronous_commit=remote_write"}}},
	}
	dir := t.TempDir()
	if err := Render(r, dir); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{
		`id="thresholds"`, "1 of 2 failed", "✓ pass", "✗ fail",
		"lost_acked_writes max ≤ 0 where synchronous_commit=on", "scenarios/sync-vs-async.yaml:61",
		`<span class="bad">synchronous_commit=off: 37</span>`, "synchronous_commit=remote_write: not measured",
		`<a href="#thresholds">Thresholds</a>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html does not contain %q", want)
		}
	}
	// Near the top: before the comparison table.
	if strings.Index(page, `id="thresholds"`) > strings.Index(page, `id="comparison"`) {
		t.Error("the thresholds come after the comparison table")
	}
	// Without thresholds, no section.
	r.Thresholds = nil
	if err := Render(r, dir); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, ReportFile))
	if strings.Contains(string(b), `id="thresholds"`) {
		t.Error("a thresholds section without thresholds")
	}
}

func TestRenderSVG(t *testing.T) {
	t.Parallel()
	r := synthCatalogue(t)
	dir := t.TempDir()
	if err := RenderWith(r, dir, Options{SVG: true}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, png := range figureNames {
		if _, err := os.Stat(filepath.Join(dir, png)); err != nil {
			continue
		}
		n++
		svg := strings.TrimSuffix(png, ".png") + ".svg"
		f, err := os.Open(filepath.Join(dir, svg))
		if err != nil {
			t.Errorf("%s without %s: %v", png, svg, err)
			continue
		}
		dec := xml.NewDecoder(f)
		var root string
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Errorf("%s: not XML: %v", svg, err)
				break
			}
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		f.Close()
		if root != "svg" {
			t.Errorf("%s: root element %q", svg, root)
		}
		if !strings.Contains(string(b), `href="`+svg+`"`) {
			t.Errorf("report.html does not link %s", svg)
		}
	}
	if n == 0 {
		t.Fatal("no figures")
	}
	// Rendered again without SVG: the SVG files go, with their links.
	if err := Render(r, dir); err != nil {
		t.Fatal(err)
	}
	svgs, _ := filepath.Glob(filepath.Join(dir, "*.svg"))
	if len(svgs) > 0 {
		t.Errorf("stale SVG files left: %v", svgs)
	}
	b, _ = os.ReadFile(filepath.Join(dir, ReportFile))
	if strings.Contains(string(b), `.svg"`) {
		t.Error("report.html links SVG files that were not written")
	}
	if _, err := os.Stat(filepath.Join(dir, "throughput.svg")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("throughput.svg: %v", err)
	}
}
