// Package pgquote quotes values for PostgreSQL's two textual syntaxes the
// harness writes: SQL string literals (also postgresql.conf values) and
// the values of libpq keyword/value connection strings.
//
//	"ALTER SYSTEM SET primary_conninfo = " + pgquote.Literal(info)
//	"user=app password=" + pgquote.ConnValue(pw)
package pgquote

import "strings"

// Literal quotes v as a SQL string literal, which is also how a
// postgresql.conf value is quoted: in single quotes, each quote doubled.
// It is safe with standard_conforming_strings on (the default since
// PostgreSQL 9.1), where backslashes are literal.
func Literal(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// ConnValue quotes v as the value of a libpq keyword/value connection
// string: as is when it is not empty and holds no space, quote or
// backslash; otherwise in single quotes, with quotes and backslashes
// escaped by a backslash.
func ConnValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r\f\v'\\") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
