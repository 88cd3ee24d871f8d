package scenario

import (
	"strings"
	"testing"
)

// TestImage: topology.image names a Docker image, set in the file or by
// the matrix; a backend that runs no images refuses it with its line, in
// the file (backend key) or from the command line (ImageProblem).
func TestImage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		backend   string // ImageProblem's; "" for the file's
		images    []string
		problem   string // Parse's or ImageProblem's, "" for none
	}{
		{"left out", minimal, "docker", []string{""}, ""},
		{"docker", minimal + "backend: docker\ntopology:\n  image: pgbench-ha/postgres:17\n", "", []string{"pgbench-ha/postgres:17"}, ""},
		{"registry, port, digest", minimal + "backend: docker\ntopology:\n  image: localhost:5000/pg/postgres:17@sha256:" + strings.Repeat("a", 64) + "\n", "",
			[]string{"localhost:5000/pg/postgres:17@sha256:" + strings.Repeat("a", 64)}, ""},
		{"matrix", minimal + "backend: docker\nmatrix:\n  topology.image: [pgbench-ha/postgres:15, pgbench-ha/postgres:17]\n", "",
			[]string{"pgbench-ha/postgres:15", "pgbench-ha/postgres:17"}, ""},
		{"not a reference", minimal + "topology:\n  image: 'Postgres 17'\n", "docker", nil,
			`demo.yaml:4:10: topology.image: "Postgres 17" is not a Docker image reference`},
		{"the file's backend runs no images", minimal + "backend: local\ntopology:\n  image: postgres:17\n", "", nil,
			"demo.yaml:5:10: topology.image: names the image the nodes run, which only the docker backend has; this scenario runs on the local backend"},
		{"the command line's", minimal + "topology:\n  image: postgres:17\n", "local", []string{"postgres:17"},
			"demo.yaml:4: topology.image names the image the nodes run, which only the docker backend has; this run is on the local backend"},
		{"default backend", minimal + "topology:\n  image: postgres:17\n", "", []string{"postgres:17"},
			"demo.yaml:4: topology.image names the image the nodes run, which only the docker backend has; this run is on the local backend"},
		{"the matrix's line", minimal + "matrix:\n  topology.image: [postgres:15, postgres:17]\n", "external", []string{"postgres:15", "postgres:17"},
			"demo.yaml:4: topology.image names the image the nodes run, which only the docker backend has; this run is on the external backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := Parse("demo.yaml", []byte(tt.src))
			if tt.images == nil {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("Parse: %v, want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range Expand(s) {
				got = append(got, p.Scenario.Topology.Image)
			}
			if strings.Join(got, " ") != strings.Join(tt.images, " ") {
				t.Errorf("images %q, want %q", got, tt.images)
			}
			perr := ImageProblem(s, tt.backend)
			switch {
			case tt.problem == "" && perr != nil:
				t.Errorf("ImageProblem: %v", perr)
			case tt.problem != "" && (perr == nil || !strings.HasPrefix(perr.Error(), tt.problem)):
				t.Errorf("ImageProblem: %v, want %q", perr, tt.problem)
			}
		})
	}
}

// TestFailoverSlotsKey: a subscriber's failover_slots is a boolean, nil
// when left out, its line kept for the server check.
func TestFailoverSlotsKey(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+"topology:\n  subscribers:\n    - name: a\n    - name: b\n      failover_slots: false\n")
	subs := s.Topology.Subscribers
	if len(subs) != 2 || subs[0].FailoverSlots != nil || subs[1].FailoverSlots == nil || *subs[1].FailoverSlots || subs[1].FailoverSlotsLine != 7 {
		t.Fatalf("subscribers: %+v", subs)
	}
	_, err := Parse("demo.yaml", []byte(minimal+"topology:\n  subscribers:\n    - failover_slots: maybe\n"))
	if err == nil || !strings.Contains(err.Error(), "demo.yaml:5:") {
		t.Fatalf("a non-boolean failover_slots: %v", err)
	}
}
