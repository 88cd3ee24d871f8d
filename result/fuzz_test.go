package result

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecode checks that Decode never panics on a result.json from
// outside, that what it accepts has a schema version this build
// understands, and that it encodes and decodes again to the same JSON.
func FuzzDecode(f *testing.F) {
	flagship, err := os.ReadFile(filepath.Join("..", "cmd", "pgbench-ha", "testdata", "flagship-result.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(flagship)
	f.Add([]byte(`{"schema_version": 1}`))
	f.Add([]byte(`{"schema_version": 1, "variants": [{"name": "a", "events": [{"ms": 1, "kind": "fault"}]}]}`))
	f.Add([]byte(`{"schema_version": 99}`))
	f.Add([]byte(`{"schema_version": 1, "repetitions": null, "variants": [null, {}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(``))

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(data)
		if err != nil {
			if r != nil {
				t.Fatalf("Decode returned a result and an error: %v", err)
			}
			return
		}
		if r.SchemaVersion < 1 || r.SchemaVersion > SchemaVersion {
			t.Fatalf("accepted schema_version %d", r.SchemaVersion)
		}
		once, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("encode a decoded result: %v", err)
		}
		again, err := Decode(once)
		if err != nil {
			t.Fatalf("decode an encoded result: %v\n%s", err, once)
		}
		twice, err := json.Marshal(again)
		if err != nil {
			t.Fatalf("encode again: %v", err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("a second round trip changed the result:\n%s\n%s", once, twice)
		}
	})
}
