package scenario

import (
	"slices"
	"testing"
	"time"
)

// TestArchive: topology.archive turns archiving on, even written with no
// value; its timeout becomes every node's archive_timeout, in seconds.
func TestArchive(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      *Archive
		settings  map[string]string // archive settings of every node
	}{
		{"left out", minimal, nil, map[string]string{}},
		{"no value", minimal + "topology:\n  archive:\n", &Archive{}, map[string]string{"archive_mode": "on"}},
		{"empty mapping", minimal + "topology: {archive: {}}\n", &Archive{}, map[string]string{"archive_mode": "on"}},
		{"zero timeout", minimal + "topology: {archive: {timeout: 0}}\n", &Archive{}, map[string]string{"archive_mode": "on"}},
		{"timeout", minimal + "topology:\n  replicas: [{name: r1}]\n  archive:\n    timeout: 1m\n",
			&Archive{Timeout: Duration(time.Minute)}, map[string]string{"archive_mode": "on", "archive_timeout": "60s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.src)
			got := s.Topology.Archive
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Fatalf("archive = %+v, want %+v", got, tt.want)
			}
			if s.ArchiveEnabled() != (tt.want != nil) {
				t.Errorf("ArchiveEnabled = %v", s.ArchiveEnabled())
			}
			for _, p := range Expand(s) {
				for _, n := range s.NodeNames() {
					all := p.NodeSettings(n)
					got := map[string]string{}
					for _, k := range ArchiveSettings {
						if v, ok := all[k]; ok {
							got[k] = v
						}
					}
					if len(got) != len(tt.settings) {
						t.Errorf("%s: archive settings %v, want %v", n, got, tt.settings)
					}
					for k, v := range tt.settings {
						if got[k] != v {
							t.Errorf("%s: %s = %q, want %q", n, k, got[k], v)
						}
					}
				}
			}
		})
	}
}

// TestArchiveTimeoutAcrossAMatrix: the timeout is a matrix path like
// any other, each variant archiving with its own.
func TestArchiveTimeoutAcrossAMatrix(t *testing.T) {
	t.Parallel()
	s := mustParse(t, minimal+"topology: {archive: {timeout: 1s}}\nmatrix:\n  topology.archive.timeout: [1s, 0, 30s]\n")
	var got []string
	for _, p := range Expand(s) {
		got = append(got, p.Name+"="+p.NodeSettings(PrimaryName)["archive_timeout"])
	}
	want := []string{"topology.archive.timeout=1s=1s", "topology.archive.timeout=0=", "topology.archive.timeout=30s=30s"}
	if !slices.Equal(got, want) {
		t.Errorf("variants %v, want %v", got, want)
	}
}

func TestArchiveProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "unknown key",
			src:  minimal + "topology:\n  archive:\n    timout: 1s\n",
			want: []string{`test.yaml:5:5: topology.archive: unknown key "timout" (did you mean "timeout"?); valid keys: timeout`},
		},
		{
			name: "not a mapping",
			src:  minimal + "topology:\n  archive: true\n",
			want: []string{`test.yaml:4:12: topology.archive: want a mapping of keys, got the boolean true`},
		},
		{
			name: "negative timeout",
			src:  minimal + "topology:\n  archive: {timeout: -1s}\n",
			want: []string{`test.yaml:4:22: topology.archive.timeout: must not be negative, got -1s; 0 (the default) is no archive_timeout`},
		},
		{
			name: "not whole seconds",
			src:  minimal + "topology:\n  archive: {timeout: 1500ms}\n",
			want: []string{`test.yaml:4:22: topology.archive.timeout: 1.5s is not whole seconds, archive_timeout's unit; use 0 (none) or a value such as 1s or 60s`},
		},
		{
			name: "too long",
			src:  minimal + "topology:\n  archive: {timeout: 1000000h}\n",
			want: []string{`test.yaml:4:22: topology.archive.timeout: 1000000h0m0s is more than archive_timeout takes (2147483647 s)`},
		},
		{
			name: "no unit",
			src:  minimal + "topology:\n  archive: {timeout: 60}\n",
			want: []string{`test.yaml:4:22: topology.archive.timeout: bad duration "60" (a unit is needed); want a Go duration such as 250ms, 30s or 1m30s`},
		},
		{
			name: "archive settings of the scenario's own",
			src: minimal + "topology:\n  archive: {}\n  settings:\n    archive_command: 'cp %p /x/%f'\n    work_mem: 4MB\n" +
				"  primary_settings:\n    archive_timeout: 5s\n  replicas:\n    - settings: {archive_mode: always}\n    - settings: {archive_library: basic_archive}\n",
			want: []string{
				`test.yaml:6:22: topology.settings.archive_command: is set by topology.archive on every node; remove it (archive_timeout is topology.archive.timeout), or remove topology.archive to archive your own way`,
				`test.yaml:9:22: topology.primary_settings.archive_timeout: is set by topology.archive on every node; remove it (archive_timeout is topology.archive.timeout), or remove topology.archive to archive your own way`,
				`test.yaml:11:32: topology.replicas[0].settings.archive_mode: is set by topology.archive on every node; remove it (archive_timeout is topology.archive.timeout), or remove topology.archive to archive your own way`,
				`test.yaml:12:35: topology.replicas[1].settings.archive_library: is set by topology.archive on every node; remove it (archive_timeout is topology.archive.timeout), or remove topology.archive to archive your own way`,
			},
		},
		{
			name: "archive setting in the matrix",
			src:  minimal + "topology: {archive: {}}\nmatrix:\n  archive_timeout: [1s, 5s]\n",
			want: []string{`test.yaml:5:20: matrix.archive_timeout: archive_timeout is set by topology.archive on every node; vary topology.archive.timeout instead, or remove topology.archive`},
		},
		{
			name: "archive setting in the matrix, by path",
			src:  minimal + "topology: {archive: {}}\nmatrix:\n  topology.settings.archive_mode: ['on']\n",
			want: []string{`test.yaml:5:36: topology.settings.archive_mode: is set by topology.archive on every node; remove it (archive_timeout is topology.archive.timeout), or remove topology.archive to archive your own way`},
		},
		{
			name: "a threshold on the archive without one",
			src:  minimal + "thresholds:\n  - {metric: archive_failures, max: 0}\n",
			want: []string{`test.yaml:4:14: thresholds[0].metric: archive_failures is measured when the scenario archives WAL, and this one does not (topology.archive)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, tt.src)
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
	// Without topology.archive a scenario archives its own way.
	s := mustParse(t, minimal+"topology:\n  settings: {archive_mode: 'on', archive_command: '/bin/true', archive_timeout: 60s}\n")
	if s.ArchiveEnabled() || s.Topology.Settings["archive_command"] != "/bin/true" {
		t.Errorf("own archive settings: %+v", s.Topology)
	}
	// A threshold on the archive with one.
	mustParse(t, minimal+"topology: {archive: {timeout: 1s}}\nthresholds:\n  - {metric: max_archive_lag_bytes, max: 33554432}\n")
}
