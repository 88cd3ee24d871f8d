package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/pgbench-ha/pgbench-ha/internal/numtext"
)

// fmtInt formats n with thousands separators: 48210 → "48,210".
func fmtInt(n int64) string { return numtext.Thousands(n) }

// fmtCount formats a rate or count that is a float: whole numbers get
// separators, small ones keep one decimal.
func fmtCount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if math.Abs(v) >= 100 {
		return fmtInt(int64(math.Round(v)))
	}
	return trimZero(strconv.FormatFloat(v, 'f', 1, 64))
}

// fmtMs formats a duration in milliseconds with about three significant
// digits: 0.412, 4.1, 87, 1,930.
func fmtMs(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case v == 0:
		return "0"
	case math.Abs(v) < 1:
		return trimZero(strconv.FormatFloat(v, 'f', 3, 64))
	case math.Abs(v) < 10:
		return trimZero(strconv.FormatFloat(v, 'f', 2, 64))
	case math.Abs(v) < 100:
		return trimZero(strconv.FormatFloat(v, 'f', 1, 64))
	default:
		return fmtInt(int64(math.Round(v)))
	}
}

// fmtDuration formats milliseconds for a sentence: "870 ms", "1.9 s",
// "2 min 5 s".
func fmtDuration(ms float64) string {
	switch {
	case math.IsNaN(ms) || math.IsInf(ms, 0):
		return "–"
	case math.Abs(ms) < 1000:
		return fmtMs(ms) + " ms"
	case math.Abs(ms) < 60_000:
		return trimZero(strconv.FormatFloat(ms/1000, 'f', 1, 64)) + " s"
	default:
		s := int64(math.Round(ms / 1000))
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	}
}

// fmtBytes formats a byte count in IEC units: 512 B, 12.3 KiB, 4.0 MiB.
func fmtBytes(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return strconv.FormatFloat(math.Round(v), 'f', 0, 64) + " B"
	}
	prec := 1
	if math.Abs(v) >= 100 {
		prec = 0
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + units[i]
}

// fmtSeconds formats an axis value in seconds without trailing zeros.
func fmtSeconds(ms float64) string {
	return trimZero(strconv.FormatFloat(ms/1000, 'f', 3, 64))
}

// trimZero trims the zeros after a decimal point: "4.10" → "4.1".
func trimZero(s string) string { return numtext.TrimZeros(s) }
