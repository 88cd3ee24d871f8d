package scenario

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/pgbench-ha/pgbench-ha/metric"
)

// Drill kinds.
const (
	// DrillDump: pg_dump of the orders at its moment (an exported
	// snapshot), restored after the run into a fresh server.
	DrillDump = "dump"
	// DrillPITR: a base backup at its moment, recovered after the run
	// from the WAL archive to a restore point made right before the
	// accident.
	DrillPITR = "pitr"
	// DrillArchiveStandby: a base backup at its moment started as a
	// standby fed by the archive alone (restore_command, no streaming),
	// its lag sampled, promoted at the end of the workload.
	DrillArchiveStandby = "archive_standby"
)

// DrillKinds lists the valid drills[].kind values.
var DrillKinds = []string{DrillDump, DrillPITR, DrillArchiveStandby}

var (
	accidentKeys = []string{"at", "delete", "where"}
	drillKeys    = []string{"kind", "at"}
)

// Accident is an accidental DELETE of orders on the primary during the
// run. The ids it removed are recorded (DELETE ... RETURNING id) and
// counted as deleted on purpose, not as lost writes.
type Accident struct {
	At Duration `yaml:"at"`
	// Delete is the fraction of the orders deleted, 0 < Delete <= 1,
	// chosen by a hash of the id (the same ids every run); Where a SQL
	// condition on the orders instead. One of the two.
	Delete float64 `yaml:"delete"`
	Where  string  `yaml:"where"`
	// Line is where the accident is in the file.
	Line int `yaml:"-"`
}

// Condition is the accident's WHERE clause.
func (a *Accident) Condition() string {
	if a.Where != "" {
		return a.Where
	}
	return fmt.Sprintf("abs(hashint8(id)) %% 1000000 < %d", int64(math.Round(a.Delete*1e6)))
}

// Drill is one restore drill.
type Drill struct {
	Kind string   `yaml:"kind"`
	At   Duration `yaml:"at"`
}

// Drill returns the scenario's drill of kind, if it has one.
func (s *Scenario) Drill(kind string) (Drill, bool) {
	for _, d := range s.Drills {
		if d.Kind == kind {
			return d, true
		}
	}
	return Drill{}, false
}

// drillNeeds is the drill kind each metric need names.
var drillNeeds = map[metric.Need]string{metric.NeedDump: DrillDump, metric.NeedPITR: DrillPITR, metric.NeedArchiveStandby: DrillArchiveStandby}

func (s *Scenario) hasDrill(kind string) bool {
	_, ok := s.Drill(kind)
	return ok
}

// HasDrills reports whether the scenario has drills or an accident.
func (s *Scenario) HasDrills() bool { return len(s.Drills) > 0 || s.Accident != nil }

func (d *decoder) accident(path string, n ast.Node) *Accident {
	entries, ok := d.mapping(path, n)
	if !ok || d.isNull(n) {
		return nil
	}
	a := &Accident{Line: nodePos(n).Line}
	d.set[path] = true
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "at":
			a.At, _ = d.duration(p, e.val)
		case "delete":
			a.Delete, _ = d.number(p, e.val)
		case "where":
			a.Where, _ = d.str(p, e.val)
		default:
			d.unknownKey(path, e, accidentKeys)
		}
	}
	return a
}

func (d *decoder) drills(path string, n ast.Node) []Drill {
	items, _ := d.list(path, n)
	var out []Drill
	for i, item := range items {
		ip := index(path, i)
		d.pos[ip] = nodePos(item)
		var dr Drill
		entries, ok := d.mapping(ip, item)
		if ok && !d.isNull(item) {
			d.set[ip] = true
		}
		for _, e := range entries {
			p := join(ip, e.key)
			d.record(p, e)
			switch e.key {
			case "kind":
				dr.Kind, _ = d.str(p, e.val)
			case "at":
				dr.At, _ = d.duration(p, e.val)
			default:
				d.unknownKey(ip, e, drillKeys)
			}
		}
		out = append(out, dr)
	}
	return out
}

// validateDrills checks the accident and the drills, and refuses what
// cannot work: a PITR without the archive or without an accident to
// recover to (or with a base backup after it), an archive-only standby
// without the archive, drills off the local backend or under Patroni, an
// accident with logical subscribers (they would replicate the DELETE).
func (d *decoder) validateDrills(s *Scenario) {
	durOK := d.set["duration"] && s.Duration > 0
	within := func(p string, at Duration, what string) bool {
		if !d.required(p, "a duration from the start, such as 5s") {
			return false
		}
		switch {
		case at < 0:
			d.problemAt(p, "must not be negative, got %s", at)
			return false
		case durOK && at >= s.Duration:
			d.problemAt(p, "%s is not within the scenario's duration; %s must come at or after 0s and before %s", at, what, s.Duration)
			return false
		}
		return true
	}
	accidentOK := false
	if a := s.Accident; a != nil {
		const ap = "accident"
		accidentOK = within(ap+".at", a.At, "the accident")
		switch hasD, hasW := d.set[ap+".delete"], d.set[ap+".where"]; {
		case hasD && hasW:
			d.problemAt(ap+".where", "give delete (a fraction of the orders) or where (a SQL condition), not both")
		case !hasD && !hasW:
			d.problemAt(ap, "missing what to delete: delete (a fraction of the orders, such as 0.1) or where (a SQL condition on orders, such as \"customer_id %% 7 = 0\")")
		case hasD && (a.Delete <= 0 || a.Delete > 1 || math.IsNaN(a.Delete)):
			d.problemAt(ap+".delete", "%v is not a fraction of the orders; want more than 0 and at most 1, such as 0.1", a.Delete)
		case hasW && strings.TrimSpace(a.Where) == "":
			d.problemAt(ap+".where", "needs a SQL condition on orders, such as \"customer_id %% 7 = 0\"")
		case hasW && strings.Contains(a.Where, ";"):
			d.problemAt(ap+".where", "must be one condition, without ';'")
		}
		if len(s.Topology.Subscribers) > 0 {
			d.problemAt(ap, "an accident with topology.subscribers is not supported: the subscribers would replicate the DELETE and count its rows as missing")
		}
	}
	if len(s.Drills) == 0 {
		return
	}
	switch {
	case d.set["backend"] && s.Backend != BackendLocal:
		d.problemAt("drills", "drills run on the local backend, not %q (they start servers of their own beside the cluster)", s.Backend)
	case s.Failover.Mode == FailoverPatroni:
		d.problemAt("drills", "drills are not supported under failover.mode patroni")
	}
	seen := map[string]string{}
	for i, dr := range s.Drills {
		ip := index("drills", i)
		if !d.set[ip] {
			d.problemAt(ip, "needs kind and at, such as {kind: dump, at: 5s}")
			continue
		}
		atOK := within(ip+".at", dr.At, "a drill")
		if !d.required(ip+".kind", "one of "+quoteList(DrillKinds)) {
			continue
		}
		if !slices.Contains(DrillKinds, dr.Kind) {
			d.enum(ip+".kind", dr.Kind, "drill kind", DrillKinds)
			continue
		}
		if first, dup := seen[dr.Kind]; dup {
			d.problemAt(ip+".kind", "a second %s drill (the first is %s); one of each kind", dr.Kind, first)
			continue
		}
		seen[dr.Kind] = ip
		switch dr.Kind {
		case DrillPITR, DrillArchiveStandby:
			if !s.ArchiveEnabled() {
				d.problemAt(ip+".kind", "the %s drill reads the WAL archive, and this scenario does not archive; add topology.archive (e.g. {timeout: 1s})", dr.Kind)
			}
		}
		if dr.Kind != DrillPITR {
			continue
		}
		switch {
		case s.Accident == nil:
			d.problemAt(ip+".kind", "a pitr drill recovers to a restore point made right before the accident; add accident: {at: ..., delete: 0.1}")
		case accidentOK && atOK && dr.At >= s.Accident.At:
			d.problemAt(ip+".at", "the base backup at %s must come before the accident at %s, the target it recovers to", dr.At, s.Accident.At)
		}
	}
}
