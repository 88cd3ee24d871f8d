package verdict

import (
	"math"

	"github.com/pgbench-ha/pgbench-ha/metric"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// Comparison is a current run (or the median of several) set against a
// baseline, variant by variant and metric by metric.
type Comparison struct {
	Scenario string
	// BaselineRuns and CurrentRuns are how many runs each side holds.
	BaselineRuns, CurrentRuns int
	// ScenarioChanged is true when both sides record the scenario file's
	// hash and they differ: the comparison may not be like with like.
	ScenarioChanged bool
	Variants        []VariantComparison
}

// VariantComparison is one variant of a Comparison, matched by name.
type VariantComparison struct {
	Name string
	// Missing is "current" when the variant is in the baseline only (a
	// regression: it did not run or did not complete), "baseline" when it
	// is new (nothing to compare).
	Missing string
	Metrics []MetricComparison
}

// MetricComparison is one metric of one variant.
type MetricComparison struct {
	Metric string
	Unit   string
	Better metric.Direction
	// Baseline and Current are the two sides; N is 0 when a side did not
	// measure the metric.
	Baseline, Current Stat
	// ChangePct is the change of the current median from the baseline
	// median in percent of the baseline; NaN when the baseline is 0 or a
	// side is missing.
	ChangePct float64
	// Tolerance is the tolerance that applied; Allowed the distance from
	// the baseline median it allowed: the larger of the tolerance and the
	// baseline's own spread.
	Tolerance Tolerance
	Allowed   float64
	// Regression is true when the current median is worse than the
	// baseline median by more than Allowed, or the baseline measured the
	// metric and the current run did not. Improvement is the same the
	// other way.
	Regression, Improvement bool
}

// Delta is the current median minus the baseline median.
func (m MetricComparison) Delta() float64 { return m.Current.Median - m.Baseline.Median }

// Regressed reports whether any metric of any variant regressed, or a
// variant of the baseline is missing from the current side.
func (c *Comparison) Regressed() bool {
	return len(c.Regressions()) > 0 || len(c.MissingVariants()) > 0
}

// Regression is one metric that regressed, with its variant.
type Regression struct {
	Variant string
	MetricComparison
}

// Regressions lists every regressed metric, in variant then metric order.
func (c *Comparison) Regressions() []Regression {
	var out []Regression
	for _, v := range c.Variants {
		for _, m := range v.Metrics {
			if m.Regression {
				out = append(out, Regression{v.Name, m})
			}
		}
	}
	return out
}

// MissingVariants names the baseline's variants the current side lacks.
func (c *Comparison) MissingVariants() []string {
	var out []string
	for _, v := range c.Variants {
		if v.Missing == "current" {
			out = append(out, v.Name)
		}
	}
	return out
}

// Compare compares one current result with one baseline result. See
// CompareSets.
func Compare(baseline, current *result.Result, tol Tolerances) Comparison {
	b, err := Aggregate(baseline)
	if err != nil {
		b = &Set{}
	}
	c, err := Aggregate(current)
	if err != nil {
		c = &Set{}
	}
	return CompareSets(b, c, tol)
}

// CompareSets compares the current side with the baseline, variant by
// variant (matched by name, in the baseline's order, then the current
// side's new ones) and metric by metric in metric.Defs order. A metric
// regresses when its current median is worse than the baseline median by
// more than the larger of its tolerance (tol, else the default) and the
// spread the baseline's runs showed, or when the baseline measured it and
// the current side did not. A nil tol means the defaults.
func CompareSets(baseline, current *Set, tol Tolerances) Comparison {
	if tol == nil {
		tol = DefaultTolerances()
	}
	c := Comparison{
		Scenario:     baseline.Scenario,
		BaselineRuns: len(baseline.Runs),
		CurrentRuns:  len(current.Runs),
		ScenarioChanged: baseline.ScenarioSHA256 != "" && current.ScenarioSHA256 != "" &&
			baseline.ScenarioSHA256 != current.ScenarioSHA256,
	}
	if c.Scenario == "" {
		c.Scenario = current.Scenario
	}
	for _, bv := range baseline.Variants {
		vc := VariantComparison{Name: bv.Name}
		cv := current.Variant(bv.Name)
		if cv == nil {
			vc.Missing = "current"
			c.Variants = append(c.Variants, vc)
			continue
		}
		for _, d := range metric.Defs {
			bs, inBase := bv.Metrics[d.Name]
			cs, inCur := cv.Metrics[d.Name]
			if !inBase && !inCur {
				continue
			}
			vc.Metrics = append(vc.Metrics, compareMetric(d, bs, cs, tol.For(d.Name)))
		}
		c.Variants = append(c.Variants, vc)
	}
	for _, cv := range current.Variants {
		if baseline.Variant(cv.Name) == nil {
			c.Variants = append(c.Variants, VariantComparison{Name: cv.Name, Missing: "baseline"})
		}
	}
	return c
}

func compareMetric(d metric.Def, b, cur Stat, tol Tolerance) MetricComparison {
	m := MetricComparison{Metric: d.Name, Unit: d.Unit, Better: d.Better, Baseline: b, Current: cur, Tolerance: tol, ChangePct: math.NaN()}
	switch {
	case b.N == 0:
		return m // new metric: nothing to judge
	case cur.N == 0:
		m.Regression = true // measured before, not now
		return m
	}
	if b.Median != 0 {
		m.ChangePct = (cur.Median - b.Median) / math.Abs(b.Median) * 100
	}
	m.Allowed = math.Max(tol.Allowed(b.Median), b.Spread())
	worse := cur.Median - b.Median // > 0 is worse for lower-is-better
	if d.Better == metric.Higher {
		worse = -worse
	}
	// A small epsilon keeps float noise at the boundary from counting.
	eps := 1e-9 * math.Max(math.Abs(b.Median), 1)
	m.Regression = worse > m.Allowed+eps
	m.Improvement = -worse > m.Allowed+eps
	return m
}
