package pgquote

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "on", "'on'"},
		{"empty", "", "''"},
		{"quote", "it's", "'it''s'"},
		{"two quotes", "''", "''''''"},
		{"backslash is literal", `a\b`, `'a\b'`},
		{"connection string", "host=h password='p q'", "'host=h password=''p q'''"},
	}
	for _, tc := range tests {
		if got := Literal(tc.in); got != tc.want {
			t.Errorf("%s: Literal(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

func TestConnValue(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"plain", "s3cr3t", "s3cr3t"},
		{"empty", "", "''"},
		{"space", "a b", "'a b'"},
		{"tab", "a\tb", "'a\tb'"},
		{"quote", "it's", `'it\'s'`},
		{"backslash", `a\b`, `'a\\b'`},
		{"equals sign needs no quotes", "a=b", "a=b"},
	}
	for _, tc := range tests {
		if got := ConnValue(tc.in); got != tc.want {
			t.Errorf("%s: ConnValue(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// TestConnValueRoundTrip checks with pgx's parser, which follows libpq,
// that a quoted value reads back as itself.
func TestConnValueRoundTrip(t *testing.T) {
	t.Parallel()
	for _, pw := range []string{"s3cr3t", "", "a b", "it's", `a\b`, `\'`, "x y 'z' \\ w", "a\tb", "ünïcode"} {
		cfg, err := pgconn.ParseConfig("host=127.0.0.1 user=u password=" + ConnValue(pw) + " dbname=d")
		if err != nil {
			t.Errorf("ConnValue(%q) = %q does not parse: %v", pw, ConnValue(pw), err)
			continue
		}
		if cfg.Password != pw || cfg.User != "u" || cfg.Database != "d" {
			t.Errorf("ConnValue(%q) = %q reads back as password %q, user %q, dbname %q", pw, ConnValue(pw), cfg.Password, cfg.User, cfg.Database)
		}
	}
}
