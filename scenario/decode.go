package scenario

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Load reads, decodes and validates the scenario file at path. A file that
// cannot be read gives a wrapped *fs.PathError; an invalid file gives a
// *Errors listing every problem.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a scenario from data; file names it in
// problems. Decoding is strict: unknown keys, values of the wrong type and
// bad durations are problems, as is anything the validation rejects. Every
// problem found is returned at once as a *Errors, sorted by position.
// On success the scenario has its defaults applied.
//
// A matrix whose keys address scenario values (failover.ttl, faults[0].at)
// gives every combination of their values a scenario of its own, decoded
// and validated like the file with those values in place; a problem of
// some variants only names them (see variants.go).
func Parse(file string, data []byte) (*Scenario, error) {
	d := newDecoder(file)
	s := d.decodeFile(data, nil)
	if s != nil {
		d.validate(s)
	}
	probs := d.probs
	if s != nil && !d.matrixBad && hasPathAxes(s.Matrix) {
		probs = d.variants(s, data)
	}
	if len(probs) > 0 {
		sortProblems(probs)
		errs := Errors(probs)
		return nil, &errs
	}
	s.File = file
	s.Source = data
	for _, v := range s.variants {
		v.File, v.Source = file, data
	}
	return s, nil
}

// newDecoder returns a decoder of the file named file.
func newDecoder(file string) *decoder {
	return &decoder{
		file:  file,
		pos:   map[string]token.Position{},
		set:   map[string]bool{},
		nulls: map[string]bool{},

		limitKeys: map[string]bool{},
		kindNames: map[string]string{},

		resolved: map[*ast.AliasNode]ast.Node{},
	}
}

// Limits on what a scenario file may make the decoder do.
const (
	maxMerges = 1000 // mappings merged with << per file
)

// decoder turns the YAML syntax tree into a Scenario, collecting problems.
//
// Paths name values the way messages do: "workload.bursts[1].at".
type decoder struct {
	file  string
	probs []Problem
	// pos is where each path's value (or, when it has none, its key) is.
	pos map[string]token.Position
	// set holds the paths that had a value of the right type.
	set map[string]bool
	// nulls holds the paths written with no value.
	nulls map[string]bool
	// limitKeys holds the thresholds entries with a key other than metric
	// and where, valid or not, so a missing limit is not reported twice.
	limitKeys map[string]bool
	// kindNames holds each fault's kind as written, known or not.
	kindNames map[string]string

	anchors  []anchorDef
	resolved map[*ast.AliasNode]ast.Node
	merges   int  // mappings merged with <<, bounded by maxMerges
	tooMany  bool // the merge limit was reported

	// matrixBad is set when the matrix itself has a problem: its
	// variants are then not decoded.
	matrixBad bool
	// clientVaries: a variant's, of a matrix that varies the client path;
	// settings of a proxy its own path leaves out are then another
	// variant's, not a mistake.
	clientVaries bool
}

// anchorDef is one &name in the file.
type anchorDef struct {
	name   string
	offset int
	value  ast.Node
}

// problem records a problem at p.
func (d *decoder) problem(p token.Position, format string, args ...any) {
	line, col := p.Line, p.Column
	if line <= 0 {
		line, col = 1, 1
	}
	d.probs = append(d.probs, Problem{File: d.file, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)})
}

// problemAt records a problem at the value of path (or its nearest
// recorded parent), prefixing the message with the path.
func (d *decoder) problemAt(path, format string, args ...any) {
	d.problem(d.at(path), "%s: %s", pathOrTop(path), fmt.Sprintf(format, args...))
}

// at returns the position recorded for path or its nearest parent.
func (d *decoder) at(path string) token.Position {
	for path != "" {
		if p, ok := d.pos[path]; ok {
			return p
		}
		path = parentPath(path)
	}
	return token.Position{Line: 1, Column: 1}
}

// parentPath strips the last element of a path: "a.b[2]" -> "a.b",
// "a.b" -> "a", "a" -> "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// join appends key to path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// index appends [i] to path.
func index(path string, i int) string {
	return fmt.Sprintf("%s[%d]", path, i)
}

// decodeFile parses data and decodes its single document. edit, when
// set, changes the document's body before it is decoded (a matrix
// variant's values put in place) and may report problems.
func (d *decoder) decodeFile(data []byte, edit func(body ast.Node) (ast.Node, bool)) *Scenario {
	f, err := parse(data)
	if err != nil {
		var perr interface {
			GetToken() *token.Token
			GetMessage() string
		}
		p := token.Position{Line: 1, Column: 1}
		msg := err.Error()
		if errors.As(err, &perr) {
			msg = perr.GetMessage()
			if tp := tokPos(perr.GetToken()); tp.Line > 0 {
				p = tp
			}
		}
		d.problem(p, "YAML syntax: %s", msg)
		return nil
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || isNil(doc.Body) {
			continue
		}
		if _, ok := doc.Body.(*ast.DirectiveNode); ok {
			continue // %YAML 1.2 and the like
		}
		if body != nil {
			d.problem(nodePos(doc.Body), "a scenario file holds one YAML document; remove this one or the --- before it")
			continue
		}
		body = doc.Body
		ast.Walk(anchorCollector{d}, doc.Body)
	}
	if body == nil {
		d.problem(token.Position{Line: 1, Column: 1}, "empty scenario file; a scenario needs at least name and duration")
		return nil
	}
	if edit != nil {
		var ok bool
		if body, ok = edit(body); !ok {
			return nil
		}
	}
	s := &Scenario{}
	if !d.scenario(body, s) {
		return nil
	}
	return s
}

// parse runs the YAML parser, turning a panic in it into an error.
func parse(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// anchorCollector records every anchor of a document, in document order.
type anchorCollector struct{ d *decoder }

// Visit implements ast.Visitor.
func (c anchorCollector) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && !isNil(a.Name) {
		c.d.anchors = append(c.d.anchors, anchorDef{
			name:   tokText(a.Name),
			offset: tokPos(a.GetToken()).Offset,
			value:  a.Value,
		})
	}
	return c
}

// isNil reports whether n is nil or a typed nil pointer.
func isNil(n ast.Node) bool {
	if n == nil {
		return true
	}
	v := reflect.ValueOf(n)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// nodePos returns where n starts. A mapping's own token is its first ':',
// so for mappings the first key's position is used.
func nodePos(n ast.Node) token.Position {
	if isNil(n) {
		return token.Position{}
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		if len(v.Values) > 0 && !isNil(v.Values[0]) {
			return nodePos(v.Values[0])
		}
	case *ast.MappingValueNode:
		if !isNil(v.Key) {
			return nodePos(v.Key)
		}
	case *ast.AnchorNode:
		// the anchor's own token is fine
	case *ast.TagNode:
		// likewise
	}
	return tokPos(n.GetToken())
}

// tokText returns the source text of n's token, or "".
func tokText(n ast.Node) string {
	if isNil(n) {
		return ""
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// tokPos returns tk's position, or the zero position.
func tokPos(tk *token.Token) token.Position {
	if tk == nil || tk.Position == nil {
		return token.Position{}
	}
	return *tk.Position
}

// deref follows tags, anchors and aliases to the node they stand for. It
// returns nil for a missing node or an alias that cannot be resolved.
func (d *decoder) deref(n ast.Node) ast.Node {
	for range 64 {
		if isNil(n) {
			return nil
		}
		switch v := n.(type) {
		case *ast.TagNode:
			n = v.Value
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			n = d.resolveAlias(v)
			if n == nil {
				return nil
			}
		default:
			return n
		}
	}
	return nil
}

// resolveAlias returns the value of the anchor alias a refers to: the
// last one of that name defined before it. An alias that refers to no
// anchor is reported once and resolves to nil.
func (d *decoder) resolveAlias(a *ast.AliasNode) ast.Node {
	if v, done := d.resolved[a]; done {
		return v
	}
	name := ""
	if !isNil(a.Value) {
		name = tokText(a.Value)
	}
	off := tokPos(a.GetToken()).Offset
	var found ast.Node
	for _, an := range d.anchors {
		if an.name == name && an.offset < off {
			found = an.value
		}
	}
	if isNil(found) {
		d.problem(nodePos(a), "alias *%s: no anchor &%s defined before it", name, name)
		found = nil
	}
	d.resolved[a] = found
	return found
}

// entry is one key: value of a mapping.
type entry struct {
	key    string
	keyPos token.Position
	val    ast.Node // nil for a key with no value
}

// mapping returns the entries of the mapping at path in file order, with
// merge keys (<<) applied. It records a problem and returns ok false when
// n is not a mapping; a null n is an empty mapping.
func (d *decoder) mapping(path string, n ast.Node) (entries []entry, ok bool) {
	return d.mappingDepth(path, n, 0)
}

func (d *decoder) mappingDepth(path string, n ast.Node, depth int) ([]entry, bool) {
	raw := n
	n = d.deref(n)
	var values []*ast.MappingValueNode
	switch v := n.(type) {
	case nil:
		return nil, true
	case *ast.NullNode:
		return nil, true
	case *ast.MappingNode:
		values = v.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{v}
	default:
		d.wrongType(path, raw, "a mapping of keys")
		return nil, false
	}
	var out []entry
	seen := map[string]token.Position{}
	var merged []entry
	for _, mv := range values {
		if isNil(mv) {
			continue
		}
		key := d.deref(mv.Key)
		if _, isMerge := key.(*ast.MergeKeyNode); isMerge {
			merged = append(merged, d.merge(path, mv.Value, depth)...)
			continue
		}
		kp := nodePos(mv.Key)
		name, isScalar := scalarText(key)
		if !isScalar {
			d.problem(kp, "%s: a key must be a plain name, not %s", pathOrTop(path), describe(key))
			continue
		}
		if first, dup := seen[name]; dup {
			d.problem(kp, "%s: duplicate key %q (first at line %d)", pathOrTop(path), name, first.Line)
			continue
		}
		seen[name] = kp
		out = append(out, entry{key: name, keyPos: kp, val: mv.Value})
	}
	for _, e := range merged {
		if _, dup := seen[e.key]; dup {
			continue
		}
		seen[e.key] = e.keyPos
		out = append(out, e)
	}
	return out, true
}

// merge returns the entries a merge key (<<: *x or <<: [*x, *y]) brings in.
func (d *decoder) merge(path string, n ast.Node, depth int) []entry {
	d.merges++
	if d.merges > maxMerges || depth > maxMerges {
		if !d.tooMany {
			d.tooMany = true
			d.problem(nodePos(n), "%s: more than %d merges (<<); simplify the file", pathOrTop(path), maxMerges)
		}
		return nil
	}
	v := d.deref(n)
	if seq, ok := v.(*ast.SequenceNode); ok {
		var out []entry
		for _, item := range seq.Values {
			out = append(out, d.merge(path, item, depth+1)...)
		}
		return out
	}
	switch v.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		es, _ := d.mappingDepth(path, v, depth+1)
		return es
	case nil:
		return nil
	}
	d.problem(nodePos(n), "%s: << must merge a mapping or a list of mappings, not %s", pathOrTop(path), describe(v))
	return nil
}

// pathOrTop names path in messages; the top level is "scenario".
func pathOrTop(path string) string {
	if path == "" {
		return "scenario"
	}
	return path
}

// record notes where path's value is, and whether it is null.
func (d *decoder) record(path string, e entry) {
	if p := nodePos(e.val); p.Line > 0 {
		d.pos[path] = p
	} else {
		d.pos[path] = e.keyPos
	}
	if v := d.deref(e.val); v == nil {
		d.nulls[path] = true
	} else if _, ok := v.(*ast.NullNode); ok {
		d.nulls[path] = true
	}
}

// unknownKey records a problem for a key not in valid.
func (d *decoder) unknownKey(path string, e entry, valid []string) {
	d.problem(e.keyPos, "%s: unknown key %q%s; valid keys: %s", pathOrTop(path), e.key, didYouMean(e.key, valid), quoteList(valid))
}

// scalarText returns the text of a scalar node as written (strings
// unquoted), and false for collections and nulls.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if isNil(v.Value) {
			return "", true
		}
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return tokText(n), true
	}
	return "", false
}

// describe names the kind of n for messages: "a list", "the string "x"".
func describe(n ast.Node) string {
	switch v := n.(type) {
	case nil:
		return "nothing"
	case *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return fmt.Sprintf("the string %q", clip(v.Value))
	case *ast.LiteralNode:
		return "a block of text"
	case *ast.IntegerNode:
		return fmt.Sprintf("the integer %s", clip(tokText(v)))
	case *ast.FloatNode:
		return fmt.Sprintf("the number %s", clip(tokText(n)))
	case *ast.InfinityNode, *ast.NanNode:
		return fmt.Sprintf("the value %s", clip(tokText(n)))
	case *ast.BoolNode:
		return fmt.Sprintf("the boolean %s", clip(tokText(v)))
	case *ast.MergeKeyNode:
		return "a merge key (<<)"
	}
	return "a " + strings.ToLower(n.Type().String())
}

// clip shortens s for messages.
func clip(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

// wrongType records "path: want X, got Y".
func (d *decoder) wrongType(path string, n ast.Node, want string) {
	d.problemAt(path, "want %s, got %s", want, describe(d.deref(n)))
}

// isNull reports whether n stands for no value.
func (d *decoder) isNull(n ast.Node) bool {
	v := d.deref(n)
	if v == nil {
		return true
	}
	_, ok := v.(*ast.NullNode)
	return ok
}

// str decodes any scalar as its text. A null gives ok false and no problem.
func (d *decoder) str(path string, n ast.Node) (string, bool) {
	if d.isNull(n) {
		return "", false
	}
	s, ok := scalarText(d.deref(n))
	if !ok {
		d.wrongType(path, n, "a string")
		return "", false
	}
	d.set[path] = true
	return s, true
}

// bigIntRE matches integers the YAML parser could not hold.
var bigIntRE = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

// integer decodes an integer.
func (d *decoder) integer(path string, n ast.Node) (int64, bool) {
	if d.isNull(n) {
		return 0, false
	}
	switch v := d.deref(n).(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			d.set[path] = true
			return x, true
		case uint64:
			if x <= 1<<63-1 {
				d.set[path] = true
				return int64(x), true
			}
		}
		d.problemAt(path, "integer %s is out of range", clip(tokText(v)))
		return 0, false
	case *ast.StringNode:
		if tk := v.GetToken(); tk != nil && tk.Type == token.StringType && bigIntRE.MatchString(v.Value) {
			d.problemAt(path, "integer %s is out of range", clip(v.Value))
			return 0, false
		}
	}
	d.wrongType(path, n, "an integer")
	return 0, false
}

// number decodes an integer or a finite decimal number.
func (d *decoder) number(path string, n ast.Node) (float64, bool) {
	if d.isNull(n) {
		return 0, false
	}
	switch v := d.deref(n).(type) {
	case *ast.IntegerNode:
		switch x := v.Value.(type) {
		case int64:
			d.set[path] = true
			return float64(x), true
		case uint64:
			d.set[path] = true
			return float64(x), true
		}
	case *ast.FloatNode:
		d.set[path] = true
		return v.Value, true
	}
	d.wrongType(path, n, "a number")
	return 0, false
}

// boolean decodes true or false.
func (d *decoder) boolean(path string, n ast.Node) (bool, bool) {
	if d.isNull(n) {
		return false, false
	}
	if v, ok := d.deref(n).(*ast.BoolNode); ok {
		d.set[path] = true
		return v.Value, true
	}
	d.wrongType(path, n, "true or false")
	return false, false
}

// duration decodes a Go duration string such as 250ms or 1m30s.
func (d *decoder) duration(path string, n ast.Node) (Duration, bool) {
	if d.isNull(n) {
		return 0, false
	}
	v := d.deref(n)
	text, ok := scalarText(v)
	if _, isBool := v.(*ast.BoolNode); !ok || isBool {
		d.wrongType(path, n, "a duration such as 250ms or 1m30s")
		return 0, false
	}
	dur, err := time.ParseDuration(strings.TrimSpace(text))
	if err != nil {
		hint := ""
		if _, perr := strconv.ParseFloat(strings.TrimSpace(text), 64); perr == nil {
			hint = " (a unit is needed)"
		}
		d.problemAt(path, "bad duration %q%s; want a Go duration such as 250ms, 30s or 1m30s", clip(text), hint)
		return 0, false
	}
	d.set[path] = true
	return Duration(dur), true
}

// seconds decodes whole seconds written as an integer, Patroni's unit. A
// duration such as 30s is refused with the integer it stands for, when
// there is one.
func (d *decoder) seconds(path string, n ast.Node) (int, bool) {
	if d.isNull(n) {
		return 0, false
	}
	if v, ok := d.deref(n).(*ast.StringNode); ok {
		if dur, err := time.ParseDuration(strings.TrimSpace(v.Value)); err == nil {
			hint := ""
			if dur%time.Second == 0 {
				hint = fmt.Sprintf(": write %d", int64(dur/time.Second))
			}
			d.problemAt(path, "want whole seconds as an integer, Patroni's unit, such as 30; got the duration %q%s", clip(v.Value), hint)
			return 0, false
		}
	}
	x, ok := d.integer(path, n)
	return clampInt(x), ok
}

// list returns the items of a list; a null is an empty list.
func (d *decoder) list(path string, n ast.Node) ([]ast.Node, bool) {
	switch v := d.deref(n).(type) {
	case nil, *ast.NullNode:
		return nil, true
	case *ast.SequenceNode:
		d.set[path] = true
		return v.Values, true
	}
	d.wrongType(path, n, "a list")
	return nil, false
}

// settings decodes a mapping of PostgreSQL settings. Names are checked and
// lower-cased; values are kept as written.
func (d *decoder) settings(path string, n ast.Node) map[string]string {
	entries, ok := d.mapping(path, n)
	if !ok || len(entries) == 0 {
		return nil
	}
	out := map[string]string{}
	firstLine := map[string]int{}
	for _, e := range entries {
		name := strings.ToLower(e.key)
		p := join(path, name)
		if msg := checkSettingName(e.key); msg != "" {
			d.problem(e.keyPos, "%s: %s", path, msg)
			continue
		}
		if l, dup := firstLine[name]; dup {
			d.problem(e.keyPos, "%s: duplicate setting %q (first at line %d)", path, e.key, l)
			continue
		}
		firstLine[name] = e.keyPos.Line
		d.record(p, e)
		v := d.deref(e.val)
		text, isScalar := scalarText(v)
		if !isScalar {
			d.wrongType(p, e.val, "a value (a string, number or boolean)")
			continue
		}
		if msg := checkSettingValue(name, text); msg != "" {
			d.problemAt(p, "%s", msg)
			continue
		}
		out[name] = text
	}
	return out
}
