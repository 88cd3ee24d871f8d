package verdict

import (
	"math"
	"strconv"

	"github.com/pgbench-ha/pgbench-ha/internal/numtext"
	"github.com/pgbench-ha/pgbench-ha/metric"
)

// fmtNum formats a metric value for people: thousands separators, about
// three significant digits for fractions.
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v == 0:
		return "0"
	case math.Abs(v) >= 100:
		return numtext.Thousands(int64(math.Round(v)))
	case math.Abs(v) >= 10:
		return numtext.TrimZeros(strconv.FormatFloat(v, 'f', 1, 64))
	case math.Abs(v) >= 1:
		return numtext.TrimZeros(strconv.FormatFloat(v, 'f', 2, 64))
	default:
		return numtext.TrimZeros(strconv.FormatFloat(v, 'f', 3, 64))
	}
}

// fmtValue formats a value with its metric's unit: "4.1 ms", "1.2 MiB",
// "48,210 writes".
func fmtValue(v float64, unit string) string {
	switch unit {
	case metric.UnitBytes:
		return fmtBytes(v)
	case "":
		return fmtNum(v)
	}
	return fmtNum(v) + " " + unit
}

// fmtMsHuman formats milliseconds, as seconds from one second up:
// "870 ms", "1.12 s".
func fmtMsHuman(ms float64) string {
	if math.Abs(ms) >= 1000 {
		return fmtNum(ms/1000) + " s"
	}
	return fmtNum(ms) + " ms"
}

// fmtPlain formats a value in a table whose metric name carries the
// unit: bytes get IEC units, everything else is a bare number.
func fmtPlain(v float64, unit string) string {
	if unit == metric.UnitBytes {
		return fmtBytes(v)
	}
	return fmtNum(v)
}

func fmtBytes(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	a := math.Abs(v)
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for a >= 1024 && i < len(units)-1 {
		a /= 1024
		v /= 1024
		i++
	}
	if i == 0 {
		return fmtNum(v) + " B"
	}
	return numtext.TrimZeros(strconv.FormatFloat(v, 'f', 1, 64)) + " " + units[i]
}

// fmtPct formats a change in percent with its sign: "+12.5%", "−3%".
func fmtPct(p float64) string {
	if math.IsNaN(p) || math.IsInf(p, 0) {
		return "–"
	}
	s := numtext.TrimZeros(strconv.FormatFloat(math.Abs(p), 'f', 1, 64))
	switch {
	case s == "0":
		return "0%"
	case p < 0:
		return "−" + s + "%"
	}
	return "+" + s + "%"
}
