package failover

import "testing"

func TestParseFormatLSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		v    uint64
	}{
		{"zero", "0/0", 0},
		{"first segment", "0/3000060", 0x3000060},
		{"high part", "16/B374D848", 0x16_B374D848},
		{"low part full", "0/FFFFFFFF", 0xFFFFFFFF},
		{"carry into the high part", "1/0", 1 << 32},
		{"largest", "FFFFFFFF/FFFFFFFF", ^uint64(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := parseLSN(tc.text); got != tc.v {
				t.Errorf("parseLSN(%q) = %#x, want %#x", tc.text, got, tc.v)
			}
			if got := formatLSN(tc.v); got != tc.text {
				t.Errorf("formatLSN(%#x) = %q, want %q", tc.v, got, tc.text)
			}
			if got := parseLSN(formatLSN(tc.v)); got != tc.v {
				t.Errorf("round trip of %#x gives %#x", tc.v, got)
			}
		})
	}
}

func TestParseLSNLenient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want uint64
	}{
		{"empty (a primary's NULL receive position)", "", 0},
		{"lower case", "16/b374d848", 0x16_B374D848},
		{"not an LSN", "none", 0},
		{"no slash", "3000060", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := parseLSN(tc.text); got != tc.want {
				t.Errorf("parseLSN(%q) = %#x, want %#x", tc.text, got, tc.want)
			}
		})
	}
}

func TestLSNOrder(t *testing.T) {
	t.Parallel()
	// The controller ranks replicas by parsed LSN: the order must be the
	// server's, not the strings'.
	ordered := []string{"0/0", "0/9", "0/10", "0/A0000000", "0/FFFFFFFF", "1/0", "1/1", "A/0", "10/0"}
	for i := 1; i < len(ordered); i++ {
		if a, b := parseLSN(ordered[i-1]), parseLSN(ordered[i]); a >= b {
			t.Errorf("parseLSN(%q) = %#x is not below parseLSN(%q) = %#x", ordered[i-1], a, ordered[i], b)
		}
	}
	// Round trip over a spread of values.
	for v := uint64(1); v != 0 && v < 1<<63; v = v*3 + 7 {
		if got := parseLSN(formatLSN(v)); got != v {
			t.Fatalf("round trip of %#x gives %#x (%q)", v, got, formatLSN(v))
		}
	}
}
