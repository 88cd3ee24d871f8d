// Package linknet runs the per-link TCP proxies that link faults act on:
// one toxiproxy proxy per link (from, to), listening on its own 127.0.0.1
// port and forwarding to the port of to. Whoever connects through a link's
// proxy is its from side, so toxiproxy's "upstream" stream (client to
// server) is cluster.Upstream and "downstream" cluster.Downstream. The
// local backend puts every link between nodes and from each client group
// through one; the Patroni backend the links from nodes to etcd members.
package linknet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Link is one link to proxy: connections from From to To, whose real
// port on 127.0.0.1 is Port.
type Link struct {
	From, To string
	Port     int
}

// Network is a set of running link proxies. Methods are safe for
// concurrent use.
type Network struct {
	server *toxiproxy.ApiServer

	mu      sync.Mutex
	links   []*netLink // in the order New was given them
	byPair  map[[2]string]*netLink
	stopped bool
}

// netLink is one link and its proxy.
type netLink struct {
	from, to string
	port     int // where the proxy listens
	proxy    *toxiproxy.Proxy
	holds    map[string]*holdToxic // blackholes on the link, by toxic name
}

// New starts a proxy for every link. On error nothing is left listening.
func New(links []Link) (*Network, error) {
	registerHold()
	nw := &Network{
		server: toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		byPair: map[[2]string]*netLink{},
	}
	for _, ln := range links {
		key := [2]string{ln.From, ln.To}
		switch {
		case ln.From == "" || ln.To == "":
			nw.Stop()
			return nil, fmt.Errorf("network: link %q -> %q: empty name", ln.From, ln.To)
		case ln.From == ln.To:
			nw.Stop()
			return nil, fmt.Errorf("network: link from %q to itself", ln.From)
		case nw.byPair[key] != nil:
			nw.Stop()
			return nil, fmt.Errorf("network: link %s -> %s given twice", ln.From, ln.To)
		}
		l, err := nw.startLink(ln)
		if err != nil {
			nw.Stop()
			return nil, err
		}
		nw.links = append(nw.links, l)
		nw.byPair[key] = l
	}
	return nw, nil
}

func (nw *Network) startLink(ln Link) (*netLink, error) {
	name := ln.From + "->" + ln.To
	p := toxiproxy.NewProxy(nw.server, name, "127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(ln.Port))
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("network: proxy %s: %w", name, err)
	}
	// Start has replaced port 0 with the one the kernel chose.
	_, port, err := net.SplitHostPort(p.Listen)
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("network: proxy %s listens on %q: %w", name, p.Listen, err)
	}
	l := &netLink{from: ln.From, to: ln.To, proxy: p, holds: map[string]*holdToxic{}}
	l.port, _ = strconv.Atoi(port)
	return l, nil
}

// Stop releases every blackhole, then stops every proxy: listeners closed,
// every proxied connection closed. It is safe to call more than once.
func (nw *Network) Stop() {
	nw.mu.Lock()
	if nw.stopped {
		nw.mu.Unlock()
		return
	}
	nw.stopped = true
	links := nw.links
	nw.mu.Unlock()
	for _, l := range links {
		nw.mu.Lock()
		for _, h := range l.holds {
			h.releaseAll()
		}
		nw.mu.Unlock()
		l.proxy.Stop()
	}
}

func (nw *Network) link(from, to string) (*netLink, error) {
	l := nw.byPair[[2]string{from, to}]
	if l == nil {
		return nil, fmt.Errorf("no link from %q to %q", from, to)
	}
	return l, nil
}

// Port is where the proxy of the link from -> to listens on 127.0.0.1;
// false when there is no such link.
func (nw *Network) Port(from, to string) (int, bool) {
	l := nw.byPair[[2]string{from, to}]
	if l == nil {
		return 0, false
	}
	return l.port, true
}

// Links lists every link, (from, to), in the order New was given them.
func (nw *Network) Links() [][2]string {
	out := make([][2]string, len(nw.links))
	for i, l := range nw.links {
		out[i] = [2]string{l.from, l.to}
	}
	return out
}

// AddToxic puts t on the link from -> to, behind the toxics already there
// in its direction. A blackhole stops the data without dropping it: the
// sender's writes block once the socket buffers are full, connections stay
// open, and the data flows on once the blackhole is removed.
//
// If ctx ends first AddToxic returns ctx's error; the proxy may still add
// the toxic once its connections let it (a toxic change waits for data in
// flight, which a paused node does not take).
func (nw *Network) AddToxic(ctx context.Context, from, to string, t cluster.Toxic) error {
	l, err := nw.link(from, to)
	if err != nil {
		return fmt.Errorf("add toxic %q: %w", t.Name, err)
	}
	body, err := toxicJSON(t)
	if err != nil {
		return fmt.Errorf("add toxic %q on %s->%s: %w", t.Name, from, to, err)
	}
	nw.mu.Lock()
	stopped := nw.stopped
	nw.mu.Unlock()
	if stopped {
		return fmt.Errorf("add toxic %q on %s->%s: the cluster is down", t.Name, from, to)
	}
	err = within(ctx, func() error {
		w, err := l.proxy.Toxics.AddToxicJson(bytes.NewReader(body))
		if err != nil {
			return err
		}
		if h, ok := w.Toxic.(*holdToxic); ok {
			nw.mu.Lock()
			l.holds[t.Name] = h
			if nw.stopped {
				h.releaseAll()
			}
			nw.mu.Unlock()
		}
		return nil
	})
	if errors.Is(err, toxiproxy.ErrToxicAlreadyExists) {
		return fmt.Errorf("add toxic on %s->%s: a toxic named %q is already there", from, to, t.Name)
	}
	if err != nil {
		return fmt.Errorf("add toxic %q on %s->%s: %w", t.Name, from, to, err)
	}
	return nil
}

// RemoveToxic takes the toxic named name off the link from -> to. Data a
// blackhole held back flows on. Like AddToxic it returns when ctx ends,
// the removal then going on in the background.
func (nw *Network) RemoveToxic(ctx context.Context, from, to, name string) error {
	l, err := nw.link(from, to)
	if err != nil {
		return fmt.Errorf("remove toxic %q: %w", name, err)
	}
	err = within(ctx, func() error {
		if err := l.proxy.Toxics.RemoveToxic(ctx, name); err != nil {
			return err
		}
		nw.mu.Lock()
		delete(l.holds, name)
		nw.mu.Unlock()
		return nil
	})
	if errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("remove toxic on %s->%s: no toxic named %q", from, to, name)
	}
	if err != nil {
		return fmt.Errorf("remove toxic %q on %s->%s: %w", name, from, to, err)
	}
	return nil
}

// within runs f and returns its error, or ctx's if ctx ends first (f then
// runs on to its end in the background).
func within(ctx context.Context, f func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// toxicSpec is a toxic as toxiproxy's ToxicCollection.AddToxicJson reads it.
type toxicSpec struct {
	Name       string           `json:"name"`
	Type       string           `json:"type"`
	Stream     string           `json:"stream"`
	Toxicity   float32          `json:"toxicity"`
	Attributes map[string]int64 `json:"attributes"`
}

// toxicJSON maps t onto a toxiproxy toxic: blackhole onto holdToxic,
// latency onto latency (ms), bandwidth onto bandwidth (KB/s), reset onto
// reset_peer with no delay.
func toxicJSON(t cluster.Toxic) ([]byte, error) {
	if t.Name == "" {
		return nil, errors.New("a toxic needs a name")
	}
	if t.Direction != cluster.Upstream && t.Direction != cluster.Downstream {
		return nil, fmt.Errorf("direction %q: want %q or %q", t.Direction, cluster.Upstream, cluster.Downstream)
	}
	s := toxicSpec{Name: t.Name, Stream: t.Direction, Toxicity: 1, Attributes: map[string]int64{}}
	switch t.Kind {
	case cluster.ToxicBlackhole:
		s.Type = holdToxicType
	case cluster.ToxicLatency:
		if t.Latency < 0 || t.Jitter < 0 {
			return nil, fmt.Errorf("latency %v ± %v: negative", t.Latency, t.Jitter)
		}
		if t.Latency%time.Millisecond != 0 || t.Jitter%time.Millisecond != 0 {
			return nil, fmt.Errorf("latency %v ± %v: whole milliseconds only", t.Latency, t.Jitter)
		}
		s.Type = "latency"
		s.Attributes["latency"] = t.Latency.Milliseconds()
		s.Attributes["jitter"] = t.Jitter.Milliseconds()
	case cluster.ToxicBandwidth:
		if t.RateKBps <= 0 {
			return nil, fmt.Errorf("bandwidth %d KB/s: want more than 0", t.RateKBps)
		}
		s.Type = "bandwidth"
		s.Attributes["rate"] = t.RateKBps
	case cluster.ToxicReset:
		s.Type = "reset_peer"
		s.Attributes["timeout"] = 0
	default:
		return nil, fmt.Errorf("kind %q: want %s, %s, %s or %s", t.Kind,
			cluster.ToxicBlackhole, cluster.ToxicLatency, cluster.ToxicBandwidth, cluster.ToxicReset)
	}
	return json.Marshal(s)
}

// holdToxicType is the toxiproxy type name of holdToxic.
const holdToxicType = "pgbench_ha_blackhole"

var holdOnce sync.Once

// registerHold makes holdToxic known to toxiproxy (its toxic types live in
// a process-wide table).
func registerHold() {
	holdOnce.Do(func() { toxics.Register(holdToxicType, new(holdToxic)) })
}

// holdToxic is the blackhole. Toxiproxy's own, timeout with timeout 0,
// drops the bytes (a TCP stream with a hole in it cannot go on) and closes
// every connection when it is removed, so a healed partition would still
// cut every connection across it. holdToxic instead stops taking data:
// the proxy stops reading the sender's socket, the sender's writes block
// once the buffers are full, as behind a real partition where TCP keeps
// retransmitting, and when the toxic is removed the held data goes on.
//
// Once released (the network is stopping) it drops data until the link
// closes, so no goroutine stays blocked behind it.
type holdToxic struct {
	mu      sync.Mutex
	release chan struct{}
	done    bool
}

func (h *holdToxic) released() chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.release == nil {
		h.release = make(chan struct{})
	}
	return h.release
}

// releaseAll releases every connection the toxic holds, now and later.
func (h *holdToxic) releaseAll() {
	ch := h.released()
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.done {
		h.done = true
		close(ch)
	}
}

// Pipe implements toxics.Toxic.
func (h *holdToxic) Pipe(stub *toxics.ToxicStub) {
	select {
	case <-stub.Interrupt:
		return
	case <-h.released():
	}
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
		}
	}
}
