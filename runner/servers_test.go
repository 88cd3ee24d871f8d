package runner

import (
	"maps"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/scenario"
)

// TestSubscriberPlans: a subscription's slot is a failover slot where the
// server has them (17 and later) and the standbys stream through slots,
// unless the subscriber says false.
func TestSubscriberPlans(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []struct {
		name    string
		version string
		slots   bool
		subs    []scenario.Subscriber
		want    []subscriberPlan
	}{
		{"15: none", "15.14", true, []scenario.Subscriber{{Name: "a"}}, []subscriberPlan{{name: "a"}}},
		{"17: by default", "17.6", true, []scenario.Subscriber{{Name: "a"}}, []subscriberPlan{{name: "a", failover: true}}},
		{"18 too", "18.1", true, []scenario.Subscriber{{Name: "a"}}, []subscriberPlan{{name: "a", failover: true}}},
		{"17, one turned off", "17.6", true, []scenario.Subscriber{{Name: "a", FailoverSlots: &no}, {Name: "b", FailoverSlots: &yes}},
			[]subscriberPlan{{name: "a"}, {name: "b", failover: true}}},
		{"17 without physical slots", "17.6", false, []scenario.Subscriber{{Name: "a"}}, []subscriberPlan{{name: "a"}}},
		{"unknown version", "", true, []scenario.Subscriber{{Name: "a"}}, []subscriberPlan{{name: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &scenario.Scenario{Topology: scenario.Topology{Slots: &tt.slots, Subscribers: tt.subs}}
			got := subscriberPlans(s, tt.version)
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

// TestFailoverSlotSettings: every node synchronizes slots with standby
// feedback; the primary waits for the standbys' slots, a standby for
// none (once promoted it has none of them); a scenario's own value wins.
func TestFailoverSlotSettings(t *testing.T) {
	t.Parallel()
	spec := cluster.Spec{
		Replicas: []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2", Slot: "replica2"}, {Name: "replica3"}},
		Settings: map[string]map[string]string{"primary": {"wal_level": "logical"}, "replica2": {"hot_standby_feedback": "off"}},
	}
	failoverSlotSettings(&spec, "primary")
	want := map[string]map[string]string{
		"primary":  {"wal_level": "logical", "sync_replication_slots": "on", "hot_standby_feedback": "on", "synchronized_standby_slots": "replica1,replica2"},
		"replica1": {"sync_replication_slots": "on", "hot_standby_feedback": "on", "synchronized_standby_slots": ""},
		"replica2": {"sync_replication_slots": "on", "hot_standby_feedback": "off", "synchronized_standby_slots": ""},
		"replica3": {"sync_replication_slots": "on", "hot_standby_feedback": "on", "synchronized_standby_slots": ""},
	}
	for n, w := range want {
		if !maps.Equal(spec.Settings[n], w) {
			t.Errorf("%s: %v, want %v", n, spec.Settings[n], w)
		}
	}
}

func TestMajorOf(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]int{"15.14": 15, "17.6": 17, "17beta1": 17, "": 0, "18": 18} {
		if got := majorOf(v); got != want {
			t.Errorf("majorOf(%q) = %d, want %d", v, got, want)
		}
	}
}
