package fault

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Partition cuts every link between its sides both ways, or, with from and
// to, one way: data from From to To vanishes. Names on no side are not
// cut.
type Partition struct {
	Sides [][]string `yaml:"sides"`
	From  []string   `yaml:"from"`
	To    []string   `yaml:"to"`
}

func init() {
	register(Kind{Name: "partition", New: func() Spec { return &Partition{} },
		Runs: func(a cluster.Abilities) bool { return cutsLinks(a) || a.StoreLinks }})
}

func (Partition) Kind() string { return "partition" }

func (f Partition) Describe() string {
	if len(f.Sides) > 0 {
		var sides []string
		for _, s := range f.Sides {
			sides = append(sides, strings.Join(s, ", "))
		}
		return "partition " + strings.Join(sides, " | ")
	}
	return fmt.Sprintf("partition %s -/-> %s", strings.Join(f.From, ", "), strings.Join(f.To, ", "))
}

func (f Partition) Node() string {
	if len(f.Sides) > 0 {
		return ""
	}
	return linkNode(f.From, f.To)
}

func (f Partition) Targets() []string {
	var out []string
	for _, s := range f.Sides {
		out = append(out, s...)
	}
	return append(append(out, f.From...), f.To...)
}

func (Partition) Lasting() bool { return true }

func (f Partition) Validate(c Check) {
	switch {
	case c.Set("sides") && (c.Set("from") || c.Set("to")):
		c.Problem("sides", "give either sides (a two-way partition) or from and to (one way), not both")
	case c.Set("sides"):
		if len(f.Sides) < 2 {
			c.Problem("sides", "a partition needs at least two sides, e.g. [[primary, writers], [replica1, replica2, controller]]")
		}
		names := append(append([]string(nil), c.Nodes()...), c.Clients()...)
		what := "node or client group"
		if store := storeMembers(c); len(store) > 0 {
			names, what = append(names, store...), "node, client group or etcd member"
		}
		seen := map[string]bool{}
		for i, side := range f.Sides {
			c.Known(fmt.Sprintf("sides[%d]", i), side, names, what)
			for _, n := range side {
				if seen[n] {
					c.Problem(fmt.Sprintf("sides[%d]", i), "%q is on more than one side", n)
				}
				seen[n] = true
			}
		}
	default:
		validateLink(c, "partition", f.From, f.To, true)
	}
}

func (f Partition) Refuse(a cluster.Abilities, backend string) string {
	if why := refuseClientGroups(a, backend, "partition naming client groups", f.Targets()); why != "" {
		return why
	}
	return refuseNodeLinks(a, backend, "partition", f.NodeCuts(nodesAmong(f.Targets())))
}

func (f Partition) Inject(ctx context.Context, e Env) (Heal, error) { return injectLinks(ctx, e, f) }

// side numbers each name by its side, from 1; 0 is on no side.
func (f Partition) side() map[string]int {
	side := map[string]int{}
	for i, s := range f.Sides {
		for _, n := range s {
			side[n] = i + 1
		}
	}
	return side
}

func (f Partition) Toxics(links [][2]string, id string) []LinkToxic {
	t := &toxics{id: id}
	if len(f.Sides) > 0 {
		side := f.side()
		for _, l := range links {
			if a, b := side[l[0]], side[l[1]]; a != 0 && b != 0 && a != b {
				t.both(l[0], l[1], blackhole, DirectionBoth)
			}
		}
		return t.out
	}
	// One way: data from From to To vanishes.
	for _, l := range links {
		switch {
		case slices.Contains(f.From, l[0]) && slices.Contains(f.To, l[1]):
			t.add(l[0], l[1], cluster.Upstream, blackhole)
		case slices.Contains(f.To, l[0]) && slices.Contains(f.From, l[1]):
			t.add(l[0], l[1], cluster.Downstream, blackhole)
		}
	}
	return t.out
}

func (f Partition) NodeCuts(nodes []string) [][2]string {
	var out [][2]string
	if len(f.Sides) > 0 {
		side := f.side()
		for _, a := range nodes {
			for _, b := range nodes {
				if sa, sb := side[a], side[b]; sa != 0 && sb != 0 && sa != sb {
					out = append(out, [2]string{a, b})
				}
			}
		}
		return out
	}
	for _, a := range f.From {
		for _, b := range f.To {
			if a != b && slices.Contains(nodes, a) && slices.Contains(nodes, b) {
				out = append(out, [2]string{a, b})
			}
		}
	}
	return out
}
