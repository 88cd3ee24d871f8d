package fault

import (
	"context"
	"fmt"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Switchover hands the primary over in a planned way through the
// failover manager, Patroni's (POST /switchover) or an external
// cluster's (its switchover hook): to To, or, without to:, to a replica
// the manager chooses. One act; under failover.mode patroni or on the
// external backend.
type Switchover struct {
	To string `yaml:"to"` // a replica's name; "" lets Patroni choose
}

func init() {
	register(Kind{Name: "switchover", New: func() Spec { return &Switchover{} }, Once: true,
		Runs: func(a cluster.Abilities) bool { return a.Switchover }})
}

func (Switchover) Kind() string { return "switchover" }

func (f Switchover) Describe() string {
	if f.To != "" {
		return "switchover to " + f.To
	}
	return "switchover"
}

// Node is "": the switchover acts on whichever node leads then.
func (Switchover) Node() string { return "" }

func (f Switchover) Targets() []string {
	if f.To == "" {
		return nil
	}
	return []string{f.To}
}

func (Switchover) Lasting() bool { return false }

func (f Switchover) Validate(c Check) {
	if !c.Patroni() && c.Backend() != "external" {
		c.Problem("", "a switchover is asked of the failover manager: Patroni's (POST /switchover), under failover.mode patroni, or an external cluster's, through its switchover hook")
	}
	if c.Set("to") {
		c.Node("to", f.To)
	}
}

func (f Switchover) Inject(ctx context.Context, e Env) (Heal, error) {
	sw, ok := e.Cluster.(Switchoverer)
	if !ok {
		return Heal{}, fmt.Errorf("the backend cannot ask for a switchover")
	}
	if err := sw.Switchover(ctx, f.To); err != nil {
		return Heal{}, fmt.Errorf("%s: %w", f.Describe(), err)
	}
	return Heal{}, nil
}
