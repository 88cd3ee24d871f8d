package workload

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriteHistory(t *testing.T) {
	t.Parallel()
	us := func(n int) time.Duration { return time.Duration(n) * time.Microsecond }
	nodes := []string{"primary", "replica1"}
	tests := []struct {
		name  string
		build func(l *Ledger)
		want  string // after the header
	}{
		{"empty", func(*Ledger) {}, ""},
		{"every outcome, µs precision", func(l *Ledger) {
			l.Begin(100, 0, us(1000), us(1250))
			l.Finish(100, Acked, 0, us(2_345_678))
			l.Begin(101, 3, us(1500), us(1500))
			l.Finish(101, Failed, 1, us(1600))
			l.Begin(102, 1, us(9), us(12))
			l.Finish(102, Unknown, 0, us(100_000))
		}, "100,0,primary,1.000,1.250,2345.678,acked\n" +
			"101,3,replica1,1.500,1.500,1.600,failed\n" +
			"102,1,primary,0.009,0.012,100.000,unknown\n"},
		{"unsent ids are left out; unpaced has no schedule; no node, no name; no outcome, no time", func(l *Ledger) {
			l.Begin(103, 2, -1, us(5000)) // 100..102 never sent
			l.Finish(103, Failed, -1, us(5001))
			l.Begin(104, 7, us(6000), us(6000)) // still pending
		}, "103,2,,,5.000,5.001,failed\n" +
			"104,7,,6.000,6.000,,pending\n"},
		{"sub-µs parts are cut", func(l *Ledger) {
			l.Begin(100, 1, us(1000)+999, us(1250)+1)
			l.Finish(100, Acked, 0, us(2_345_678)+999)
			l.Begin(101, 2, us(1000), us(40*60_000_000)) // 40 min later: too far for the record
			l.Finish(101, Acked, 1, us(80*60_000_000)+500)
		}, "100,1,primary,1.000,1.250,2345.678,acked\n" +
			"101,2,replica1,1.000,2400000.000,4800000.000,acked\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := NewLedger(100)
			tc.build(l)
			var buf bytes.Buffer
			if err := l.WriteHistory(&buf, nodes); err != nil {
				t.Fatal(err)
			}
			if want := HistoryHeader + "\n" + tc.want; buf.String() != want {
				t.Errorf("history:\n%s\nwant:\n%s", buf.String(), want)
			}
		})
	}
}

// TestWriteHistoryLong: a history longer than the copy chunk has every
// sent write once, in id order.
func TestWriteHistoryLong(t *testing.T) {
	t.Parallel()
	const n = 10_001
	l := NewLedger(1)
	for id := int64(1); id <= n; id++ {
		if id%10 == 0 {
			continue // never sent
		}
		l.Begin(id, int(id%8), time.Duration(id)*time.Millisecond, time.Duration(id)*time.Millisecond)
		l.Finish(id, Acked, 0, time.Duration(id+1)*time.Millisecond)
	}
	var buf bytes.Buffer
	if err := l.WriteHistory(&buf, []string{"primary"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if want := 1 + n - n/10; len(lines) != want {
		t.Fatalf("%d lines, want %d (a header and every sent write)", len(lines), want)
	}
	if lines[1] != "1,1,primary,1.000,1.000,2.000,acked" || lines[len(lines)-1] != "10001,1,primary,10001.000,10001.000,10002.000,acked" {
		t.Errorf("first %q, last %q", lines[1], lines[len(lines)-1])
	}
	if lines[10] != "11,3,primary,11.000,11.000,12.000,acked" {
		t.Errorf("line 10 %q: id 10 was never sent", lines[10])
	}
}
