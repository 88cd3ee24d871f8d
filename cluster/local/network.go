package local

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

// ErrNoNetwork means a link fault was asked of a cluster built without
// Spec.Network: its connections do not go through proxies.
var ErrNoNetwork = errors.New("cluster built without Network (set Spec.Network to fault links)")

var _ cluster.Networker = (*Cluster)(nil)

// network holds the proxies of a cluster built with Spec.Network: one per
// link, that is per ordered pair (from, to) where from is a node or a
// client group and to a node. Each listens on its own 127.0.0.1 port and
// forwards to the real port of to; whoever connects through it is the
// link's from side, so toxiproxy's "upstream" stream (client to server)
// is cluster.Upstream and "downstream" is cluster.Downstream.
type network struct {
	server *toxiproxy.ApiServer

	mu      sync.Mutex
	links   []*netLink // nodes to nodes first, then clients to nodes
	byPair  map[[2]string]*netLink
	clients map[string]bool
	stopped bool
}

// netLink is one link and its proxy.
type netLink struct {
	from, to string
	port     int // where the proxy listens
	proxy    *toxiproxy.Proxy
	holds    map[string]*holdToxic // blackholes on the link, by toxic name
}

// newNetwork starts a proxy for every link between nodes and from every
// client group to every node. On error nothing is left listening.
func newNetwork(nodes []*node, clients []string) (*network, error) {
	registerHold()
	nodeNames := map[string]bool{}
	for _, n := range nodes {
		nodeNames[n.name] = true
	}
	nw := &network{
		server:  toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()),
		byPair:  map[[2]string]*netLink{},
		clients: map[string]bool{},
	}
	for _, c := range clients {
		switch {
		case c == "":
			return nil, errors.New("network: empty client group name")
		case nodeNames[c]:
			return nil, fmt.Errorf("network: client group %q has the name of a node", c)
		case nw.clients[c]:
			return nil, fmt.Errorf("network: client group %q named twice", c)
		}
		nw.clients[c] = true
	}
	froms := make([]string, 0, len(nodes)+len(clients))
	for _, n := range nodes {
		froms = append(froms, n.name)
	}
	froms = append(froms, clients...)
	for _, from := range froms {
		for _, to := range nodes {
			if from == to.name {
				continue
			}
			l, err := nw.startLink(from, to)
			if err != nil {
				nw.stop()
				return nil, err
			}
			nw.links = append(nw.links, l)
			nw.byPair[[2]string{from, to.name}] = l
		}
	}
	return nw, nil
}

func (nw *network) startLink(from string, to *node) (*netLink, error) {
	name := from + "->" + to.name
	p := toxiproxy.NewProxy(nw.server, name, "127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(to.port))
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("network: proxy %s: %w", name, err)
	}
	// Start has replaced port 0 with the one the kernel chose.
	_, port, err := net.SplitHostPort(p.Listen)
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("network: proxy %s listens on %q: %w", name, p.Listen, err)
	}
	l := &netLink{from: from, to: to.name, proxy: p, holds: map[string]*holdToxic{}}
	l.port, _ = strconv.Atoi(port)
	return l, nil
}

// stop releases every blackhole, then stops every proxy: listeners closed,
// every proxied connection closed. It is safe to call more than once.
func (nw *network) stop() {
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

func (nw *network) link(from, to string) (*netLink, error) {
	if nw == nil {
		return nil, ErrNoNetwork
	}
	l := nw.byPair[[2]string{from, to}]
	if l == nil {
		return nil, fmt.Errorf("no link from %q to %q", from, to)
	}
	return l, nil
}

// linkPort is the port that from reaches to on: the link's proxy when the
// cluster has one, else to's own port.
func (c *Cluster) linkPort(from string, to *node) int {
	if l, err := c.net.link(from, to.name); err == nil {
		return l.port
	}
	return to.port
}

// ClientConnString is ConnString through the link from the client group
// client to node; "" if either is unknown or the cluster was built
// without Spec.Network.
func (c *Cluster) ClientConnString(client, node string, u cluster.User) string {
	if c.net == nil || !c.net.clients[client] {
		return ""
	}
	l, err := c.net.link(client, node)
	if err != nil {
		return ""
	}
	return c.pw.ConnString("127.0.0.1", l.port, u)
}

// Links lists every link, (from, to): between nodes first, then from each
// client group; nil for a cluster built without Spec.Network.
func (c *Cluster) Links() [][2]string {
	if c.net == nil {
		return nil
	}
	out := make([][2]string, len(c.net.links))
	for i, l := range c.net.links {
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
func (c *Cluster) AddToxic(ctx context.Context, from, to string, t cluster.Toxic) error {
	l, err := c.net.link(from, to)
	if err != nil {
		return fmt.Errorf("add toxic %q: %w", t.Name, err)
	}
	body, err := toxicJSON(t)
	if err != nil {
		return fmt.Errorf("add toxic %q on %s->%s: %w", t.Name, from, to, err)
	}
	c.net.mu.Lock()
	stopped := c.net.stopped
	c.net.mu.Unlock()
	if stopped {
		return fmt.Errorf("add toxic %q on %s->%s: the cluster is down", t.Name, from, to)
	}
	err = within(ctx, func() error {
		w, err := l.proxy.Toxics.AddToxicJson(bytes.NewReader(body))
		if err != nil {
			return err
		}
		if h, ok := w.Toxic.(*holdToxic); ok {
			c.net.mu.Lock()
			l.holds[t.Name] = h
			if c.net.stopped {
				h.releaseAll()
			}
			c.net.mu.Unlock()
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
func (c *Cluster) RemoveToxic(ctx context.Context, from, to, name string) error {
	l, err := c.net.link(from, to)
	if err != nil {
		return fmt.Errorf("remove toxic %q: %w", name, err)
	}
	err = within(ctx, func() error {
		if err := l.proxy.Toxics.RemoveToxic(ctx, name); err != nil {
			return err
		}
		c.net.mu.Lock()
		delete(l.holds, name)
		c.net.mu.Unlock()
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
