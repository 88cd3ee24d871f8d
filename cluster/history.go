package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Promotion is one promotion as a failover manager recorded it: timeline
// Timeline ended at LSN, for Reason, and the next began on Leader at At
// (zero when the manager does not say).
type Promotion struct {
	Timeline int
	LSN      uint64
	Reason   string
	At       time.Time
	Leader   string
}

// Historian is a Cluster whose failover manager keeps its own record of
// the promotions (Patroni's /history, an external cluster's history
// hook), read at the end of a run: a promotion is attributed to the
// manager only when that record confirms it.
type Historian interface {
	History(ctx context.Context) ([]Promotion, error)
	// Manager names the record in messages ("Patroni's history").
	Manager() string
}

// ParsePatroniHistory reads Patroni's GET /history: lines: [timeline, lsn, reason] and, when
// Patroni knows them, the time and the new leader.
func ParsePatroniHistory(b []byte) ([]Promotion, error) {
	var lines [][]json.RawMessage
	if err := json.Unmarshal(b, &lines); err != nil {
		return nil, err
	}
	out := make([]Promotion, 0, len(lines))
	for _, l := range lines {
		if len(l) < 3 {
			return nil, fmt.Errorf("line %s: want [timeline, lsn, reason, ...]", l)
		}
		var h Promotion
		if err := json.Unmarshal(l[0], &h.Timeline); err != nil {
			return nil, fmt.Errorf("timeline %s: %w", l[0], err)
		}
		if err := json.Unmarshal(l[1], &h.LSN); err != nil {
			return nil, fmt.Errorf("lsn %s: %w", l[1], err)
		}
		_ = json.Unmarshal(l[2], &h.Reason)
		if len(l) > 3 {
			var ts string
			if json.Unmarshal(l[3], &ts) == nil {
				if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
					h.At = t
				}
			}
		}
		if len(l) > 4 {
			_ = json.Unmarshal(l[4], &h.Leader)
		}
		out = append(out, h)
	}
	return out, nil
}
