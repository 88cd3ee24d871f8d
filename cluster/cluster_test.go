package cluster

import (
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"unquoted", "host=127.0.0.1 port=5432 user=app password=s3cr3t dbname=postgres",
			"host=127.0.0.1 port=5432 user=app password=xxxxx dbname=postgres"},
		{"unquoted at the end", "user=app password=s3cr3t", "user=app password=xxxxx"},
		{"spaces around =", "user=app password = s3cr3t sslmode=disable", "user=app password = xxxxx sslmode=disable"},
		{"upper case key", "PASSWORD=s3cr3t user=x", "PASSWORD=xxxxx user=x"},
		{"quoted with a space", "user=app password='a b c' dbname=postgres", "user=app password=xxxxx dbname=postgres"},
		{"quoted with escaped quote and backslash", `password='it\'s \\ x y' application_name=replica2`,
			"password=xxxxx application_name=replica2"},
		{"empty quoted", "password='' user=x", "password=xxxxx user=x"},
		{"two passwords", "primary_conninfo: host=a password=one; admin: password='two 2'",
			"primary_conninfo: host=a password=xxxxx admin: password=xxxxx"},
		{"inside an error message", `promote replica1: ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=5 user=replicator password=abc123 application_name=replica2': permission denied`,
			`promote replica1: ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=5 user=replicator password=xxxxx application_name=replica2': permission denied`},
		{"no password", "host=127.0.0.1 user=app", "host=127.0.0.1 user=app"},
		{"the word password alone", `password authentication failed for user "app"`, `password authentication failed for user "app"`},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Redact(tc.in)
			if got != tc.want {
				t.Errorf("Redact(%q)\n= %q\nwant %q", tc.in, got, tc.want)
			}
			for _, secret := range []string{"s3cr3t", "abc123", "a b c", "it\\'s", "two 2"} {
				if strings.Contains(tc.in, secret) && strings.Contains(got, secret) {
					t.Errorf("Redact(%q) = %q still holds %q", tc.in, got, secret)
				}
			}
		})
	}
}

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
