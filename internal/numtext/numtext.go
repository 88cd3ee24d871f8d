// Package numtext shapes numbers formatted with strconv for people:
// trailing zeros trimmed, thousands grouped. The report and the verdict
// print figures the same way through it.
//
//	numtext.TrimZeros(strconv.FormatFloat(4.10, 'f', 2, 64)) // "4.1"
//	numtext.Thousands(48210)                                 // "48,210"
package numtext

import (
	"strconv"
	"strings"
)

// TrimZeros removes the trailing zeros of a decimal fraction, and the
// point when nothing follows it: "4.10" → "4.1", "30.0" → "30". A zero
// that kept its sign ("-0.0", "-0") becomes "0". Strings without a point
// are returned as they are.
func TrimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// Thousands formats n with a comma between groups of three digits:
// 48210 → "48,210", -1234567 → "-1,234,567".
func Thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
