package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

const (
	clients  = 8
	phase    = 2 * time.Second // each measured run
	pairs    = 16              // measured writer/pgbench pairs
	warmUp   = 2 * time.Second // each tool once, before measuring
	idsApart = 1_000_000_000   // id range of one writer run
)

// pgbenchScript sends the writer's transaction: one autocommit INSERT of an
// order with 5 bound parameters. Ids count up per client from :base (a
// pgbench variable keeps its value from one transaction to the next), so
// they collide neither with each other nor with the writer's ids; sku is a
// 7-character text like the writer's "SKU-123".
const pgbenchScript = `\set n :n + 1
\set id :base + :client_id * 100000000 + :n
\set customer_id random(0, 9999)
\set sku random(1000000, 1000499)
\set qty random(1, 5)
\set amount_cents :qty * random(100, 99999)
INSERT INTO orders (id, customer_id, sku, qty, amount_cents) VALUES (:id, :customer_id, :sku, :qty, :amount_cents);
`

var tpsRE = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)

// BenchmarkWriterVsPgbench runs the workload writer and pgbench in turn on
// one cluster, in many short pairs run back to back (writer first in odd
// pairs, pgbench first in even ones), so that a drift over time (table and
// index growth) or another load on the machine weighs on both alike. It
// reports the median TPS of each, the median of the pairs' ratios, and the
// client's CPU time per transaction (user+system, µs): the writer's whole
// test process against the pgbench process.
func BenchmarkWriterVsPgbench(b *testing.B) {
	bin := binDir(b)
	pgbench := mustExist(b, bin, "pgbench")
	be, dir := newBackend(b)
	c := mustUp(b, be, dir, spec3("tput", b.TempDir()))
	ctx := context.Background()

	dsn := c.ConnString("primary", cluster.App)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(cluster.Redact(err.Error()))
	}
	if _, err := workload.Prepare(ctx, conn, 1, 0); err != nil {
		b.Fatal(err)
	}
	conn.Close(ctx)
	script := filepath.Join(b.TempDir(), "insert.sql")
	if err := os.WriteFile(script, []byte(pgbenchScript), 0o644); err != nil {
		b.Fatal(err)
	}

	run := 0
	writer := func(d time.Duration) runResult {
		run++
		r, err := runWriter(ctx, dsn, int64(run)*idsApart, d)
		if err != nil {
			b.Fatalf("writer: %v", err)
		}
		return r
	}
	bench := func(d time.Duration) runResult {
		run++
		r, err := runPgbench(ctx, pgbench, dsn, script, int64(run)*1_000_000_000_000, d)
		if err != nil {
			b.Fatalf("pgbench: %v", err)
		}
		return r
	}

	b.ResetTimer()
	ww, pw := writer(warmUp), bench(warmUp)
	b.Logf("warm-up %v each: writer %.0f tps, pgbench %.0f tps", warmUp, ww.tps, pw.tps)
	b.Logf("pair  writer_tps  pgbench_tps  ratio  writer_cpu_us  pgbench_cpu_us  writer_connect_ms  load")
	var w, p, ratios, wcpu, pcpu []float64
	for i := 0; i < pairs; i++ {
		var wr, pr runResult
		if i%2 == 0 {
			wr = writer(phase)
			pr = bench(phase)
		} else {
			pr = bench(phase)
			wr = writer(phase)
		}
		w, p, ratios = append(w, wr.tps), append(p, pr.tps), append(ratios, wr.tps/pr.tps)
		wcpu, pcpu = append(wcpu, wr.cpuPerTxUs), append(pcpu, pr.cpuPerTxUs)
		b.Logf("%4d  %10.0f  %11.0f  %5.3f  %13.1f  %14.1f  %17.0f  %s",
			i+1, wr.tps, pr.tps, wr.tps/pr.tps, wr.cpuPerTxUs, pr.cpuPerTxUs, ms(wr.connect), loadAvg())
	}
	b.StopTimer()
	sorted := append([]float64(nil), ratios...)
	sort.Float64s(sorted)
	b.Logf("pair ratios, sorted: %.3f", sorted)
	b.ReportMetric(median(w), "writer_tps")
	b.ReportMetric(median(p), "pgbench_tps")
	b.ReportMetric(median(ratios), "tps_ratio")
	b.ReportMetric(median(wcpu), "writer_cpu_us/tx")
	b.ReportMetric(median(pcpu), "pgbench_cpu_us/tx")
}

// loadAvg is the machine's 1-minute load average, to tell a noisy run.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

type runResult struct {
	tps        float64
	cpuPerTxUs float64       // client CPU time (user+system) per transaction
	connect    time.Duration // writer: until every writer was connected
}

// runWriter runs the harness's writer unthrottled for d. Like pgbench's
// "tps (without initial connection time)", its TPS counts from the moment
// every writer is connected; acks after d are not counted, as pgbench
// counts only transactions done within -T.
func runWriter(ctx context.Context, dsn string, firstID int64, d time.Duration) (runResult, error) {
	led := workload.NewLedger(firstID)
	live := &workload.Live{}
	start := time.Now()
	connected := make(chan time.Duration, 1)
	go func() {
		for live.Writers.Load() < clients && time.Since(start) < d {
			time.Sleep(time.Millisecond)
		}
		connected <- time.Since(start)
	}()
	cpu0 := selfCPU()
	_, err := workload.Run(ctx, workload.Config{
		DSN:      dsn,
		Writers:  clients,
		Rate:     func(time.Duration) float64 { return 0 },
		Seed:     1,
		Ledger:   led,
		Start:    start,
		Duration: d,
		Grace:    100 * time.Millisecond,
	}, live)
	cpu := selfCPU() - cpu0
	if err != nil {
		return runResult{}, err
	}
	conn := <-connected
	if conn >= d {
		return runResult{}, fmt.Errorf("not all %d writers connected within %v", clients, d)
	}
	var after, total int64
	for _, e := range led.Snapshot() {
		if e.Outcome == workload.Acked {
			total++ // all the work the CPU time paid for
		}
		if e.At >= d {
			continue
		}
		switch e.Outcome {
		case workload.Acked:
			if e.At >= conn {
				after++
			}
		case workload.Failed, workload.Unknown:
			return runResult{}, fmt.Errorf("a write %s within the measured %v", e.Outcome, d)
		}
	}
	return runResult{
		tps:        float64(after) / (d - conn).Seconds(),
		cpuPerTxUs: float64(cpu.Microseconds()) / float64(total),
		connect:    conn,
	}, nil
}

// selfCPU is the CPU time (user+system) this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var xactsRE = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)

// runPgbench runs pgbench against the primary of dsn for d and returns the
// TPS it reports. The password goes in the environment only.
func runPgbench(ctx context.Context, pgbench, dsn, script string, base int64, d time.Duration) (runResult, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return runResult{}, fmt.Errorf("connection string: %s", cluster.Redact(err.Error()))
	}
	args := []string{
		"-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(int(d / time.Second)),
		"-M", "prepared", "-f", script, "-D", "n=0", "-D", "base=" + strconv.FormatInt(base, 10),
		"-h", cfg.Host, "-p", strconv.Itoa(int(cfg.Port)), "-U", cfg.User, cfg.Database,
	}
	cmd := exec.CommandContext(ctx, pgbench, args...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "LC_ALL=C", "PGPASSWORD=" + cfg.Password,
		"PGSSLMODE=disable", "PGAPPNAME=pgbench", "PGCONNECT_TIMEOUT=2",
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return runResult{}, fmt.Errorf("%v: %s", err, cluster.Redact(out.String()))
	}
	if bytes.Contains(out.Bytes(), []byte("aborted")) {
		return runResult{}, fmt.Errorf("clients aborted: %s", out.String())
	}
	m := tpsRE.FindSubmatch(out.Bytes())
	x := xactsRE.FindSubmatch(out.Bytes())
	if m == nil || x == nil {
		return runResult{}, fmt.Errorf("no tps in the output: %s", out.String())
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return runResult{}, err
	}
	n, err := strconv.ParseFloat(string(x[1]), 64)
	if err != nil || n == 0 {
		return runResult{}, fmt.Errorf("no transactions: %s", out.String())
	}
	ps := cmd.ProcessState
	cpu := ps.UserTime() + ps.SystemTime()
	return runResult{tps: tps, cpuPerTxUs: float64(cpu.Microseconds()) / n}, nil
}
