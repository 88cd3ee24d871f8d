package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/probe"
	"github.com/pgbench-ha/pgbench-ha/workload"
)

const (
	probePairs = 16                     // measured with/without pairs
	probePhase = 3 * time.Second        // each measured run
	probeLead  = 300 * time.Millisecond // probes running before the writers start
	settle     = 200 * time.Millisecond // before a CPU count
)

// probeConfig is the probes as the flagship scenario runs them.
func probeConfig(start time.Time) probe.Config {
	return probe.Config{Start: start, LagInterval: 100 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond}
}

// BenchmarkProbeOverhead measures what the probes cost the workload: the
// writer's closed-loop TPS (8 connections, no rate limit, as in
// BenchmarkWriterVsPgbench) with the probes running (pg_stat_replication
// every 100 ms, a heartbeat every 50 ms, a visibility poller on each
// replica and on the primary) against without them, on the same cluster,
// in pairs run back to back (with first in odd pairs, without first in
// even ones) so that drift and other load weigh on both alike. The probes
// start a little before the writers, as in a run, where they start with
// them but connect once for the whole run. It reports the median of the
// pairs' overheads, 1 - with/without, in percent, and the heartbeats'
// median visibility on the replicas during the runs with probes.
func BenchmarkProbeOverhead(b *testing.B) {
	be, dir := newBackend(b)
	c := mustUp(b, be, dir, spec3("probe", b.TempDir()))
	ctx := context.Background()
	dsn := c.ConnString("primary", cluster.App)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(cluster.Redact(err.Error()))
	}
	if _, err := workload.Prepare(ctx, conn, 1, 0); err != nil {
		b.Fatal(err)
	}
	roles := cluster.NewRoles("primary", []string{"replica1", "replica2"})
	if err := probe.New(c, roles, probeConfig(time.Now())).Init(ctx); err != nil {
		b.Fatal(err)
	}

	conn.Close(ctx)
	admin, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
	if err != nil {
		b.Fatal(cluster.Redact(err.Error()))
	}
	defer admin.Close(ctx)
	run := 0
	var vis, qps, pps []float64
	states := map[string]int{}
	writer := func(probes bool) runResult {
		run++
		var s *probe.Sampler
		var wg sync.WaitGroup
		pctx, stop := context.WithCancel(ctx)
		if probes {
			// Heartbeat ids start at 1 with every sampler.
			if _, err := admin.Exec(ctx, "TRUNCATE pgbench_ha_heartbeat"); err != nil {
				b.Fatal(err)
			}
			s = probe.New(c, roles, probeConfig(time.Now()))
			wg.Add(1)
			go func() { defer wg.Done(); s.Run(pctx) }()
			time.Sleep(probeLead)
		}
		time.Sleep(settle)
		cpu0 := selfCPU() + clusterCPU(dir)
		r, err := runWriter(ctx, dsn, int64(run)*idsApart, probePhase)
		stop()
		wg.Wait()
		if err != nil {
			b.Fatalf("writer: %v", err)
		}
		// The backends of the closed connections exit and are reaped
		// (their CPU moving to the postmaster's) before the count.
		time.Sleep(settle)
		// CPU of the harness and the servers over the run, per write
		// acknowledged in the measured window (the same window both ways).
		writes := r.tps * (probePhase - r.connect).Seconds()
		r.cpuPerTxUs = float64((selfCPU() + clusterCPU(dir) - cpu0).Microseconds()) / writes
		if s != nil {
			all, polls := s.Queries()
			secs := probePhase.Seconds() + probeLead.Seconds()
			qps, pps = append(qps, float64(all)/secs), append(pps, float64(polls)/secs)
			_, pts := s.Series()
			for _, p := range pts {
				states[p.State]++
				if p.VisibilityMs != nil {
					vis = append(vis, *p.VisibilityMs)
				}
			}
		}
		return r
	}

	b.ResetTimer()
	w0, p0 := writer(false), writer(true)
	b.Logf("warm-up %v each: without %.0f tps, with probes %.0f tps", probePhase, w0.tps, p0.tps)
	b.Logf("warm-up heartbeats by state: %v", states)
	vis, states = nil, map[string]int{}
	b.Logf("pair  without_tps  with_tps  overhead_%%  cpu_us/write_without  cpu_us/write_with  cpu_overhead_%%  load")
	var without, with, overheads, cpuOverheads []float64
	for i := 0; i < probePairs; i++ {
		var wo, wi runResult
		if i%2 == 0 {
			wi = writer(true)
			wo = writer(false)
		} else {
			wo = writer(false)
			wi = writer(true)
		}
		o := (1 - wi.tps/wo.tps) * 100
		co := (1 - wo.cpuPerTxUs/wi.cpuPerTxUs) * 100
		without, with, overheads = append(without, wo.tps), append(with, wi.tps), append(overheads, o)
		cpuOverheads = append(cpuOverheads, co)
		b.Logf("%4d  %11.0f  %8.0f  %10.2f  %20.0f  %17.0f  %14.2f  %s",
			i+1, wo.tps, wi.tps, o, wo.cpuPerTxUs, wi.cpuPerTxUs, co, loadAvg())
	}
	b.StopTimer()
	sorted := append([]float64(nil), overheads...)
	sort.Float64s(sorted)
	b.Logf("heartbeats by state (replica points): %v", states)
	b.Logf("pair overheads %%, sorted: %.2f", sorted)
	sort.Float64s(cpuOverheads)
	b.Logf("pair CPU overheads %%, sorted: %.2f", cpuOverheads)
	b.ReportMetric(median(without), "noprobe_tps")
	b.ReportMetric(median(with), "probe_tps")
	b.ReportMetric(median(overheads), "probe_overhead_%")
	b.ReportMetric(median(cpuOverheads), "probe_cpu_overhead_%")
	b.ReportMetric(median(vis), "visibility_p50_ms")
	b.ReportMetric(median(qps), "probe_queries/s")
	b.ReportMetric(median(pps), "probe_polls/s")
}

// clusterCPU is the CPU time (user+system) used so far by the servers whose
// data directory lies under dir: each postmaster, its children that have
// exited (which it reaped), and those alive. A postmaster leads its
// process group, as dsmFiles relies on.
func clusterCPU(dir string) time.Duration {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	groups := map[int]bool{}
	for _, p := range procs {
		raw, err := os.ReadFile(p + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-D" && strings.HasPrefix(args[i+1], dir+"/") {
				if pid, err := strconv.Atoi(filepath.Base(p)); err == nil {
					groups[pid] = true
				}
			}
		}
	}
	var ticks int64
	for _, p := range procs {
		stat, err := os.ReadFile(p + "/stat")
		if err != nil {
			continue
		}
		// After "(comm)": state ppid pgrp ... utime stime cutime cstime
		// are the 12th to 15th fields.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 15 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		if pgrp, err := strconv.Atoi(f[2]); err != nil || !groups[pgrp] {
			continue
		}
		last := 12
		if groups[pid] {
			last = 14 // the postmaster: its reaped children too
		}
		for _, v := range f[11 : last+1] {
			n, _ := strconv.ParseInt(v, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat times:
// 100 on every Linux architecture Go supports.
const clockTicks = 100
