package scenario

import (
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// External is how the external backend reaches a cluster the harness does
// not run (backend: external): where the application writes, the nodes it
// observes, and the user's commands (hooks) that fault it. Credentials are
// never in the file: libpq's PGPASSWORD or a passfile gives them.
type External struct {
	// Write is the libpq keyword/value string (host=... port=...) of the
	// endpoint the application writes through: a service, a VIP, the
	// user's HAProxy or PgBouncer, or several hosts with
	// target_session_attrs=read-write. Without nodes it is also the one
	// node observed, named primary.
	Write string `yaml:"write"`
	// Database and User the harness logs in as everywhere; defaults
	// postgres and postgres. The role needs CREATE on the database (for
	// its schema) and pg_monitor (for lag); failover.mode promote and a
	// promote fault without a hook need pg_promote() too.
	Database string `yaml:"database"`
	User     string `yaml:"user"`
	// Schema is the only place the harness writes: created at the start
	// (refused if a schema of that name exists that the harness did not
	// create) and dropped at the end; default pgbench_ha.
	Schema string `yaml:"schema"`
	// Nodes are the topology's nodes as the harness observes them, in
	// file order.
	Nodes []ExternalNode `yaml:"nodes"`
	// Hooks are the commands that fault the cluster.
	Hooks Hooks `yaml:"hooks"`
}

// ExternalNode is one node of an external cluster.
type ExternalNode struct {
	Name string `yaml:"-"`
	// DSN is the libpq keyword/value string (host=... port=...) that
	// reaches the node itself, used to observe it (role, lag, timeline)
	// and to read the audit from it.
	DSN string `yaml:"dsn"`
	// Member is the node's name in its manager's history (a Patroni
	// member, a CloudNativePG instance) when it is not the node's name.
	Member string `yaml:"member"`
	// Env is added to the environment of every hook run for the node
	// (its data directory, its pod, its host).
	Env map[string]string `yaml:"env"`
}

// Hooks are the external backend's fault commands: each a shell command
// (sh -c) run with the node's name, role and DSN in its environment
// (PGBHA_NODE, PGBHA_ROLE, PGBHA_HOST, PGBHA_PORT, PGBHA_DSN, and the
// node's env), its output and exit code kept in the run folder.
type Hooks struct {
	// Timeout bounds each command; default 60s. A command still running
	// then is killed (its process group) and the fault fails.
	Timeout Duration `yaml:"timeout"`
	// EffectTimeout bounds the wait for a fault's effect to be observed
	// (a killed node refusing connections, a started one answering):
	// kubectl and Chaos Mesh return before the fault is applied; default
	// 60s.
	EffectTimeout Duration `yaml:"effect_timeout"`
	// Commands by action (HookActions), in the file's words.
	Commands map[string]string `yaml:"-"`
}

// Hook actions: what a command of external.hooks does.
const (
	HookKill       = "kill"       // crash the node (every process)
	HookStop       = "stop"       // shut the node down (PGBHA_IMMEDIATE=1: immediate)
	HookStart      = "start"      // start a stopped or killed node; heals kill and stop
	HookPause      = "pause"      // freeze the node
	HookResume     = "resume"     // thaw it
	HookCut        = "cut"        // drop traffic from PGBHA_FROM to PGBHA_TO (one way)
	HookHeal       = "heal"       // remove every cut
	HookLink       = "link"       // a condition (PGBHA_CONDITION) on the link PGBHA_FROM -> PGBHA_TO
	HookUnlink     = "unlink"     // remove the condition named PGBHA_NAME
	HookPromote    = "promote"    // promote the standby PGBHA_NODE
	HookSwitchover = "switchover" // planned switchover, to PGBHA_CANDIDATE if set
	HookHistory    = "history"    // print the manager's promotions (JSON)
	HookPrepare    = "prepare"    // before each variant: put the cluster as the scenario says
)

// HookActions lists the actions external.hooks takes, in documentation
// order.
var HookActions = []string{HookKill, HookStop, HookStart, HookPause, HookResume, HookCut, HookHeal, HookLink, HookUnlink, HookPromote, HookSwitchover, HookHistory, HookPrepare}

// Defaults of the external backend.
const (
	DefaultExternalDatabase   = "postgres"
	DefaultExternalUser       = "postgres"
	DefaultExternalSchema     = "pgbench_ha"
	DefaultHookTimeout        = Duration(60 * time.Second)
	DefaultHookEffectTimeout  = Duration(60 * time.Second)
	maxHookTimeout            = Duration(time.Hour)
	minHookTimeout            = Duration(100 * time.Millisecond)
	externalKeysDoc           = "write, database, user, schema, nodes, hooks"
	externalPasswordTip       = "a password has no place in a scenario file: give it in PGPASSWORD or a passfile (PGPASSFILE, ~/.pgpass)"
	externalSchemaNameMaxSize = 63
)

var (
	externalKeys     = []string{"write", "database", "user", "schema", "nodes", "hooks"}
	externalNodeKeys = []string{"dsn", "member", "env"}
	hooksKeys        = append([]string{"timeout", "effect_timeout"}, HookActions...)
	envNameRE        = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	identRE          = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	passwordKeyRE    = regexp.MustCompile(`(?i)(^|\s)password\s*=`)
	passwordURLRE    = regexp.MustCompile(`^postgres(ql)?://[^/@]*:[^/@]*@`)
)

// IsExternal reports whether the scenario runs on a cluster of the user's.
func (s *Scenario) IsExternal() bool { return s.Backend == BackendExternal }

// NodeDSNs reports whether the external section names the nodes; without
// them the write endpoint is the one node observed.
func (e *External) NodeDSNs() bool { return len(e.Nodes) > 0 }

// Node is the external node named name, if any.
func (e *External) Node(name string) (ExternalNode, bool) {
	for _, n := range e.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return ExternalNode{}, false
}

func (d *decoder) external(path string, n ast.Node, x *External) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "write":
			x.Write, _ = d.str(p, e.val)
		case "database":
			x.Database, _ = d.str(p, e.val)
		case "user":
			x.User, _ = d.str(p, e.val)
		case "schema":
			x.Schema, _ = d.str(p, e.val)
		case "nodes":
			nodes, ok := d.mapping(p, e.val)
			if !ok {
				continue
			}
			for _, ne := range nodes {
				np := join(p, ne.key)
				d.record(np, ne)
				x.Nodes = append(x.Nodes, d.externalNode(np, ne.key, ne.val))
			}
		case "hooks":
			d.hooks(p, e.val, &x.Hooks)
		default:
			d.unknownKey(path, e, externalKeys)
		}
	}
}

func (d *decoder) externalNode(path, name string, n ast.Node) ExternalNode {
	x := ExternalNode{Name: name}
	entries, ok := d.mapping(path, n)
	if !ok {
		return x
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "dsn":
			x.DSN, _ = d.str(p, e.val)
		case "member":
			x.Member, _ = d.str(p, e.val)
		case "env":
			env, ok := d.mapping(p, e.val)
			if !ok {
				continue
			}
			x.Env = map[string]string{}
			for _, ee := range env {
				ep := join(p, ee.key)
				d.record(ep, ee)
				if !envNameRE.MatchString(ee.key) || strings.HasPrefix(ee.key, "PGBHA_") {
					d.problem(ee.keyPos, "%s: %q is not a variable name a hook may be given: letters, digits and _, not starting with a digit or PGBHA_ (the harness's own)", p, clip(ee.key))
					continue
				}
				v := d.deref(ee.val)
				text, isScalar := scalarText(v)
				if !isScalar {
					d.wrongType(ep, ee.val, "a value (a string or number)")
					continue
				}
				x.Env[ee.key] = text
			}
		default:
			d.unknownKey(path, e, externalNodeKeys)
		}
	}
	return x
}

func (d *decoder) hooks(path string, n ast.Node, h *Hooks) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch {
		case e.key == "timeout":
			h.Timeout, _ = d.duration(p, e.val)
		case e.key == "effect_timeout":
			h.EffectTimeout, _ = d.duration(p, e.val)
		case slices.Contains(HookActions, e.key):
			cmd, ok := d.str(p, e.val)
			if !ok {
				continue
			}
			if h.Commands == nil {
				h.Commands = map[string]string{}
			}
			h.Commands[e.key] = cmd
		default:
			d.unknownKey(path, e, hooksKeys)
		}
	}
}

// validateExternal checks the external section and what the external
// backend cannot do, and applies its defaults.
func (d *decoder) validateExternal(s *Scenario) {
	const xp = "external"
	x := &s.External
	if !s.IsExternal() {
		if d.seen(xp) {
			d.problemAt(xp, "applies to backend: external only (a cluster of yours the harness connects to); remove it or set backend: external")
		}
		return
	}
	if !d.seen(xp) {
		d.required(xp, "how to reach your cluster: "+externalKeysDoc)
		return
	}
	if d.required(xp+".write", "the libpq string of the endpoint your application writes through, e.g. \"host=10.0.0.5 port=5432\"") {
		d.checkDSN(xp+".write", x.Write)
	}
	if x.Database == "" {
		x.Database = DefaultExternalDatabase
	}
	if x.User == "" {
		x.User = DefaultExternalUser
	}
	if x.Schema == "" {
		x.Schema = DefaultExternalSchema
	} else if !identRE.MatchString(x.Schema) || len(x.Schema) > externalSchemaNameMaxSize || strings.HasPrefix(x.Schema, "pg_") {
		d.problemAt(xp+".schema", "%q is not a schema name the harness may create: lower-case letters, digits and _, at most %d, not starting with pg_", clip(x.Schema), externalSchemaNameMaxSize)
	}
	nodes := s.NodeNames()
	if x.NodeDSNs() {
		for _, n := range x.Nodes {
			np := xp + ".nodes." + n.Name
			if !slices.Contains(nodes, n.Name) {
				d.problemAt(np, "no node named %q in the topology%s; nodes: %s", clip(n.Name), didYouMean(n.Name, nodes), quoteList(nodes))
				continue
			}
			if d.required(np+".dsn", "the libpq string that reaches "+n.Name+" itself, e.g. \"host=10.0.0.1 port=5432\"") {
				d.checkDSN(np+".dsn", n.DSN)
			}
		}
		for _, name := range nodes {
			if _, ok := x.Node(name); !ok {
				d.problemAt(xp+".nodes", "no DSN for %s: give every node of the topology (%s) one, or none (the write endpoint is then the one node observed)", name, quoteList(nodes))
			}
		}
	} else if len(s.Topology.Replicas) > 0 {
		d.problemAt(xp, "the topology has replicas (%s) but external.nodes gives no DSN to observe them: give every node one, or leave the replicas out", quoteList(nodes[1:]))
	}
	h := &x.Hooks
	if h.Timeout == 0 {
		h.Timeout = DefaultHookTimeout
	} else if h.Timeout < minHookTimeout || h.Timeout > maxHookTimeout {
		d.problemAt(xp+".hooks.timeout", "%s is out of range: between %s and %s", h.Timeout, minHookTimeout, maxHookTimeout)
	}
	if h.EffectTimeout == 0 {
		h.EffectTimeout = DefaultHookEffectTimeout
	} else if h.EffectTimeout < minHookTimeout || h.EffectTimeout > maxHookTimeout {
		d.problemAt(xp+".hooks.effect_timeout", "%s is out of range: between %s and %s", h.EffectTimeout, minHookTimeout, maxHookTimeout)
	}
	for _, a := range HookActions {
		if d.set[xp+".hooks."+a] && strings.TrimSpace(h.Commands[a]) == "" {
			d.problemAt(xp+".hooks."+a, "an empty command; give the shell command that does %s, or remove the key", a)
		}
	}
	for _, pair := range [][2]string{{HookStop, HookStart}, {HookPause, HookResume}, {HookCut, HookHeal}, {HookLink, HookUnlink}} {
		if h.Commands[pair[0]] != "" && h.Commands[pair[1]] == "" {
			d.problemAt(xp+".hooks."+pair[0], "a %s hook needs a %s hook to undo it: the harness heals every fault it makes", pair[0], pair[1])
		}
	}
	for i, f := range s.Faults {
		if f.Kind() == "kill" && f.For > 0 && h.Commands[HookStart] == "" {
			d.problemAt(index("faults", i)+".for", "a kill with for: starts the node again afterwards: give external.hooks.start, or remove for: (the node then stays down)")
		}
	}
	if d.set["client.path"] && s.Client.Path != PathDirect {
		d.problemAt("client.path", "the external backend writes through external.write, your own path (HAProxy, PgBouncer, a service): client.path must be direct")
	}
	if s.Failover.Mode == FailoverPatroni {
		d.problemAt("failover.mode", "patroni starts Patroni here; for a cluster of yours under Patroni, use failover.mode external (the harness observes) and a history hook for Patroni's own record")
	}
	// The harness promotes an external cluster's standby if asked
	// (failover.mode promote) but writes none of its configuration.
	if d.set["failover.repoint"] && s.Failover.RepointEnabled() && s.Failover.Mode != FailoverPatroni {
		d.problemAt("failover.repoint", "the external backend does not repoint your standbys (it would write their primary_conninfo): set repoint: false or remove it")
	}
	if d.set["failover.synchronous"] && s.Failover.Synchronous == SyncKeep {
		d.problemAt("failover.synchronous", "the external backend does not write synchronous_standby_names on the new primary: set synchronous: drop or remove it")
	}
}

// checkDSN refuses a password in a connection string of the scenario.
func (d *decoder) checkDSN(path, dsn string) {
	if passwordKeyRE.MatchString(dsn) || passwordURLRE.MatchString(dsn) {
		d.problemAt(path, "%s", externalPasswordTip)
	}
	if strings.TrimSpace(dsn) == "" {
		d.problemAt(path, "an empty connection string; give host= and port=")
	}
}
