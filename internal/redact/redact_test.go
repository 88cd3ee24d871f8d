package redact

import (
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		// libpq keyword/value strings.
		{"unquoted", "host=127.0.0.1 port=5432 user=app password=s3cr3t dbname=postgres",
			"host=127.0.0.1 port=5432 user=app password=[redacted] dbname=postgres"},
		{"unquoted at the end", "user=app password=s3cr3t", "user=app password=[redacted]"},
		{"unquoted with punctuation", "password=s3c;r,3&t user=x", "password=[redacted] user=x"},
		{"spaces around =", "user=app password = s3cr3t sslmode=disable", "user=app password = [redacted] sslmode=disable"},
		{"upper case key", "PASSWORD=s3cr3t user=x", "PASSWORD=[redacted] user=x"},
		{"quoted with a space", "user=app password='a b c' dbname=postgres", "user=app password=[redacted] dbname=postgres"},
		{"quoted with escaped quote and backslash", `password='it\'s \\ x y' application_name=replica2`,
			"password=[redacted] application_name=replica2"},
		{"unterminated quote", "password='s3cr3t", "password=[redacted]"},
		{"empty quoted", "password='' user=x", "password=[redacted] user=x"},
		{"two passwords", "primary_conninfo: host=a password=one; admin: password='two 2'",
			"primary_conninfo: host=a password=[redacted] admin: password=[redacted]"},
		{"inside an error message", `promote replica1: ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=5 user=replicator password=abc123 application_name=replica2': permission denied`,
			`promote replica1: ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=5 user=replicator password=[redacted] application_name=replica2': permission denied`},
		{"SQL-quoted connection string inside SQL", `ALTER SYSTEM SET primary_conninfo = 'user=r password=''p q'' host=h'`,
			`ALTER SYSTEM SET primary_conninfo = 'user=r password=[redacted] host=h'`},
		// URLs.
		{"URL", "postgres://app:hunter2@127.0.0.1:5432/db", "postgres://app:[redacted]@127.0.0.1:5432/db"},
		{"URL in a message", "dial postgresql://u:p4ss@h/db?sslmode=disable: refused", "dial postgresql://u:[redacted]@h/db?sslmode=disable: refused"},
		{"URL without user name", "postgres://:pw@h/db", "postgres://:[redacted]@h/db"},
		{"URL without password", "postgres://app@h:5432/db", "postgres://app@h:5432/db"},
		{"URL with a port, no user", "http://h:8080/a@b", "http://h:8080/a@b"},
		// Settings, YAML, JSON, environment.
		{"YAML key", "superuser_password: 'pa ss'", "superuser_password: [redacted]"},
		{"YAML double-quoted", `api_token: "t o k"`, `api_token: [redacted]`},
		{"JSON", `{"password":"abc","user":"x"}`, `{"password":[redacted],"user":"x"}`},
		{"environment", `"PGPASSWORD"="abc123"`, `"PGPASSWORD"=[redacted]`},
		{"PGPASSWORD in a command line", "PGPASSWORD=abc123 pg_basebackup -h x", "PGPASSWORD=[redacted] pg_basebackup -h x"},
		// What is no secret stays.
		{"no password", "host=127.0.0.1 user=app", "host=127.0.0.1 user=app"},
		{"the word password alone", `password authentication failed for user "app"`, `password authentication failed for user "app"`},
		{"password_encryption is a setting", "password_encryption = 'scram-sha-256'", "password_encryption = 'scram-sha-256'"},
		{"plain setting", "synchronous_commit=on", "synchronous_commit=on"},
		{"empty", "", ""},
	}
	secrets := []string{"s3cr3t", "s3c;r", "abc123", "a b c", "it\\'s", "two 2", "hunter2", "p4ss", "pa ss", "t o k", `"abc"`, "p q"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := String(tc.in)
			if got != tc.want {
				t.Errorf("String(%q)\n= %q\nwant %q", tc.in, got, tc.want)
			}
			for _, secret := range secrets {
				if strings.Contains(tc.in, secret) && strings.Contains(got, secret) {
					t.Errorf("String(%q) = %q still holds %q", tc.in, got, secret)
				}
			}
		})
	}
}

func TestSecretKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"password", true},
		{"PGPASSWORD", true},
		{"superuser_password", true},
		{"api_token", true},
		{"client_secret", true},
		{"password_encryption", false},
		{"synchronous_commit", false},
		{"user", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := SecretKey(tc.name); got != tc.want {
			t.Errorf("SecretKey(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
