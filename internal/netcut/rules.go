package netcut

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// ChainPrefix starts the name of every chain the package makes.
const ChainPrefix = "PGBHA-"

// CommentPrefix starts the comment of every rule the package adds; the
// run's name follows.
const CommentPrefix = "pgbench-ha-"

// Connection marks: a node's id in the top bits of the conntrack mark,
// the rest left to whoever else marks connections.
const (
	markShift = 24
	markMask  = 0xff000000
	// MaxNodes is how many nodes a cluster may have: ids 1..MaxNodes.
	MaxNodes = 255
)

// safe keeps the characters iptables prints unquoted ([A-Za-z0-9_-]),
// so that a comment reads back as it was written.
func safe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// comment is the comment of a run's rules.
func comment(run string) string { return CommentPrefix + safe(run) }

// hash8 is 8 hex digits of s's FNV-1a hash.
func hash8(s string) string {
	h := fnv.New32a()
	h.Write([]byte(s))
	return fmt.Sprintf("%08x", h.Sum32())
}

// chainName is the chain of a run's cluster (14 characters, under
// iptables' 28); cutChain(chainName) holds its cuts.
func chainName(run, cluster string) string { return ChainPrefix + hash8(run+"/"+cluster) }

func cutChain(chain string) string { return chain + "-C" }

// probeChain is the chain Open tries the matches in.
func probeChain(run string) string { return ChainPrefix + hash8(run) + "-P" }

// mark is the conntrack mark of connections node id opened, with its
// mask, as iptables takes it.
func mark(id int) string {
	return fmt.Sprintf("0x%x/0x%x", uint32(id)<<markShift, uint32(markMask))
}

// jumpRule sends OUTPUT through chain (after -I OUTPUT 1 or -D OUTPUT).
func jumpRule(cmt, chain string) []string {
	return []string{"-m", "comment", "--comment", cmt, "-j", chain}
}

// markRule marks each connection the processes of the cgroup rel (a path
// relative to the cgroup v2 root) open with id, at its first packet.
func markRule(cmt, rel string, id int) []string {
	return []string{"-m", "comment", "--comment", cmt,
		"-m", "conntrack", "--ctstate", "NEW",
		"-m", "cgroup", "--path", rel,
		"-j", "CONNMARK", "--set-xmark", mark(id)}
}

// cutRules drop the data the cgroup from sends to the node with id toID
// and ports toPorts on loopback: on the connections from opened to those
// ports, and on those the node toID opened (its mark).
func cutRules(cmt, from string, toID int, toPorts []int) [][]string {
	ports := make([]string, len(toPorts))
	for i, p := range toPorts {
		ports[i] = strconv.Itoa(p)
	}
	base := []string{"-m", "comment", "--comment", cmt, "-o", "lo", "-m", "cgroup", "--path", from}
	var out [][]string
	if len(ports) > 0 {
		out = append(out, append(append([]string(nil), base...), "-p", "tcp", "-m", "multiport", "--dports", strings.Join(ports, ","), "-j", "DROP"))
	}
	out = append(out, append(append([]string(nil), base...), "-m", "connmark", "--mark", mark(toID), "-j", "DROP"))
	return out
}

// ruleSet is what iptables -S says of the rules of one run: the rules
// that jump from a chain not the run's into one of its chains, and the
// run's chains.
type ruleSet struct {
	jumps  [][]string // each as after -D
	chains []string
}

// parseSave reads iptables -S output: for each run whose comment it
// finds, its jumps and chains.
func parseSave(out string) map[string]*ruleSet {
	runs := map[string]*ruleSet{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "-A" {
			continue
		}
		for i := range f {
			f[i] = strings.Trim(f[i], `"`)
		}
		var cmt, target string
		for i := 2; i+1 < len(f); i++ {
			switch f[i] {
			case "--comment":
				cmt = f[i+1]
			case "-j":
				target = f[i+1]
			}
		}
		if !strings.HasPrefix(cmt, CommentPrefix) {
			continue
		}
		run := strings.TrimPrefix(cmt, CommentPrefix)
		rs := runs[run]
		if rs == nil {
			rs = &ruleSet{}
			runs[run] = rs
		}
		chain := f[1]
		if strings.HasPrefix(chain, ChainPrefix) {
			rs.addChain(chain)
		} else if strings.HasPrefix(target, ChainPrefix) {
			rs.jumps = append(rs.jumps, f[1:])
		}
		if strings.HasPrefix(target, ChainPrefix) {
			rs.addChain(target)
		}
	}
	return runs
}

func (rs *ruleSet) addChain(c string) {
	for _, have := range rs.chains {
		if have == c {
			return
		}
	}
	rs.chains = append(rs.chains, c)
}
