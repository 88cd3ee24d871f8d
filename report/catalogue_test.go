package report

import (
	"encoding/json"
	"html"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// TestRenderCatalogue renders a result with every measurement of the
// fault catalogue: fault windows, phases, catch-ups, reads, WAL and
// slots, a split brain and repetitions.
func TestRenderCatalogue(t *testing.T) {
	t.Parallel()
	r := synthCatalogue(t)
	dir, page := mustRender(t, r)
	for _, name := range figureNames {
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
	text := html.UnescapeString(pageText(page))
	for _, w := range []string{
		// The sections, and their links.
		`id="reads"`, `href="#reads"`, `id="faults"`, `href="#faults"`, `id="wal"`, `href="#wal"`,
		`id="repetitions"`, `href="#repetitions"`,
		// Phases, one row per phase, the fault's highlighted.
		`<tr class="during"><td>during: pause replica2</td>`, "p99 commit latency per phase, ms",
		// Catch-up, with a replica that never got under 100 ms.
		"Catch-up after each heal", "replay lag &lt; 1 MiB", "visibility &lt; 100 ms", `<td class="num never">never</td>`, "&#43;420 ms",
		// Reads.
		"Reads per node", "stale reads, by node", "read outage",
		// WAL and slots: replica2's slot lost under local.
		"reserved, active → inactive at 6 s → extended at 7.5 s → unreserved at 8.5 s → lost at 9.5 s",
		`<td class="bad">lost</td>`, "replica2 on replica1",
		// Split brain: the headline, the failover section and the audit.
		"Split brain: synchronous_commit=off", `<span class="sb">split brain</span>`,
		"Lost, by the node that acknowledged them", "37 on primary (the old primary)",
		"Heartbeat timelines on the final primary", "00000002", "Server-measured gap",
		// The WAL archive: the failed attempts, the last file archived.
		`id="archive"`, `href="#archive"`, `<td class="num bad">2 (last 000000010000000000000009)</td>`,
		"00000002000000000000001F, 1 s before the end", "archive/0-synchronous_commit=off", "34 files, 544 MiB",
		// Repetitions.
		"10 of 10", "9 of 10", "bring up replica1: timeout", "−800 ms",
		// Capacity over the repetitions (nearest rank), and of one of them.
		"3,500 / 3,900 / 3,900", `<td class="num">3,700</td>`,
	} {
		if !strings.Contains(page, w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	for _, w := range []string{
		"synchronous_commit=off: 37 of 37,032 acknowledged writes lost (3 ghost writes); SPLIT BRAIN: 37 acknowledged writes on the old primary (primary) are missing from the final primary (replica1); writes unavailable 1.9 s;",
		"of reads stale (worst replica2:",
		"The old primary (primary) was still writable after replica1 was promoted (seen +1,600 ms after the fault); two nodes acknowledged writes for 850 ms",
		"server-measured gap between the timelines 1.6 s.",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("report.html lacks the sentence %q", w)
		}
	}
	// The stale-read comparison comes right after the comparison table,
	// before the figures.
	if i, j := strings.Index(page, `id="reads"`), strings.Index(page, `id="performance"`); i < 0 || i > j {
		t.Error("the reads comparison is not near the top")
	}
}

func TestFaultWindows(t *testing.T) {
	t.Parallel()
	at := func(ms float64) *float64 { return &ms }
	fault := func(idx int, kind, node, name string, lasting bool, injected, healed *float64) result.Fault {
		return result.Fault{Index: idx, Kind: kind, Name: name, Node: node, Targets: []string{}, Lasting: lasting,
			Outcome: result.OutcomeInjected, InjectedMs: injected, HealedMs: healed}
	}
	faults := []result.Fault{
		fault(0, "pause", "replica1", "pause replica1", true, at(22_000), at(24_000)),
		fault(1, "pause", "replica2", "pause replica2", true, at(5_000), at(15_000)),
		fault(2, "latency", "replica1->primary", "latency 5ms replica1 -> primary", true, at(6_000), at(12_000)),
		fault(3, "latency", "replica1->primary", "latency 20ms replica1 -> primary", true, at(12_000), nil),
		fault(4, "kill", "primary", "kill primary", false, at(18_000), nil),
		fault(5, "stop", "replica2", "stop replica2 (immediate)", true, at(19_000), nil),
		fault(6, "reset", "primary", "reset connections to primary", false, at(25_000), nil),
	}
	checkFaultWindows(t, faults)
}

// TestFaultWindowsSchema1: the fault events of a schema 1 result, read
// back (result.Decode upgrades them into fault records), give the same
// windows.
func TestFaultWindowsSchema1(t *testing.T) {
	t.Parallel()
	evs := []result.Event{
		{Ms: 22_000, Kind: "fault", Node: "replica1", Detail: "pause replica1"},
		{Ms: 5_000, Kind: "fault", Node: "replica2", Detail: "pause replica2"},
		{Ms: 15_000, Kind: "heal", Node: "replica2", Detail: "pause replica2"},
		{Ms: 6_000, Kind: "fault", Node: "r1->primary", Detail: "latency 5ms ±0s replica1 -> primary"},
		{Ms: 12_000, Kind: "heal", Node: "r1->primary", Detail: "latency 5ms ±0s replica1 -> primary"},
		{Ms: 12_000, Kind: "fault", Node: "r1->primary", Detail: "latency 20ms ±0s replica1 -> primary"},
		{Ms: 18_000, Kind: "fault", Node: "primary", Detail: "kill primary"},
		{Ms: 19_000, Kind: "fault", Node: "replica2", Detail: "stop replica2 (immediate)"},
		{Ms: 24_000, Kind: "heal", Node: "replica1", Detail: "pause replica1"},
		{Ms: 25_000, Kind: "fault", Node: "primary", Detail: "reset connections to primary"},
	}
	b, err := json.Marshal(map[string]any{"schema_version": 1, "variants": []map[string]any{{"name": "default", "events": evs}}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := result.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	checkFaultWindows(t, r.Variants[0].Faults)
}

// checkFaultWindows checks the windows and instants of the faults of
// TestFaultWindows.
func checkFaultWindows(t *testing.T, faults []result.Fault) {
	t.Helper()
	ws, inst := faultWindows(faults, 30_000)
	got := map[string][2]float64{}
	for _, w := range ws {
		got[w.label] = [2]float64{w.from, w.to}
	}
	want := map[string][2]float64{
		"pause replica2":                   {5_000, 15_000},
		"latency 5ms replica1 -> primary":  {6_000, 12_000},
		"latency 20ms replica1 -> primary": {12_000, 30_000}, // never healed: to the end
		"stop replica2 (immediate)":        {19_000, 30_000},
		"pause replica1":                   {22_000, 24_000},
	}
	if len(got) != len(want) {
		t.Errorf("windows %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("window %q: %v, want %v", k, got[k], v)
		}
	}
	if len(inst) != 2 || inst[0].Detail != "kill primary" || inst[1].Detail != "reset connections to primary" {
		t.Errorf("instant faults %+v, want the kill and the reset", inst)
	}
	for _, w := range ws {
		if w.healed != (w.to != 30_000) {
			t.Errorf("%s: healed %v", w.label, w.healed)
		}
	}
}

// TestOutageWhenWritesContinue: a fault that does not stop writes (on a
// replica, or a split brain) has no outage and does not say writes did
// not resume.
func TestOutageWhenWritesContinue(t *testing.T) {
	t.Parallel()
	r := synthResult(t)
	v := &r.Variants[0]
	f := v.Summary.Failover
	f.FirstWriteMs, f.WriteUnavailableMs = nil, nil
	// Writes stopped: an outage to the end.
	for i := range v.Series.Throughput {
		if v.Series.Throughput[i].Second >= synthKillMs/1000+1 {
			v.Series.Throughput[i].Acked = 0
		}
	}
	if !strings.Contains(headlineText(v), "writes did not resume") {
		t.Errorf("headline %q lacks the stop of writes", headlineText(v))
	}
	d := prepare(r).variants[0]
	if _, _, resumed, ok := d.outage(30_000); !ok || resumed {
		t.Errorf("outage ok %v resumed %v, want an outage to the end", ok, resumed)
	}
	// Writes went on.
	r = synthResult(t)
	v = &r.Variants[0]
	f = v.Summary.Failover
	f.FirstWriteMs, f.WriteUnavailableMs, f.Mode = nil, nil, "none"
	if strings.Contains(headlineText(v), "did not resume") {
		t.Errorf("headline %q: writes went on", headlineText(v))
	}
	if _, _, _, ok := prepare(r).variants[0].outage(30_000); ok {
		t.Error("an outage while writes went on")
	}
}

func TestFmtPct(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0%"}, {0.2451, "24.5%"}, {1, "100%"}, {0.0512, "5.1%"}, {0.0042, "0.42%"}, {0.00004, "0.004%"}, {math.NaN(), "–"},
	} {
		if got := fmtPct(tc.in); got != tc.want {
			t.Errorf("fmtPct(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDistribution(t *testing.T) {
	t.Parallel()
	d := result.NewDistribution([]float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6})
	if d.N != 10 || d.Min != 1 || d.P50 != 5 || d.P90 != 9 || d.Max != 10 {
		t.Errorf("distribution %+v", d)
	}
	if d := result.NewDistribution(nil); d.N != 0 {
		t.Errorf("empty distribution %+v", d)
	}
	// Computed when the result lacks the summary.
	r := synthCatalogue(t)
	rs := repeated(&r.Variants[4])
	if rs == nil || rs.Runs != 10 || rs.Complete != 9 || rs.WriteUnavailableMs.N != 9 || rs.WriteUnavailableMs.Max != 3_400 {
		t.Errorf("computed summary %+v", rs)
	}
}

func TestWALNotable(t *testing.T) {
	t.Parallel()
	flat := []result.WALPoint{
		{Ms: 0, Node: "primary", PgWalBytes: 64 << 20, Slots: []result.SlotPoint{{Slot: "replica1", Active: true, WalStatus: "reserved", RetainedBytes: 600}}},
		{Ms: 100, Node: "primary", PgWalBytes: 64 << 20, Slots: []result.SlotPoint{{Slot: "replica1", Active: true, WalStatus: "reserved", RetainedBytes: 9000}}},
	}
	if walNotable(flat) {
		t.Error("flat WAL is notable")
	}
	lost := append([]result.WALPoint(nil), flat...)
	lost = append(lost, result.WALPoint{Ms: 200, Node: "primary", PgWalBytes: 32 << 20,
		Slots: []result.SlotPoint{{Slot: "replica1", WalStatus: "lost"}}})
	if !walNotable(lost) {
		t.Error("a lost slot is not notable")
	}
	// A repoint: another node's pg_wal and slot, inactive then active.
	moved := append([]result.WALPoint(nil), flat...)
	moved = append(moved,
		result.WALPoint{Ms: 200, Node: "replica1", PgWalBytes: 80 << 20, Slots: []result.SlotPoint{{Slot: "replica2", WalStatus: "reserved"}}},
		result.WALPoint{Ms: 300, Node: "replica1", PgWalBytes: 80 << 20, Slots: []result.SlotPoint{{Slot: "replica2", Active: true, WalStatus: "reserved"}}})
	if walNotable(moved) {
		t.Error("a repoint is notable")
	}
}

func TestFitText(t *testing.T) {
	t.Parallel()
	sty := textStyle(tickSize)
	long := "partition primary, writers | replica1, replica2, controller"
	if got := fitText(sty, long, sty.Width(long)); got != long {
		t.Errorf("fitText cut a label that fits: %q", got)
	}
	got := fitText(sty, long, 80)
	if !strings.HasSuffix(got, "…") || sty.Width(got) > 80 {
		t.Errorf("fitText(80) = %q (%.0f wide)", got, sty.Width(got))
	}
	if got := fitText(sty, long, 5); got != "" {
		t.Errorf("fitText(5) = %q, want nothing", got)
	}
}
