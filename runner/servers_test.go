package runner

import (
	"maps"
	"strings"
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

// versionBackend is a backend that only says its name and server
// version: all CheckServers asks of a backend without images.
type versionBackend struct {
	cluster.Backend
	name, version string
}

func (b versionBackend) Name() string          { return b.name }
func (b versionBackend) ServerVersion() string { return b.version }

// TestCheckServers: failover slots asked of a server before 17, or
// without the standbys' physical slots, and an image on a backend that
// runs none, are refused before anything starts, each with its line.
func TestCheckServers(t *testing.T) {
	t.Parallel()
	const base = "name: t\nduration: 10s\ntopology:\n  replicas: [{name: replica1}]\n  subscribers:\n    - name: sub1\n"
	tests := []struct {
		name, yaml, backend, version string
		want                         string // "" for none
	}{
		{"17 by default", base, "local", "17.6", ""},
		{"15 by default: none", base, "local", "15.14", ""},
		{"15 asked for none", base + "      failover_slots: false\n", "local", "15.14", ""},
		{"15 asked for them", base + "      failover_slots: true\n", "local", "15.14",
			"t.yaml:7: topology.subscribers[0].failover_slots is true, but the server runs PostgreSQL 15.14: failover slots need PostgreSQL 17 or later"},
		{"17 without physical slots", base + "      failover_slots: true\n  slots: false\n", "local", "17.6",
			"t.yaml:7: topology.subscribers[0].failover_slots is true, but topology.slots is false"},
		{"an image on the local backend", base + "  image: postgres:17\n", "local", "15.14",
			"t.yaml:7: topology.image names the image the nodes run, which only the docker backend has; this run is on the local backend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := scenario.Parse("t.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckServers(s, versionBackend{name: tt.backend, version: tt.version})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("CheckServers: %v", err)
			case tt.want != "" && (err == nil || !IsScenarioProblem(err) || !strings.HasPrefix(err.Error(), tt.want)):
				t.Errorf("CheckServers: %v, want %q", err, tt.want)
			}
		})
	}
}
