package verdict

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// outcomes are the cases the golden files cover.
func outcomes() map[string]Outcome {
	run := fixtureResult()
	run.Thresholds = Evaluate(run, fixtureThresholds())

	base := completeResult()
	cur := doctored(completeResult())
	cur.Thresholds = Evaluate(cur, fixtureThresholds()[:1])
	cmp := Compare(base, cur, nil)

	same := completeResult()
	clean := Compare(same, same, nil)
	return map[string]Outcome{
		"run":        {Result: run},
		"regression": {Result: cur, Comparison: &cmp},
		"clean":      {Result: same, Comparison: &clean},
	}
}

func TestGoldenJUnit(t *testing.T) {
	t.Parallel()
	for name, o := range outcomes() {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJUnit(&b, o); err != nil {
				t.Fatal(err)
			}
			// Well-formed XML, whatever the golden file says.
			dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
			for {
				_, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("not well-formed XML: %v", err)
				}
			}
			golden(t, name+".junit.xml", b.Bytes())
		})
	}
}

func TestGoldenMarkdown(t *testing.T) {
	t.Parallel()
	for name, o := range outcomes() {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteMarkdown(&b, o); err != nil {
				t.Fatal(err)
			}
			golden(t, name+".md", b.Bytes())
		})
	}
}

func TestGoldenComparisonText(t *testing.T) {
	t.Parallel()
	o := outcomes()["regression"]
	var b bytes.Buffer
	WriteComparisonText(&b, o.Comparison)
	golden(t, "regression.txt", b.Bytes())
}
