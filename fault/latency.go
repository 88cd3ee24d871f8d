package fault

import (
	"context"
	"fmt"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Latency delays every chunk of data on the links from From to To by
// Latency ± Jitter, one way or both.
type Latency struct {
	From      []string      `yaml:"from"`
	To        []string      `yaml:"to"`
	Latency   time.Duration `yaml:"latency"`
	Jitter    time.Duration `yaml:"jitter"`
	Direction string        `yaml:"direction"` // both (default), upstream, downstream
}

func init() {
	register(Kind{Name: "latency", New: func() Spec { return &Latency{} }, Runs: linksOnly, Hint: proxyHint})
}

func (Latency) Kind() string { return "latency" }

func (f Latency) Describe() string {
	if f.Jitter == 0 {
		return fmt.Sprintf("latency %s %s", f.Latency, arrow(f.From, f.To))
	}
	return fmt.Sprintf("latency %s ±%s %s", f.Latency, f.Jitter, arrow(f.From, f.To))
}

func (f Latency) Node() string      { return linkNode(f.From, f.To) }
func (f Latency) Targets() []string { return append(append([]string(nil), f.From...), f.To...) }
func (Latency) Lasting() bool       { return true }

func (f Latency) Validate(c Check) {
	validateLink(c, "latency", f.From, f.To, false)
	validateDirection(c, f.Direction)
	if c.Required("latency", "a delay such as 20ms") && f.Latency <= 0 {
		c.Problem("latency", "must be positive, got %s", f.Latency)
	}
	if f.Jitter < 0 {
		c.Problem("jitter", "must not be negative, got %s", f.Jitter)
	}
}

func (f Latency) Inject(ctx context.Context, e Env) (Heal, error) { return injectLinks(ctx, e, f) }

func (f Latency) Toxics(links [][2]string, id string) []LinkToxic {
	t := &toxics{id: id}
	tx := cluster.Toxic{Kind: cluster.ToxicLatency, Latency: f.Latency, Jitter: f.Jitter}
	onLinks(links, f.From, f.To, func(l [2]string) { t.both(l[0], l[1], tx, f.Direction) })
	return t.out
}
