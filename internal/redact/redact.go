// Package redact hides passwords in text the harness prints or writes:
// libpq keyword/value connection strings, connection URLs, and
// settings, YAML or JSON whose key names a secret.
//
//	fmt.Fprintln(stderr, redact.String(err.Error()))
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces every secret.
const Mask = "[redacted]"

var (
	// A key naming a secret (password, PGPASSWORD, superuser_password,
	// api_token, ...), optionally quoted, then = or :, then the value:
	// quoted as libpq, SQL or JSON quote (with backslash escapes), quoted
	// libpq inside a SQL literal (''...''), or unquoted up to white
	// space, as libpq ends it.
	secretKV = regexp.MustCompile(`(?i)\b([a-z_]*(?:password|passwd|secret|token)[a-z_]*)(["']?\s*[:=]\s*)(''(?:[^'\\]|\\.)+?''|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)`)
	// user:password@ in a URL such as postgres://app:pw@host/db.
	secretURL = regexp.MustCompile(`(://[^:/@\s]*:)([^@\s/]+)(@)`)
)

// notSecret are keys that match secretKV but hold no secret.
var notSecret = map[string]bool{"password_encryption": true}

// String returns s with every password it finds replaced by Mask.
func String(s string) string {
	s = secretKV.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretKV.FindStringSubmatch(m)
		if notSecret[strings.ToLower(sub[1])] {
			return m
		}
		return sub[1] + sub[2] + Mask
	})
	return secretURL.ReplaceAllString(s, "${1}"+Mask+"${3}")
}

// SecretKey reports whether a setting named name holds a secret, so that
// its value is shown as Mask whatever it looks like.
func SecretKey(name string) bool {
	kv := name + "=x"
	return String(kv) != kv
}
