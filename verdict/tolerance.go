package verdict

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/metric"
)

// Tolerance is how far a metric may move in its bad direction, from the
// baseline median, before the move is a regression: the larger of Rel
// times the baseline median and Abs, in the metric's unit. Abs is also the
// floor that keeps tiny values (0.1 ms to 0.2 ms) from tripping a relative
// tolerance.
type Tolerance struct {
	Rel float64 // a fraction: 0.25 is 25%
	Abs float64 // in the metric's unit
}

// Allowed returns how far the metric may move from base.
func (t Tolerance) Allowed(base float64) float64 {
	return math.Max(t.Rel*math.Abs(base), t.Abs)
}

// String formats t as "25%, at least 1 ms" given the metric's unit.
func (t Tolerance) format(unit string) string {
	var parts []string
	if t.Rel > 0 {
		parts = append(parts, strconv.FormatFloat(t.Rel*100, 'g', 4, 64)+"%")
	}
	if t.Abs > 0 || t.Rel == 0 {
		a := strconv.FormatFloat(t.Abs, 'g', 6, 64)
		if unit != "" {
			a += " " + unit
		}
		if t.Rel > 0 {
			a = "at least " + a
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, ", ")
}

// Tolerances maps metric names to their tolerance.
type Tolerances map[string]Tolerance

// defaultTolerances are the tolerances of DefaultTolerances. They are
// narrow where a figure is steady from run to run (throughput at a fixed
// rate, failover times) and wide where it swings with the machine's load
// or with the instant of the fault (the slowest commits, lag, bring-up; the
// capacity, a closed loop that takes whatever CPU the machine has left).
// Lost acknowledged writes have no absolute allowance: from a baseline of
// zero, one lost write is a regression; where the baseline loses writes
// (asynchronous commit), how many depends on the instant of the kill and
// varies tenfold between runs, so only a jump beyond that counts. Noise is
// better handled by a baseline of several runs than by wider defaults.
var defaultTolerances = map[string]Tolerance{
	"tps":                             {Rel: 0.10, Abs: 5},
	"capacity_tps":                    {Rel: 0.20, Abs: 100},
	"p50_commit_ms":                   {Rel: 0.25, Abs: 0.5},
	"p90_commit_ms":                   {Rel: 0.25, Abs: 0.5},
	"p99_commit_ms":                   {Rel: 0.25, Abs: 1},
	"p999_commit_ms":                  {Rel: 1.00, Abs: 10},
	"max_commit_ms":                   {Rel: 2.00, Abs: 100},
	"schedule_lag_p99_ms":             {Rel: 0.50, Abs: 250},
	"failed_writes":                   {Rel: 1.00, Abs: 10},
	"unknown_writes":                  {Rel: 1.00, Abs: 10},
	"skipped_writes":                  {Rel: 1.00, Abs: 10},
	"not_sent_writes":                 {Rel: 1.00, Abs: 10},
	"lost_acked_writes":               {Rel: 10, Abs: 0},
	"ghost_writes":                    {Rel: 1.00, Abs: 10},
	"write_unavailable_ms":            {Rel: 0.25, Abs: 250},
	"recovery_ms":                     {Rel: 0.25, Abs: 250},
	"detect_ms":                       {Rel: 0.25, Abs: 100},
	"promote_ms":                      {Rel: 0.50, Abs: 200},
	"max_replay_lag_bytes":            {Rel: 2.00, Abs: 1 << 20},
	"p99_replay_lag_bytes":            {Rel: 2.00, Abs: 1 << 20},
	"max_replay_lag_ms":               {Rel: 2.00, Abs: 100},
	"max_visibility_ms":               {Rel: 2.00, Abs: 100},
	"p99_visibility_ms":               {Rel: 2.00, Abs: 100},
	"bring_up_ms":                     {Rel: 1.00, Abs: 2000},
	"subscriber_missing_acked_writes": {Rel: 10, Abs: 0},
	"max_subscriber_lag_ms":           {Rel: 2.00, Abs: 100},
	"max_subscriber_lag_bytes":        {Rel: 2.00, Abs: 1 << 20},
	"max_archive_lag_bytes":           {Rel: 1.00, Abs: 16 << 20},
	"archive_failures":                {Rel: 1.00, Abs: 0},
	// Drills: a few hundred ms of a dump or a recovery is the machine's
	// noise; a lost write before the PITR target is never noise.
	"dump_ms":                              {Rel: 1.00, Abs: 500},
	"restore_ms":                           {Rel: 1.00, Abs: 500},
	"dump_missing_acked_writes":            {Rel: 0.50, Abs: 100},
	"pitr_ms":                              {Rel: 1.00, Abs: 1000},
	"pitr_missing_acked_writes":            {Rel: 10, Abs: 0},
	"pitr_rpo_ms":                          {Rel: 10, Abs: 0},
	"archive_standby_missing_acked_writes": {Rel: 1.00, Abs: 100},
	"max_archive_standby_lag_bytes":        {Rel: 1.00, Abs: 16 << 20},
}

// DefaultTolerances returns a fresh copy of the default tolerance of every
// metric.
func DefaultTolerances() Tolerances {
	t := make(Tolerances, len(defaultTolerances))
	for k, v := range defaultTolerances {
		t[k] = v
	}
	return t
}

// For returns the tolerance of a metric: its entry in t, else its default,
// else none (any move in the bad direction is a regression).
func (t Tolerances) For(name string) Tolerance {
	if tol, ok := t[name]; ok {
		return tol
	}
	return defaultTolerances[name]
}

// Set applies one tolerance override, as given to --tolerance:
//
//	p99_commit_ms=15%   relative: 15% of the baseline median (the metric's
//	                    absolute floor stays)
//	lost_acked_writes=5 absolute, in the metric's unit (no relative part)
//	20%                 relative, for every metric
func (t Tolerances) Set(spec string) error {
	name, value, named := strings.Cut(strings.TrimSpace(spec), "=")
	if !named {
		name, value = "", name
	}
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if named {
		if _, ok := metric.Lookup(name); !ok {
			return fmt.Errorf("tolerance %q: unknown metric %q; metrics: %s", spec, name, strings.Join(metric.Names(), ", "))
		}
	}
	rel := strings.HasSuffix(value, "%")
	x, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
	if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
		return fmt.Errorf("tolerance %q: want NAME=PERCENT%% (15%%), NAME=AMOUNT in the metric's unit (5), or PERCENT%% for every metric", spec)
	}
	if !named && !rel {
		return fmt.Errorf("tolerance %q: an absolute tolerance needs a metric name (NAME=%s), units differ between metrics", spec, value)
	}
	apply := func(n string) {
		tol := t.For(n)
		if rel {
			tol.Rel = x / 100
		} else {
			tol = Tolerance{Abs: x}
		}
		t[n] = tol
	}
	if named {
		apply(name)
		return nil
	}
	for _, n := range metric.Names() {
		apply(n)
	}
	return nil
}
