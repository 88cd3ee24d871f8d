package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"golang.org/x/sys/unix"
)

const bringUpReps = 3

// BenchmarkBringUp times building the 3-node cluster of spec3 until every
// standby streams (and replica1 is synchronous):
//
//   - cold: local.New then Up, so the backend's one initdb counts, as for
//     the first variant of a run;
//   - warm: a second Up on the same backend, as variants 2..N see it;
//   - cached: local.New then Up with the template already in the cache,
//     as the first variant of every run after the first on a machine;
//   - manual: the same steps with the binaries, one after the other as one
//     types them: initdb, pg_ctl -w start, psql to create the roles,
//     pg_basebackup -R -X stream -c fast -C -S twice, pg_ctl -w start twice,
//     psql polling pg_stat_replication, then synchronous_standby_names.
//
// Both sides use initdb --no-sync and pg_basebackup --no-sync, scram
// passwords over 127.0.0.1, and the server user. Each is repeated
// bringUpReps times, alternating which goes first; medians are reported,
// with the steps of each (the harness's from its server logs).
func BenchmarkBringUp(b *testing.B) {
	bin := binDir(b)
	su := lookupServerUser(b)
	for _, tool := range []string{"initdb", "pg_ctl", "psql", "pg_basebackup"} {
		mustExist(b, bin, tool)
	}
	var cold, warm, cached, manual []float64
	cacheDir := primeCache(b)
	coldSteps, warmSteps, manualSteps := stepTable{}, stepTable{}, stepTable{}

	b.ResetTimer()
	for i := 0; i < bringUpReps; i++ {
		harness := func() {
			c, w, cs, ws := harnessBringUp(b, i)
			cold, warm = append(cold, c), append(warm, w)
			cached = append(cached, cachedBringUp(b, i, cacheDir))
			coldSteps.add(cs)
			warmSteps.add(ws)
		}
		byHand := func() {
			total, steps := manualBringUp(b, su, bin, i)
			manual = append(manual, total)
			manualSteps.add(steps)
		}
		if i%2 == 0 {
			harness()
			byHand()
		} else {
			byHand()
			harness()
		}
		b.Logf("rep %d: harness cold %4.0f ms, cached %4.0f ms, warm %4.0f ms; manual %4.0f ms", i+1, cold[i], cached[i], warm[i], manual[i])
	}
	b.StopTimer()
	b.Logf("medians of %d, ms:", bringUpReps)
	coldSteps.log(b, "harness cold")
	warmSteps.log(b, "harness warm")
	manualSteps.log(b, "manual")
	b.ReportMetric(median(cold), "cold_ms")
	b.ReportMetric(median(warm), "warm_ms")
	b.ReportMetric(median(manual), "manual_ms")
	b.ReportMetric(median(cold)/median(manual), "cold_ratio")
	b.ReportMetric(median(warm)/median(manual), "warm_ratio")
	b.ReportMetric(median(cached), "cached_ms")
	b.ReportMetric(median(cached)/median(manual), "cached_ratio")
}

// step is one timed part of a bring-up.
type step struct {
	name string
	ms   float64
}

// stepTable gathers the steps of repeated bring-ups, in first-seen order.
type stepTable struct {
	names []string
	ms    map[string][]float64
}

func (t *stepTable) add(steps []step) {
	if t.ms == nil {
		t.ms = map[string][]float64{}
	}
	for _, s := range steps {
		if _, ok := t.ms[s.name]; !ok {
			t.names = append(t.names, s.name)
		}
		t.ms[s.name] = append(t.ms[s.name], s.ms)
	}
}

func (t *stepTable) log(b *testing.B, title string) {
	var sb strings.Builder
	for i, n := range t.names {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s %.0f", n, median(t.ms[n]))
	}
	b.Logf("  %-12s  %s", title, sb.String())
}

// harnessBringUp measures one cold and one warm Up, each taken down
// before the next, and returns their times in ms and their steps.
func harnessBringUp(b *testing.B, rep int) (cold, warm float64, coldSteps, warmSteps []step) {
	ctx := context.Background()
	t0 := time.Now()
	be, dir := newBackend(b)
	coldLogs := b.TempDir()
	c, err := be.Up(ctx, spec3(fmt.Sprintf("cold%d", rep), coldLogs))
	cold = ms(time.Since(t0))
	if err != nil {
		b.Fatalf("cold up: %v", err)
	}
	b.Cleanup(func() { mustDown(b, c, dir) })
	tmplDone, _ := newestMtime(dir, "template")
	coldSteps, err = harnessSteps(coldLogs, t0, t0.Add(time.Duration(cold*float64(time.Millisecond))), tmplDone)
	if err != nil {
		b.Logf("cold bring-up %d: no steps: %v", rep, err)
	}
	mustDown(b, c, dir)

	warmLogs := b.TempDir()
	t1 := time.Now()
	c2, err := be.Up(ctx, spec3(fmt.Sprintf("warm%d", rep), warmLogs))
	warm = ms(time.Since(t1))
	if err != nil {
		b.Fatalf("warm up: %v", err)
	}
	b.Cleanup(func() { mustDown(b, c2, dir) })
	warmSteps, err = harnessSteps(warmLogs, t1, t1.Add(time.Duration(warm*float64(time.Millisecond))), time.Time{})
	if err != nil {
		b.Logf("warm bring-up %d: no steps: %v", rep, err)
	}
	mustDown(b, c2, dir)
	if err := be.Close(); err != nil {
		b.Fatalf("close backend: %v", err)
	}
	return cold, warm, coldSteps, warmSteps
}

// newestMtime is the latest modification time of a file in the directory
// named name somewhere under root: when initdb finished writing the
// template.
func newestMtime(root, name string) (time.Time, error) {
	dirs, _ := filepath.Glob(filepath.Join(root, "*", name))
	if len(dirs) != 1 {
		return time.Time{}, fmt.Errorf("%s under %s: found %d", name, root, len(dirs))
	}
	var newest time.Time
	err := filepath.WalkDir(dirs[0], func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, err := d.Info(); err == nil && info.ModTime().After(newest) {
			newest = info.ModTime()
		}
		return nil
	})
	return newest, err
}

// harnessSteps reads the steps of an Up from the servers' logs (timestamps
// in ms): the primary's start and readiness, then the standbys' start
// (after the roles and slots; their data dirs are copied meanwhile) and
// first streaming. tmplDone, when known, splits initdb from the template
// copy.
func harnessSteps(logDir string, start, end, tmplDone time.Time) ([]step, error) {
	find := func(node, msg string) (time.Time, error) {
		t, err := firstLogLine(filepath.Join(logDir, node+".log"), msg)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s log: %w", node, err)
		}
		return t, nil
	}
	pStart, err := find("primary", "starting PostgreSQL")
	if err != nil {
		return nil, err
	}
	pReady, err := find("primary", "database system is ready to accept connections")
	if err != nil {
		return nil, err
	}
	var rFirst, rStream time.Time
	for _, r := range []string{"replica1", "replica2"} {
		s, err := find(r, "starting PostgreSQL")
		if err != nil {
			return nil, err
		}
		st, err := find(r, "started streaming WAL")
		if err != nil {
			return nil, err
		}
		if rFirst.IsZero() || s.Before(rFirst) {
			rFirst = s
		}
		if st.After(rStream) {
			rStream = st
		}
	}
	d := func(a, b time.Time) float64 { return ms(b.Sub(a)) }
	var steps []step
	if !tmplDone.IsZero() {
		steps = append(steps, step{"New+initdb", d(start, tmplDone)}, step{"copy template", d(tmplDone, pStart)})
	} else {
		steps = append(steps, step{"copy template", d(start, pStart)})
	}
	return append(steps,
		step{"start primary", d(pStart, pReady)},
		step{"roles+slots", d(pReady, rFirst)},
		step{"start standbys to streaming", d(rFirst, rStream)},
		step{"wait streaming+sync", d(rStream, end)},
	), nil
}

// firstLogLine is the time of the first server log line containing msg
// (log_line_prefix starts with %m, in UTC).
func firstLogLine(path, msg string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, msg) && len(line) >= 27 {
			return time.Parse("2006-01-02 15:04:05.000 MST", line[:27])
		}
	}
	return time.Time{}, fmt.Errorf("no line with %q", msg)
}

// manualNode is one server of the cluster built by hand.
type manualNode struct {
	name, data, sock string
	port             int
}

// manualBringUp builds the cluster step by step with the binaries and
// returns the total in ms and each step. b.Cleanup stops its servers
// (pg_ctl -m immediate, then the process group if need be) and removes its
// directories; this function does it itself at the end, so that repeated
// measurements do not pile up servers.
func manualBringUp(b *testing.B, su serverUser, bin string, rep int) (float64, []step) {
	dir := ownedTempDir(b, su, "manual-")
	var nodes []manualNode
	for i, name := range []string{"primary", "replica1", "replica2"} {
		port, err := freePort()
		if err != nil {
			b.Fatal(err)
		}
		n := manualNode{name: name, data: filepath.Join(dir, name), sock: filepath.Join(dir, "s"+strconv.Itoa(i)), port: port}
		if err := os.Mkdir(n.sock, 0o700); err != nil {
			b.Fatal(err)
		}
		if err := os.Chown(n.sock, su.uid, su.gid); err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	var started []manualNode
	stopAll := func() {
		segs := dsmFiles(dir)
		defer removeFiles(b, segs)
		for i := len(started) - 1; i >= 0; i-- {
			if err := manualStop(su, bin, started[i].data); err != nil {
				b.Errorf("stop %s: %v", started[i].name, err)
			}
		}
		started = nil
	}
	b.Cleanup(stopAll)

	tool := func(name string, args []string, env ...string) (string, error) {
		cmd := su.command(filepath.Join(bin, name), args, env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("%s: %v: %s", name, err, strings.TrimSpace(out.String()))
		}
		return out.String(), nil
	}
	psql := func(n manualNode, sql ...string) (string, error) {
		args := []string{"-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", n.sock, "-p", strconv.Itoa(n.port), "-U", "postgres", "-d", "postgres"}
		for _, q := range sql {
			args = append(args, "-c", q)
		}
		return tool("psql", args)
	}
	conf := func(n manualNode, extra string) error {
		return appendFile(filepath.Join(n.data, "postgresql.conf"), fmt.Sprintf(
			"\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\ncluster_name = '%s'\n%s",
			n.port, n.sock, n.name, extra))
	}
	replPW, adminPW, appPW := randomHex(), randomHex(), randomHex()
	pwfile := filepath.Join(dir, "pw")
	if err := writeOwned(su, pwfile, randomHex()+"\n"); err != nil {
		b.Fatal(err)
	}

	var steps []step
	t0 := time.Now()
	last := t0
	mark := func(name string) {
		now := time.Now()
		steps = append(steps, step{name, ms(now.Sub(last))})
		last = now
	}
	must := func(_ string, err error) {
		if err != nil {
			b.Fatalf("manual bring-up %d: %v", rep, err)
		}
	}
	p, r1, r2 := nodes[0], nodes[1], nodes[2]

	must(tool("initdb", []string{"-D", p.data, "-U", "postgres", "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"}))
	must("", conf(p, "wal_level = replica\nmax_wal_senders = 10\nmax_replication_slots = 10\nhot_standby = on\nlog_checkpoints = on\n"))
	mark("initdb")
	started = append(started, p)
	must(tool("pg_ctl", []string{"-D", p.data, "-l", filepath.Join(dir, "primary.log"), "-w", "start"}))
	mark("start primary")
	must(psql(p,
		"ALTER ROLE postgres PASSWORD '"+adminPW+"'",
		"CREATE ROLE replicator REPLICATION LOGIN PASSWORD '"+replPW+"'",
		"CREATE ROLE app LOGIN PASSWORD '"+appPW+"'",
		"GRANT CREATE ON SCHEMA public TO app"))
	mark("roles")
	for _, r := range []manualNode{r1, r2} {
		must(tool("pg_basebackup", []string{"-h", "127.0.0.1", "-p", strconv.Itoa(p.port), "-U", "replicator",
			"-D", r.data, "-R", "-X", "stream", "-c", "fast", "-C", "-S", r.name, "--no-sync", "-w"},
			"PGPASSWORD="+replPW))
		must("", conf(r, ""))
		mark("basebackup " + r.name)
	}
	for _, r := range []manualNode{r1, r2} {
		started = append(started, r)
		must(tool("pg_ctl", []string{"-D", r.data, "-l", filepath.Join(dir, r.name+".log"), "-w", "start"}))
		mark("start " + r.name)
	}
	poll := func(q, want string) error {
		deadline := time.Now().Add(60 * time.Second)
		for {
			out, err := psql(p, q)
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) == want {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %q after 60s, want %s", q, strings.TrimSpace(out), want)
			}
		}
	}
	must("", poll("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'", "2"))
	mark("wait streaming")
	must(psql(p, "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (replica1)'", "SELECT pg_reload_conf()"))
	must("", poll("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'", "1"))
	mark("sync standby")
	total := ms(time.Since(t0))
	stopAll()
	return total, steps
}

// manualStop stops a server started with pg_ctl: pg_ctl -m immediate, and
// if that fails, SIGKILL to its process group (pg_ctl makes the postmaster
// a session leader) and removal of its shared memory.
func manualStop(su serverUser, bin, data string) error {
	pidFile := filepath.Join(data, "postmaster.pid")
	raw, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // never started, or already stopped
	}
	cmd := su.command(filepath.Join(bin, "pg_ctl"), []string{"-D", data, "-m", "immediate", "-w", "-t", "30", "stop"})
	out, stopErr := cmd.CombinedOutput()
	if stopErr == nil {
		return nil
	}
	lines := strings.Split(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil || pid <= 1 {
		return fmt.Errorf("pg_ctl stop: %v: %s; no pid in %s", stopErr, out, pidFile)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(-pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("process group %d still alive after SIGKILL", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(lines) > 6 {
		if f := strings.Fields(lines[6]); len(f) == 2 {
			if id, err := strconv.Atoi(f[1]); err == nil {
				_, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil)
			}
		}
	}
	return fmt.Errorf("pg_ctl stop failed (%v: %s); killed process group %d", stopErr, out, pid)
}

// primeCache makes a template cache for cachedBringUp: one backend's
// initdb, stored in a temp dir.
func primeCache(b *testing.B) string {
	dir := b.TempDir()
	be, _ := newBackendWith(b, local.Options{CacheDir: dir})
	if err := be.Prepare(context.Background()); err != nil {
		b.Fatalf("prime the template cache: %v", err)
	}
	return dir
}

// cachedBringUp times local.New then Up with the template in the cache.
func cachedBringUp(b *testing.B, rep int, cacheDir string) float64 {
	ctx := context.Background()
	t0 := time.Now()
	be, dir := newBackendWith(b, local.Options{CacheDir: cacheDir})
	c, err := be.Up(ctx, spec3(fmt.Sprintf("cached%d", rep), b.TempDir()))
	took := ms(time.Since(t0))
	if err != nil {
		b.Fatalf("cached up: %v", err)
	}
	mustDown(b, c, dir)
	return took
}
