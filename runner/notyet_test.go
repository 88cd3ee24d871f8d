package runner

import (
	"errors"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/scenario"
)

func TestUnsupported(t *testing.T) {
	t.Parallel()
	const base = "name: t\nduration: 10s\ntopology: {replicas: [{}]}\n"
	tests := []struct {
		name string
		src  string
		want string // "" when the runner takes it
	}{
		{"promote, direct", base + "failover: {mode: promote}\n", ""},
		{"direct stated", base + "client: {path: direct}\n", ""},
		{"patroni", base + "failover: {mode: patroni}\n",
			"t.yaml: failover.mode patroni is not yet supported by this build: it runs failover.mode none or promote with client.path direct"},
		{"haproxy", base + "client: {path: haproxy}\n",
			"t.yaml: client.path haproxy is not yet supported by this build: it runs failover.mode none or promote with client.path direct"},
		{"one variant of a matrix", base + "matrix:\n  failover.mode: [promote, patroni]\n  client.path: [direct, pgbouncer]\n",
			"t.yaml: client.path pgbouncer (variants failover.mode=promote,client.path=pgbouncer); failover.mode patroni (variants failover.mode=patroni,client.path=direct); failover.mode patroni and client.path pgbouncer (variants failover.mode=patroni,client.path=pgbouncer) is not yet supported by this build: it runs failover.mode none or promote with client.path direct"},
		{"every variant alike", base + "failover: {mode: patroni}\nmatrix:\n  synchronous_commit: [off, on]\n",
			"t.yaml: failover.mode patroni is not yet supported by this build: it runs failover.mode none or promote with client.path direct"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := scenario.Parse("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			err = Unsupported(s)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Unsupported = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want || !errors.Is(err, ErrNotSupported)):
				t.Errorf("Unsupported = %v\nwant %s", err, tt.want)
			}
		})
	}
}
