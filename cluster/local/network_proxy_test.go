package local

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

func echoServer(t *testing.T) (port int, got chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got = make(chan []byte, 100)
	conns := make(chan net.Conn, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						got <- append([]byte(nil), buf[:n]...)
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(conns)
		for c := range conns {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port, got
}

func readFull(t *testing.T, c net.Conn, n int, within time.Duration) ([]byte, error) {
	t.Helper()
	buf := make([]byte, n)
	_ = c.SetReadDeadline(time.Now().Add(within))
	_, err := io.ReadFull(c, buf)
	return buf, err
}

func receivedWithin(ch chan []byte, d time.Duration) ([]byte, bool) {
	select {
	case b := <-ch:
		return b, true
	case <-time.After(d):
		return nil, false
	}
}

// TestNetworkProxyToxics checks the proxies against an echo server: the
// directions, that a blackhole holds data without loss or disconnection
// and lets it through once removed, the name rules, and that stopping
// leaves no listener and no goroutine behind, even with a blackhole on.
func TestNetworkProxyToxics(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	port, got := echoServer(t)
	nodes := []*node{{name: "primary", port: port}, {name: "replica1", port: port}}
	nw, err := newNetwork(nodes, []string{"writers"})
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{nodes: nodes, net: nw}
	defer nw.Stop()

	wantLinks := "[[primary replica1] [replica1 primary] [writers primary] [writers replica1]]"
	if got := fmtLinks(c.Links()); got != wantLinks {
		t.Fatalf("links = %s, want %s", got, wantLinks)
	}
	if _, err := newNetwork(nodes, []string{"primary"}); err == nil {
		t.Error("a client group named like a node was accepted")
	}

	lport, ok := nw.Port("writers", "primary")
	if !ok {
		t.Fatal("no link writers -> primary")
	}
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(lport))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip := func(msg string) {
		t.Helper()
		if _, err := conn.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		b, err := readFull(t, conn, len(msg), 2*time.Second)
		if err != nil || string(b) != msg {
			t.Fatalf("echo of %q = %q, %v", msg, b, err)
		}
		if b, ok := receivedWithin(got, time.Second); !ok || string(b) != msg {
			t.Fatalf("server got %q, %v", b, ok)
		}
	}
	roundTrip("hello")

	t.Run("upstream blackhole holds the data from the connecting side", func(t *testing.T) {
		bh := cluster.Toxic{Name: "bh", Kind: cluster.ToxicBlackhole, Direction: cluster.Upstream}
		if err := c.AddToxic(ctx, "writers", "primary", bh); err != nil {
			t.Fatal(err)
		}
		if err := c.AddToxic(ctx, "writers", "primary", bh); err == nil || !strings.Contains(err.Error(), "already there") {
			t.Fatalf("second toxic named bh: err = %v", err)
		}
		if _, err := conn.Write([]byte("held")); err != nil {
			t.Fatal(err)
		}
		if b, ok := receivedWithin(got, 300*time.Millisecond); ok {
			t.Fatalf("server got %q through an upstream blackhole", b)
		}
		start := time.Now()
		if err := c.RemoveToxic(ctx, "writers", "primary", "bh"); err != nil {
			t.Fatal(err)
		}
		t.Logf("remove took %v", time.Since(start))
		if b, ok := receivedWithin(got, time.Second); !ok || string(b) != "held" {
			t.Fatalf("after removal the server got %q, %v; want the held data", b, ok)
		}
		if b, err := readFull(t, conn, 4, 2*time.Second); err != nil || string(b) != "held" {
			t.Fatalf("after removal the echo is %q, %v", b, err)
		}
		if err := c.RemoveToxic(ctx, "writers", "primary", "bh"); err == nil || !strings.Contains(err.Error(), "no toxic named") {
			t.Fatalf("removing bh twice: err = %v", err)
		}
	})

	t.Run("downstream blackhole holds the answers", func(t *testing.T) {
		bh := cluster.Toxic{Name: "bh-down", Kind: cluster.ToxicBlackhole, Direction: cluster.Downstream}
		if err := c.AddToxic(ctx, "writers", "primary", bh); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if b, ok := receivedWithin(got, time.Second); !ok || string(b) != "ping" {
			t.Fatalf("server got %q, %v; a downstream blackhole must let queries in", b, ok)
		}
		if b, err := readFull(t, conn, 4, 300*time.Millisecond); err == nil {
			t.Fatalf("echo %q came through a downstream blackhole", b)
		}
		if err := c.RemoveToxic(ctx, "writers", "primary", "bh-down"); err != nil {
			t.Fatal(err)
		}
		if b, err := readFull(t, conn, 4, 2*time.Second); err != nil || string(b) != "ping" {
			t.Fatalf("after removal the echo is %q, %v", b, err)
		}
		roundTrip("again")
	})

	t.Run("latency then blackhole compose", func(t *testing.T) {
		lat := cluster.Toxic{Name: "lat", Kind: cluster.ToxicLatency, Direction: cluster.Downstream, Latency: 50 * time.Millisecond}
		if err := c.AddToxic(ctx, "writers", "primary", lat); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		roundTrip("slow")
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("round trip with 50ms latency took %v", d)
		}
		bh := cluster.Toxic{Name: "bh", Kind: cluster.ToxicBlackhole, Direction: cluster.Downstream}
		if err := c.AddToxic(ctx, "writers", "primary", bh); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := readFull(t, conn, 1, 300*time.Millisecond); err == nil {
			t.Fatal("echo came through latency + blackhole")
		}
		<-got
		if err := c.RemoveToxic(ctx, "writers", "primary", "bh"); err != nil {
			t.Fatal(err)
		}
		if b, err := readFull(t, conn, 1, 2*time.Second); err != nil || string(b) != "x" {
			t.Fatalf("after removal the echo is %q, %v", b, err)
		}
		if err := c.RemoveToxic(ctx, "writers", "primary", "lat"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		bh := cluster.Toxic{Name: "x", Kind: cluster.ToxicBlackhole, Direction: cluster.Upstream}
		if err := c.AddToxic(ctx, "writers", "nowhere", bh); err == nil || !strings.Contains(err.Error(), "no link") {
			t.Errorf("unknown link: err = %v", err)
		}
		if err := c.AddToxic(ctx, "primary", "primary", bh); err == nil {
			t.Error("a link from a node to itself was accepted")
		}
		none := &Cluster{}
		if err := none.AddToxic(ctx, "primary", "replica1", bh); !errors.Is(err, ErrNoNetwork) {
			t.Errorf("cluster without network: err = %v, want ErrNoNetwork", err)
		}
		if err := none.RemoveToxic(ctx, "primary", "replica1", "x"); !errors.Is(err, ErrNoNetwork) {
			t.Errorf("cluster without network: err = %v, want ErrNoNetwork", err)
		}
		if got := none.Links(); got != nil {
			t.Errorf("cluster without network: links %v", got)
		}
		if got := none.ClientConnString("writers", "primary", cluster.App); got != "" {
			t.Errorf("cluster without network: client conn string %q", got)
		}
	})

	// Stop with a connection held by a blackhole in each direction.
	for _, dir := range []string{cluster.Upstream, cluster.Downstream} {
		if err := c.AddToxic(ctx, "writers", "primary", cluster.Toxic{Name: "bh-" + dir, Kind: cluster.ToxicBlackhole, Direction: dir}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Write([]byte("lost")); err != nil {
		t.Fatal(err)
	}
	held, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(lport))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := held.Write([]byte("lost too")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	nw.Stop()
	t.Logf("stop took %v", time.Since(start))
	if b, err := readFull(t, conn, 1, 2*time.Second); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Errorf("a held connection is still open after stop: %q, %v", b, err)
	}
	for _, l := range nw.Links() {
		p, _ := nw.Port(l[0], l[1])
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(p), time.Second); err == nil {
			c.Close()
			t.Errorf("proxy %s->%s still listens on %d after stop", l[0], l[1], p)
		}
	}
	conn.Close()
	held.Close()
	waitGoroutines(t, before, 2)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func fmtLinks(links [][2]string) string {
	parts := make([]string, len(links))
	for i, l := range links {
		parts[i] = "[" + l[0] + " " + l[1] + "]"
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// waitGoroutines waits up to 3 s for the goroutine count to come back to
// at most before + slack.
func waitGoroutines(t *testing.T, before, slack int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before+slack {
			t.Logf("goroutines: %d before, %d after", before, n)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d before, %d after stop\n%s", before, n, buf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkNetworkProxyThroughput pushes data one way to a sink, straight
// and through a proxy with no toxic, and reports the CPU time this process
// spends per MB (the proxy runs in it).
func BenchmarkNetworkProxyThroughput(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	nodes := []*node{{name: "primary", port: port}}
	nw, err := newNetwork(nodes, []string{"writers"})
	if err != nil {
		b.Fatal(err)
	}
	defer nw.Stop()
	lport, _ := nw.Port("writers", "primary")
	chunk := make([]byte, 32<<10)
	for _, bc := range []struct {
		name string
		port int
	}{{"direct", port}, {"proxy", lport}} {
		b.Run(bc.name, func(b *testing.B) {
			conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(bc.port))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			b.SetBytes(int64(len(chunk)))
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := conn.Write(chunk); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			mb := float64(b.N) * float64(len(chunk)) / (1 << 20)
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/mb, "cpu-µs/MB")
		})
	}
}

// cpuTime is the user + system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
