package numtext

import (
	"math"
	"testing"
)

func TestTrimZeros(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"trailing zero", "4.10", "4.1"},
		{"whole", "30.0", "30"},
		{"all zeros", "0.000", "0"},
		{"negative zero", "-0.0", "0"},
		{"negative zero, no point", "-0", "0"},
		{"negative", "-1.50", "-1.5"},
		{"nothing to trim", "0.412", "0.412"},
		{"integer keeps its zeros", "100", "100"},
		{"integer with point", "100.00", "100"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		if got := TrimZeros(tc.in); got != tc.want {
			t.Errorf("%s: TrimZeros(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{7, "7"},
		{999, "999"},
		{1000, "1,000"},
		{48210, "48,210"},
		{-1234567, "-1,234,567"},
		{-999, "-999"},
		{math.MinInt64, "-9,223,372,036,854,775,808"},
	}
	for _, tc := range tests {
		if got := Thousands(tc.in); got != tc.want {
			t.Errorf("Thousands(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
