package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgbench-ha/pgbench-ha/result"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestWriteTextGolden(t *testing.T) {
	cases := []struct {
		name   string
		result func(t *testing.T) *result.Result
	}{
		{"summary", func(t *testing.T) *result.Result { return synthResult(t) }},
		{"interrupted", func(t *testing.T) *result.Result {
			r := synthResult(t)
			r.Status = result.StatusInterrupted
			r.Error = "interrupted by the user (SIGINT)"
			r.Variants[4] = result.Variant{Name: "synchronous_commit=remote_apply", Status: result.StatusPending}
			return r
		}},
		{"catalogue", func(t *testing.T) *result.Result { return synthCatalogue(t) }},
		{"mixed-names", func(t *testing.T) *result.Result {
			r := synthResult(t)
			r.Variants[0].Name = "synchronous_commit=off,failover=promote,detect_after=1s,extra=a-rather-long-value"
			return r
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			WriteText(&buf, tc.result(t))
			got := buf.String()
			for i, line := range strings.Split(got, "\n") {
				if n := utf8.RuneCountInString(line); n > textWidth {
					t.Errorf("line %d is %d columns wide: %q", i+1, n, line)
				}
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report/ -run TestWriteTextGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("WriteText output differs from %s (rerun with -update if intended):\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestWriteTextNil(t *testing.T) {
	var buf bytes.Buffer
	WriteText(&buf, nil)
	WriteText(&buf, &result.Result{})
	if buf.Len() == 0 {
		t.Error("no output")
	}
}
