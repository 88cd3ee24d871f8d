package fault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Link directions of a latency or bandwidth fault.
const (
	DirectionBoth       = "both"
	DirectionUpstream   = "upstream"   // data from the connecting side
	DirectionDownstream = "downstream" // data to the connecting side
)

// LinkToxic is a toxic to put on the link from From to To.
type LinkToxic struct {
	From, To string
	Toxic    cluster.Toxic
}

// Linker is a Spec that acts on links through per-link proxies. Toxics is
// pure: the toxics it puts on links (from connects to to), named from id.
type Linker interface {
	Toxics(links [][2]string, id string) []LinkToxic
}

// NodeCutter is a Spec that a backend able to cut links between nodes
// only (docker's iptables) can still inject. NodeCuts is pure: the
// one-way cuts (from, to) between nodes.
type NodeCutter interface {
	NodeCuts(nodes []string) [][2]string
}

// toxics builds LinkToxics named id-kind-N.
type toxics struct {
	id  string
	out []LinkToxic
}

func (t *toxics) add(from, to, dir string, tx cluster.Toxic) {
	tx.Direction = dir
	tx.Name = fmt.Sprintf("%s-%s-%d", t.id, tx.Kind, len(t.out)+1)
	t.out = append(t.out, LinkToxic{From: from, To: to, Toxic: tx})
}

// both puts tx on one or both directions of a link.
func (t *toxics) both(from, to string, tx cluster.Toxic, direction string) {
	switch direction {
	case DirectionUpstream:
		t.add(from, to, cluster.Upstream, tx)
	case DirectionDownstream:
		t.add(from, to, cluster.Downstream, tx)
	default:
		t.add(from, to, cluster.Upstream, tx)
		t.add(from, to, cluster.Downstream, tx)
	}
}

var blackhole = cluster.Toxic{Kind: cluster.ToxicBlackhole}

// injectLinks carries out a link fault: toxics on every link it names
// through the cluster's proxies; cuts between nodes on a backend that can
// only do that; and both on a backend that proxies some links (a Patroni
// cluster's, from the nodes to etcd) and cuts those between nodes: the
// node pairs with no proxied link between them are cut.
func injectLinks(ctx context.Context, e Env, s Spec) (Heal, error) {
	n, isNet := e.Cluster.(cluster.Networker)
	l, isLinker := s.(Linker)
	np, isNP := e.Cluster.(cluster.NodePartitioner)
	nc, isCutter := s.(NodeCutter)
	switch {
	case isNet && isLinker && isNP && isCutter:
		return toxicsAndCuts(ctx, e, n, np, s, l, nc)
	case isNet && isLinker:
		return placeToxics(ctx, n, l.Toxics(n.Links(), e.ID))
	case isNP && isCutter:
		return cutNodes(ctx, e.Cluster, np, s, nc)
	}
	return Heal{}, fmt.Errorf("the cluster was built without link proxies")
}

// toxicsAndCuts places the toxics of a fault on the proxied links and
// cuts the node pairs no proxied link joins; its heal undoes both.
func toxicsAndCuts(ctx context.Context, e Env, n cluster.Networker, np cluster.NodePartitioner, s Spec, l Linker, nc NodeCutter) (Heal, error) {
	links := n.Links()
	if groups := unlinkedGroups(clientGroups(s.Targets()), links); len(groups) > 0 {
		return Heal{}, fmt.Errorf("the backend cannot cut the links of client groups (%s)", strings.Join(groups, ", "))
	}
	var nodes []string
	for _, nd := range e.Cluster.Nodes() {
		nodes = append(nodes, nd.Name)
	}
	cuts := unproxied(nc.NodeCuts(nodes), links)
	toxHeal, err := placeToxics(ctx, n, l.Toxics(links, e.ID))
	if err != nil {
		return Heal{}, err
	}
	if len(cuts) == 0 {
		return toxHeal, nil
	}
	if err := cutAll(ctx, np, cuts); err != nil {
		_ = np.Heal(ctx)
		_ = toxHeal.Do(ctx)
		return Heal{}, err
	}
	return Heal{Do: func(ctx context.Context) error {
		return errors.Join(np.Heal(ctx), toxHeal.Do(ctx))
	}}, nil
}

// unproxied are the cuts between two nodes that no proxied link joins,
// either way (a proxied link's toxics cut it).
func unproxied(cuts, links [][2]string) [][2]string {
	var out [][2]string
	for _, c := range cuts {
		if !slices.Contains(links, c) && !slices.Contains(links, [2]string{c[1], c[0]}) {
			out = append(out, c)
		}
	}
	return out
}

// unlinkedGroups are the groups with no proxied link of their own.
func unlinkedGroups(groups []string, links [][2]string) []string {
	var out []string
	for _, g := range groups {
		if !slices.ContainsFunc(links, func(l [2]string) bool { return l[0] == g }) {
			out = append(out, g)
		}
	}
	return out
}

func placeToxics(ctx context.Context, n cluster.Networker, txs []LinkToxic) (Heal, error) {
	var placed []LinkToxic
	remove := func(ctx context.Context) error {
		var errs []error
		for _, p := range placed {
			if err := n.RemoveToxic(ctx, p.From, p.To, p.Toxic.Name); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, tx := range txs {
		if err := n.AddToxic(ctx, tx.From, tx.To, tx.Toxic); err != nil {
			_ = remove(ctx)
			return Heal{}, fmt.Errorf("%s -> %s: %w", tx.From, tx.To, err)
		}
		placed = append(placed, tx)
	}
	return Heal{Do: remove}, nil
}

// cutNodes carries out an isolate or a partition on a cluster that can
// only cut links between nodes: client groups named in the fault are
// refused (Refuse refuses them before anything starts).
func cutNodes(ctx context.Context, c cluster.Cluster, np cluster.NodePartitioner, s Spec, nc NodeCutter) (Heal, error) {
	if groups := clientGroups(s.Targets()); len(groups) > 0 {
		return Heal{}, fmt.Errorf("the backend cannot cut the links of client groups (%s)", strings.Join(groups, ", "))
	}
	var nodes []string
	for _, n := range c.Nodes() {
		nodes = append(nodes, n.Name)
	}
	if err := cutAll(ctx, np, nc.NodeCuts(nodes)); err != nil {
		_ = np.Heal(ctx)
		return Heal{}, err
	}
	return Heal{Do: np.Heal}, nil
}

// cutAll makes cuts in one step on a cluster that can (CutAller), else
// one by one.
func cutAll(ctx context.Context, np cluster.NodePartitioner, cuts [][2]string) error {
	if ca, ok := np.(cluster.CutAller); ok {
		return ca.CutAll(ctx, cuts)
	}
	for _, cut := range cuts {
		if err := np.Cut(ctx, cut[0], cut[1]); err != nil {
			return fmt.Errorf("%s -/-> %s: %w", cut[0], cut[1], err)
		}
	}
	return nil
}

// Client groups: connections that are not a node's, each with its own
// links to every node, so a partition can put them on a side.
const (
	ClientWriters    = "writers"
	ClientReaders    = "readers"
	ClientController = "controller"
)

// ClientNames lists the client groups a fault may name.
var ClientNames = []string{ClientWriters, ClientReaders, ClientController}

// clientGroups lists the client groups among names, in order, once each.
func clientGroups(names []string) []string {
	var out []string
	for _, n := range names {
		if slices.Contains(ClientNames, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// linksOnly is the check of kinds that need per-link proxies.
func linksOnly(a cluster.Abilities) bool { return a.Links }

// cutsLinks is the check of kinds that cut links: proxies or node cuts.
func cutsLinks(a cluster.Abilities) bool { return a.Links || a.NodeCuts }

// proxyHint explains why latency, bandwidth and reset need the local
// backend.
const proxyHint = "latency, bandwidth and reset act on per-link proxies and are supported by the local backend only"

// refuseClientGroups is the Refuse of isolate and partition: client
// groups need links of their own.
func refuseClientGroups(a cluster.Abilities, backend, what string, targets []string) string {
	if a.ClientLinks {
		return ""
	}
	groups := clientGroups(targets)
	if len(groups) == 0 {
		return ""
	}
	cuts := "links between nodes"
	switch {
	case a.StoreLinks && a.NodeCuts:
		cuts = "links between nodes and from nodes to etcd members"
	case a.StoreLinks:
		cuts = "links from nodes to etcd members"
	}
	return fmt.Sprintf("%s (%s) is not supported by the %s backend: it cuts %s only; client groups on a side need the local backend",
		what, strings.Join(groups, ", "), backend, cuts)
}

// validateLink checks the from and to of a link fault. A partition's to
// may also be an etcd member (withStore).
func validateLink(c Check, kind string, from, to []string, withStore bool) {
	if !c.Set("from") || !c.Set("to") {
		c.Problem("", "a %s fault needs from and to: the side that connects and the node it connects to, e.g. from: replica1, to: primary", kind)
		return
	}
	c.Known("from", from, append(append([]string(nil), c.Nodes()...), c.Clients()...), "node or client group")
	if store := storeMembers(c); withStore && len(store) > 0 {
		c.Known("to", to, append(append([]string(nil), c.Nodes()...), store...), "node or etcd member")
		return
	}
	c.Known("to", to, c.Nodes(), "node")
}

// storeMembers are the etcd members among c's services (failover.mode
// patroni): a partition may cut nodes off them.
func storeMembers(c Check) []string {
	var out []string
	for _, s := range c.Services() {
		if etcdRE.MatchString(s) {
			out = append(out, s)
		}
	}
	return out
}

// refuseNodeLinks is the Refuse of a link fault on a backend that proxies
// only the links from nodes to the store (StoreLinks) and cannot cut the
// links between nodes here (no NodeCuts): it cannot cut those cuts lists.
func refuseNodeLinks(a cluster.Abilities, backend, what string, cuts [][2]string) string {
	if !a.StoreLinks || a.Links || a.NodeCuts || len(cuts) == 0 {
		return ""
	}
	return fmt.Sprintf("%s cuts the link %s -> %s between nodes, which the %s backend cannot cut on this machine (it cuts them with iptables' cgroup match, which needs iptables and a cgroup v2 hierarchy mounted, as root); it can cut nodes off etcd members, e.g. sides: [[primary], [etcd1]]",
		what, cuts[0][0], cuts[0][1], backend)
}

// nodesAmong are the names that are neither client groups nor services:
// the nodes.
func nodesAmong(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(ClientNames, n) && !IsService(n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// validateDirection checks a latency or bandwidth fault's direction.
func validateDirection(c Check, dir string) {
	if c.Set("direction") {
		c.Enum("direction", dir, "direction", []string{DirectionBoth, DirectionUpstream, DirectionDownstream})
	}
}

// onLinks calls fn for every link from one of from to one of to.
func onLinks(links [][2]string, from, to []string, fn func(l [2]string)) {
	for _, l := range links {
		if slices.Contains(from, l[0]) && slices.Contains(to, l[1]) {
			fn(l)
		}
	}
}

func arrow(from, to []string) string {
	return strings.Join(from, ", ") + " -> " + strings.Join(to, ", ")
}

func linkNode(from, to []string) string {
	return strings.Join(from, ",") + "->" + strings.Join(to, ",")
}
