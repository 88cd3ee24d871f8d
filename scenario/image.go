package scenario

import (
	"fmt"
	"regexp"
	"strings"
)

// imageRE is what topology.image may be: a Docker image reference
// (repository[:tag][@digest], a registry host and port included).
var imageRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*(:[0-9]+/[a-z0-9._/-]+)?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)

// validateImage checks topology.image and subscribers' failover_slots,
// and records where they are set; an image on a backend the file names
// that runs no images is refused here, and on one the command line names
// by ImageProblem.
func (d *decoder) validateImage(s *Scenario) {
	t := &s.Topology
	for i := range t.Subscribers {
		p := index("topology.subscribers", i) + ".failover_slots"
		if d.set[p] {
			t.Subscribers[i].FailoverSlotsLine = d.at(p).Line
		}
	}
	if !d.set["topology.image"] {
		return
	}
	t.ImageLine = d.at("topology.image").Line
	if t.Image == "" || len(t.Image) > 255 || !imageRE.MatchString(t.Image) {
		d.problemAt("topology.image", "%q is not a Docker image reference such as pgbench-ha/postgres:17 or postgres:16 (lower-case repository, optional :tag and @sha256:digest)", clip(t.Image))
		return
	}
	if d.set["backend"] && s.Backend != BackendDocker {
		d.problemAt("topology.image", "names the image the nodes run, which only the docker backend has; this scenario runs on the %s backend (backend key): use backend: docker, or remove topology.image", s.Backend)
	}
}

// ImageProblem refuses, before anything starts, topology.image (set in
// the file or by the matrix) on a backend other than docker: the command
// line's backend ("" for the scenario's own). The error names the line.
func ImageProblem(s *Scenario, backend string) error {
	if backend == "" {
		backend = s.Backend
	}
	if backend == "" {
		backend = DefaultBackend
	}
	if backend == BackendDocker {
		return nil
	}
	line := s.Topology.ImageLine
	set := s.Topology.Image != ""
	for _, ax := range s.Matrix {
		if strings.EqualFold(ax.Setting, "topology.image") {
			set, line = true, ax.Line
		}
	}
	if !set {
		return nil
	}
	return &Errors{{File: s.File, Line: line, Msg: fmt.Sprintf("topology.image names the image the nodes run, which only the docker backend has; "+
		"this run is on the %s backend: run it with --backend docker (or backend: docker in the file), or remove topology.image", backend)}}
}
