package scenario

import (
	"strings"
	"testing"
	"time"
)

// TestDrills: the accident and the drills decode with their values, and
// a deletion by fraction becomes a condition on a hash of the id.
func TestDrills(t *testing.T) {
	t.Parallel()
	src := minimal + `topology:
  replicas: [{name: r1}]
  archive: {timeout: 1s}
accident: {at: 4s, delete: 0.25}
drills:
  - {kind: pitr, at: 1s}
  - {kind: dump, at: 2s}
  - {kind: archive_standby, at: 0s}
`
	s := mustParse(t, src)
	if a := s.Accident; a == nil || a.At != Duration(4*time.Second) || a.Delete != 0.25 || a.Condition() != "abs(hashint8(id)) % 1000000 < 250000" {
		t.Fatalf("accident %+v (%q)", s.Accident, s.Accident.Condition())
	}
	want := []Drill{{DrillPITR, Duration(time.Second)}, {DrillDump, Duration(2 * time.Second)}, {DrillArchiveStandby, 0}}
	if len(s.Drills) != len(want) {
		t.Fatalf("drills %+v", s.Drills)
	}
	for i := range want {
		if s.Drills[i] != want[i] {
			t.Errorf("drills[%d] = %+v, want %+v", i, s.Drills[i], want[i])
		}
	}
	if d, ok := s.Drill(DrillDump); !ok || d.At != Duration(2*time.Second) {
		t.Errorf("Drill(dump) = %+v, %v", d, ok)
	}
	if !s.HasDrills() {
		t.Error("HasDrills false")
	}
	w := mustParse(t, minimal+"accident: {at: 1s, where: \"customer_id % 7 = 0\"}\n")
	if w.Accident.Condition() != "customer_id % 7 = 0" || len(w.Drills) != 0 {
		t.Errorf("where: %+v", w.Accident)
	}
	if n := mustParse(t, minimal); n.HasDrills() {
		t.Error("no drills: HasDrills true")
	}
}

// TestDrillsRefused: combinations that cannot work are refused with the
// line of the key at fault.
func TestDrillsRefused(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, src, want string }{
		{"pitr without archive", "accident: {at: 4s, delete: 0.1}\ndrills: [{kind: pitr, at: 1s}]\n", "drills[0].kind: the pitr drill reads the WAL archive"},
		{"pitr without accident", "topology: {archive: {}}\ndrills: [{kind: pitr, at: 1s}]\n", "recovers to a restore point made right before the accident"},
		{"pitr after the accident", "topology: {archive: {}}\naccident: {at: 1s, delete: 0.1}\ndrills: [{kind: pitr, at: 2s}]\n", "must come before the accident"},
		{"standby without archive", "drills: [{kind: archive_standby, at: 1s}]\n", "the archive_standby drill reads the WAL archive"},
		{"docker", "backend: docker\ndrills: [{kind: dump, at: 1s}]\n", "drills run on the local backend"},
		{"both delete and where", "accident: {at: 1s, delete: 0.1, where: x}\n", "not both"},
		{"neither", "accident: {at: 1s}\n", "missing what to delete"},
		{"no at", "accident: {delete: 0.1}\n", `missing required key "at"`},
		{"zero fraction", "accident: {at: 1s, delete: 0}\n", "not a fraction"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("test.yaml", []byte(minimal+tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestDrillThresholds: a drill's metric needs that drill.
func TestDrillThresholds(t *testing.T) {
	t.Parallel()
	ok := minimal + "topology: {archive: {}}\naccident: {at: 4s, delete: 0.1}\ndrills: [{kind: pitr, at: 1s}]\nthresholds:\n  - {metric: pitr_missing_acked_writes, max: 0}\n"
	if _, err := Parse("test.yaml", []byte(ok)); err != nil {
		t.Errorf("pitr threshold with a pitr drill: %v", err)
	}
	bad := minimal + "thresholds:\n  - {metric: dump_missing_acked_writes, max: 0}\n"
	if _, err := Parse("test.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "measured by a dump drill") {
		t.Errorf("dump threshold without a dump drill: %v", err)
	}
}
