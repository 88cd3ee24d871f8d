package external

import (
	"testing"
	"time"
)

func TestParseHistory(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 0, 0, 123000000, time.UTC)
	for _, tc := range []struct{ name, in string }{
		{"patroni", `[[1, 50331800, "no recovery target specified", "2026-12-01T03:00:00.123+00:00", "pg-2"]]`},
		{"object lines", `{"timeline": 2, "leader": "pg-2", "at": "2026-12-01T03:00:00.123Z", "reason": "failover"}` + "\n"},
		{"array of objects", `[{"timeline": 2, "leader": "pg-2", "at": "2026-12-01T03:00:00.123Z"}]`},
	} {
		ps, err := parseHistory([]byte(tc.in))
		if err != nil || len(ps) != 1 || ps[0].Timeline != 1 || ps[0].Leader != "pg-2" || !ps[0].At.Equal(at) {
			t.Errorf("%s: %+v, %v", tc.name, ps, err)
		}
	}
	for _, in := range []string{`{"timeline": 1, "leader": "x"}`, `{"leader": "x"}`, `not json`, `[{"timeline": "two"}]`} {
		if ps, err := parseHistory([]byte(in)); err == nil {
			t.Errorf("%q: %+v, want an error", in, ps)
		}
	}
	if ps, err := parseHistory([]byte("  \n")); err != nil || len(ps) != 0 {
		t.Errorf("no output: %+v, %v", ps, err)
	}
	c := &Cluster{nodes: []Node{{Name: "primary", Member: "pg-1"}, {Name: "replica1", Member: "pg-2"}}}
	if got := c.nodeOfMember("pg-2"); got != "replica1" {
		t.Errorf("pg-2 is node %q, want replica1", got)
	}
	if got := c.nodeOfMember("replica9"); got != "replica9" {
		t.Errorf("an unmapped member: %q", got)
	}
}
