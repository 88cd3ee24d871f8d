package report

import (
	"encoding/base64"
	"encoding/binary"
	"reflect"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// FuzzDecodeHistogram checks that a commit latency histogram from a
// result.json never panics the report: decoding it fails cleanly or
// gives a histogram whose percentile curve can be drawn, with the counts
// hdrhistogram's own decoder finds.
func FuzzDecodeHistogram(f *testing.F) {
	encode := func(values ...int64) string {
		h := hdrhistogram.New(1, 60_000_000, 3) // the writer's histogram, µs
		for _, v := range values {
			if err := h.RecordValue(v); err != nil {
				f.Fatal(err)
			}
		}
		b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			f.Fatal(err)
		}
		return string(b)
	}
	frame := func(cookie, length int32, rest ...byte) string {
		b := binary.BigEndian.AppendUint32(nil, uint32(cookie))
		b = binary.BigEndian.AppendUint32(b, uint32(length))
		return base64.StdEncoding.EncodeToString(append(b, rest...))
	}
	good := encode(850, 900, 1200, 4100, 1_400_000)
	f.Add(good)
	f.Add(encode())
	f.Add(encode(1, 60_000_000))
	f.Add(good[:len(good)/2])
	f.Add("")
	f.Add("AAAA")
	f.Add("not base64!")
	f.Add(frame(hdrhistogram.V2CompressedEncodingCookieBase|0x10, -1))
	f.Add(frame(hdrhistogram.V2CompressedEncodingCookieBase|0x10, 4, 0x78, 0x9c, 0x03, 0x00))

	f.Fuzz(func(t *testing.T, encoded string) {
		for _, unit := range []string{"us", "ms"} {
			hist, err := decodeHistogram(&result.Histogram{Unit: unit, Encoded: encoded})
			if err != nil {
				if hist != nil {
					t.Fatalf("decodeHistogram returned a histogram and an error: %v", err)
				}
				continue
			}
			if hist == nil {
				if encoded != "" {
					t.Fatalf("no histogram and no error for %q", encoded)
				}
				continue
			}
			percentileCurve(hist, unit)
			if lib, ok := libraryDecode(encoded); !ok || !reflect.DeepEqual(lib.Export(), hist.Export()) {
				t.Fatalf("hdrhistogram.Decode disagrees (ok %v) for %q", ok, encoded)
			}
		}
	})
}

// libraryDecode is hdrhistogram.Decode, which panics on some inputs.
func libraryDecode(encoded string) (h *hdrhistogram.Histogram, ok bool) {
	defer func() {
		if recover() != nil {
			h, ok = nil, false
		}
	}()
	h, err := hdrhistogram.Decode([]byte(encoded))
	return h, err == nil
}

func TestDecodeHistogram(t *testing.T) {
	t.Parallel()
	h := hdrhistogram.New(1, 60_000_000, 3)
	for _, v := range []int64{850, 900, 900, 1200, 4100, 1_400_000, 60_000_000} {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeHistogram(&result.Histogram{Unit: "us", Encoded: string(enc)})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Export(), h.Export()) || got.TotalCount() != 7 || got.ValueAtQuantile(50) != h.ValueAtQuantile(50) {
		t.Errorf("decoded histogram differs: %d values, p50 %d; want 7, %d", got.TotalCount(), got.ValueAtQuantile(50), h.ValueAtQuantile(50))
	}
	for name, bad := range map[string]string{
		"not base64":    "!!",
		"too short":     "AAAA",
		"truncated":     string(enc[:len(enc)/2]),
		"wrong cookie":  base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"length beyond": base64.StdEncoding.EncodeToString([]byte{0x1c, 0x84, 0x93, 0x14, 0x7f, 0, 0, 0}),
	} {
		if h, err := decodeHistogram(&result.Histogram{Unit: "us", Encoded: bad}); err == nil || h != nil {
			t.Errorf("%s: no error", name)
		}
	}
}
