package verdict

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/internal/quantile"
	"github.com/pgbench-ha/pgbench-ha/metric"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Threshold is a limit on one metric across the variants it selects.
//
// Aggregation says what must hold (see metric.Aggregations):
//
//	max   every selected variant's value <= Limit
//	min   every selected variant's value >= Limit
//	mean  the mean of the values is on the good side of Limit
//	pNN   the value NN% of the selected variants do at least as well as
//	      (nearest rank) is on the good side of Limit
//
// The good side is <= for metrics where lower is better and >= for those
// where higher is better (tps). When the scenario repeats, every completed
// repetition of a selected variant is one value (see Samples). A selected
// variant that did not measure the metric (it failed, or did not
// complete) fails the threshold.
type Threshold struct {
	Metric      string
	Aggregation string
	Limit       float64
	// Where selects variants by their matrix values: every setting must
	// have one of the listed values. Empty selects every variant.
	Where map[string][]string
	// Source is where the threshold was written ("file.yaml:12"), for
	// messages; may be empty.
	Source string
}

// ThresholdResult is the outcome of one threshold; it is the type
// result.json records.
type ThresholdResult = result.ThresholdResult

// Bound returns "<=" or ">=": how a value must stand to the limit.
func (t Threshold) Bound() string {
	switch t.Aggregation {
	case metric.AggMax:
		return "<="
	case metric.AggMin:
		return ">="
	}
	if def(t.Metric).Better == metric.Higher {
		return ">="
	}
	return "<="
}

// Name reads like the threshold: "p99_commit_ms p90 <= 5 where
// synchronous_commit in [on, remote_apply]".
func (t Threshold) Name() string {
	s := fmt.Sprintf("%s %s %s %s", t.Metric, t.Aggregation, t.Bound(), fmtNum(t.Limit))
	if len(t.Where) > 0 {
		s += " where " + whereText(t.Where)
	}
	return s
}

func whereText(w map[string][]string) string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		if len(w[k]) == 1 {
			parts[i] = k + "=" + w[k][0]
		} else {
			parts[i] = k + " in [" + strings.Join(w[k], ", ") + "]"
		}
	}
	return strings.Join(parts, " and ")
}

// selects reports whether a variant's settings satisfy where.
func selects(where map[string][]string, settings map[string]string) bool {
	for k, vals := range where {
		v, ok := settings[k]
		if !ok || !slices.Contains(vals, v) {
			return false
		}
	}
	return true
}

// within reports whether x stands to limit as bound says.
func within(x, limit float64, bound string) bool {
	if bound == ">=" {
		return x >= limit
	}
	return x <= limit
}

// Evaluate checks each threshold against r, in order.
func Evaluate(r *result.Result, th []Threshold) []ThresholdResult {
	out := make([]ThresholdResult, 0, len(th))
	for _, t := range th {
		out = append(out, evaluate(r, t))
	}
	return out
}

// Failed counts the thresholds that did not pass.
func Failed(rs []ThresholdResult) int {
	n := 0
	for _, r := range rs {
		if !r.Passed {
			n++
		}
	}
	return n
}

func evaluate(r *result.Result, t Threshold) ThresholdResult {
	d := def(t.Metric)
	bound := t.Bound()
	tr := ThresholdResult{
		Name: t.Name(), Metric: t.Metric, Aggregation: t.Aggregation, Limit: t.Limit,
		Bound: bound, Where: t.Where, Source: t.Source, Variants: []result.ThresholdVariant{},
	}
	if _, ok := metric.Lookup(t.Metric); !ok {
		tr.Message = fmt.Sprintf("unknown metric %q", t.Metric)
		return tr
	}
	if !metric.IsAggregation(t.Aggregation) {
		tr.Message = fmt.Sprintf("unknown aggregation %q; valid: %s", t.Aggregation, strings.Join(metric.Aggregations, ", "))
		return tr
	}
	var values []float64
	var missing, over []string
	for i := range r.Variants {
		v := &r.Variants[i]
		if !selects(t.Where, v.Settings) {
			continue
		}
		tv := result.ThresholdVariant{Name: v.Name}
		if xs, ok := Samples(v)[t.Metric]; ok {
			// A repeated variant contributes every repetition; it shows
			// its worst for max and min, its median otherwise.
			st := statOf(xs)
			x := st.Median
			switch t.Aggregation {
			case metric.AggMax:
				x = st.Max
			case metric.AggMin:
				x = st.Min
			}
			tv.Value = &x
			tv.Passed = within(x, t.Limit, bound)
			values = append(values, xs...)
			if !tv.Passed {
				over = append(over, fmt.Sprintf("%s (%s)", v.Name, fmtValue(x, d.Unit)))
			}
		} else {
			missing = append(missing, v.Name)
		}
		tr.Variants = append(tr.Variants, tv)
	}
	limit := fmtValue(t.Limit, d.Unit)
	if len(tr.Variants) == 0 {
		tr.Message = "no variant matches " + whereText(t.Where)
		return tr
	}
	var parts []string
	if len(values) > 0 {
		x := aggregate(t.Aggregation, d.Better, values)
		tr.Value = &x
		tr.Passed = within(x, t.Limit, bound)
		of := fmt.Sprintf("%d variants", len(values))
		if len(values) > len(tr.Variants) {
			of = fmt.Sprintf("%d runs of %d variants", len(values), len(tr.Variants)-len(missing))
		}
		if len(values) == 1 {
			for _, v := range tr.Variants {
				if v.Value != nil {
					of = v.Name
				}
			}
		}
		op := map[bool]string{true: "<=", false: ">"}[tr.Passed]
		if bound == ">=" {
			op = map[bool]string{true: ">=", false: "<"}[tr.Passed]
		}
		msg := fmt.Sprintf("%s of %s is %s, %s %s", t.Aggregation, of, fmtValue(x, d.Unit), op, limit)
		if len(over) > 0 && (t.Aggregation == metric.AggMax || t.Aggregation == metric.AggMin) && (len(values) > 1 || len(missing) > 0) {
			msg += "; over the limit: " + strings.Join(over, ", ")
		}
		parts = append(parts, msg)
	}
	if len(missing) > 0 {
		tr.Passed = false
		parts = append(parts, fmt.Sprintf("not measured in %s (did not complete, or the run did not measure %s)", strings.Join(missing, ", "), t.Metric))
	}
	tr.Message = strings.Join(parts, "; ")
	return tr
}

// aggregate computes an aggregation of values (not empty).
func aggregate(agg string, better metric.Direction, values []float64) float64 {
	s := slices.Clone(values)
	sort.Float64s(s)
	switch agg {
	case metric.AggMax:
		return s[len(s)-1]
	case metric.AggMin:
		return s[0]
	case metric.AggMean:
		sum := 0.0
		for _, x := range s {
			sum += x
		}
		return sum / float64(len(s))
	}
	var p float64
	fmt.Sscanf(strings.TrimPrefix(agg, "p"), "%g", &p)
	if better == metric.Higher {
		slices.Reverse(s) // the value p% of the variants reach or exceed
	}
	return quantile.NearestRank(s, p/100)
}
