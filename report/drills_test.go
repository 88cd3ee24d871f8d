package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
)

func step(name string, from, to float64) result.DrillStep {
	return result.DrillStep{Name: name, StartMs: from, EndMs: to}
}

// withDrills gives the first variant of r an accident and every drill.
func withDrills(r *result.Result) *result.Result {
	v := &r.Variants[0]
	v.Drills = &result.Drills{
		Accident: &result.Accident{Node: "primary", Condition: "abs(hashint8(id)) % 1000000 < 200000", RestorePoint: "pgbench_ha_before_accident",
			RestorePointLSN: "0/9006988", RestorePointWAL: "000000010000000000000009", RestorePointMs: 5_000, RestorePointDoneMs: 5_010,
			Ms: 5_012, DoneMs: 5_030, Deleted: 360, DeletedAudited: 249, DeletedIDs: []int64{501, 507}, ArchivedMs: ptr(5_900)},
		Dump: &result.DrillResult{Kind: "dump", AtMs: 2_000, TargetMs: 2_227, TargetDoneMs: 2_255, Bytes: 90_000,
			DumpMs: ptr(1_347), ServerMs: ptr(1_130), RestoreMs: ptr(134), Acked: 1726, Absent: 1074, MissingAcked: 1074, RPOMs: 5_700,
			BeforeTarget: 648, InFlight: 5, InFlightPresent: 4, AfterTarget: 1073, Rows: 1152,
			Steps: []result.DrillStep{step("snapshot", 2_227, 2_255), step("pg_dump", 2_255, 3_603), step("fresh server", 8_325, 9_455), step("pg_restore", 9_455, 9_589)}},
		PITR: &result.DrillResult{Kind: "pitr", AtMs: 1_000, TargetMs: 5_000, TargetDoneMs: 5_010, BackupMs: ptr(800), RecoveryMs: ptr(1_750),
			Acked: 1726, Absent: 511, BeforeTarget: 1215, AfterTarget: 511, Rows: 1715,
			Steps: []result.DrillStep{step("base backup", 1_000, 1_800), step("started from the base backup", 9_731, 11_195), step("replayed to the restore point", 11_195, 11_482)}},
		ArchiveStandby: &result.DrillResult{Kind: "archive_standby", TargetMs: 30_100, TargetDoneMs: 30_800, PromoteMs: ptr(700),
			Acked: 1477, Absent: 120, MissingAcked: 120, RPOMs: 1_400, BeforeTarget: 1357, MissingBefore: 120, Rows: 1866,
			MaxLagBytes: ptr(16 << 20), EndLagBytes: ptr(300_000), Error: "",
			Steps: []result.DrillStep{step("base backup", 0, 900), step("standby started", 900, 3_000), step("promoted", 30_100, 30_800)}},
	}
	return r
}

// TestRenderDrills: the drills' section, its table and timeline, and the
// text summary's lines.
func TestRenderDrills(t *testing.T) {
	t.Parallel()
	r := withDrills(synthResult(t))
	_, page := mustRender(t, r)
	for _, w := range []string{
		`id="drills"`, `href="#drills"`, "Restore drills",
		"360 rows (249 written in the window)", "0/9006988 in 000000010000000000000009", "900 ms after the restore point",
		"<td>dump and restore</td>", "snapshot at 2.2 s", "pg_dump 1.3 s, server 1.1 s, pg_restore 134 ms", `<td class="num">1.3 s</td>`,
		"<td>point-in-time recovery</td>", "restore point at 5 s", `<td class="num">1.8 s</td>`,
		"<td>archive-only standby</td>", "16.0 MiB max, 293 KiB at the end", `<td class="num bad">120</td>`,
		`class="drill-tl"`, "replayed to the restore point: 11.2 s to 11.5 s", "left:2.",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("report.html lacks %q", w)
		}
	}
	if strings.Contains(page, "ZgotmplZ") {
		t.Error("a style was refused by the template")
	}
}

// TestWriteTextDrills: the text summary speaks of each drill (golden).
func TestWriteTextDrills(t *testing.T) {
	var buf bytes.Buffer
	WriteText(&buf, withDrills(synthResult(t)))
	got := buf.String()
	golden := filepath.Join("testdata", "drills.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./report/ -run TestWriteTextDrills -update)", err)
	}
	if got != string(want) {
		t.Errorf("differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
	}
	for _, w := range []string{"accident at 5 s deleted 360 orders", "1,074 acknowledged writes after the snapshot not restored",
		"in 1,750 ms (RTO); 0 acknowledged writes before it missing", "lacked 120 acknowledged writes"} {
		if !strings.Contains(strings.Join(strings.Fields(got), " "), w) {
			t.Errorf("text lacks %q", w)
		}
	}
}
