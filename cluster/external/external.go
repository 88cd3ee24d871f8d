// Package external is the backend of a cluster the harness does not run
// (backend: external): the user's, on other machines, on Kubernetes, in
// staging. The harness connects to it, observes each node, writes only
// to a schema of its own that it creates and drops, and faults it through
// the user's own commands (hooks): kubectl, systemctl over ssh, Patroni's
// REST API, pg_ctl. Nothing of the cluster is started or torn down.
//
//	b, err := external.New(ctx, external.Config{Write: "host=10.0.0.5 port=5432", ...})
//	c, err := b.Up(ctx, spec) // checks roles and settings, creates the schema
//	defer c.Down(ctx)         // drops the schema
package external

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
)

// Name is the backend's name.
const Name = "external"

// Hook actions (scenario.HookActions).
const (
	HookKill       = "kill"
	HookStop       = "stop"
	HookStart      = "start"
	HookPause      = "pause"
	HookResume     = "resume"
	HookCut        = "cut"
	HookHeal       = "heal"
	HookLink       = "link"
	HookUnlink     = "unlink"
	HookPromote    = "promote"
	HookSwitchover = "switchover"
	HookHistory    = "history"
	HookPrepare    = "prepare"
)

// schemaMark is the comment on the harness's schema: a schema of that
// name without it is not the harness's, and is never dropped.
const schemaMark = "pgbench-ha: created by the harness for one run, dropped at its end"

// sessionSettings are the settings a session may set for itself: the
// harness applies them to its writers' connections rather than asking the
// cluster to have them.
var sessionSettings = []string{"synchronous_commit"}

// Node is one node of the cluster as the harness observes it.
type Node struct {
	Name string
	// DSN is a libpq keyword/value string reaching the node itself, with
	// no password (libpq's PGPASSWORD or passfile gives it).
	DSN string
	// Member is the node's name in the manager's history, "" for Name.
	Member string
	// Env is added to the environment of the node's hooks.
	Env map[string]string
}

// Config is how to reach the cluster and fault it.
type Config struct {
	// Write is the endpoint the application writes through.
	Write string
	// Database, User and Schema: where the harness logs in and writes.
	Database, User, Schema string
	// Nodes are the nodes, the initial primary first. Without them the
	// write endpoint is the one node, named primary.
	Nodes []Node
	// Hooks are shell commands by action.
	Hooks map[string]string
	// HookTimeout bounds each hook; EffectTimeout the wait for a fault
	// to be observed.
	HookTimeout, EffectTimeout time.Duration
	// Shell runs the hooks: Shell -c COMMAND; default /bin/sh.
	Shell string
}

// Backend reaches one external cluster.
type Backend struct {
	cfg     Config
	version string
}

// New checks that the write endpoint answers and reads its version.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if cfg.Shell == "" {
		cfg.Shell = "/bin/sh"
	}
	if cfg.HookTimeout <= 0 {
		cfg.HookTimeout = time.Minute
	}
	if cfg.EffectTimeout <= 0 {
		cfg.EffectTimeout = time.Minute
	}
	if len(cfg.Nodes) == 0 {
		cfg.Nodes = []Node{{Name: "primary", DSN: cfg.Write}}
	}
	b := &Backend{cfg: cfg}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, b.login(cfg.Write, nil))
	if err != nil {
		return nil, fmt.Errorf("external: the write endpoint (%s): %s", cluster.Redact(cfg.Write), cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(cctx, "SELECT current_setting('server_version')").Scan(&b.version); err != nil {
		return nil, fmt.Errorf("external: the write endpoint: %w", err)
	}
	return b, nil
}

func (b *Backend) Name() string          { return Name }
func (b *Backend) ServerVersion() string { return b.version }
func (b *Backend) Close() error          { return nil }

// Abilities are the hooks given: a fault kind runs when its hooks are
// there (kill; stop and start; pause and resume; cut and heal, or link
// and unlink, for partitions; link and unlink for latency, bandwidth and
// reset; switchover).
func (b *Backend) Abilities() cluster.Abilities {
	has := func(actions ...string) bool {
		for _, a := range actions {
			if strings.TrimSpace(b.cfg.Hooks[a]) == "" {
				return false
			}
		}
		return true
	}
	return cluster.Abilities{
		Kill: has(HookKill), Stop: has(HookStop, HookStart), Pause: has(HookPause, HookResume),
		NodeCuts: has(HookCut, HookHeal), Links: has(HookLink, HookUnlink), Switchover: has(HookSwitchover),
	}
}

// login is dsn logged in as the harness's user on its database, in its
// schema, with the session settings given.
func (b *Backend) login(dsn string, settings map[string]string) string {
	var sb strings.Builder
	sb.WriteString(dsn)
	if b.cfg.User != "" {
		fmt.Fprintf(&sb, " user=%s", pgquote.ConnValue(b.cfg.User))
	}
	if b.cfg.Database != "" {
		fmt.Fprintf(&sb, " dbname=%s", pgquote.ConnValue(b.cfg.Database))
	}
	if b.cfg.Schema != "" {
		// A startup parameter: every statement of the harness's, on
		// every connection, resolves its tables in its own schema.
		fmt.Fprintf(&sb, " search_path=%s", pgquote.ConnValue(b.cfg.Schema))
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s=%s", k, pgquote.ConnValue(settings[k]))
	}
	return sb.String()
}

// Up checks the cluster against spec (the node named primary answers as
// a primary, every replica in recovery; settings as the scenario says;
// slots there) and creates the harness's schema on the primary.
func (b *Backend) Up(ctx context.Context, spec cluster.Spec) (cluster.Cluster, error) {
	names := []string{"primary"}
	for _, r := range spec.Replicas {
		names = append(names, r.Name)
	}
	c := &Cluster{b: b, logDir: spec.LogDir, addrs: map[string]string{}, appSettings: map[string]string{}}
	for _, want := range names {
		i := slices.IndexFunc(b.cfg.Nodes, func(n Node) bool { return n.Name == want })
		if i < 0 {
			return nil, fmt.Errorf("external: no DSN for node %s", want)
		}
		n := b.cfg.Nodes[i]
		host, port := hostPort(n.DSN)
		c.nodes = append(c.nodes, n)
		c.view = append(c.view, cluster.Node{Name: n.Name, Host: host, Port: port})
	}
	for k, v := range spec.Settings["primary"] {
		if slices.Contains(sessionSettings, k) {
			c.appSettings[k] = v
		}
	}
	// The prepare hook puts the cluster as the scenario wants it before
	// each variant (the primary back on the node named primary after an
	// earlier variant's failover, a killed node started again); the
	// checks then wait for it, within the effect timeout.
	wait := 0 * time.Second
	if strings.TrimSpace(b.cfg.Hooks[HookPrepare]) != "" {
		if _, err := c.run(ctx, HookPrepare, c.nodes[0].Name, map[string]string{"PGBHA_VARIANT": spec.ID}); err != nil {
			return nil, fmt.Errorf("external: %w", err)
		}
		wait = b.cfg.EffectTimeout
	}
	deadline := time.Now().Add(wait)
	for {
		var probs []string
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		for i, n := range c.nodes {
			if err := c.check(cctx, n, i == 0, spec); err != nil {
				probs = append(probs, err.Error())
			}
		}
		cancel()
		if len(probs) == 0 {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			msg := fmt.Sprintf("external: the cluster is not as the scenario says:\n%s", strings.Join(probs, "\n"))
			if wait == 0 {
				msg += "\n(an earlier variant's fault may have left it so: external.hooks.prepare can put it back before each variant)"
			} else {
				msg += fmt.Sprintf("\n(still so %s after the prepare hook: external.hooks.effect_timeout)", wait)
			}
			return nil, errors.New(msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := c.createSchema(cctx); err != nil {
		return nil, err
	}
	return c, nil
}

// hostPort is the first host and port of a libpq string, for messages
// and for the fault's own waits (a node refusing connections).
func hostPort(dsn string) (string, int) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "", 0
	}
	return cfg.Host, int(cfg.Port)
}

// check compares node n with what spec says of it.
func (c *Cluster) check(ctx context.Context, n Node, primary bool, spec cluster.Spec) error {
	conn, err := pgx.Connect(ctx, c.ConnString(n.Name, cluster.Admin))
	if err != nil {
		return fmt.Errorf("%s (%s): %s", n.Name, cluster.Redact(n.DSN), cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	var inRecovery bool
	var addr *string
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery(), host(inet_server_addr()) || ':' || inet_server_port()").Scan(&inRecovery, &addr); err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	if addr != nil {
		c.addrs[n.Name] = *addr
	}
	switch {
	case primary && inRecovery:
		return fmt.Errorf("%s is in recovery: the node named primary must be the primary when the run starts", n.Name)
	case !primary && !inRecovery:
		return fmt.Errorf("%s is not in recovery: a replica of the topology must be a standby when the run starts", n.Name)
	}
	var probs []string
	for k, want := range spec.Settings[n.Name] {
		if slices.Contains(sessionSettings, k) {
			continue
		}
		var got string
		if err := conn.QueryRow(ctx, "SELECT current_setting($1)", k).Scan(&got); err != nil {
			probs = append(probs, fmt.Sprintf("%s: %s: %v", n.Name, k, err))
			continue
		}
		if !sameSetting(got, want) {
			probs = append(probs, fmt.Sprintf("%s has %s = %q, the scenario says %q: the harness does not change an external cluster's configuration (only %s, per session)",
				n.Name, k, got, want, strings.Join(sessionSettings, ", ")))
		}
	}
	if primary {
		var ssn string
		if err := conn.QueryRow(ctx, "SELECT current_setting('synchronous_standby_names')").Scan(&ssn); err != nil {
			return fmt.Errorf("%s: %w", n.Name, err)
		}
		switch {
		case spec.SyncStandbyNames != "" && strings.TrimSpace(ssn) == "":
			probs = append(probs, fmt.Sprintf("the scenario has synchronous replicas (%s) but %s's synchronous_standby_names is empty", spec.SyncStandbyNames, n.Name))
		case spec.SyncStandbyNames == "" && strings.TrimSpace(ssn) != "":
			probs = append(probs, fmt.Sprintf("%s has synchronous_standby_names = %q but no replica of the scenario is sync: mark the synchronous ones sync: true", n.Name, ssn))
		}
		for _, r := range spec.Replicas {
			if r.Slot == "" {
				continue
			}
			var ok bool
			if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)", r.Slot).Scan(&ok); err != nil {
				return fmt.Errorf("%s: %w", n.Name, err)
			}
			if !ok {
				probs = append(probs, fmt.Sprintf("%s has no replication slot %q for %s: the harness creates none on an external cluster; set topology.slots: false or create it", n.Name, r.Slot, r.Name))
			}
		}
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "\n"))
	}
	return nil
}

// sameSetting compares a setting as the server shows it with the
// scenario's value, case and quotes aside ("on" and "ON", "'x'" and "x").
func sameSetting(got, want string) bool {
	norm := func(s string) string { return strings.ToLower(strings.Trim(strings.TrimSpace(s), `'"`)) }
	return norm(got) == norm(want)
}

// Cluster is the external cluster, for one variant.
type Cluster struct {
	b           *Backend
	nodes       []Node
	view        []cluster.Node
	logDir      string
	addrs       map[string]string // node -> inet_server_addr:port
	appSettings map[string]string // session settings of the App user

	hookMu  sync.Mutex
	hookSeq int

	downOnce sync.Once
	downErr  error
}

func (c *Cluster) Nodes() []cluster.Node { return slices.Clone(c.view) }

func (c *Cluster) node(name string) (Node, bool) {
	i := slices.IndexFunc(c.nodes, func(n Node) bool { return n.Name == name })
	if i < 0 {
		return Node{}, false
	}
	return c.nodes[i], true
}

// ConnString reaches node as the harness's user, in its schema; App
// connections carry the scenario's session settings.
func (c *Cluster) ConnString(node string, u cluster.User) string {
	n, ok := c.node(node)
	if !ok {
		return ""
	}
	if u == cluster.App {
		return c.b.login(n.DSN, c.appSettings)
	}
	return c.b.login(n.DSN, nil)
}

// PrimaryConnInfo is "": the harness writes no standby's configuration.
func (c *Cluster) PrimaryConnInfo(standby, upstream string) string { return "" }

// WriteConnString is the write endpoint as the App user.
func (c *Cluster) WriteConnString() string { return c.b.login(c.b.cfg.Write, c.appSettings) }

// ServerAddr is node's address as its server sees it.
func (c *Cluster) ServerAddr(node string) string { return c.addrs[node] }

// EffectTimeout bounds the wait for a hook's fault to be observed.
func (c *Cluster) EffectTimeout() time.Duration { return c.b.cfg.EffectTimeout }

// createSchema creates the harness's schema on the primary. A schema of
// that name that an earlier run of the harness left (killed outright) is
// dropped first; one that is not the harness's is a refusal.
func (c *Cluster) createSchema(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, c.b.login(c.nodes[0].DSN, nil))
	if err != nil {
		return fmt.Errorf("external: schema: %s", cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	schema := pgx.Identifier{c.b.cfg.Schema}.Sanitize()
	var mark *string
	err = conn.QueryRow(ctx, "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1", c.b.cfg.Schema).Scan(&mark)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return fmt.Errorf("external: schema: %w", err)
	case mark == nil || *mark != schemaMark:
		return fmt.Errorf("external: a schema %s exists that the harness did not create: it writes only to a schema of its own; name another with external.schema", schema)
	default:
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			return fmt.Errorf("external: drop the schema an earlier run left: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return fmt.Errorf("external: create schema %s: %w", schema, err)
	}
	if _, err := conn.Exec(ctx, "COMMENT ON SCHEMA "+schema+" IS "+pgquote.Literal(schemaMark)); err != nil {
		return fmt.Errorf("external: schema: %w", err)
	}
	return nil
}

// Down drops the harness's schema on whichever node answers as the
// primary; nothing else of the cluster is touched. With no primary left
// (a kill that no failover followed) the schema stays, and the error says
// so.
func (c *Cluster) Down(ctx context.Context) error {
	c.downOnce.Do(func() { c.downErr = c.dropSchema(ctx) })
	return c.downErr
}

func (c *Cluster) dropSchema(ctx context.Context) error {
	schema := pgx.Identifier{c.b.cfg.Schema}.Sanitize()
	dsns := []string{c.b.cfg.Write}
	for _, n := range c.nodes {
		dsns = append(dsns, n.DSN)
	}
	var errs []string
	for _, dsn := range dsns {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := func() error {
			conn, err := pgx.Connect(cctx, c.b.login(dsn, nil))
			if err != nil {
				return err
			}
			defer conn.Close(context.Background())
			var inRecovery bool
			if err := conn.QueryRow(cctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil {
				return err
			}
			if inRecovery {
				return errors.New("in recovery")
			}
			_, err = conn.Exec(cctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
			return err
		}()
		cancel()
		if err == nil {
			return nil
		}
		errs = append(errs, cluster.Redact(dsn)+": "+cluster.Redact(err.Error()))
	}
	return fmt.Errorf("no node answered as a primary to drop the schema %s (drop it by hand: DROP SCHEMA %s CASCADE): %s", schema, schema, strings.Join(errs, "; "))
}

// waitAnswers waits, within the effect timeout, until node answers a
// query.
func (c *Cluster) waitAnswers(ctx context.Context, node string) error {
	if err := cluster.WaitAnswers(ctx, c, node, c.b.cfg.EffectTimeout); err != nil {
		return fmt.Errorf("after its start hook (external.hooks.effect_timeout): %w", err)
	}
	return nil
}

// promoteSQL promotes node with pg_promote(), not waiting: the node
// becoming writable is observed apart.
func promoteSQL(ctx context.Context, c *Cluster, node string) error {
	conn, err := pgx.Connect(ctx, c.ConnString(node, cluster.Admin))
	if err != nil {
		return fmt.Errorf("promote %s: %s", node, cluster.Redact(err.Error()))
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT pg_promote(wait => false)"); err != nil {
		return fmt.Errorf("promote %s: %w", node, err)
	}
	return nil
}
