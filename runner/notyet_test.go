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
		name    string
		src     string
		backend string
		want    string // "" when the runner takes it
	}{
		{"promote, direct", base + "failover: {mode: promote}\n", "local", ""},
		{"patroni on local", base + "failover: {mode: patroni}\n", "local", ""},
		{"haproxy", base + "client: {path: haproxy}\n", "docker", ""},
		{"patroni on docker", base + "failover: {mode: patroni}\n", "docker",
			"t.yaml: failover.mode patroni on the docker backend (it runs on local) is not yet supported by this build"},
		{"one variant of a matrix", base + "matrix:\n  failover.mode: [promote, patroni]\n", "docker",
			"t.yaml: failover.mode patroni on the docker backend (it runs on local) (variants failover.mode=patroni) is not yet supported by this build"},
		{"a path and a link fault", base + "client: {path: pgbouncer}\nfaults: [{at: 1s, kind: partition, from: writers, to: primary}]\n", "local",
			"t.yaml: client.path pgbouncer with faults on the links of client groups (writers) is not yet supported by this build"},
		{"a path and a partition between nodes", base + "client: {path: haproxy}\nfaults: [{at: 1s, kind: partition, sides: [[primary], [replica1]]}]\n", "local", ""},
		{"a kill of haproxy", base + "failover: {mode: promote}\nclient: {path: haproxy}\nfaults: [{at: 1s, kind: kill, node: haproxy}]\n", "local", ""},
		{"archive on local", "name: t\nduration: 10s\ntopology: {replicas: [{}], archive: {timeout: 1s}}\n", "local", ""},
		{"archive on docker", "name: t\nduration: 10s\ntopology: {replicas: [{}], archive: {}}\n", "docker",
			"t.yaml: topology.archive on the docker backend (WAL archiving runs on the local backend, without Patroni) is not yet supported by this build"},
		{"a dump drill on local", "name: t\nduration: 10s\ndrills: [{kind: dump, at: 1s}]\n", "local", ""},
		{"a dump drill on docker", "name: t\nduration: 10s\ndrills: [{kind: dump, at: 1s}]\n", "docker",
			"t.yaml: drills on the docker backend (they run on the local backend) is not yet supported by this build"},
		{"an accident alone on docker", "name: t\nduration: 10s\naccident: {at: 1s, delete: 0.1}\n", "docker", ""},
		{"archive under patroni", "name: t\nduration: 10s\ntopology: {replicas: [{}], archive: {}}\nfailover: {mode: patroni}\n", "local",
			"t.yaml: topology.archive under failover.mode patroni (WAL archiving runs on the local backend, without Patroni) is not yet supported by this build"},
		{"a pause of pgbouncer on docker", base + "client: {path: pgbouncer, pgbouncer: {in_front_of: nodes}}\nfaults: [{at: 1s, for: 1s, kind: pause, node: pgbouncer}]\n", "docker", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := scenario.Parse("t.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			err = Unsupported(s, tt.backend)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Unsupported = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want || !errors.Is(err, ErrNotSupported)):
				t.Errorf("Unsupported = %v\nwant %s", err, tt.want)
			}
		})
	}
}
