package result

import (
	"testing"
)

// TestDecodeUpgradesVersion1: a schema 1 result carried its fault timeline
// in prose; Decode reads it into the typed fields, so the report never
// parses prose.
func TestDecodeUpgradesVersion1(t *testing.T) {
	t.Parallel()
	v1 := `{"schema_version": 1, "status": "complete", "run": {"id": "x"}, "variants": [{
	  "name": "default", "status": "complete",
	  "events": [
	    {"ms": 0, "kind": "phase", "detail": "workload start"},
	    {"ms": 3000, "kind": "fault", "node": "replica1", "detail": "pause replica1"},
	    {"ms": 4000, "kind": "fault", "node": "replica1->primary", "detail": "latency 20ms ±0s replica1 -> primary"},
	    {"ms": 5000, "kind": "heal", "node": "replica1", "detail": "pause replica1"},
	    {"ms": 8000, "kind": "fault", "node": "primary", "detail": "kill primary"}
	  ],
	  "phases": [
	    {"name": "before", "start_ms": 0, "end_ms": 3000},
	    {"name": "during: pause replica1", "start_ms": 3000, "end_ms": 5000},
	    {"name": "during: latency 20ms ±0s replica1 -> primary", "start_ms": 4000, "end_ms": 10000},
	    {"name": "during: kill primary", "start_ms": 8000, "end_ms": 10000}
	  ],
	  "catch_ups": [{"fault": "pause replica1", "replica": "replica1", "heal_ms": 5000}]
	}]}`
	r, err := Decode([]byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	if r.SchemaVersion != SchemaVersion {
		t.Errorf("schema_version %d after upgrade", r.SchemaVersion)
	}
	v := r.Variants[0]
	if len(v.Faults) != 3 {
		t.Fatalf("faults %+v, want 3", v.Faults)
	}
	pause, lat, kill := v.Faults[0], v.Faults[1], v.Faults[2]
	if pause.Kind != "pause" || !pause.Lasting || *pause.InjectedMs != 3000 || pause.HealedMs == nil || *pause.HealedMs != 5000 {
		t.Errorf("pause %+v", pause)
	}
	if lat.Name != "latency 20ms replica1 -> primary" || lat.HealedMs != nil || !lat.Lasting {
		t.Errorf("latency %+v", lat)
	}
	if kill.Kind != "kill" || kill.Lasting || !kill.Fired() {
		t.Errorf("kill %+v", kill)
	}
	if e := v.Events[3]; e.Kind != EventHeal || e.Fault == nil || *e.Fault != 0 {
		t.Errorf("heal event %+v, want fault 0", e)
	}
	kinds := []string{PhaseBefore, PhaseDuring, PhaseDuring, PhaseDuring}
	for i, p := range v.Phases {
		if p.Kind != kinds[i] {
			t.Errorf("phase %d %q kind %q, want %q", i, p.Name, p.Kind, kinds[i])
		}
		if p.Kind == PhaseDuring && (p.Fault == nil || *p.Fault != i-1) {
			t.Errorf("phase %d fault %v, want %d", i, p.Fault, i-1)
		}
	}
	if c := v.CatchUps[0]; c.FaultIndex == nil || *c.FaultIndex != 0 {
		t.Errorf("catch-up %+v", c)
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{`{}`, `{"schema_version": 99}`, `not json`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%s) = nil error", in)
		}
	}
}
