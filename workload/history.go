package workload

import (
	"bufio"
	"io"
	"strconv"
	"time"
)

// HistoryHeader is the first line of a history.
const HistoryHeader = "id,writer,node,scheduled_ms,sent_ms,done_ms,outcome"

// WriteHistory writes every write a writer sent (or tried to: Begin was
// called), in id order, as CSV with
// HistoryHeader's columns: the order id; the writer's index; the name
// (from nodes) of the node connected to, empty when none; when the
// schedule wanted it sent (empty with an unlimited rate), when it was
// sent and when its outcome was known (the ack, the error, the broken
// connection), in ms from the start of the window with µs precision; and
// its outcome (acked, failed, unknown; pending when it never got one).
// Ids no writer sent are left out. Safe to call while writes go on; it
// holds the ledger's lock only to copy a few thousand entries at a time.
func (l *Ledger) WriteHistory(w io.Writer, nodes []string) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(HistoryHeader + "\n")
	chunk := make([]Entry, 0, 4096)
	var line []byte
	for from := int64(0); ; {
		l.mu.Lock()
		to := min(from+int64(cap(chunk)), l.n)
		chunk = l.copyEntries(chunk[:0], from, max(from, to))
		l.mu.Unlock()
		if len(chunk) == 0 {
			break
		}
		for i, e := range chunk {
			if !e.WasSent() {
				continue
			}
			line = strconv.AppendInt(line[:0], l.firstID+from+int64(i), 10)
			line = append(line, ',')
			line = strconv.AppendInt(line, int64(e.Writer), 10)
			line = append(line, ',')
			if n := int(e.Node); n >= 0 && n < len(nodes) {
				line = append(line, nodes[n]...)
			}
			line = append(line, ',')
			if e.Scheduled >= 0 {
				line = appendMs(line, e.Scheduled)
			}
			line = append(line, ',')
			line = appendMs(line, e.Sent)
			line = append(line, ',')
			if e.Outcome != Pending {
				line = appendMs(line, e.At)
			}
			line = append(line, ',')
			line = append(line, e.Outcome.String()...)
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
		from += int64(len(chunk))
	}
	return bw.Flush()
}

// appendMs appends d in ms with three decimals: 1234.567.
func appendMs(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}
