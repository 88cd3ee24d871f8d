package scenario

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgbench-ha/pgbench-ha/fault"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestBadFiles checks the exact problems each testdata/bad/*.yaml file
// produces against testdata/bad/*.golden. Run with -update to rewrite them.
func TestBadFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/bad/*.yaml files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want an error", file, s)
			}
			var errs *Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load(%s) error is %T, want *Errors: %v", file, err, err)
			}
			// The list of fault kinds stands as {fault kinds} in the
			// golden files: a new kind changes no golden file.
			got := []byte(strings.ReplaceAll(filepath.ToSlash(err.Error()), strings.Join(fault.Names(), ", "), "{fault kinds}") + "\n")
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("problems of %s differ from %s (run with -update to accept)\ngot:\n%s\nwant:\n%s", file, golden, got, want)
			}
			// Every problem line starts with file:line:col.
			for _, p := range *errs {
				if p.File != file || p.Line < 1 || p.Column < 1 {
					t.Errorf("problem without a full position: %+v", p)
				}
			}
		})
	}
}
