package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/result"
	"github.com/pgbench-ha/pgbench-ha/runner"
)

// archiveScenario: a primary and an asynchronous replica archiving WAL
// with archive_timeout 1s under 300 writes/s; faults as given.
const archiveScenario = `name: %s
seed: 5
duration: %s
topology:
  replicas: [{name: replica1}]
  archive: {timeout: 1s}
workload:
  writers: 4
  rate: 300
  initial_orders: 500
failover: {mode: promote, detect_after: 300ms}
probes: {lag_interval: 50ms, audit_timeout: 20s}
`

var segmentName = regexp.MustCompile(`^[0-9A-F]{24}$`)

func runArchive(t *testing.T, yaml string) (*result.Variant, string) {
	t.Helper()
	res, dir, err := runner.Run(context.Background(), runner.Options{Scenario: loadScenario(t, yaml), Backend: newBackend(t), OutDir: t.TempDir()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return &res.Variants[0], dir
}

// archiveFiles lists the archive folder of v, checking that the harness
// owns and can read every file.
func archiveFiles(t *testing.T, dir string, v *result.Variant) []string {
	t.Helper()
	if v.ArchiveDir != filepath.Join("archive", "0-default") {
		t.Fatalf("archive dir %q", v.ArchiveDir)
	}
	entries, err := os.ReadDir(filepath.Join(dir, v.ArchiveDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		f, err := os.Open(filepath.Join(dir, v.ArchiveDir, e.Name()))
		if err != nil {
			t.Fatalf("the harness cannot read the archive: %v", err)
		}
		f.Close()
		if info, _ := e.Info(); info == nil || info.Mode().Perm() != 0o644 || !ownedByMe(info) {
			t.Errorf("%s: mode %v, want 0644 and the harness's own", e.Name(), info.Mode())
		}
	}
	return names
}

// TestArchiveTimeout: with archive_timeout 1s every node archives into
// the run folder: full segments, a few a second; the archive's lag on
// the primary falls back each time a segment is switched and archived,
// stays within the segment being written, and nothing fails.
func TestArchiveTimeout(t *testing.T) {
	v, dir := runArchive(t, fmt.Sprintf(archiveScenario, "archive-timeout", "4s"))
	a := v.Summary.Archive
	if a == nil {
		t.Fatal("no archive summary")
	}
	names := archiveFiles(t, dir, v)
	segments := 0
	for _, n := range names {
		if segmentName.MatchString(n) {
			segments++
			if info, err := os.Stat(filepath.Join(dir, v.ArchiveDir, n)); err != nil || info.Size() != 16<<20 {
				t.Errorf("segment %s: %v, %v", n, info.Size(), err)
			}
		} else {
			t.Errorf("unexpected file in the archive: %s", n)
		}
	}
	t.Logf("%d files (%d bytes), %d samples, max lag %d segments %v bytes, longest without archiving %v ms, last %s at %v ms of %v",
		a.Files, a.Bytes, a.Samples, deref64(a.MaxLagSegments), deref(a.MaxLagBytes), deref(a.MaxSinceArchivedMs), a.LastArchivedWAL, deref(a.LastArchivedMs), a.EndMs)
	// 4 s at archive_timeout 1s (a switch 1 to 2 s after the last:
	// whole seconds), and the load before it.
	if segments < 3 || int64(len(names)) != a.Files || a.Bytes != int64(segments)*16<<20 {
		t.Errorf("%d segments archived (%d files, %d bytes in the summary)", segments, a.Files, a.Bytes)
	}
	if a.Failures != 0 || a.LastFailedWAL != "" {
		t.Errorf("failures: %d (%s)", a.Failures, a.LastFailedWAL)
	}
	// At most the segment being written and one switched segment the
	// archiver has not copied yet (it may be slow on a busy machine).
	if a.MaxLagSegments == nil || *a.MaxLagSegments > 2 || a.MaxLagBytes == nil || *a.MaxLagBytes <= 0 || *a.MaxLagBytes > 2*16<<20 {
		t.Errorf("max lag %v segments, %v bytes: want within the segment being written and one switched", deref64(a.MaxLagSegments), deref(a.MaxLagBytes))
	}
	// archive_timeout counts whole seconds: a switch comes 1 to 2 s after
	// the last.
	if a.MaxSinceArchivedMs == nil || *a.MaxSinceArchivedMs > 3000 || a.LastArchivedMs == nil || a.EndMs-*a.LastArchivedMs > 3000 {
		t.Errorf("archived every %v ms, last at %v ms of %v: want about every second", a.MaxSinceArchivedMs, a.LastArchivedMs, a.EndMs)
	}
	if !slices.Contains(names, a.LastArchivedWAL) {
		t.Errorf("the last file archived, %s, is not in the archive %v", a.LastArchivedWAL, names)
	}
	// Until the first segment is archived the lag is unknown; from then
	// on it is known in every sample, and falls back at each switch.
	falls, known := 0, 0
	var prev *float64
	for _, p := range v.Series.Archive {
		if p.Node != "primary" || p.FailedCount != 0 {
			t.Errorf("sample %+v", p)
		}
		if p.LagBytes == nil {
			if prev != nil {
				t.Errorf("the lag unknown at %v ms, after %d samples with one", p.Ms, known)
			}
			continue
		}
		known++
		if prev != nil && *p.LagBytes < *prev {
			falls++
		}
		prev = p.LagBytes
	}
	if known < len(v.Series.Archive)/2 || falls < 2 {
		t.Errorf("%d of %d samples with a lag, which fell %d times: want it to fall back at each switch", known, len(v.Series.Archive), falls)
	}
	if v.Topology.Settings["archive_mode"] != "on" || v.Topology.Settings["archive_timeout"] != "1s" {
		t.Errorf("settings: %v", v.Topology.Settings)
	}
}

// TestArchiveAfterFailover: the promoted standby archives too (the same
// folder): the new timeline's history file, the old timeline's last
// segment as .partial and the new timeline's segments; the samples
// follow the new primary.
func TestArchiveAfterFailover(t *testing.T) {
	v, dir := runArchive(t, fmt.Sprintf(archiveScenario, "archive-failover", "6s")+"faults:\n  - {at: 2s, kind: kill, node: primary}\n")
	if f := v.Summary.Failover; f == nil || f.PromoteDoneMs == nil {
		t.Fatalf("no promotion: %+v", f)
	}
	names := archiveFiles(t, dir, v)
	t.Logf("archive: %s", strings.Join(names, " "))
	has := func(pred func(string) bool) bool { return slices.ContainsFunc(names, pred) }
	if !slices.Contains(names, "00000002.history") ||
		!has(func(n string) bool { return strings.HasPrefix(n, "00000001") && strings.HasSuffix(n, ".partial") }) ||
		!has(func(n string) bool { return strings.HasPrefix(n, "00000002") && segmentName.MatchString(n) }) ||
		!has(func(n string) bool { return strings.HasPrefix(n, "00000001") && segmentName.MatchString(n) }) {
		t.Errorf("want both timelines' segments, the history file and a .partial: %v", names)
	}
	var onNew []result.ArchivePoint
	for _, p := range v.Series.Archive {
		if p.Node == "replica1" {
			onNew = append(onNew, p)
		}
	}
	if len(onNew) == 0 || onNew[len(onNew)-1].LagSegments == nil || !strings.HasPrefix(onNew[len(onNew)-1].LastArchivedWAL, "00000002") {
		t.Fatalf("samples of the new primary: %+v", onNew)
	}
	if a := v.Summary.Archive; a.Failures != 0 {
		t.Errorf("failures: %d (%s)", a.Failures, a.LastFailedWAL)
	}
}

func ownedByMe(info os.FileInfo) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
