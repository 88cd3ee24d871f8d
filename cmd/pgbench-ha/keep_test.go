package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var keptLine = regexp.MustCompile(`(?m)^kept: .*connection details: (\S+);`)

// TestRunKeep: run --keep leaves the last variant's cluster running, its
// connection details in a file only its owner reads, outside the run
// folder; once its harness is gone, cleanup stops it and removes it.
func TestRunKeep(t *testing.T) {
	needPostgres(t)
	sc := writeScenario(t, "cli-keep", killPromoteYAML)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code, stdout, stderr := runCLI(ctx, "run", "--keep", "--out", out, sc)
	if code != ExitOK {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	m := keptLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no kept: line in\n%s", stdout)
	}
	file := m[1]
	root := filepath.Dir(file)
	t.Cleanup(func() {
		// Whatever happens below, the kept cluster goes: its harness
		// (this process) is made to look gone, and cleanup runs.
		_ = os.WriteFile(filepath.Join(root, "harness"), []byte("1 1 another-boot\n"), 0o644)
		runCLI(context.Background(), "cleanup")
	})
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("connection file %s: %v, mode %v; want 0600", file, err, st.Mode().Perm())
	}
	if strings.HasPrefix(file, out) {
		t.Errorf("connection file %s, with passwords, is in the run folder %s", file, out)
	}
	var doc struct {
		Nodes []struct{ Name, Role, Admin string }
	}
	raw, _ := os.ReadFile(file)
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	primary := ""
	for _, n := range doc.Nodes {
		if n.Role == "primary" {
			primary = n.Admin
		}
	}
	if primary == "" {
		t.Fatalf("no primary in %s", raw)
	}
	conn, err := pgx.Connect(ctx, primary)
	if err != nil {
		t.Fatalf("kept primary: %v", err)
	}
	var n int64
	err = conn.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n)
	conn.Close(ctx)
	if err != nil || n == 0 {
		t.Fatalf("kept primary holds %d orders: %v", n, err)
	}

	if err := os.WriteFile(filepath.Join(root, "harness"), []byte("1 1 another-boot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = runCLI(ctx, "cleanup")
	if code != ExitOK || !strings.Contains(stdout, "removed       server") {
		t.Errorf("cleanup: exit %d\n%s", code, stdout)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("%s still there after cleanup", root)
	}
}

// TestRunKeepRefused: what --keep cannot keep is refused before anything
// starts.
func TestRunKeepRefused(t *testing.T) {
	needPostgres(t)
	out := t.TempDir()
	code, _, stderr := runCLI(context.Background(), "run", "--keep", "--out", out, "../../scenarios/partition-primary.yaml")
	if code != ExitInvalid || !strings.Contains(stderr, "--keep") || !strings.Contains(stderr, "link faults") {
		t.Errorf("exit %d, want %d with why:\n%s", code, ExitInvalid, stderr)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("results written: %v", ents)
	}
}
