package report

import (
	"fmt"
	"strings"

	"github.com/pgbench-ha/pgbench-ha/result"
)

// serverText is the server a variant ran, "17.6 (image pgbench-ha/postgres:17)";
// "" when the result does not say (older results: Run.PostgresVersion).
func serverText(t result.Topology) string {
	s := t.PostgresVersion
	if t.Image != "" {
		if s == "" {
			s = "–"
		}
		s += " (image " + t.Image + ")"
	}
	return s
}

// serverNotes is the text summary's line on the server a variant ran,
// when it is not the run's (a variant of an image of its own).
func serverNotes(r *result.Result, v *result.Variant) []string {
	t := v.Topology
	if t.Image == "" && (t.PostgresVersion == "" || t.PostgresVersion == r.Run.PostgresVersion) {
		return nil
	}
	return []string{fmt.Sprintf("%s: PostgreSQL %s", v.Name, serverText(t))}
}

// followText says what became of a subscription re-pointed to a new
// primary: "failover slot; re-pointed to replica1 at 21.4 s: followed at
// 21.9 s", or why it did not follow.
func followText(s result.SubscriberSummary) string {
	var parts []string
	if s.FailoverSlot {
		parts = append(parts, "failover slot")
	}
	for _, f := range s.Follows {
		t := fmt.Sprintf("re-pointed to %s at %s s: ", f.NewPrimary, fmtTenths(f.RepointMs))
		switch {
		case f.Followed && f.FollowedMs != nil:
			t += fmt.Sprintf("followed at %s s", fmtTenths(*f.FollowedMs))
		case f.Followed:
			t += "followed"
		default:
			t += "did not follow: " + orDash(f.Error)
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, "; ")
}

// followNotes are the text summary's lines on subscriptions re-pointed
// after a promotion.
func followNotes(v *result.Variant) []string {
	var out []string
	for _, s := range v.Summary.Subscribers {
		if len(s.Follows) == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("%s: subscriber %s: %s", v.Name, s.Name, followText(s)))
	}
	return out
}

// runServerText is the run's PostgreSQL: the backend's, and when the
// variants ran others (topology.image), theirs in variant order.
func runServerText(r *result.Result) string {
	s := orDash(r.Run.PostgresVersion)
	var vs []string
	other := false
	for _, v := range r.Variants {
		t := v.Topology.PostgresVersion
		if t == "" {
			continue
		}
		other = other || t != r.Run.PostgresVersion
		if len(vs) == 0 || vs[len(vs)-1] != t {
			vs = append(vs, t)
		}
	}
	if !other {
		return s
	}
	return s + " (the backend's default); the variants ran " + strings.Join(vs, ", ")
}
