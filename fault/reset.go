package fault

import (
	"context"
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Reset resets the connections on the links into a node, or on the links
// from From to To (TCP RST): one act.
type Reset struct {
	Target string   `yaml:"node"`
	From   []string `yaml:"from"`
	To     []string `yaml:"to"`
}

func init() {
	register(Kind{Name: "reset", New: func() Spec { return &Reset{} }, Once: true, Runs: linksOnly, Hint: proxyHint})
}

func (Reset) Kind() string { return "reset" }

func (f Reset) Describe() string {
	if f.Target != "" {
		return "reset connections to " + f.Target
	}
	return fmt.Sprintf("reset %s", arrow(f.From, f.To))
}

func (f Reset) Node() string {
	if f.Target != "" {
		return f.Target
	}
	return linkNode(f.From, f.To)
}

func (f Reset) Targets() []string {
	if f.Target != "" {
		return []string{f.Target}
	}
	return append(append([]string(nil), f.From...), f.To...)
}

func (Reset) Lasting() bool { return false }

func (f Reset) Validate(c Check) {
	if c.Set("node") {
		c.Node("node", f.Target)
		for _, k := range []string{"from", "to"} {
			if c.Set(k) {
				c.Problem(k, "%q does not apply to a reset fault with a node", k)
			}
		}
		return
	}
	validateLink(c, "reset", f.From, f.To, false)
}

// Inject places reset toxics: every connection on the links is reset as
// data flows, until the workload ends.
func (f Reset) Inject(ctx context.Context, e Env) (Heal, error) { return injectLinks(ctx, e, f) }

func (f Reset) Toxics(links [][2]string, id string) []LinkToxic {
	t := &toxics{id: id}
	tx := cluster.Toxic{Kind: cluster.ToxicReset}
	for _, l := range links {
		if (f.Target != "" && l[1] == f.Target) || (len(f.From) > 0 && onLink(l, f.From, f.To)) {
			t.add(l[0], l[1], cluster.Upstream, tx)
		}
	}
	return t.out
}

func onLink(l [2]string, from, to []string) bool {
	found := false
	onLinks([][2]string{l}, from, to, func([2]string) { found = true })
	return found
}
