package summary

import "github.com/pgbench-ha/pgbench-ha/result"

// Subscribers sums up each subscriber's samples, in the order given.
func Subscribers(names []string, pts []result.SubscriberPoint) []result.SubscriberSummary {
	var out []result.SubscriberSummary
	for _, name := range names {
		s := result.SubscriberSummary{Name: name}
		hadSlot := false
		for _, p := range pts {
			if p.Subscriber != name {
				continue
			}
			s.MaxLagBytes = maxOf(s.MaxLagBytes, p.LagBytes)
			s.MaxRetainedBytes = maxOf(s.MaxRetainedBytes, p.RetainedBytes)
			s.MaxSinceMessageMs = maxOf(s.MaxSinceMessageMs, p.SinceMessageMs)
			switch {
			case p.SlotUnread:
				// Not known this time: neither had nor gone.
			case p.Slot:
				hadSlot = true
			case hadSlot && s.SlotGoneMs == nil:
				at := p.Ms
				s.SlotGoneMs = &at
			}
		}
		out = append(out, s)
	}
	return out
}

// maxOf is the larger of a and b, either of which may be missing.
func maxOf(a, b *float64) *float64 {
	switch {
	case b == nil:
		return a
	case a == nil || *b > *a:
		v := *b
		return &v
	}
	return a
}
