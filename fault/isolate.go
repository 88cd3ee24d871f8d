package fault

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Isolate cuts every link of a node both ways (connections hang), except
// those of the client groups named in With, which stay on its side.
type Isolate struct {
	Target string   `yaml:"node"`
	With   []string `yaml:"with"`
}

func init() {
	register(Kind{Name: "isolate", New: func() Spec { return &Isolate{} }, Runs: cutsLinks, Hint: isolateHint})
}

// isolateHint says what isolate needs of a backend.
const isolateHint = "isolate cuts the links between nodes: the local backend proxies them; the docker backend cuts them with iptables in the containers, the Patroni backend with iptables' cgroup match, which needs iptables and a cgroup v2 hierarchy mounted, as root"

func (Isolate) Kind() string { return "isolate" }

func (f Isolate) Describe() string {
	if len(f.With) > 0 {
		return fmt.Sprintf("isolate %s with %s", f.Target, strings.Join(f.With, ", "))
	}
	return "isolate " + f.Target
}

func (f Isolate) Node() string      { return f.Target }
func (f Isolate) Targets() []string { return append([]string{f.Target}, f.With...) }
func (Isolate) Lasting() bool       { return true }

func (f Isolate) Validate(c Check) {
	c.Node("node", f.Target)
	c.Known("with", f.With, c.Clients(), "client group")
}

func (f Isolate) Refuse(a cluster.Abilities, backend string) string {
	return refuseClientGroups(a, backend, "isolate with client groups", f.With)
}

func (f Isolate) Inject(ctx context.Context, e Env) (Heal, error) { return injectLinks(ctx, e, f) }

func (f Isolate) Toxics(links [][2]string, id string) []LinkToxic {
	t := &toxics{id: id}
	for _, l := range links {
		var other string
		switch {
		case l[0] == f.Target:
			other = l[1]
		case l[1] == f.Target:
			other = l[0]
		default:
			continue
		}
		if !slices.Contains(f.With, other) {
			t.both(l[0], l[1], blackhole, DirectionBoth)
		}
	}
	return t.out
}

func (f Isolate) NodeCuts(nodes []string) [][2]string {
	var out [][2]string
	if !slices.Contains(nodes, f.Target) {
		return nil
	}
	for _, o := range nodes {
		if o != f.Target {
			out = append(out, [2]string{f.Target, o}, [2]string{o, f.Target})
		}
	}
	return out
}
