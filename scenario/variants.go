package scenario

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// A matrix key whose first segment (up to the first '.' or '[') is a
// top-level key of the scenario addresses a scenario value by its path:
// failover.ttl, workload.rate, client.path, faults[0].at,
// topology.replicas[1].sync, topology.settings.work_mem. Any other key is
// a PostgreSQL setting, extension settings such as
// auto_explain.log_min_duration included: no setting's first segment is
// one of these keys.

// pathSections are the top-level keys a matrix path may vary; the other
// top-level keys (name, description, backend, repeat, matrix, thresholds)
// say what the run is, not what a variant is.
var pathSections = []string{"duration", "seed", "topology", "workload", "faults", "failover", "client", "probes"}

// settingsKeys are the mappings of PostgreSQL settings: in a path, what
// follows one of them is a setting name, dots and all.
var settingsKeys = []string{"settings", "primary_settings"}

// IsScenarioPath reports whether a matrix key addresses a scenario value
// (its first segment is a top-level key of the scenario) rather than a
// PostgreSQL setting.
func IsScenarioPath(key string) bool {
	return slices.Contains(scenarioKeys, firstSegment(strings.ToLower(key)))
}

// firstSegment returns key up to its first '.' or '['.
func firstSegment(key string) string {
	if i := strings.IndexAny(key, ".["); i >= 0 {
		return key[:i]
	}
	return key
}

// pathSeg is one step of a path: a key, or an index into a list.
type pathSeg struct {
	key   string
	index int // when key is ""
}

var (
	pathKeyRE   = regexp.MustCompile(`^[a-z_][a-z0-9_]*`)
	pathIndexRE = regexp.MustCompile(`^\[([0-9]{1,6})\]`)
)

// parsePath splits a lower-case path such as faults[0].at into its steps.
func parsePath(path string) ([]pathSeg, error) {
	var segs []pathSeg
	rest := path
	for {
		key := pathKeyRE.FindString(rest)
		if key == "" {
			return nil, fmt.Errorf("want a key (lower-case letters, digits and '_') at %q", clip(rest))
		}
		segs = append(segs, pathSeg{key: key})
		rest = rest[len(key):]
		for {
			m := pathIndexRE.FindStringSubmatch(rest)
			if m == nil {
				break
			}
			i, _ := strconv.Atoi(m[1])
			segs = append(segs, pathSeg{index: i})
			rest = rest[len(m[0]):]
		}
		if rest == "" {
			return segs, nil
		}
		if rest[0] != '.' {
			return nil, fmt.Errorf("want '.' or [n] at %q", clip(rest))
		}
		rest = rest[1:]
		if slices.Contains(settingsKeys, key) && rest != "" {
			// A setting name: checked as such when the variant is decoded.
			return append(segs, pathSeg{key: rest}), nil
		}
	}
}

// checkMatrixPath returns what is wrong with a matrix key that addresses
// the scenario, or "".
func checkMatrixPath(path string) string {
	first := firstSegment(path)
	if !slices.Contains(pathSections, first) {
		return fmt.Sprintf("%q: %s cannot vary between variants; a matrix path starts with one of %s", clip(path), first, quoteList(pathSections))
	}
	if _, err := parsePath(path); err != nil {
		return fmt.Sprintf("%q is not a valid path such as failover.ttl or faults[0].at: %v", clip(path), err)
	}
	return ""
}

// hasPathAxes reports whether some axis addresses the scenario.
func hasPathAxes(axes []Axis) bool {
	return slices.ContainsFunc(axes, func(ax Axis) bool { return ax.Path })
}

// pathAxes returns the axes that address the scenario, in matrix order.
func pathAxes(axes []Axis) []Axis {
	var out []Axis
	for _, ax := range axes {
		if ax.Path {
			out = append(out, ax)
		}
	}
	return out
}

// variants decodes one scenario per combination of the values of the
// matrix paths of base (decoded from data by d), the first path varying
// slowest, each from the file with those values put in place, and stores
// them in base. It returns the problems of the run: those every variant
// has once, as they are; those only some have, each naming the variants.
// A problem of base that no variant has (a key that applies only to the
// failover mode every variant sets) is not one.
func (d *decoder) variants(base *Scenario, data []byte) []Problem {
	axes := pathAxes(base.Matrix)
	total := 1
	for _, ax := range axes {
		total *= len(ax.Values)
	}
	type seen struct {
		p        Problem
		variants [][]int // the value index of each axis, per variant
	}
	var order []string
	found := map[string]*seen{}
	idx := make([]int, len(axes))
	for range total {
		values := make([]string, len(axes))
		for a, ax := range axes {
			values[a] = ax.Values[idx[a]]
		}
		vd := newDecoder(d.file)
		for _, ax := range axes {
			vd.clientVaries = vd.clientVaries || strings.HasPrefix(ax.Setting, "client.")
		}
		var editProbs []Problem
		s := vd.decodeFile(data, func(body ast.Node) (ast.Node, bool) {
			body, editProbs = vd.putValues(body, axes, values, d)
			return body, len(editProbs) == 0
		})
		if len(editProbs) > 0 {
			// The path does not fit the file: the same in every variant.
			return append(editProbs, d.probs...)
		}
		if s != nil {
			vd.validate(s)
		}
		for _, p := range vd.probs {
			k := fmt.Sprintf("%d:%d:%s", p.Line, p.Column, p.Msg)
			if f, ok := found[k]; ok {
				if !slices.Equal(f.variants[len(f.variants)-1], idx) {
					f.variants = append(f.variants, slices.Clone(idx))
				}
				continue
			}
			order = append(order, k)
			found[k] = &seen{p: p, variants: [][]int{slices.Clone(idx)}}
		}
		base.variants = append(base.variants, s)
		for a := len(idx) - 1; a >= 0; a-- {
			idx[a]++
			if idx[a] < len(axes[a].Values) {
				break
			}
			idx[a] = 0
		}
	}
	var probs []Problem
	for _, k := range order {
		f := found[k]
		p := f.p
		if len(f.variants) < total {
			p.Msg += " (" + variantsText(f.variants, axes) + ")"
		}
		probs = append(probs, p)
	}
	if len(probs) > 0 {
		base.variants = nil
	}
	return probs
}

// variantsText says which variants of the matrix a problem is in (each
// a value index per axis), and on which lines the matrix gives the values
// that make them: "in every variant with failover.ttl=20, matrix line 14"
// when the problem follows from some values alone, else the variants by
// name.
func variantsText(variants [][]int, axes []Axis) string {
	// The axes of several values whose value is the same in every such
	// variant, and how many variants have those values.
	var common []int
	n := 1
	for a, ax := range axes {
		same := true
		for _, v := range variants[1:] {
			if v[a] != variants[0][a] {
				same = false
				break
			}
		}
		if same && len(ax.Values) > 1 {
			common = append(common, a)
		} else {
			n *= len(ax.Values)
		}
	}
	lines := func(as []int) string {
		var ls []string
		for _, a := range as {
			ls = append(ls, strconv.Itoa(axes[a].Line))
		}
		if len(ls) == 1 {
			return "matrix line " + ls[0]
		}
		return "matrix lines " + strings.Join(ls, ", ")
	}
	name := func(v []int, as []int) string {
		parts := make([]string, len(as))
		for i, a := range as {
			parts[i] = axes[a].Setting + "=" + axes[a].Values[v[a]]
		}
		return strings.Join(parts, ",")
	}
	all := make([]int, len(axes))
	for a := range all {
		all[a] = a
	}
	if len(common) > 0 && len(variants) == n {
		return fmt.Sprintf("in every variant with %s, %s", name(variants[0], common), lines(common))
	}
	const most = 3
	var shown []string
	for _, v := range variants[:min(most, len(variants))] {
		shown = append(shown, name(v, all))
	}
	more := ""
	if len(variants) > most {
		more = fmt.Sprintf(" and %d more", len(variants)-most)
	}
	return fmt.Sprintf("in the variants %s%s, %s", strings.Join(shown, "; "), more, lines(all))
}

// putValues puts, in the document body, the value values[a] of each path
// axis where its path points, as the matrix writes it (its node, so its
// type and position go with it): keys the file leaves out are added,
// positioned at the matrix key. base is the decoder of the whole file,
// which knows where each matrix key is. It returns the new body and the
// paths that do not fit the file.
func (d *decoder) putValues(body ast.Node, axes []Axis, values []string, base *decoder) (ast.Node, []Problem) {
	var probs []Problem
	// Finding the matrix again reports nothing: decoding the file does.
	defer func(n int) { d.probs = d.probs[:n] }(len(d.probs))
	for a, ax := range axes {
		keyPos := base.pos["matrix."+ax.Setting+"#key"]
		item := d.matrixItem(body, ax.Setting, values[a])
		if item == nil {
			probs = append(probs, Problem{File: d.file, Line: keyPos.Line, Column: keyPos.Column,
				Msg: fmt.Sprintf("matrix: %s: cannot find the value %q in the file again", ax.Setting, clip(values[a]))})
			continue
		}
		segs, _ := parsePath(ax.Setting) // checked when the matrix was decoded
		nb, err := putAt(body, segs, item, keyPos, "")
		if err != nil {
			probs = append(probs, Problem{File: d.file, Line: keyPos.Line, Column: keyPos.Column,
				Msg: fmt.Sprintf("matrix: %s: %v", ax.Setting, err)})
			continue
		}
		body = nb
	}
	return body, probs
}

// matrixItem finds, in the document body, the node of the matrix value
// text of the key setting.
func (d *decoder) matrixItem(body ast.Node, setting, text string) ast.Node {
	top, _ := d.mapping("", body)
	for _, e := range top {
		if e.key != "matrix" {
			continue
		}
		axes, _ := d.mapping("matrix", e.val)
		for _, ae := range axes {
			if strings.ToLower(ae.key) != setting {
				continue
			}
			seq, ok := d.deref(ae.val).(*ast.SequenceNode)
			if !ok {
				return nil
			}
			for _, item := range seq.Values {
				if t, ok := scalarText(d.deref(item)); ok && t == text {
					return item
				}
			}
		}
	}
	return nil
}

// putAt sets the value at segs under n to value and returns n, or what
// replaces it (a mapping for a null). Keys it adds are positioned at pos.
// walked is the path so far, for messages.
func putAt(n ast.Node, segs []pathSeg, value ast.Node, pos token.Position, walked string) (ast.Node, error) {
	if len(segs) == 0 {
		return value, nil
	}
	switch v := n.(type) {
	case *ast.TagNode:
		nv, err := putAt(v.Value, segs, value, pos, walked)
		v.Value = nv
		return v, err
	case *ast.AnchorNode:
		nv, err := putAt(v.Value, segs, value, pos, walked)
		v.Value = nv
		return v, err
	case *ast.AliasNode:
		return n, fmt.Errorf("%s is an alias (*%s) in the file; write its value out there to vary it", walked, tokText(v.Value))
	}
	seg := segs[0]
	if seg.key == "" {
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			return n, fmt.Errorf("%s is not a list in the file, so it has no [%d]", walked, seg.index)
		}
		if seg.index >= len(seq.Values) {
			entries := "entries"
			if len(seq.Values) == 1 {
				entries = "entry"
			}
			return n, fmt.Errorf("%s has %d %s in the file, so no [%d]", walked, len(seq.Values), entries, seg.index)
		}
		nv, err := putAt(seq.Values[seg.index], segs[1:], value, pos, index(walked, seg.index))
		seq.Values[seg.index] = nv
		return seq, err
	}
	var m *ast.MappingNode
	switch v := n.(type) {
	case nil, *ast.NullNode:
		m = ast.Mapping(newToken(":", pos), false)
	case *ast.MappingNode:
		m = v
	case *ast.MappingValueNode:
		m = ast.Mapping(v.GetToken(), v.IsFlowStyle, v)
	default:
		if isNil(n) {
			m = ast.Mapping(newToken(":", pos), false)
			break
		}
		return n, fmt.Errorf("%s is %s in the file, not a mapping with a key %s", pathOrTop(walked), describe(n), seg.key)
	}
	next := join(walked, seg.key)
	merged := false
	for _, mv := range m.Values {
		if isNil(mv) {
			continue
		}
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			merged = true
			continue
		}
		if k, ok := scalarText(mv.Key); ok && k == seg.key {
			nv, err := putAt(mv.Value, segs[1:], value, pos, next)
			mv.Value = nv
			return m, err
		}
	}
	if merged && len(segs) > 1 {
		return m, fmt.Errorf("%s may come from a merge (<<) in the file; write %s out there to vary it", next, seg.key)
	}
	nv, err := putAt(nil, segs[1:], value, pos, next)
	if err != nil {
		return m, err
	}
	m.Values = append(m.Values, ast.MappingValue(newToken(":", pos), ast.String(newToken(seg.key, pos)), nv))
	return m, nil
}

// newToken is a token of text at pos, for nodes a matrix variant adds.
func newToken(text string, pos token.Position) *token.Token {
	p := pos
	typ := token.StringType
	if text == ":" {
		typ = token.MappingValueType
	}
	return &token.Token{Type: typ, Value: text, Origin: text, Position: &p}
}
