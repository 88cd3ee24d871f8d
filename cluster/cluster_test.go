package cluster

import (
	"reflect"
	"sync"
	"testing"
)

func TestMultiHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		nodes []Node
		want  string
	}{
		{"one", []Node{{Name: "primary", Host: "127.0.0.1", Port: 5432}}, "host=127.0.0.1 port=5432"},
		{"three, in order", []Node{
			{Name: "primary", Host: "127.0.0.1", Port: 40001},
			{Name: "replica1", Host: "127.0.0.1", Port: 40002},
			{Name: "replica2", Host: "10.0.0.3", Port: 5432},
		}, "host=127.0.0.1,127.0.0.1,10.0.0.3 port=40001,40002,5432"},
		{"none", nil, "host= port="},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := MultiHost(tc.nodes); got != tc.want {
				t.Errorf("MultiHost = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	type step struct {
		promote, markDown string
	}
	tests := []struct {
		name         string
		steps        []step
		wantPrimary  string
		wantReplicas []string
		wantDown     []string
		wantUp       []string
	}{
		{"as built", nil, "primary", []string{"replica1", "replica2", "replica3"}, nil,
			[]string{"primary", "replica1", "replica2", "replica3"}},
		{"promote the second replica", []step{{promote: "replica2"}}, "replica2",
			[]string{"replica1", "replica3"}, []string{"primary"}, []string{"replica1", "replica2", "replica3"}},
		{"mark a replica down", []step{{markDown: "replica1"}}, "primary",
			[]string{"replica2", "replica3"}, []string{"replica1"}, []string{"primary", "replica2", "replica3"}},
		{"the controller's order: mark the primary down, then promote", []step{{markDown: "primary"}, {promote: "replica1"}},
			"replica1", []string{"replica2", "replica3"}, []string{"primary"}, []string{"replica1", "replica2", "replica3"}},
		{"a replica killed, then a failover", []step{{markDown: "replica3"}, {promote: "replica1"}},
			"replica1", []string{"replica2"}, []string{"primary", "replica3"}, []string{"replica1", "replica2"}},
		{"two failovers in a row", []step{{promote: "replica1"}, {promote: "replica2"}},
			"replica2", []string{"replica3"}, []string{"primary", "replica1"}, []string{"replica2", "replica3"}},
		{"the same promotion seen twice", []step{{promote: "replica1"}, {promote: "replica1"}},
			"replica1", []string{"replica2", "replica3"}, []string{"primary"}, []string{"replica1", "replica2", "replica3"}},
		{"promote the primary as built", []step{{promote: "primary"}}, "primary",
			[]string{"replica1", "replica2", "replica3"}, nil, []string{"primary", "replica1", "replica2", "replica3"}},
		{"mark down twice", []step{{markDown: "replica2"}, {markDown: "replica2"}}, "primary",
			[]string{"replica1", "replica3"}, []string{"replica2"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			built := []string{"replica1", "replica2", "replica3"}
			r := NewRoles("primary", built)
			built[0] = "changed" // NewRoles keeps its own copy
			for _, s := range tc.steps {
				if s.promote != "" {
					r.Promote(s.promote)
				}
				if s.markDown != "" {
					r.MarkDown(s.markDown)
				}
			}
			if got := r.Primary(); got != tc.wantPrimary {
				t.Errorf("Primary() = %q, want %q", got, tc.wantPrimary)
			}
			if got := r.Replicas(); !reflect.DeepEqual(got, tc.wantReplicas) {
				t.Errorf("Replicas() = %q, want %q", got, tc.wantReplicas)
			}
			for _, n := range tc.wantDown {
				if !r.IsDown(n) {
					t.Errorf("IsDown(%q) = false, want true", n)
				}
			}
			for _, n := range tc.wantUp {
				if r.IsDown(n) {
					t.Errorf("IsDown(%q) = true, want false", n)
				}
			}
			// Replicas returns a copy.
			if reps := r.Replicas(); len(reps) > 0 {
				reps[0] = "mutated"
				if r.Replicas()[0] == "mutated" {
					t.Error("Replicas() exposes the internal slice")
				}
			}
		})
	}
}

func TestRolesConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRoles("primary", []string{"replica1", "replica2"})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 1000; j++ {
				_ = r.Primary()
				_ = r.Replicas()
				_ = r.IsDown("primary")
			}
		}()
	}
	r.MarkDown("primary")
	r.Promote("replica1")
	wg.Wait()
	if r.Primary() != "replica1" || !reflect.DeepEqual(r.Replicas(), []string{"replica2"}) {
		t.Errorf("after failover: primary %q, replicas %q", r.Primary(), r.Replicas())
	}
}
