package netcut

import (
	"slices"
	"strings"
	"testing"
)

func TestRules(t *testing.T) {
	t.Parallel()
	cmt := comment("123-456-789")
	if cmt != "pgbench-ha-123-456-789" {
		t.Errorf("comment = %q", cmt)
	}
	if got := comment("1-2-a.b/c"); got != "pgbench-ha-1-2-a_b_c" {
		t.Errorf("comment of an odd run = %q", got)
	}
	ch := chainName("123-456-789", "v0")
	if len(ch) != 14 || !strings.HasPrefix(ch, ChainPrefix) || len(cutChain(ch)) > 28 || len(probeChain("123-456-789")) > 28 {
		t.Errorf("chain names %q, %q, %q", ch, cutChain(ch), probeChain("123-456-789"))
	}
	if chainName("123-456-789", "v1") == ch || chainName("123-456-780", "v0") == ch {
		t.Errorf("two clusters share chain %s", ch)
	}
	if got, want := mark(3), "0x3000000/0xff000000"; got != want {
		t.Errorf("mark(3) = %q, want %q", got, want)
	}
	if got, want := strings.Join(markRule(cmt, "pgbench-ha/r/v0.primary", 1), " "),
		"-m comment --comment pgbench-ha-123-456-789 -m conntrack --ctstate NEW -m cgroup --path pgbench-ha/r/v0.primary -j CONNMARK --set-xmark 0x1000000/0xff000000"; got != want {
		t.Errorf("markRule:\n%s\nwant\n%s", got, want)
	}
	var cuts []string
	for _, r := range cutRules(cmt, "pgbench-ha/r/v0.primary", 2, []int{5433, 8009}) {
		cuts = append(cuts, strings.Join(r, " "))
	}
	want := []string{
		"-m comment --comment pgbench-ha-123-456-789 -o lo -m cgroup --path pgbench-ha/r/v0.primary -p tcp -m multiport --dports 5433,8009 -j DROP",
		"-m comment --comment pgbench-ha-123-456-789 -o lo -m cgroup --path pgbench-ha/r/v0.primary -m connmark --mark 0x2000000/0xff000000 -j DROP",
	}
	if !slices.Equal(cuts, want) {
		t.Errorf("cutRules:\n%s\nwant\n%s", strings.Join(cuts, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseSave(t *testing.T) {
	t.Parallel()
	save := `-P INPUT ACCEPT
-P OUTPUT ACCEPT
-N DOCKER
-N PGBHA-0badc0de
-N PGBHA-0badc0de-C
-N PGBHA-12345678-P
-A OUTPUT -m comment --comment pgbench-ha-11-22-33 -j PGBHA-0badc0de
-A OUTPUT -m comment --comment "something else" -j DOCKER
-A OUTPUT -j PGBHA-99999999
-A PGBHA-0badc0de -m comment --comment pgbench-ha-11-22-33 -m conntrack --ctstate NEW -m cgroup --path "pgbench-ha/11-22-33/v0.primary" -j CONNMARK --set-xmark 0x1000000/0xff000000
-A PGBHA-0badc0de -m comment --comment pgbench-ha-11-22-33 -j PGBHA-0badc0de-C
-A PGBHA-12345678-P -m comment --comment pgbench-ha-44-55-66 -m cgroup --path "pgbench-ha/44-55-66" -j DROP
`
	runs := parseSave(save)
	if len(runs) != 2 {
		t.Fatalf("runs %v", runs)
	}
	a := runs["11-22-33"]
	if a == nil || !slices.Equal(a.chains, []string{"PGBHA-0badc0de", "PGBHA-0badc0de-C"}) ||
		len(a.jumps) != 1 || strings.Join(a.jumps[0], " ") != "OUTPUT -m comment --comment pgbench-ha-11-22-33 -j PGBHA-0badc0de" {
		t.Errorf("run 11-22-33: %+v", a)
	}
	b := runs["44-55-66"]
	if b == nil || !slices.Equal(b.chains, []string{"PGBHA-12345678-P"}) || len(b.jumps) != 0 {
		t.Errorf("run 44-55-66: %+v", b)
	}
}
