package scenario

import (
	"slices"
	"testing"
	"time"
)

const externalBase = `name: ext
duration: 30s
backend: external
topology:
  replicas: [{name: replica1, sync: true}]
`

func TestExternalSection(t *testing.T) {
	t.Parallel()
	s, err := Parse("ext.yaml", []byte(externalBase+`external:
  write: "host=10.0.0.5 port=5432"
  nodes:
    primary: {dsn: "host=10.0.0.1 port=5432", member: pg-1, env: {PGDATA: /var/lib/pg}}
    replica1: {dsn: "host=10.0.0.2 port=5432"}
  hooks:
    kill: ssh $PGBHA_HOST sudo systemctl kill -s KILL postgresql
    start: ssh $PGBHA_HOST sudo systemctl start postgresql
    timeout: 5s
failover: {mode: external}
faults:
  - {at: 5s, kind: kill, node: primary, for: 10s}
`))
	if err != nil {
		t.Fatal(err)
	}
	x := s.External
	if x.Database != DefaultExternalDatabase || x.User != DefaultExternalUser || x.Schema != DefaultExternalSchema {
		t.Errorf("defaults: %+v", x)
	}
	if x.Hooks.Timeout.D() != 5*time.Second || x.Hooks.EffectTimeout != DefaultHookEffectTimeout {
		t.Errorf("hook timeouts: %+v", x.Hooks)
	}
	if n, ok := x.Node("primary"); !ok || n.Member != "pg-1" || n.Env["PGDATA"] != "/var/lib/pg" {
		t.Errorf("primary: %+v", n)
	}
	if len(x.Nodes) != 2 || x.Nodes[1].Name != "replica1" {
		t.Errorf("nodes: %+v", x.Nodes)
	}
	if x.Hooks.Commands[HookKill] == "" || x.Hooks.Commands[HookStart] == "" {
		t.Errorf("hooks: %+v", x.Hooks.Commands)
	}
}

func TestExternalProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "missing section",
			src:  externalBase,
			want: []string{`test.yaml:1:1: missing required key "external" (how to reach your cluster: write, database, user, schema, nodes, hooks)`},
		},
		{
			name: "a password, a node missing, an unknown node, a bad schema",
			src: externalBase + `external:
  write: "host=10.0.0.5 password=secret"
  schema: Public
  nodes:
    primary: {dsn: "postgres://app:secret@10.0.0.1/db"}
    replica2: {dsn: "host=10.0.0.3"}
`,
			want: []string{
				`test.yaml:7:10: external.write: a password has no place in a scenario file: give it in PGPASSWORD or a passfile (PGPASSFILE, ~/.pgpass)`,
				`test.yaml:8:11: external.schema: "Public" is not a schema name the harness may create: lower-case letters, digits and _, at most 63, not starting with pg_`,
				`test.yaml:10:5: external.nodes: no DSN for replica1: give every node of the topology (primary, replica1) one, or none (the write endpoint is then the one node observed)`,
				`test.yaml:10:20: external.nodes.primary.dsn: a password has no place in a scenario file: give it in PGPASSWORD or a passfile (PGPASSFILE, ~/.pgpass)`,
				`test.yaml:11:16: external.nodes.replica2: no node named "replica2" in the topology (did you mean "replica1"?); nodes: primary, replica1`,
			},
		},
		{
			name: "hooks without their undo, a kill healed without start, an unknown action",
			src: externalBase + `external:
  write: "host=10.0.0.5"
  nodes: {primary: {dsn: "host=a"}, replica1: {dsn: "host=b"}}
  hooks:
    kill: "kill -9 1"
    pause: "docker pause x"
    promot: "x"
faults:
  - {at: 5s, kind: kill, node: primary, for: 5s}
`,
			want: []string{
				`test.yaml:11:12: external.hooks.pause: a pause hook needs a resume hook to undo it: the harness heals every fault it makes`,
				`test.yaml:12:5: external.hooks: unknown key "promot" (did you mean "promote"?); valid keys: timeout, effect_timeout, kill, stop, start, pause, resume, cut, heal, link, unlink, promote, switchover, history, prepare`,
				`test.yaml:14:46: faults[0].for: a kill with for: starts the node again afterwards: give external.hooks.start, or remove for: (the node then stays down)`,
			},
		},
		{
			name: "replicas without node DSNs; a path, patroni, repoint",
			src: externalBase + `external: {write: "host=10.0.0.5"}
client: {path: haproxy}
failover: {mode: patroni, repoint: true}
`,
			want: []string{
				`test.yaml:6:12: external: the topology has replicas (replica1) but external.nodes gives no DSN to observe them: give every node one, or leave the replicas out`,
				`test.yaml:7:16: client.path: the external backend writes through external.write, your own path (HAProxy, PgBouncer, a service): client.path must be direct`,
				`test.yaml:8:18: failover.mode: patroni starts Patroni here; for a cluster of yours under Patroni, use failover.mode external (the harness observes) and a history hook for Patroni's own record`,
				`test.yaml:8:36: failover.repoint: does not apply under failover.mode patroni: Patroni makes the replicas follow the new leader itself`,
			},
		},
		{
			name: "a section on another backend",
			src:  "name: t\nduration: 30s\nexternal: {write: \"host=x\"}\n",
			want: []string{`test.yaml:3:12: external: applies to backend: external only (a cluster of yours the harness connects to); remove it or set backend: external`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, tt.src)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}
