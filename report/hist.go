package report

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot/plotter"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// The percentile axis runs from p50 to p99.999, drawn as 1/(1-p) on a log
// scale so that each added nine takes the same width.
const (
	pctAxisMin = 2      // 1/(1-0.5)
	pctAxisMax = 100000 // 1/(1-0.99999)
)

// decodeHistogram decodes a variant's commit latency histogram. It returns
// nil and no error when the variant has none.
func decodeHistogram(h *result.Histogram) (*hdrhistogram.Histogram, error) {
	if h == nil || h.Encoded == "" {
		return nil, nil
	}
	hist, err := decodeV2(h.Encoded)
	if err != nil {
		return nil, fmt.Errorf("decode commit latency histogram: %w", err)
	}
	return hist, nil
}

// maxHistogramBytes bounds a decompressed histogram. The writer's take a
// few KiB; the bound keeps a crafted one from exhausting memory.
const maxHistogramBytes = 1 << 20

// decodeV2 reads hdrhistogram's V2 compressed encoding (base64 text) as
// hdrhistogram.Decode does, but checks every length, index and count
// first: Decode panics on short or inconsistent input, and a result.json
// comes from outside.
//
// The layout: cookie and length of the zlib data (int32 each, big
// endian), then the zlib data: a 40-byte header (cookie, payload length,
// normalizing offset, significant figures as int32; lowest and highest
// trackable value as int64; a float64 ratio) and the payload, the counts
// as zig-zag LEB128, a negative number standing for that many zeros.
func decodeV2(encoded string) (*hdrhistogram.Histogram, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, err
	}
	if len(raw) < 8 {
		return nil, fmt.Errorf("%d bytes: too short", len(raw))
	}
	if cookie := int32(binary.BigEndian.Uint32(raw)) &^ 0xf0; cookie != hdrhistogram.V2CompressedEncodingCookieBase {
		return nil, fmt.Errorf("not a V2 compressed histogram (cookie %#x)", cookie)
	}
	n := int64(int32(binary.BigEndian.Uint32(raw[4:])))
	if n < 0 || n > int64(len(raw)-8) {
		return nil, fmt.Errorf("compressed length %d with %d bytes present", n, len(raw)-8)
	}
	z, err := zlib.NewReader(bytes.NewReader(raw[8 : 8+n]))
	if err != nil {
		return nil, err
	}
	defer z.Close()
	body, err := io.ReadAll(io.LimitReader(z, maxHistogramBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxHistogramBytes {
		return nil, fmt.Errorf("more than %d bytes decompressed", maxHistogramBytes)
	}
	const header = hdrhistogram.ENCODING_HEADER_SIZE
	if len(body) < header {
		return nil, fmt.Errorf("header: %d bytes, want %d", len(body), header)
	}
	if cookie := int32(binary.BigEndian.Uint32(body)) &^ 0xf0; cookie != hdrhistogram.V2EncodingCookieBase {
		return nil, fmt.Errorf("not a V2 histogram (cookie %#x)", cookie)
	}
	payload := body[header:]
	if n := int32(binary.BigEndian.Uint32(body[4:])); int64(n) != int64(len(payload)) {
		return nil, fmt.Errorf("payload length %d with %d bytes present", n, len(payload))
	}
	sig := int32(binary.BigEndian.Uint32(body[12:]))
	lowest := int64(binary.BigEndian.Uint64(body[16:]))
	highest := int64(binary.BigEndian.Uint64(body[24:]))
	// The bounds hdrhistogram's New and the Java original assume: values
	// of sig digits from lowest on must fit 62 bits.
	if sig < 1 || sig > 5 || lowest < 1 || highest/2 < lowest ||
		bits.Len64(uint64(lowest))-1+bits.Len64(uint64(2*pow10(sig)-1))-1 > 61 {
		return nil, fmt.Errorf("bad range: %d significant figures, %d to %d", sig, lowest, highest)
	}
	snap := hdrhistogram.New(lowest, highest, int(sig)).Export()
	counts := snap.Counts
	var total int64
	for i := 0; len(payload) > 0; {
		// At most 8 bytes: 56 bits are more than any count or run of
		// zeros needs, and there LEB128 and hdrhistogram's 9-byte
		// variant agree.
		u, m := binary.Uvarint(payload[:min(len(payload), 8)])
		if m <= 0 {
			return nil, fmt.Errorf("count %d: malformed or too large", i)
		}
		payload = payload[m:]
		v := int64(u>>1) ^ -int64(u&1) // zig-zag
		if v < 0 {
			if -v > int64(len(counts)-i) {
				return nil, fmt.Errorf("counts run past the %d the range holds", len(counts))
			}
			i += int(-v)
			continue
		}
		if i >= len(counts) {
			return nil, fmt.Errorf("counts run past the %d the range holds", len(counts))
		}
		if v > math.MaxInt64-total {
			return nil, errors.New("total count overflows")
		}
		counts[i] = v
		total += v
		i++
	}
	return hdrhistogram.Import(snap), nil
}

func pow10(n int32) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// unitToMs returns the factor from a histogram's unit to milliseconds.
func unitToMs(unit string) float64 {
	switch unit {
	case "ns":
		return 1e-6
	case "ms":
		return 1
	case "s":
		return 1000
	default: // "us", the documented unit, and unset
		return 1e-3
	}
}

// percentileCurve samples hist from p50 up to the highest percentile its
// count supports (at most p99.999), as points (1/(1-p), value in ms).
func percentileCurve(hist *hdrhistogram.Histogram, unit string) plotter.XYs {
	n := hist.TotalCount()
	if n == 0 {
		return nil
	}
	scale := unitToMs(unit)
	top := math.Min(pctAxisMax, math.Max(float64(n), pctAxisMin*10))
	const steps = 240
	lo, hi := math.Log10(pctAxisMin), math.Log10(top)
	pts := make(plotter.XYs, 0, steps+1)
	for i := 0; i <= steps; i++ {
		x := math.Pow(10, lo+(hi-lo)*float64(i)/steps)
		q := 100 * (1 - 1/x)
		v := float64(hist.ValueAtPercentile(q)) * scale
		pts = append(pts, plotter.XY{X: x, Y: v})
	}
	return pts
}

// summaryCurve is the fallback when a variant has no histogram: the
// percentiles of its summary, as points (1/(1-p), ms).
func summaryCurve(l result.Latency) plotter.XYs {
	var pts plotter.XYs
	for _, p := range []struct{ q, v float64 }{
		{0.5, l.P50}, {0.9, l.P90}, {0.99, l.P99}, {0.999, l.P999},
	} {
		if p.v > 0 {
			pts = append(pts, plotter.XY{X: 1 / (1 - p.q), Y: p.v})
		}
	}
	return pts
}
