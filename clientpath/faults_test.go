package clientpath

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// writes waits up to 5s for a write through dsn to succeed, taken by
// the primary.
func writes(t *testing.T, dsn, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		node, err := write(context.Background(), dsn)
		if err == nil && node == "primary" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no write through the path: %q %v", what, node, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fails checks that a write through dsn fails: refused, or, through a
// PgBouncer whose HAProxy is dead, after the write's timeout (PgBouncer
// holds the first client for a server connection).
func fails(t *testing.T, dsn, what string) {
	t.Helper()
	start := time.Now()
	node, err := write(context.Background(), dsn)
	if err == nil {
		t.Fatalf("%s: a write through the path taken by %s, want an error", what, node)
	}
	t.Logf("%s: write failed after %v: %v", what, time.Since(start).Round(time.Millisecond), err)
}

// hangs checks that a connection attempt through dsn gets no answer
// within d: the process behind the port is frozen.
func hangs(t *testing.T, dsn, what string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	conn, err := pgx.Connect(ctx, dsn)
	took := time.Since(start)
	if err == nil {
		conn.Close(context.Background())
		t.Fatalf("%s: connected after %v, want a hang", what, took)
	}
	if took < d*9/10 {
		t.Fatalf("%s: connection failed after %v (%v), want a hang of %v", what, took, err, d)
	}
}

func (f *fixture) multiHostDSN(p *Path) string {
	return cluster.MultiHost(p.Nodes()) + fmt.Sprintf(" user=%s password=%s dbname=postgres sslmode=disable connect_timeout=2 target_session_attrs=read-write default_query_exec_mode=exec",
		cluster.AppRole, f.appPW)
}

// killStart kills name, checks the path's writes fail and Landed, starts
// it again and checks the writes come back on the same addresses.
func killStart(t *testing.T, p *Path, name, dsn string) {
	t.Helper()
	ctx := context.Background()
	before := p.pids()
	wh, wp := p.WriteAddr()
	nodes := p.Nodes()
	if _, ok := p.Landed(name); ok {
		t.Errorf("Landed(%s) before any kill", name)
	}
	sent := time.Now()
	if err := p.Kill(ctx, name); err != nil {
		t.Fatal(err)
	}
	landed, ok := p.Landed(name)
	if !ok || landed.Before(sent) || landed.After(time.Now()) {
		t.Errorf("Landed(%s) = %v %v, want between the kill's call (%v) and its return", name, landed, ok, sent)
	}
	t.Logf("kill %s landed %v after the call", name, landed.Sub(sent).Round(time.Microsecond))
	fails(t, dsn, "killed "+name)
	if err := p.Kill(ctx, name); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("second kill of %s: %v, want not running", name, err)
	}
	if err := p.Pause(ctx, name); err == nil {
		t.Errorf("pause of a killed %s succeeded", name)
	}
	started := time.Now()
	if err := p.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s started again in %v", name, time.Since(started).Round(time.Millisecond))
	if h, port := p.WriteAddr(); h != wh || port != wp {
		t.Errorf("WriteAddr after the restart %s:%d, want %s:%d", h, port, wh, wp)
	}
	if got := p.Nodes(); !slices.Equal(got, nodes) {
		t.Errorf("Nodes after the restart %v, want %v", got, nodes)
	}
	writes(t, dsn, "restarted "+name)
	if after := p.pids(); len(after) <= len(before) {
		t.Errorf("pids after the restart %v, before %v: want the new processes added", after, before)
	}
	if err := p.Start(ctx, name); err != nil {
		t.Errorf("Start of a running %s: %v, want nothing done", name, err)
	}
}

// pauseResume pauses name, checks a connection hangs, resumes it and
// checks writes work.
func pauseResume(t *testing.T, p *Path, name, dsn string) {
	t.Helper()
	ctx := context.Background()
	if err := p.Pause(ctx, name); err != nil {
		t.Fatal(err)
	}
	hangs(t, dsn, "paused "+name, 700*time.Millisecond)
	if err := p.Resume(ctx, name); err != nil {
		t.Fatal(err)
	}
	writes(t, dsn, "resumed "+name)
}

// stopStart stops name (SIGTERM), checks writes fail, starts it again.
func stopStart(t *testing.T, p *Path, name, dsn string) {
	t.Helper()
	ctx := context.Background()
	if err := p.Stop(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	fails(t, dsn, "stopped "+name)
	if err := p.Start(ctx, name); err != nil {
		t.Fatal(err)
	}
	writes(t, dsn, "restarted "+name)
}

// TestServiceFaults kills, stops, pauses and starts again HAProxy and
// PgBouncer on each kind of path: the writes through the path fail (or
// hang, paused) and come back on the same addresses; HAProxy's Watch
// carries on across; Close leaves nothing, restarted processes included
// (fixture.start checks).
func TestServiceFaults(t *testing.T) {
	f := newFixture(t, "svcf")
	ctx := context.Background()

	t.Run("haproxy", func(t *testing.T) {
		p := f.start(t, Config{Kind: HAProxy})
		if got := p.Services(); !slices.Equal(got, []string{HAProxy}) {
			t.Errorf("Services = %v", got)
		}
		if err := p.Kill(ctx, PgBouncer); err == nil || !strings.Contains(err.Error(), "no such process") {
			t.Errorf("kill of pgbouncer on an HAProxy path: %v", err)
		}
		wh, wp := p.WriteAddr()
		dsn := f.dsn(wh, wp, "")
		writes(t, dsn, "before")
		wctx, stopWatch := context.WithCancel(ctx)
		watchErr := make(chan error, 1)
		go func() { watchErr <- p.Watch(wctx, 20*time.Millisecond, func(Event) {}) }()

		killStart(t, p, HAProxy, dsn)
		stopStart(t, p, HAProxy, dsn)
		pauseResume(t, p, HAProxy, dsn)
		checkServers(t, p, map[string]string{
			"write/primary": Up, "write/replica1": Down, "read/primary": Down, "read/replica1": Up,
		})
		stopWatch()
		if err := <-watchErr; err != nil {
			t.Errorf("Watch across the faults: %v", err)
		}

		// A port taken while HAProxy is down: a clear error, and nothing
		// started; once free, HAProxy comes back there.
		if err := p.Kill(ctx, HAProxy); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", net.JoinHostPort(wh, strconv.Itoa(wp)))
		if err != nil {
			t.Fatal(err)
		}
		err = p.Start(ctx, HAProxy)
		l.Close()
		if err == nil || !strings.Contains(err.Error(), "taken meanwhile") || !strings.Contains(err.Error(), strconv.Itoa(wp)) {
			t.Errorf("Start with the write port taken: %v, want it named as taken", err)
		} else {
			t.Logf("Start with the write port taken: %v", err)
		}
		if err := p.Start(ctx, HAProxy); err != nil {
			t.Fatal(err)
		}
		writes(t, dsn, "port free again")
	})

	t.Run("pgbouncer-haproxy", func(t *testing.T) {
		p := f.start(t, Config{Kind: PgBouncer, InFrontOf: FrontHAProxy})
		if got := p.Services(); !slices.Equal(got, []string{HAProxy, PgBouncer}) {
			t.Errorf("Services = %v", got)
		}
		wh, wp := p.WriteAddr()
		dsn := f.dsn(wh, wp, "default_query_exec_mode=exec")
		writes(t, dsn, "before")
		killStart(t, p, PgBouncer, dsn)
		pauseResume(t, p, PgBouncer, dsn)
		stopStart(t, p, PgBouncer, dsn)
		// HAProxy behind PgBouncer: PgBouncer cannot reach a server.
		killStart(t, p, HAProxy, dsn)
	})

	t.Run("pgbouncer-nodes", func(t *testing.T) {
		p := f.start(t, Config{Kind: PgBouncer, InFrontOf: FrontNodes})
		if got := p.Services(); !slices.Equal(got, []string{PgBouncer}) {
			t.Errorf("Services = %v", got)
		}
		if err := p.Kill(ctx, HAProxy); err == nil {
			t.Errorf("kill of haproxy on a path without one succeeded")
		}
		dsn := f.multiHostDSN(p)
		writes(t, dsn, "before")
		killStart(t, p, PgBouncer, dsn)
		pauseResume(t, p, PgBouncer, dsn)
		// A per-node PgBouncer taken by hand: the errors name it.
		p.mu.Lock()
		pr := p.bouncers[1].cur()
		p.mu.Unlock()
		_ = pr.stop(time.Second)
		if err := p.Kill(ctx, PgBouncer); err == nil || !strings.Contains(err.Error(), "pgbouncer-replica1 not running") {
			t.Errorf("kill with pgbouncer-replica1 down: %v, want it named", err)
		}
		if err := p.Start(ctx, PgBouncer); err != nil {
			t.Fatal(err)
		}
		if err := p.Stop(ctx, PgBouncer, true); err != nil {
			t.Fatal(err)
		}
		fails(t, dsn, "stopped pgbouncers")
		if err := p.Start(ctx, PgBouncer); err != nil {
			t.Fatal(err)
		}
		writes(t, dsn, "restarted pgbouncers")
	})
}

// TestCloseAfterFaults: Close stops a paused HAProxy and PgBouncer, and a
// restarted one, at once (SIGCONT, then SIGTERM: no SIGKILL needed), and
// no process is left; a fault after Close is refused.
func TestCloseAfterFaults(t *testing.T) {
	f := newFixture(t, "svcc")
	ctx := context.Background()
	cfg := Config{Kind: PgBouncer, InFrontOf: FrontHAProxy, Nodes: f.c.Nodes(), Check: f.agent.URL,
		Inter: testInter, Fall: testFall, Rise: testRise, User: cluster.AppRole, Password: f.appPW, LogDir: f.logs}
	p, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Kill(ctx, HAProxy); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(ctx, HAProxy); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{PgBouncer, HAProxy} {
		if err := p.Pause(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	pids, dir := p.pids(), p.dir
	if len(pids) != 3 {
		t.Errorf("pids %v: want HAProxy twice and PgBouncer", pids)
	}
	start := time.Now()
	if err := p.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("Close of paused processes took %v: SIGKILL after the grace rather than SIGTERM", took)
	}
	checkGone(t, pids, dir)
	if left := ourProxies(); len(left) > 0 {
		t.Errorf("proxies left running: %v", left)
	}
	for _, op := range []func() error{
		func() error { return p.Resume(ctx, HAProxy) },
		func() error { return p.Start(ctx, PgBouncer) },
	} {
		if err := op(); !errors.Is(err, errClosed) {
			t.Errorf("a fault after Close: %v, want errClosed", err)
		}
	}
}
