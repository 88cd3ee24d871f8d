package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestReportOutcomes: response time stands beside service time in each
// variant's latency table and in the comparison, the unknown writes are
// split at the fault, and the schedule lag per second and the response
// time curves are plotted. Pure: no figure is saved.
func TestReportOutcomes(t *testing.T) {
	t.Parallel()
	r := synthResult(t)
	// One variant from before response time was measured.
	old := &r.Variants[1]
	old.Summary.ResponseTime, old.ResponseHistogram, old.Series.ScheduleLag = result.Latency{}, nil, nil
	old.Summary.Failover.UnknownInFlight, old.Summary.Failover.UnknownSentAfter = 0, 0

	run := prepare(r)
	pg := buildPage(r, run)
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, pg); err != nil {
		t.Fatal(err)
	}
	page := buf.String()

	tests := []struct {
		variant string
		want    []string
		not     []string
	}{
		{"synchronous_commit=off", []string{
			`<th class="num">service<small>send → ack</small></th><th class="num">response<small>scheduled → ack</small></th>`,
			`<tr><th>p99</th><td class="num">1.2</td><td class="num">1.56</td></tr>`,
			`<tr><th>max</th><td class="num">1,850</td><td class="num">1,930</td></tr>`,
			`<tr><th>schedule lag p99</th><td class="num" colspan="2">0.8 ms</td></tr>`,
			`<th>Unknown outcome</th><td>4 (1 in flight when the fault landed, 3 sent after it)</td>`,
		}, nil},
		{"synchronous_commit=local", []string{
			`<tr><th>p99</th><td class="num">1.9</td><td class="num">–</td></tr>`,
			`<th>Unknown outcome</th><td>4</td>`,
		}, []string{"in flight when"}},
	}
	for _, tc := range tests {
		section := sectionOf(t, page, tc.variant)
		for _, w := range tc.want {
			if !strings.Contains(section, w) {
				t.Errorf("%s: section lacks %q", tc.variant, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(section, w) {
				t.Errorf("%s: section has %q", tc.variant, w)
			}
		}
	}

	col := -1
	for j, c := range compareColumns {
		if c.head == "response p99" {
			col = j
		}
	}
	if col < 0 {
		t.Fatal("no response p99 column in the comparison")
	}
	for i, want := range []string{"1.56", "–", "–", "4.16", "5.33"} {
		if got := pg.Compare.Rows[i].Cells[col].Text; got != want {
			t.Errorf("comparison, %s: response p99 %q, want %q", r.Variants[i].Name, got, want)
		}
	}
	if c := pg.Compare.Rows[0].Cells[len(compareColumns)-1]; c.Text != "4" || c.Sub != "1 in flight" {
		t.Errorf("comparison, unknown cell %+v, want 4 with 1 in flight", c)
	}

	f, ok := run.commitP99Figure()
	if !ok || len(f.panels) != 2 || f.panels[1].Title.Text != "schedule lag p99, by second of the schedule" {
		t.Errorf("per-second figure: ok %v, %d panels, want commit latency and schedule lag", ok, len(f.panels))
	}
	f, ok, err := run.percentilesFigure()
	if err != nil || !ok {
		t.Fatalf("percentile figure: %v %v", ok, err)
	}
	found := false
	for _, l := range f.legend {
		found = found || l.label == "response time (dotted)"
	}
	if !found {
		t.Error("the percentile figure has no response time curves")
	}
}
