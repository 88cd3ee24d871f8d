package fault

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// Spec is one fault's kind and parameters: everything a scenario file says
// of a fault besides its `at` and `for`. A kind is a Go type whose exported
// fields, tagged `yaml:"key"`, are the keys it takes (string, []string,
// [][]string, int64, float64, bool or time.Duration); the scenario decoder
// fills them strictly and then calls Validate.
//
// Methods are called from one goroutine at a time.
type Spec interface {
	// Kind is the kind's name as written in a scenario ("kill").
	Kind() string
	// Describe names the fault in a few words: "pause replica1".
	Describe() string
	// Node is the node the fault acts on, or "from->to" for a link; ""
	// when it names no single place (a partition by sides).
	Node() string
	// Targets lists every node and client group the fault names.
	Targets() []string
	// Lasting reports whether the fault, left unhealed, lasts (a pause,
	// a partition, a stop) rather than being one act (a kill, a restart,
	// a reset).
	Lasting() bool
	// Validate checks the parameters, reporting problems through c.
	Validate(c Check)
	// Inject carries the fault out and returns how to heal it.
	Inject(ctx context.Context, e Env) (Heal, error)
}

// Refuser is a Spec whose parameters, not only its kind, may be beyond a
// backend (a partition naming client groups on a backend that cuts links
// between nodes only): Refuse says why, or "".
type Refuser interface {
	Refuse(a cluster.Abilities, backend string) string
}

// Effecter is a Spec that can tell when its fault took effect (a killed
// node no longer answers). The timeline waits for it and records when.
type Effecter interface {
	TookEffect(ctx context.Context, e Env) error
}

// Lander is a Spec whose backend can tell when its fault landed (a
// killed node's processes all stopped), before any client sees it.
type Lander interface {
	LandedAt(e Env) (time.Time, bool)
}

// HealWaiter is a Spec that can tell when its heal took effect (a node
// started again answers queries).
type HealWaiter interface {
	Healed(ctx context.Context, e Env) error
}

// Heal undoes an injected fault.
type Heal struct {
	// Do heals; nil when there is nothing to heal.
	Do func(ctx context.Context) error
	// KeepAtEnd leaves the fault in place when the workload ends, unless
	// the scenario gave it a for: (a killed or stopped node stays down: a
	// crashed machine is not mended by the end of a run).
	KeepAtEnd bool
}

// Env is what an injection acts on.
type Env struct {
	Cluster cluster.Cluster
	Roles   *cluster.Roles
	// ID is unique to this fault within its timeline ("f2"); it names
	// what the fault places (toxics).
	ID string
}

// MarkDown records that a replica node left service; the primary stays
// the primary until someone promotes.
func (e Env) MarkDown(node string) {
	if e.Roles != nil && !IsService(node) && node != e.Roles.Primary() {
		e.Roles.MarkDown(node)
	}
}

// Check is what a kind's validation sees: the scenario's names and where
// to report a problem. Keys are relative to the fault ("node",
// "sides[1]"); "" is the fault itself.
type Check interface {
	// Set reports whether key was written with a value of the right type.
	Set(key string) bool
	// Problem records a problem at key.
	Problem(key, format string, args ...any)
	// Required records a problem when key is missing, and reports whether
	// it has a value; want says what would be valid.
	Required(key, want string) bool
	// Enum records a problem when value is not one of valid.
	Enum(key, value, what string, valid []string)
	// Known records a problem for each of names (key[i]) not in valid.
	Known(key string, names, valid []string, what string)
	// Node records a problem when key is missing or names no node.
	Node(key, value string)
	// Nodes are the scenario's node names; Clients its client groups.
	Nodes() []string
	Clients() []string
	// Patroni reports whether the scenario's failover.mode is patroni.
	Patroni() bool
	// Mode is the scenario's failover.mode (none, promote, patroni,
	// external); Backend its backend (local, docker, external).
	Mode() string
	Backend() string
	// Services are the names of the services beside the nodes that a
	// kill, stop or pause may take as its node: etcd1..etcdN under
	// patroni, haproxy and pgbouncer when the client path has them.
	Services() []string
	// Target records a problem when key is missing or names neither a
	// node nor one of Services; the message lists every valid name.
	Target(key, value string)
}

// Kind describes one fault kind.
type Kind struct {
	Name string
	// New returns a pointer to the kind's zero Spec, for the decoder to
	// fill.
	New func() Spec
	// Once: for: does not apply; the fault is one act (a restart) or lasts
	// until the workload ends (a reset).
	Once bool
	// Runs reports whether a backend with abilities a can inject the
	// kind at all; Hint adds why not, for the message.
	Runs func(a cluster.Abilities) bool
	// Hint says why not on a backend without per-link proxies.
	Hint string
}

var kinds = map[string]Kind{}

// register adds a kind; each kind's file registers itself, so that a new
// kind is one file (and its test and docs).
func register(k Kind) {
	if _, dup := kinds[k.Name]; dup {
		panic("fault: kind registered twice: " + k.Name)
	}
	kinds[k.Name] = k
}

// Kinds lists the known kinds, by name.
func Kinds() []Kind {
	out := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names lists the known kinds' names, sorted.
func Names() []string {
	var out []string
	for _, k := range Kinds() {
		out = append(out, k.Name)
	}
	return out
}

// Lookup finds a kind by name.
func Lookup(name string) (Kind, bool) {
	k, ok := kinds[name]
	return k, ok
}

// Runnable lists the kinds a backend with abilities a can inject, by
// name.
func Runnable(a cluster.Abilities) []string {
	var out []string
	for _, k := range Kinds() {
		if k.Runs == nil || k.Runs(a) {
			out = append(out, k.Name)
		}
	}
	return out
}

// Supported checks specs against a backend's abilities: one message per
// fault it cannot inject, prefixed by where (file:line). lines gives each
// spec's line.
func Supported(file, backend string, a cluster.Abilities, specs []Spec, lines []int) []string {
	can := Runnable(a)
	var probs []string
	for i, s := range specs {
		k, _ := Lookup(s.Kind())
		if !slices.Contains(can, s.Kind()) {
			msg := fmt.Sprintf("%s:%d: fault kind %q is not supported by the %s backend (it supports: %s)",
				file, lines[i], s.Kind(), backend, strings.Join(can, ", "))
			if k.Hint != "" && !a.ClientLinks {
				// A backend with client links has proxies: the hint
				// (use the local backend) would not help.
				msg += "; " + k.Hint
			}
			probs = append(probs, msg)
			continue
		}
		if r, ok := s.(Refuser); ok {
			if why := r.Refuse(a, backend); why != "" {
				probs = append(probs, fmt.Sprintf("%s:%d: %s", file, lines[i], why))
			}
		}
	}
	return probs
}
