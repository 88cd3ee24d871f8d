package result

import (
	"sort"
	"strings"
)

// upgrade brings a result of an older schema version to this one, in
// place, so that readers (the report, compare) see one shape. Version 1
// carried the fault timeline in prose: fault and heal events paired by
// their detail, phases named "during: <fault>". Here, and only here, that
// prose is read, once, into the typed fields.
func upgrade(r *Result) {
	if r.SchemaVersion >= 2 {
		return
	}
	for i := range r.Variants {
		upgradeVariant(&r.Variants[i])
	}
	r.SchemaVersion = SchemaVersion
}

// instantV1 lists the version 1 fault descriptions that acted at one
// instant when never healed.
var instantV1 = []string{"kill ", "restart ", "reset "}

func upgradeVariant(v *Variant) {
	sort.SliceStable(v.Events, func(a, b int) bool { return v.Events[a].Ms < v.Events[b].Ms })
	byName := map[string][]int{} // open faults by name, oldest first
	for i := range v.Events {
		e := &v.Events[i]
		e.Detail = strings.ReplaceAll(e.Detail, " ±0s", "")
		switch e.Kind {
		case EventFault:
			idx := len(v.Faults)
			at := e.Ms
			kind, _, _ := strings.Cut(e.Detail, " ")
			lasting := true
			for _, p := range instantV1 {
				if strings.HasPrefix(e.Detail+" ", p) {
					lasting = false
				}
			}
			v.Faults = append(v.Faults, Fault{Index: idx, Kind: kind, Name: e.Detail, Node: e.Node,
				Targets: []string{}, Lasting: lasting, AtMs: at, Outcome: OutcomeInjected, InjectedMs: &at})
			byName[e.Detail] = append(byName[e.Detail], idx)
			e.Fault, e.FaultKind, e.Lasting, e.Outcome = &idx, kind, lasting, OutcomeInjected
		case EventHeal:
			open := byName[e.Detail]
			if len(open) == 0 {
				continue
			}
			idx := open[0]
			byName[e.Detail] = open[1:]
			at := e.Ms
			f := &v.Faults[idx]
			f.HealedMs = &at
			e.Fault, e.FaultKind, e.Lasting = &idx, f.Kind, f.Lasting
		}
	}
	if v.Faults == nil {
		v.Faults = []Fault{}
	}
	during := 0
	for i := range v.Phases {
		p := &v.Phases[i]
		p.Name = strings.ReplaceAll(p.Name, " ±0s", "")
		switch {
		case p.Name == "whole run":
			p.Kind = PhaseWhole
		case p.Name == "before":
			p.Kind = PhaseBefore
		case p.Name == "after":
			p.Kind = PhaseAfter
		case strings.HasPrefix(p.Name, "during"):
			p.Kind = PhaseDuring
			if during < len(v.Faults) {
				idx := during
				p.Fault = &idx
			}
			during++
		}
	}
	for i := range v.CatchUps {
		c := &v.CatchUps[i]
		c.Fault = strings.ReplaceAll(c.Fault, " ±0s", "")
		for j := range v.Faults {
			if v.Faults[j].Name == c.Fault {
				idx := j
				c.FaultIndex = &idx
				break
			}
		}
	}
}
