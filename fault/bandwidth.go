package fault

import (
	"context"
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Bandwidth caps the links from From to To at RateKBps, one way or both.
type Bandwidth struct {
	From      []string `yaml:"from"`
	To        []string `yaml:"to"`
	RateKBps  int64    `yaml:"rate_kbps"`
	Direction string   `yaml:"direction"` // both (default), upstream, downstream
}

func init() {
	register(Kind{Name: "bandwidth", New: func() Spec { return &Bandwidth{} }, Runs: linksOnly, Hint: proxyHint})
}

func (Bandwidth) Kind() string { return "bandwidth" }

func (f Bandwidth) Describe() string {
	return fmt.Sprintf("bandwidth %d KB/s %s", f.RateKBps, arrow(f.From, f.To))
}

func (f Bandwidth) Node() string      { return linkNode(f.From, f.To) }
func (f Bandwidth) Targets() []string { return append(append([]string(nil), f.From...), f.To...) }
func (Bandwidth) Lasting() bool       { return true }

func (f Bandwidth) Validate(c Check) {
	validateLink(c, "bandwidth", f.From, f.To, false)
	validateDirection(c, f.Direction)
	if c.Required("rate_kbps", "a rate in KB/s such as 1024") && f.RateKBps <= 0 {
		c.Problem("rate_kbps", "must be positive, got %d", f.RateKBps)
	}
}

func (f Bandwidth) Inject(ctx context.Context, e Env) (Heal, error) { return injectLinks(ctx, e, f) }

func (f Bandwidth) Toxics(links [][2]string, id string) []LinkToxic {
	t := &toxics{id: id}
	tx := cluster.Toxic{Kind: cluster.ToxicBandwidth, RateKBps: f.RateKBps}
	onLinks(links, f.From, f.To, func(l [2]string) { t.both(l[0], l[1], tx, f.Direction) })
	return t.out
}
