package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// runMain runs the CLI in-process and returns its exit code and output.
func runMain(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errw bytes.Buffer
	code = Main(context.Background(), append([]string{"pgbench-ha"}, args...), Env{Stdout: &out, Stderr: &errw})
	return code, out.String(), errw.String()
}

// fixture is a real result of the flagship (series and histograms left
// out to keep it small).
const fixture = "testdata/flagship-result.json"

// writeResult writes r as dir/result.json and returns dir.
func writeResult(t *testing.T, r *result.Result) string {
	t.Helper()
	dir := t.TempDir()
	if err := result.Write(filepath.Join(dir, "result.json"), r); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFixture(t *testing.T) *result.Result {
	t.Helper()
	r, err := result.Read(fixture)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestExitCodeTable(t *testing.T) {
	t.Parallel()
	// The documented values; scripts depend on them.
	codes := map[string]int{"ok": ExitOK, "error": ExitError, "invalid": ExitInvalid, "infrastructure": ExitInfrastructure,
		"regression": ExitRegression, "thresholds": ExitThresholds, "interrupted": ExitInterrupted}
	want := map[string]int{"ok": 0, "error": 1, "invalid": 2, "infrastructure": 3, "regression": 4, "thresholds": 99, "interrupted": 130}
	for k, v := range want {
		if codes[k] != v {
			t.Errorf("exit code %s = %d, want %d", k, codes[k], v)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range want {
		row := "| " + strconv.Itoa(v) + " |"
		if !bytes.Contains(readme, []byte(row)) {
			t.Errorf("README.md's exit code table has no row %q", row)
		}
	}
}

func TestExitInvalid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nduration: 30s\nthresholds:\n  - metric: lost_acked_write\n    max: 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(dir, "r")
	if err := os.MkdirAll(res, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"run an invalid scenario", []string{"run", "--out", dir, bad}, `bad.yaml:4:13: thresholds[0].metric: unknown metric "lost_acked_write" (did you mean "lost_acked_writes"?)`},
		{"validate an invalid scenario", []string{"validate", bad}, "unknown metric"},
		{"run without a scenario", []string{"run"}, "name one scenario file"},
		{"unknown flag", []string{"run", "--nope", bad}, "nope"},
		{"compare with one argument", []string{"compare", fixture}, "name a baseline and at least one current run"},
		{"compare a missing file", []string{"compare", fixture, filepath.Join(dir, "missing")}, "no such file"},
		{"compare a folder without a result", []string{"compare", fixture, res}, "no such file"},
		{"compare with a bad tolerance", []string{"compare", "--tolerance", "p99=5%", fixture, fixture}, `unknown metric "p99"`},
		{"baseline of nothing", []string{"baseline"}, "name at least one run"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runMain(t, tc.args...)
			if code != ExitInvalid {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, ExitInvalid, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.want)
			}
		})
	}
}

func TestCompareSameResultExitsZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit, md := filepath.Join(dir, "out", "junit.xml"), filepath.Join(dir, "out", "summary.md")
	code, stdout, stderr := runMain(t, "compare", "--junit", junit, "--markdown", md, fixture, fixture)
	if code != ExitOK {
		t.Fatalf("exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "no regression beyond the tolerances") {
		t.Errorf("stdout:\n%s", stdout)
	}
	checkJUnit(t, junit, 0)
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "No regression beyond the tolerances.") {
		t.Errorf("markdown:\n%s", b)
	}
}

func TestCompareDoctoredResultExitsRegression(t *testing.T) {
	t.Parallel()
	base := readFixture(t)
	cur := readFixture(t)
	// synchronous_commit=on regressed: p99 commit latency tripled, and
	// acknowledged writes were lost.
	v := &cur.Variants[3]
	if v.Name != "synchronous_commit=on" {
		t.Fatalf("fixture variant 3 is %s", v.Name)
	}
	v.Summary.CommitLatency.P99 *= 3
	v.Summary.Audit.Lost = 7
	curDir := writeResult(t, cur)
	baseDir := writeResult(t, base)
	junit := filepath.Join(t.TempDir(), "junit.xml")
	md := filepath.Join(t.TempDir(), "summary.md")

	code, stdout, stderr := runMain(t, "compare", "--junit", junit, "--markdown", md, baseDir, curDir)
	if code != ExitRegression {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitRegression, stdout, stderr)
	}
	for _, want := range []string{"p99_commit_ms", "REGRESSION", "2 regression(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, stdout)
		}
	}
	checkJUnit(t, junit, 1)
	b, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "| synchronous\\_commit=on | `lost_acked_writes` | 0 | 7 |") {
		t.Errorf("markdown does not list the lost writes:\n%s", b)
	}

	// A tolerance wide enough for the latency still fails on the loss; an
	// absolute one for both passes.
	code, _, _ = runMain(t, "compare", "--tolerance", "p99_commit_ms=300%", baseDir, curDir)
	if code != ExitRegression {
		t.Errorf("with p99_commit_ms=300%%: exit code %d, want %d", code, ExitRegression)
	}
	code, stdout, _ = runMain(t, "compare", "--tolerance", "p99_commit_ms=300%", "--tolerance", "lost_acked_writes=10", baseDir, curDir)
	if code != ExitOK {
		t.Errorf("with both tolerances: exit code %d, want 0\n%s", code, stdout)
	}
}

func TestBaselineThenCompare(t *testing.T) {
	t.Parallel()
	r1 := readFixture(t)
	r2 := readFixture(t)
	r2.Run.ID = "second"
	for i := range r2.Variants {
		r2.Variants[i].Summary.CommitLatency.P99 *= 1.5 // a noisy second run
	}
	out := filepath.Join(t.TempDir(), "baselines", "sync-vs-async", "baseline.json")
	code, stdout, stderr := runMain(t, "baseline", "--out", out, writeResult(t, r1), writeResult(t, r2))
	if code != ExitOK {
		t.Fatalf("baseline: exit code %d\n%s\n%s", code, stdout, stderr)
	}
	// 1.4 times the first run's p99 is within the spread the baseline saw
	// (for every variant whose p99 is more than the 1 ms floor), though
	// beyond 25% of the first run alone.
	cur := readFixture(t)
	for i := range cur.Variants {
		cur.Variants[i].Summary.CommitLatency.P99 *= 1.4
	}
	curDir := writeResult(t, cur)
	if code, stdout, _ := runMain(t, "compare", out, curDir); code != ExitOK {
		t.Errorf("compare with the baseline: exit code %d, want 0\n%s", code, stdout)
	}
	if code, _, _ := runMain(t, "compare", writeResult(t, r1), curDir); code != ExitRegression {
		t.Errorf("compare with the first run alone: exit code %d, want %d", code, ExitRegression)
	}
	// A run that did not complete makes no baseline.
	partial := readFixture(t)
	partial.Status = result.StatusInterrupted
	if code, _, stderr := runMain(t, "baseline", "--out", out, writeResult(t, partial)); code != ExitInvalid {
		t.Errorf("baseline of an interrupted run: exit code %d, want %d (%s)", code, ExitInvalid, stderr)
	}
}

// checkJUnit checks that path is JUnit XML with the given failures.
func checkJUnit(t *testing.T, path string, failures int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name string `xml:"name,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if doc.Failures != failures {
		t.Errorf("%s: %d failures, want %d", path, doc.Failures, failures)
	}
	if len(doc.Suites) < 2 {
		t.Errorf("%s: suites %+v, want variants and baseline", path, doc.Suites)
	}
}

// TestRunFailedThresholdExits99 runs a tiny scenario on real servers with
// a threshold it cannot meet.
func TestRunFailedThresholdExits99(t *testing.T) {
	localtest.Backend(t) // skip with -short or without PostgreSQL, unless required
	dir := t.TempDir()
	sc := filepath.Join(dir, "impossible.yaml")
	err := os.WriteFile(sc, []byte(`name: impossible-threshold
duration: 2s
workload:
  writers: 2
  rate: 100
thresholds:
  - metric: tps
    min: 1000000000
  - metric: lost_acked_writes
    max: 0
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(dir, "junit.xml")
	md := filepath.Join(dir, "summary.md")
	code, stdout, stderr := runMain(t, "run", "--out", dir, "--junit", junit, "--markdown", md, "--svg", sc)
	if code != ExitThresholds {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitThresholds, stdout, stderr)
	}
	if !strings.Contains(stdout, "FAIL  tps min >= 1,000,000,000") || !strings.Contains(stdout, "PASS  lost_acked_writes max <= 0") {
		t.Errorf("stdout does not show the thresholds:\n%s", stdout)
	}
	runs, err := filepath.Glob(filepath.Join(dir, "impossible-threshold", "*", "result.json"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("result.json: %v %v", runs, err)
	}
	r, err := result.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Thresholds) != 2 || r.Thresholds[0].Passed || !r.Thresholds[1].Passed {
		t.Errorf("recorded thresholds: %+v", r.Thresholds)
	}
	html, err := os.ReadFile(filepath.Join(filepath.Dir(runs[0]), "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "1 of 2 failed") {
		t.Error("report.html does not show the failed threshold")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(runs[0]), "throughput.svg")); err != nil {
		t.Errorf("--svg: %v", err)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `name="tps min &gt;= 1,000,000,000"`) {
		t.Errorf("junit has no failed threshold case:\n%s", b)
	}
	if _, err := os.Stat(md); err != nil {
		t.Error(err)
	}
}
