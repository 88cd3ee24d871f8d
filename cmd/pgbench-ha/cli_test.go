package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster/local/localtest"
	"github.com/pgbench-ha/pgbench-ha/report"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// syncBuffer is a bytes.Buffer safe to write from the run's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runCLI runs the command line in-process with ctx.
func runCLI(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errw syncBuffer
	code = Main(ctx, append([]string{"pgbench-ha"}, args...), Env{Stdout: &out, Stderr: &errw})
	return code, out.String(), errw.String()
}

// needPostgres skips the test when the server binaries are missing.
func needPostgres(t *testing.T) {
	t.Helper()
	localtest.Backend(t)
}

// writeScenario writes a scenario file into a temp dir.
func writeScenario(t *testing.T, name, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const killPromoteYAML = `name: cli-kill-promote
seed: 5
duration: 4s
topology:
  replicas:
    - name: replica1
      sync: true
    - name: replica2
workload:
  writers: 4
  rate: 300
  initial_orders: 500
faults:
  - at: 2s
    kind: kill
    node: primary
failover:
  mode: promote
  detect_after: 300ms
probes:
  heartbeat_interval: 50ms
  audit_timeout: 20s
`

func TestValidate(t *testing.T) {
	t.Parallel()
	scenarios, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "*.yaml"))
	if err != nil || len(scenarios) == 0 {
		t.Fatalf("no scenarios/*.yaml: %v", err)
	}
	bad := filepath.Join("testdata", "invalid-scenario.yaml")
	patroni := filepath.Join("..", "..", "scenario", "testdata", "patroni.yaml")
	logicalDocker := filepath.Join("..", "..", "scenarios", "logical-subscriber.yaml")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"shipped scenarios", append([]string{"validate"}, scenarios...), ExitOK, func() []string {
			var want []string
			for _, s := range scenarios {
				want = append(want, s+": ok (")
			}
			return want
		}(), nil},
		{"invalid file, each problem with file:line:column", []string{"validate", bad}, ExitInvalid, nil, []string{
			bad + ":9:3: workload: unknown key \"writer\"",
			bad + ":11:9: faults[0].at:",
			bad + ":13:11: faults[0].node: no node named \"replica9\"",
		}},
		{"one bad file among good ones", []string{"validate", scenarios[0], bad}, ExitInvalid,
			[]string{scenarios[0] + ": ok ("}, []string{bad + ":9:3:"}},
		{"missing file", []string{"validate", filepath.Join("testdata", "no-such-file.yaml")}, ExitInvalid, nil,
			[]string{"no-such-file.yaml"}},
		{"no file", []string{"validate"}, ExitInvalid, nil, []string{"name at least one scenario file"}},
		{"patroni, a client path and matrix paths", []string{"validate", patroni}, ExitOK,
			[]string{patroni + ": ok (patroni.example, 12 variant(s), 40s each)"}, nil},
		{"run refuses what it cannot run yet, before anything starts", []string{"run", "--backend", "docker", "--out", t.TempDir(), patroni}, ExitInvalid, nil,
			[]string{patroni + ": failover.mode patroni on the docker backend (it runs on local) is not yet supported by this build"}},
		{"run refuses an image on the local backend, with the line, before anything starts", []string{"run", "--backend", "local", "--out", t.TempDir(), logicalDocker}, ExitInvalid, nil,
			[]string{logicalDocker + ":63: topology.image names the image the nodes run, which only the docker backend has; this run is on the local backend"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runCLI(context.Background(), tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

func TestRunWithoutPostgres(t *testing.T) {
	t.Parallel()
	sc := writeScenario(t, "no-pg", killPromoteYAML)
	out := t.TempDir()
	code, stdout, stderr := runCLI(context.Background(), "run", "--out", out, "--pg-bin", "/nonexistent", sc)
	if code != ExitInfrastructure {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitInfrastructure, stdout, stderr)
	}
	if !strings.Contains(stderr, "/nonexistent") {
		t.Errorf("stderr does not name the directory tried:\n%s", stderr)
	}
	// Someone without PostgreSQL needs to know how to get it.
	if !strings.Contains(strings.ToLower(stderr), "install") {
		t.Errorf("stderr does not say how to install PostgreSQL:\n%s", stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("results written without a backend: %v", ents)
	}
}

var resultLine = regexp.MustCompile(`(?m)^result: (.+)$`)
var reportLine = regexp.MustCompile(`(?m)^report: (.+)$`)

// TestRunThenReport runs a short kill-and-promote scenario through the
// command line, then renders its report again from result.json.
func TestRunThenReport(t *testing.T) {
	needPostgres(t)
	sc := writeScenario(t, "cli-kill-promote", killPromoteYAML)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, stdout, stderr := runCLI(ctx, "run", "--out", out, sc)
	if code != ExitOK {
		t.Fatalf("exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("stdout:\n%s", stdout)
	for _, w := range []string{"cli-kill-promote", "COMPLETE", "lost", "TPS"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("summary lacks %q", w)
		}
	}
	m := resultLine.FindStringSubmatch(stdout)
	r := reportLine.FindStringSubmatch(stdout)
	if m == nil || r == nil {
		t.Fatalf("stdout does not name result.json and report.html:\n%s", stdout)
	}
	resultPath, reportPath := m[1], r[1]
	dir := filepath.Dir(resultPath)
	if filepath.Dir(dir) != filepath.Join(out, "cli-kill-promote") || filepath.Base(resultPath) != "result.json" ||
		reportPath != filepath.Join(dir, report.ReportFile) {
		t.Errorf("result %s, report %s: not in one run folder under %s", resultPath, reportPath, out)
	}
	res, err := result.Read(resultPath)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != result.StatusComplete || len(res.Variants) != 1 || res.Variants[0].Summary.Audit == nil ||
		res.Variants[0].Summary.Failover == nil || res.Variants[0].Summary.Failover.NewPrimary == "" {
		t.Fatalf("result: status %q, %d variants", res.Status, len(res.Variants))
	}
	if _, err := os.Stat(reportPath); err != nil {
		t.Fatal(err)
	}

	t.Run("report re-renders", func(t *testing.T) {
		for _, f := range []string{report.ReportFile, "throughput.png", "failover.png"} {
			if err := os.Remove(filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
		code, stdout, stderr := runCLI(context.Background(), "report", resultPath)
		if code != ExitOK {
			t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		for _, f := range []string{report.ReportFile, "throughput.png", "failover.png"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("not rendered again: %v", err)
			}
		}
		if !strings.Contains(stdout, "report: "+reportPath) || !strings.Contains(stdout, "cli-kill-promote") {
			t.Errorf("stdout:\n%s", stdout)
		}
	})

	t.Run("report of a folder into another", func(t *testing.T) {
		other := t.TempDir()
		code, stdout, stderr := runCLI(context.Background(), "report", "--out", other, dir)
		if code != ExitOK {
			t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if _, err := os.Stat(filepath.Join(other, report.ReportFile)); err != nil {
			t.Error(err)
		}
	})

	t.Run("report of something else", func(t *testing.T) {
		code, _, stderr := runCLI(context.Background(), "report", sc)
		if code != ExitInvalid {
			t.Errorf("report of a scenario file: exit code %d, want %d\n%s", code, ExitInvalid, stderr)
		}
	})
}

// procStat returns the state, parent and process group of pid from
// /proc, or false when it is gone.
func procStat(pid int) (state string, ppid, pgrp int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	if len(f) < 3 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	pgrp, _ = strconv.Atoi(f[2])
	return f[0], ppid, pgrp, true
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	st, _, _, ok := procStat(pid)
	return ok && st != "Z" && st != "X"
}

// treeOf lists pid's live descendants.
func treeOf(root int) []int {
	ents, _ := os.ReadDir("/proc")
	kids := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !running(pid) {
			continue
		}
		_, ppid, _, _ := procStat(pid)
		kids[ppid] = append(kids[ppid], pid)
	}
	var out []int
	for q := []int{root}; len(q) > 0; q = q[1:] {
		for _, k := range kids[q[0]] {
			out = append(out, k)
			q = append(q, k)
		}
	}
	return out
}

// postgresPids is what pgrep -u postgres -x postgres lists, or nil when
// pgrep is missing. It only looks.
func postgresPids(t *testing.T) map[int]bool {
	t.Helper()
	if _, err := exec.LookPath("pgrep"); err != nil {
		return nil
	}
	out, err := exec.Command("pgrep", "-u", "postgres", "-x", "postgres").Output()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) { // 1: none found
		t.Fatalf("pgrep: %v", err)
	}
	pids := map[int]bool{}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids[pid] = true
		}
	}
	return pids
}

// runState is what this test's run has on the machine while it runs.
type runState struct {
	root    string         // the backend's temp dir
	procs   map[int]string // pid → what it is, every server process
	primary string         // primary's data dir
}

// observe finds the servers started by this test process and waits until
// the workload writes to the primary.
func observe(t *testing.T, ctx context.Context, within time.Duration) (*runState, error) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		st := &runState{procs: map[int]string{}}
		for _, pid := range treeOf(os.Getpid()) {
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
			st.procs[pid] = strings.Join(args, " ")
			if i := slices.Index(args, "-D"); i >= 0 && i+1 < len(args) && filepath.Base(args[i+1]) == "primary" {
				st.primary = args[i+1]
				st.root = filepath.Dir(filepath.Dir(args[i+1]))
			}
		}
		if st.primary != "" {
			if n, err := writers(ctx, st.primary); err == nil && n > 0 {
				// The tree again, now that the writers' backends exist.
				for _, pid := range treeOf(os.Getpid()) {
					if _, ok := st.procs[pid]; !ok {
						cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
						st.procs[pid] = strings.ReplaceAll(string(cmdline), "\x00", " ")
					}
				}
				return st, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("no workload on a primary of this run within %v", within)
}

// writers counts the workload's sessions on the primary whose data dir is
// dataDir, over its private socket (postmaster.pid: line 4 the port, line
// 5 the socket dir).
func writers(ctx context.Context, dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 {
		return 0, errors.New("postmaster.pid incomplete")
	}
	cfg, err := pgx.ParseConfig("user=postgres dbname=postgres connect_timeout=2")
	if err != nil {
		return 0, err
	}
	port, _ := strconv.Atoi(strings.TrimSpace(lines[3]))
	cfg.Host, cfg.Port = strings.TrimSpace(lines[4]), uint16(port)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench-ha-writer'").Scan(&n)
	return n, err
}

// TestRunInterrupted cancels a run two seconds into its workload, as
// Ctrl-C does: exit code 130, a partial result.json, nothing left behind.
func TestRunInterrupted(t *testing.T) {
	needPostgres(t)
	sc := writeScenario(t, "interrupt-me", `name: interrupt-me
duration: 60s
topology:
  replicas:
    - name: replica1
      sync: true
    - name: replica2
workload:
  writers: 2
  rate: 200
  initial_orders: 100
matrix:
  synchronous_commit: ["on", "off"]
`)
	out := t.TempDir()
	tmpGlob := filepath.Join(os.TempDir(), "pgbench-ha-*")
	dirsBefore, _ := filepath.Glob(tmpGlob)
	pidsBefore := postgresPids(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		code           int
		stdout, stderr string
	}
	done := make(chan outcome, 1)
	go func() {
		code, stdout, stderr := runCLI(ctx, "run", "--out", out, sc)
		done <- outcome{code, stdout, stderr}
	}()
	st, err := observe(t, context.Background(), 90*time.Second)
	if err != nil {
		cancel()
		o := <-done
		t.Fatalf("%v\nexit code %d\nstdout:\n%s\nstderr:\n%s", err, o.code, o.stdout, o.stderr)
	}
	t.Logf("backend dir %s, %d server processes", st.root, len(st.procs))
	time.Sleep(2 * time.Second)
	cancel()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the run did not stop within 90s of the interrupt")
	}
	if o.code != ExitInterrupted {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", o.code, ExitInterrupted, o.stdout, o.stderr)
	}
	if !strings.Contains(o.stderr, "interrupted") {
		t.Errorf("stderr:\n%s", o.stderr)
	}

	t.Run("partial result", func(t *testing.T) {
		runs, _ := filepath.Glob(filepath.Join(out, "interrupt-me", "*", "result.json"))
		if len(runs) != 1 {
			t.Fatalf("result.json files: %v", runs)
		}
		if m := resultLine.FindStringSubmatch(o.stdout); m == nil || m[1] != runs[0] {
			t.Errorf("stdout does not name %s:\n%s", runs[0], o.stdout)
		}
		r, err := result.Read(runs[0])
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != result.StatusInterrupted || len(r.Variants) != 2 {
			t.Fatalf("status %q with %d variants, want interrupted with 2", r.Status, len(r.Variants))
		}
		v0, v1 := r.Variants[0], r.Variants[1]
		if v0.Status != result.StatusInterrupted || v0.Phase != "workload" {
			t.Errorf("variant 0: status %q phase %q, want interrupted during the workload", v0.Status, v0.Phase)
		}
		if v0.Summary.Acked == 0 || len(v0.Series.Throughput) == 0 {
			t.Errorf("variant 0 kept no data: %d acked, %d throughput points", v0.Summary.Acked, len(v0.Series.Throughput))
		}
		if v1.Status != result.StatusPending {
			t.Errorf("variant 1: status %q, want pending", v1.Status)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(runs[0]), report.ReportFile)); err != nil {
			t.Errorf("no report for the partial run: %v", err)
		}
	})

	t.Run("nothing left behind", func(t *testing.T) {
		if _, err := os.Stat(st.root); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("backend dir %s still there: %v", st.root, err)
		}
		dirsAfter, _ := filepath.Glob(tmpGlob)
		for _, d := range dirsAfter {
			if d == st.root {
				t.Errorf("%s still listed", d)
			} else if !slices.Contains(dirsBefore, d) {
				t.Logf("new %s is not this run's (another process's backend)", d)
			}
		}
		for pid, what := range st.procs {
			if running(pid) {
				t.Errorf("process %d still runs: %s", pid, what)
			}
		}
		// Every server process leads its own group (the postmaster by
		// Setpgid, its children by setsid): no live process may be left
		// in one of those groups. Zombies nobody reaped do not count.
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || !running(pid) {
				continue
			}
			if _, _, pgrp, _ := procStat(pid); st.procs[pgrp] != "" {
				t.Errorf("process %d is still in group %d (%s)", pid, pgrp, st.procs[pgrp])
			}
		}
		pidsAfter := postgresPids(t)
		for pid := range pidsAfter {
			if pidsBefore[pid] || !running(pid) {
				continue
			}
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if _, ours := st.procs[pid]; ours || strings.Contains(string(cmdline), st.root) {
				t.Errorf("postgres process %d of this run still runs: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
			}
		}
	})
}
