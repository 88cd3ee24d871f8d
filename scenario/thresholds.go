package scenario

import (
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/pgbench-ha/pgbench-ha/metric"
)

// Threshold is one entry of a scenario's thresholds: limits on one metric
// across the variants it selects. A run whose result breaks any limit
// exits with its own code (see README.md, "Exit codes").
type Threshold struct {
	// Metric is a name from metric.Defs, such as "lost_acked_writes".
	Metric string
	// Limits are the aggregations and their limits, in file order; at
	// least one.
	Limits []Limit
	// Where selects the variants by their matrix values: a variant is
	// selected when, for every Match, its value of the setting is one of
	// the Match's values. Empty selects every variant.
	Where []Match
	// Line is the line of the entry in the scenario file, for messages.
	Line int
}

// Limit is one aggregation of a threshold and its limit (see
// metric.Aggregations for what each means).
type Limit struct {
	Aggregation string
	Value       float64
	Line        int
}

// Match selects the variants whose matrix value of Setting is one of
// Values.
type Match struct {
	Setting string   // a matrix setting, lower case
	Values  []string // values of that matrix axis
}

// thresholdKeys are the keys a thresholds entry accepts besides the
// aggregations.
var thresholdKeys = []string{"metric", "where"}

// thresholdEntryKeys lists every key a thresholds entry accepts.
func thresholdEntryKeys() []string {
	return append(slices.Clone(thresholdKeys), metric.Aggregations...)
}

// thresholds decodes the thresholds list.
func (d *decoder) thresholds(path string, n ast.Node, s *Scenario) {
	items, _ := d.list(path, n)
	for i, item := range items {
		ip := index(path, i)
		pos := nodePos(item)
		d.pos[ip] = pos
		th := Threshold{Line: pos.Line}
		entries, ok := d.mapping(ip, item)
		if ok {
			d.set[ip] = true
			for _, e := range entries {
				p := join(ip, e.key)
				d.record(p, e)
				if e.key != "metric" && e.key != "where" {
					d.limitKeys[ip] = true // a limit was meant, right or wrong
				}
				switch {
				case e.key == "metric":
					th.Metric, _ = d.str(p, e.val)
				case e.key == "where":
					th.Where = d.where(p, e.val)
				case metric.IsAggregation(e.key):
					if v, ok := d.number(p, e.val); ok {
						th.Limits = append(th.Limits, Limit{Aggregation: e.key, Value: v, Line: d.pos[p].Line})
					} else if d.nulls[p] {
						d.problemAt(p, "needs a limit, a number")
					}
				default:
					d.unknownKey(ip, e, thresholdEntryKeys())
				}
			}
		}
		s.Thresholds = append(s.Thresholds, th)
	}
}

// where decodes a threshold's where: a mapping from matrix setting to a
// value or a list of values. Whether they are in the matrix is checked by
// validateThresholds, once the matrix is known.
func (d *decoder) where(path string, n ast.Node) []Match {
	entries, ok := d.mapping(path, n)
	if !ok {
		return nil
	}
	var out []Match
	firstLine := map[string]int{}
	for _, e := range entries {
		name := strings.ToLower(e.key)
		p := join(path, name)
		if l, dup := firstLine[name]; dup {
			d.problem(e.keyPos, "%s: duplicate setting %q (first at line %d)", path, e.key, l)
			continue
		}
		firstLine[name] = e.keyPos.Line
		d.record(p, e)
		d.pos[p+"#key"] = e.keyPos
		m := Match{Setting: name}
		v := d.deref(e.val)
		if text, isScalar := scalarText(v); isScalar {
			m.Values = []string{text}
			d.set[p] = true
			d.pos[index(p, 0)] = nodePos(v)
			out = append(out, m)
			continue
		}
		if d.isNull(e.val) {
			d.problemAt(p, "no values; want a value or a list such as [on, remote_apply]")
			continue
		}
		items, ok := d.list(p, e.val)
		if !ok {
			continue
		}
		if len(items) == 0 {
			d.problemAt(p, "empty list of values; give at least one")
			continue
		}
		good := true
		for j, item := range items {
			ip := index(p, j)
			d.pos[ip] = nodePos(item)
			text, isScalar := scalarText(d.deref(item))
			if !isScalar {
				d.wrongType(ip, item, "a value (a string, number or boolean)")
				good = false
				continue
			}
			m.Values = append(m.Values, text)
		}
		if good {
			out = append(out, m)
		}
	}
	return out
}

// validateThresholds checks each threshold against the metric list and
// the scenario: the metric exists and can be measured by this scenario,
// there is at least one limit, and where names matrix settings and their
// values.
func (d *decoder) validateThresholds(s *Scenario) {
	names := metric.Names()
	for i := range s.Thresholds {
		th := &s.Thresholds[i]
		tp := index("thresholds", i)
		if !d.set[tp] {
			continue
		}
		if d.required(tp+".metric", "a metric name such as lost_acked_writes") {
			def, ok := metric.Lookup(th.Metric)
			switch {
			case !ok:
				d.problemAt(tp+".metric", "unknown metric %q%s; valid metrics: %s", clip(th.Metric), didYouMean(th.Metric, names), quoteList(names))
			case def.Needs == metric.NeedFault && len(s.Faults) == 0:
				d.problemAt(tp+".metric", "%s is measured only when a fault fires, and this scenario has no faults", def.Name)
			case def.Needs == metric.NeedPromote && (len(s.Faults) == 0 || s.Failover.Mode != FailoverPromote):
				d.problemAt(tp+".metric", "%s is measured only when a fault fires and failover.mode is promote", def.Name)
			case def.Needs == metric.NeedReplica && len(s.Topology.Replicas) == 0:
				d.problemAt(tp+".metric", "%s is measured per replica, and this scenario has no replicas", def.Name)
			case def.Needs == metric.NeedSubscriber && len(s.Topology.Subscribers) == 0:
				d.problemAt(tp+".metric", "%s is measured on logical subscribers, and this scenario has none (topology.subscribers)", def.Name)
			case def.Needs == metric.NeedArchive && s.Topology.Archive == nil:
				d.problemAt(tp+".metric", "%s is measured when the scenario archives WAL, and this one does not (topology.archive)", def.Name)
			case drillNeeds[def.Needs] != "" && !s.hasDrill(drillNeeds[def.Needs]):
				d.problemAt(tp+".metric", "%s is measured by a %s drill, and this scenario has none (drills)", def.Name, drillNeeds[def.Needs])
			case def.Needs == metric.NeedCapacity && len(s.CapacitySpans()) == 0:
				d.problemAt(tp+".metric", "%s is measured in a burst at rate 0 of a paced workload (workload.rate above 0), and this scenario has none", def.Name)
			}
		}
		if len(th.Limits) == 0 && !d.limitKeys[tp] {
			d.problemAt(tp, "no limit; give at least one of %s with a number, such as max: 0", quoteList(metric.Aggregations))
		}
		d.validateWhere(s, tp+".where", th.Where)
	}
}

func (d *decoder) validateWhere(s *Scenario, wp string, where []Match) {
	if len(where) == 0 {
		return
	}
	if len(s.Matrix) == 0 {
		d.problemAt(wp, "this scenario has no matrix, so there is one variant and nothing to select; remove where")
		return
	}
	var settings []string
	for _, ax := range s.Matrix {
		settings = append(settings, ax.Setting)
	}
	for _, m := range where {
		p := join(wp, m.Setting)
		i := slices.IndexFunc(s.Matrix, func(ax Axis) bool { return ax.Setting == m.Setting })
		if i < 0 {
			d.problem(d.pos[p+"#key"], "%s: %q is not a matrix setting%s; matrix settings: %s", wp, clip(m.Setting), didYouMean(m.Setting, settings), quoteList(settings))
			continue
		}
		values := s.Matrix[i].Values
		for j, v := range m.Values {
			if slices.Contains(values, v) {
				continue
			}
			vp := p
			if _, ok := d.pos[index(p, j)]; ok {
				vp = index(p, j)
			}
			d.problemAt(vp, "%q is not a value of matrix.%s%s; values: %s", clip(v), m.Setting, didYouMean(v, values), quoteList(values))
		}
	}
}
