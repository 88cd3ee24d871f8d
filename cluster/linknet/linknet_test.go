package linknet

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

func TestToxicJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		toxic   cluster.Toxic
		want    string // JSON; "" when an error is wanted
		wantErr string
	}{
		{
			name:  "blackhole",
			toxic: cluster.Toxic{Name: "bh", Kind: cluster.ToxicBlackhole, Direction: cluster.Downstream},
			want:  `{"name":"bh","type":"pgbench_ha_blackhole","stream":"downstream","toxicity":1,"attributes":{}}`,
		},
		{
			name: "latency",
			toxic: cluster.Toxic{Name: "lat", Kind: cluster.ToxicLatency, Direction: cluster.Upstream,
				Latency: 20 * time.Millisecond, Jitter: 5 * time.Millisecond},
			want: `{"name":"lat","type":"latency","stream":"upstream","toxicity":1,"attributes":{"jitter":5,"latency":20}}`,
		},
		{
			name:  "bandwidth",
			toxic: cluster.Toxic{Name: "bw", Kind: cluster.ToxicBandwidth, Direction: cluster.Downstream, RateKBps: 100},
			want:  `{"name":"bw","type":"bandwidth","stream":"downstream","toxicity":1,"attributes":{"rate":100}}`,
		},
		{
			name:  "reset",
			toxic: cluster.Toxic{Name: "rst", Kind: cluster.ToxicReset, Direction: cluster.Upstream},
			want:  `{"name":"rst","type":"reset_peer","stream":"upstream","toxicity":1,"attributes":{"timeout":0}}`,
		},
		{name: "no name", toxic: cluster.Toxic{Kind: cluster.ToxicReset, Direction: cluster.Upstream}, wantErr: "needs a name"},
		{name: "no direction", toxic: cluster.Toxic{Name: "x", Kind: cluster.ToxicReset}, wantErr: "direction"},
		{name: "unknown kind", toxic: cluster.Toxic{Name: "x", Kind: "slow", Direction: cluster.Upstream}, wantErr: `kind "slow"`},
		{name: "zero bandwidth", toxic: cluster.Toxic{Name: "x", Kind: cluster.ToxicBandwidth, Direction: cluster.Upstream}, wantErr: "more than 0"},
		{name: "sub-millisecond latency", toxic: cluster.Toxic{Name: "x", Kind: cluster.ToxicLatency, Direction: cluster.Upstream,
			Latency: 1500 * time.Microsecond}, wantErr: "whole milliseconds"},
		{name: "negative jitter", toxic: cluster.Toxic{Name: "x", Kind: cluster.ToxicLatency, Direction: cluster.Upstream,
			Latency: time.Millisecond, Jitter: -time.Millisecond}, wantErr: "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toxicJSON(tc.toxic)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			mustUnmarshal(t, got, &a)
			mustUnmarshal(t, []byte(tc.want), &b)
			ga, _ := json.Marshal(a)
			gb, _ := json.Marshal(b)
			if string(ga) != string(gb) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// echoServer echoes what it reads and copies it to got; it stops with the
// test.

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, links := range [][]Link{
		{{From: "a", To: "a", Port: 1}},
		{{From: "", To: "b", Port: 1}},
		{{From: "a", To: "b", Port: 1}, {From: "a", To: "b", Port: 2}},
	} {
		if nw, err := New(links); err == nil {
			nw.Stop()
			t.Errorf("New(%v) accepted", links)
		}
	}
}
