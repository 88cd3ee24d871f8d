package scenario

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/pgbench-ha/pgbench-ha/fault"
)

// The keys each mapping of a scenario file accepts, in documentation order.
var (
	scenarioKeys   = []string{"name", "description", "seed", "duration", "backend", "topology", "workload", "faults", "failover", "client", "external", "probes", "matrix", "thresholds", "repeat", "accident", "drills"}
	repeatKeys     = []string{"times", "jitter"}
	topologyKeys   = []string{"replicas", "sync_method", "sync_count", "slots", "settings", "primary_settings", "subscribers", "archive", "image"}
	subscriberKeys = []string{"name", "failover_slots"}
	archiveKeys    = []string{"timeout"}
	replicaKeys    = []string{"name", "sync", "settings"}
	workloadKeys   = []string{"writers", "rate", "arrival", "bursts", "initial_orders", "max_queue", "reads"}
	readsKeys      = []string{"rate", "nodes"}
	burstKeys      = []string{"at", "duration", "rate"}
	failoverKeys   = append(append([]string{"mode"}, promoteKeys...), patroniKeys...)
	// promoteKeys apply to failover.mode promote (and none), patroniKeys
	// to patroni only; probe_interval to every mode.
	promoteKeys   = []string{"detect_after", "probe_interval", "repoint", "synchronous"}
	patroniKeys   = []string{"ttl", "loop_wait", "retry_timeout", "maximum_lag_on_failover", "synchronous_mode", "synchronous_mode_strict", "failsafe_mode", "primary_start_timeout", "etcd_members"}
	clientKeys    = []string{"path", "haproxy", "pgbouncer"}
	haproxyKeys   = []string{"inter", "fall", "rise"}
	pgbouncerKeys = []string{"pool_mode", "pool_size", "in_front_of"}
	probesKeys    = []string{"lag_interval", "heartbeat_interval", "audit_timeout"}
)

// scenario decodes the top-level mapping into s; it reports false when
// the document is not a mapping.
func (d *decoder) scenario(n ast.Node, s *Scenario) bool {
	entries, ok := d.mapping("", n)
	if !ok {
		return false
	}
	for _, e := range entries {
		p := e.key
		d.record(p, e)
		switch e.key {
		case "name":
			s.Name, _ = d.str(p, e.val)
		case "description":
			desc, _ := d.str(p, e.val)
			s.Description = strings.TrimSpace(desc)
		case "seed":
			s.Seed, _ = d.integer(p, e.val)
		case "duration":
			s.Duration, _ = d.duration(p, e.val)
		case "backend":
			s.Backend, _ = d.str(p, e.val)
		case "topology":
			d.topology(p, e.val, &s.Topology)
		case "workload":
			d.workload(p, e.val, &s.Workload)
		case "faults":
			d.faults(p, e.val, s)
		case "failover":
			d.failover(p, e.val, &s.Failover)
		case "client":
			d.client(p, e.val, &s.Client)
		case "external":
			d.external(p, e.val, &s.External)
		case "probes":
			d.probes(p, e.val, &s.Probes)
		case "matrix":
			s.Matrix = d.matrix(p, e.val)
		case "thresholds":
			d.thresholds(p, e.val, s)
		case "repeat":
			d.repeat(p, e.val, &s.Repeat)
		case "accident":
			s.Accident = d.accident(p, e.val)
		case "drills":
			s.Drills = d.drills(p, e.val)
		default:
			d.unknownKey("", e, scenarioKeys)
		}
	}
	return true
}

func (d *decoder) topology(path string, n ast.Node, t *Topology) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "replicas":
			items, _ := d.list(p, e.val)
			for i, item := range items {
				ip := index(p, i)
				d.pos[ip] = nodePos(item)
				t.Replicas = append(t.Replicas, d.replica(ip, item))
			}
		case "sync_method":
			t.SyncMethod, _ = d.str(p, e.val)
		case "sync_count":
			c, _ := d.integer(p, e.val)
			t.SyncCount = clampInt(c)
		case "slots":
			if b, ok := d.boolean(p, e.val); ok {
				t.Slots = &b
			}
		case "settings":
			t.Settings = d.settings(p, e.val)
		case "primary_settings":
			t.PrimarySettings = d.settings(p, e.val)
		case "subscribers":
			items, _ := d.list(p, e.val)
			for i, item := range items {
				ip := index(p, i)
				d.pos[ip] = nodePos(item)
				t.Subscribers = append(t.Subscribers, d.subscriber(ip, item))
			}
		case "archive":
			t.Archive = d.archive(p, e.val)
		case "image":
			t.Image, _ = d.str(p, e.val)
		default:
			d.unknownKey(path, e, topologyKeys)
		}
	}
}

func (d *decoder) subscriber(path string, n ast.Node) Subscriber {
	var sub Subscriber
	entries, ok := d.mapping(path, n)
	if !ok {
		return sub
	}
	d.set[path] = true
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "name":
			sub.Name, _ = d.str(p, e.val)
		case "failover_slots":
			if b, ok := d.boolean(p, e.val); ok {
				sub.FailoverSlots = &b
			}
		default:
			d.unknownKey(path, e, subscriberKeys)
		}
	}
	return sub
}

// archive decodes topology.archive. Unlike other keys, archive written
// with no value is not left out: the key itself turns archiving on.
func (d *decoder) archive(path string, n ast.Node) *Archive {
	a := &Archive{}
	entries, ok := d.mapping(path, n)
	if !ok {
		return nil
	}
	d.set[path] = true
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "timeout":
			a.Timeout, _ = d.duration(p, e.val)
		default:
			d.unknownKey(path, e, archiveKeys)
		}
	}
	return a
}

func (d *decoder) replica(path string, n ast.Node) Replica {
	var r Replica
	entries, ok := d.mapping(path, n)
	if !ok {
		return r
	}
	d.set[path] = true
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "name":
			r.Name, _ = d.str(p, e.val)
		case "sync":
			r.Sync, _ = d.boolean(p, e.val)
		case "settings":
			r.Settings = d.settings(p, e.val)
		default:
			d.unknownKey(path, e, replicaKeys)
		}
	}
	return r
}

func (d *decoder) workload(path string, n ast.Node, w *Workload) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "writers":
			c, _ := d.integer(p, e.val)
			w.Writers = clampInt(c)
		case "rate":
			w.Rate, _ = d.number(p, e.val)
		case "arrival":
			w.Arrival, _ = d.str(p, e.val)
		case "bursts":
			items, _ := d.list(p, e.val)
			for i, item := range items {
				ip := index(p, i)
				d.pos[ip] = nodePos(item)
				w.Bursts = append(w.Bursts, d.burst(ip, item))
			}
		case "initial_orders":
			w.InitialOrders, _ = d.integer(p, e.val)
		case "max_queue":
			c, _ := d.integer(p, e.val)
			w.MaxQueue = clampInt(c)
		case "reads":
			w.Reads = d.reads(p, e.val)
		default:
			d.unknownKey(path, e, workloadKeys)
		}
	}
}

func (d *decoder) reads(path string, n ast.Node) *Reads {
	entries, ok := d.mapping(path, n)
	if !ok {
		return nil
	}
	r := &Reads{}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "rate":
			r.Rate, _ = d.number(p, e.val)
		case "nodes":
			r.Nodes = d.names(p, e.val)
		default:
			d.unknownKey(path, e, readsKeys)
		}
	}
	return r
}

func (d *decoder) burst(path string, n ast.Node) Burst {
	var b Burst
	entries, ok := d.mapping(path, n)
	if !ok {
		return b
	}
	d.set[path] = true
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "at":
			b.At, _ = d.duration(p, e.val)
		case "duration":
			b.Duration, _ = d.duration(p, e.val)
		case "rate":
			b.Rate, _ = d.number(p, e.val)
		default:
			d.unknownKey(path, e, burstKeys)
		}
	}
	return b
}

func (d *decoder) faults(path string, n ast.Node, s *Scenario) {
	items, _ := d.list(path, n)
	for i, item := range items {
		ip := index(path, i)
		pos := nodePos(item)
		d.pos[ip] = pos
		f := Fault{Line: pos.Line}
		entries, ok := d.mapping(ip, item)
		if ok {
			d.set[ip] = true
			f.Spec = d.faultEntries(ip, entries, &f)
		}
		s.Faults = append(s.Faults, f)
	}
}

// faultEntries decodes one fault's keys: at, kind and for, and the keys
// of its kind into the kind's Spec (nil when the kind is unknown).
func (d *decoder) faultEntries(ip string, entries []entry, f *Fault) fault.Spec {
	var kind fault.Kind
	known := false
	for _, e := range entries {
		if e.key == "kind" {
			p := join(ip, e.key)
			d.record(p, e)
			name, _ := d.str(p, e.val)
			d.kindNames[ip] = name
			kind, known = fault.Lookup(name)
		}
	}
	var spec reflect.Value // a pointer to the kind's Spec
	fields := map[string]int{}
	valid := []string{"at", "kind"}
	if known {
		spec = reflect.ValueOf(kind.New())
		t := spec.Elem().Type()
		for i := 0; i < t.NumField(); i++ {
			if key := t.Field(i).Tag.Get("yaml"); key != "" && key != "-" {
				fields[key] = i
				valid = append(valid, key)
			}
		}
		if !kind.Once {
			valid = append(valid, "for")
		}
	} else {
		valid = faultKeys()
	}
	for _, e := range entries {
		p := join(ip, e.key)
		switch e.key {
		case "kind":
			continue
		case "at":
			d.record(p, e)
			f.At, _ = d.duration(p, e.val)
			continue
		case "for":
			d.record(p, e)
			f.For, _ = d.duration(p, e.val)
			continue
		}
		i, ok := fields[e.key]
		switch {
		case ok:
			d.record(p, e)
			d.field(p, e.val, spec.Elem().Field(i))
		case slices.Contains(faultKeys(), e.key):
			// Some kind takes it: this one does not, or the kind is
			// unknown (reported on kind).
			d.record(p, e)
			if known {
				d.problemAt(p, "%q does not apply to a %s fault", e.key, kind.Name)
			}
		default:
			d.unknownKey(ip, e, valid)
		}
	}
	if !known {
		return nil
	}
	return spec.Elem().Interface().(fault.Spec)
}

var durationType = reflect.TypeOf(time.Duration(0))

// field decodes n into the Spec field v by its type.
func (d *decoder) field(p string, n ast.Node, v reflect.Value) {
	switch {
	case v.Type() == durationType:
		x, _ := d.duration(p, n)
		v.SetInt(int64(x))
	case v.Kind() == reflect.String:
		x, _ := d.str(p, n)
		v.SetString(x)
	case v.Kind() == reflect.Int64:
		x, _ := d.integer(p, n)
		v.SetInt(x)
	case v.Kind() == reflect.Float64:
		x, _ := d.number(p, n)
		v.SetFloat(x)
	case v.Kind() == reflect.Bool:
		x, _ := d.boolean(p, n)
		v.SetBool(x)
	case v.Type() == reflect.TypeOf([]string(nil)):
		v.Set(reflect.ValueOf(d.names(p, n)))
	case v.Type() == reflect.TypeOf([][]string(nil)):
		items, _ := d.list(p, n)
		var out [][]string
		for j, item := range items {
			out = append(out, d.names(index(p, j), item))
		}
		v.Set(reflect.ValueOf(out))
	default:
		panic(fmt.Sprintf("scenario: fault field %s has a type the decoder does not know: %s", p, v.Type()))
	}
}

// faultKeys lists every key a fault of some kind takes: at, kind, then
// the kinds' own keys in kind order, then for.
func faultKeys() []string {
	keys := []string{"at", "kind"}
	for _, k := range fault.Kinds() {
		t := reflect.TypeOf(k.New()).Elem()
		for i := 0; i < t.NumField(); i++ {
			if key := t.Field(i).Tag.Get("yaml"); key != "" && key != "-" && !slices.Contains(keys, key) {
				keys = append(keys, key)
			}
		}
	}
	return append(keys, "for")
}

// names decodes a name or a list of names (nodes or client groups).
func (d *decoder) names(path string, n ast.Node) []string {
	if _, isList := d.deref(n).(*ast.SequenceNode); !isList {
		if v, ok := d.str(path, n); ok {
			return []string{v}
		}
		return nil
	}
	items, _ := d.list(path, n)
	var out []string
	for i, item := range items {
		ip := index(path, i)
		d.pos[ip] = nodePos(item)
		if v, ok := d.str(ip, item); ok {
			out = append(out, v)
		}
	}
	return out
}

func (d *decoder) repeat(path string, n ast.Node, r *Repeat) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "times":
			c, _ := d.integer(p, e.val)
			r.Times = clampInt(c)
		case "jitter":
			r.Jitter, _ = d.duration(p, e.val)
		default:
			d.unknownKey(path, e, repeatKeys)
		}
	}
}

func (d *decoder) failover(path string, n ast.Node, f *Failover) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "mode":
			f.Mode, _ = d.str(p, e.val)
		case "detect_after":
			f.DetectAfter, _ = d.duration(p, e.val)
		case "probe_interval":
			f.ProbeInterval, _ = d.duration(p, e.val)
		case "repoint":
			if b, ok := d.boolean(p, e.val); ok {
				f.Repoint = &b
			}
		case "synchronous":
			f.Synchronous, _ = d.str(p, e.val)
		case "ttl":
			f.TTLSeconds, _ = d.seconds(p, e.val)
		case "loop_wait":
			f.LoopWaitSeconds, _ = d.seconds(p, e.val)
		case "retry_timeout":
			f.RetryTimeoutSeconds, _ = d.seconds(p, e.val)
		case "primary_start_timeout":
			f.PrimaryStartTimeoutSeconds, _ = d.seconds(p, e.val)
		case "maximum_lag_on_failover":
			f.MaximumLagOnFailoverBytes, _ = d.integer(p, e.val)
		case "synchronous_mode":
			f.SynchronousMode, _ = d.boolean(p, e.val)
		case "synchronous_mode_strict":
			f.SynchronousModeStrict, _ = d.boolean(p, e.val)
		case "failsafe_mode":
			f.FailsafeMode, _ = d.boolean(p, e.val)
		case "etcd_members":
			c, _ := d.integer(p, e.val)
			f.EtcdMembers = clampInt(c)
		default:
			d.unknownKey(path, e, failoverKeys)
		}
	}
}

func (d *decoder) client(path string, n ast.Node, c *Client) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "path":
			c.Path, _ = d.str(p, e.val)
		case "haproxy":
			d.haproxy(p, e.val, &c.HAProxy)
		case "pgbouncer":
			d.pgbouncer(p, e.val, &c.PgBouncer)
		default:
			d.unknownKey(path, e, clientKeys)
		}
	}
}

func (d *decoder) haproxy(path string, n ast.Node, h *HAProxy) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "inter":
			h.Inter, _ = d.duration(p, e.val)
		case "fall":
			c, _ := d.integer(p, e.val)
			h.Fall = clampInt(c)
		case "rise":
			c, _ := d.integer(p, e.val)
			h.Rise = clampInt(c)
		default:
			d.unknownKey(path, e, haproxyKeys)
		}
	}
}

func (d *decoder) pgbouncer(path string, n ast.Node, b *PgBouncer) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "pool_mode":
			b.PoolMode, _ = d.str(p, e.val)
		case "pool_size":
			c, _ := d.integer(p, e.val)
			b.PoolSize = clampInt(c)
		case "in_front_of":
			b.InFrontOf, _ = d.str(p, e.val)
		default:
			d.unknownKey(path, e, pgbouncerKeys)
		}
	}
}

func (d *decoder) probes(path string, n ast.Node, pr *Probes) {
	entries, ok := d.mapping(path, n)
	if !ok {
		return
	}
	for _, e := range entries {
		p := join(path, e.key)
		d.record(p, e)
		switch e.key {
		case "lag_interval":
			pr.LagInterval, _ = d.duration(p, e.val)
		case "heartbeat_interval":
			pr.HeartbeatInterval, _ = d.duration(p, e.val)
		case "audit_timeout":
			pr.AuditTimeout, _ = d.duration(p, e.val)
		default:
			d.unknownKey(path, e, probesKeys)
		}
	}
}

// matrix decodes the matrix: a mapping from a setting, or a path to a
// scenario value, to a list of values, in file order.
func (d *decoder) matrix(path string, n ast.Node) []Axis {
	before := len(d.probs)
	defer func() {
		if len(d.probs) > before {
			d.matrixBad = true
		}
	}()
	entries, ok := d.mapping(path, n)
	if !ok {
		return nil
	}
	var axes []Axis
	firstLine := map[string]int{}
	for _, e := range entries {
		name := strings.ToLower(e.key)
		p := join(path, name)
		isPath := IsScenarioPath(name)
		if isPath {
			if msg := checkMatrixPath(name); msg != "" {
				d.problem(e.keyPos, "%s: %s", path, msg)
				continue
			}
		} else if msg := checkSettingName(e.key); msg != "" {
			d.problem(e.keyPos, "%s: %s", path, msg)
			continue
		}
		if l, dup := firstLine[name]; dup {
			what := "setting"
			if isPath {
				what = "path"
			}
			d.problem(e.keyPos, "%s: duplicate %s %q (first at line %d)", path, what, e.key, l)
			continue
		}
		firstLine[name] = e.keyPos.Line
		d.record(p, e)
		d.pos[p+"#key"] = e.keyPos
		ax := Axis{Setting: name, Line: e.keyPos.Line, Path: isPath}
		if d.isNull(e.val) {
			d.problemAt(p, "no values; want a list such as [off, on]")
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
		valueLine := map[string]int{}
		good := true
		for i, item := range items {
			ip := index(p, i)
			d.pos[ip] = nodePos(item)
			text, isScalar := scalarText(d.deref(item))
			if !isScalar {
				d.wrongType(ip, item, "a value (a string, number or boolean)")
				good = false
				continue
			}
			if !isPath {
				if msg := checkSettingValue(name, text); msg != "" {
					d.problemAt(ip, "%s", msg)
					good = false
					continue
				}
			}
			if l, dup := valueLine[text]; dup {
				d.problemAt(ip, "duplicate value %q (first at line %d)", text, l)
				good = false
				continue
			}
			valueLine[text] = d.pos[ip].Line
			ax.Values = append(ax.Values, text)
		}
		if good {
			axes = append(axes, ax)
		}
	}
	return axes
}

// clampInt converts an int64 to int, saturating.
func clampInt(v int64) int {
	const maxInt, minInt = int64(^uint(0) >> 1), -int64(^uint(0)>>1) - 1
	switch {
	case v > maxInt:
		return int(maxInt)
	case v < minInt:
		return int(minInt)
	}
	return int(v)
}
