// Package netcut cuts links between local processes that all talk on
// 127.0.0.1 (the nodes of a Patroni cluster: every node's PostgreSQL and
// REST API on its own ports), one way at a time, with iptables. Each node
// runs in a cgroup v2 directory of its own, so that iptables' cgroup match
// tells its packets from the other nodes' (and from the harness's, which
// are never cut):
//
//	/sys/fs/cgroup/unified/pgbench-ha/<run>/<cluster>.<node>
//
// the run named as freezer.RunName names it, so that a cleanup can tell a
// dead run's from a live one's. A cluster's rules are in chains of its own
// (PGBHA-<hash>, its cuts in PGBHA-<hash>-C) jumped to from OUTPUT, every
// rule commented pgbench-ha-<run>:
//
//	run, err := netcut.Open(runName)       // checks iptables and cgroup v2
//	net, err := run.Net("v0", []netcut.Node{{Name: "primary", Ports: []int{5432, 8008}}, ...})
//	// start each node's processes in net.Dir(node) (clone3 CLONE_INTO_CGROUP)
//	err = net.Cut("primary", "replica1")   // data primary -> replica1 vanishes
//	err = net.CutAll(cuts)                 // several, in one iptables transaction
//	err = net.Heal()
//	err = net.RemoveRules(); err = net.RemoveCgroups(); err = run.Close()
//
// A cut from A to B drops, on loopback, what A's cgroup sends to B's ports
// (connections A opened) and what it sends on connections B opened. The
// second is told by a conntrack mark: each connection is marked, at its
// first packet, with the id of the node that opened it, by rules in place
// from when the cluster's chain is made, before any node starts.
package netcut

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Top holds the runs' cgroups under the cgroup v2 mount.
const Top = "pgbench-ha"

// Mount is where the cgroup v2 hierarchy is mounted (the first cgroup2
// in /proc/self/mounts, /sys/fs/cgroup/unified on a hybrid host), "" when
// none is.
func Mount() string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "cgroup2" {
			return f[1]
		}
	}
	return ""
}

// iptablesPath finds iptables in PATH or the sbin directories (a harness
// run with a user's PATH may lack them).
func iptablesPath() (string, error) {
	if p, err := exec.LookPath("iptables"); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(d, "iptables")
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", errors.New("iptables not found")
}

// iptables runs iptables -w with args; the error has what it printed.
func iptables(path string, args ...string) (string, error) {
	cmd := exec.Command(path, append([]string{"-w"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		var msg []string
		for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
			if l != "" && !strings.Contains(l, "iptables-legacy tables present") {
				msg = append(msg, l)
			}
		}
		return "", fmt.Errorf("iptables %s: %v: %s", strings.Join(args, " "), err, strings.Join(msg, "; "))
	}
	return out.String(), nil
}

// Run is a run's cgroup v2 directory, where its clusters' nodes get
// theirs.
type Run struct {
	name  string
	mount string
	dir   string
	ipt   string
}

// Open makes the run's cgroup v2 directory and checks that iptables can
// match on it (the cgroup, conntrack and connmark matches, the CONNMARK
// target); the error says why links cannot be cut here.
func Open(run string) (*Run, error) {
	ipt, err := iptablesPath()
	if err != nil {
		return nil, fmt.Errorf("netcut: %w", err)
	}
	mount := Mount()
	if mount == "" {
		return nil, errors.New("netcut: no cgroup v2 hierarchy is mounted")
	}
	var st unix.Statfs_t
	if err := unix.Statfs(mount, &st); err != nil || st.Type != unix.CGROUP2_SUPER_MAGIC {
		return nil, fmt.Errorf("netcut: %s is not a cgroup v2 hierarchy", mount)
	}
	top := filepath.Join(mount, Top)
	dir := filepath.Join(top, run)
	for range 3 { // another run may remove top between the two
		if err = os.Mkdir(top, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			break
		}
		if err = os.Mkdir(dir, 0o755); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("netcut: %w", err)
	}
	r := &Run{name: run, mount: mount, dir: dir, ipt: ipt}
	if err := r.probe(); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// probe adds, to a chain nothing jumps to, a rule of each kind a cluster
// needs, matching the run's cgroup, as Cut adds them (iptables-restore),
// and removes them.
func (r *Run) probe() error {
	chain := probeChain(r.name)
	cmt := comment(r.name)
	rel, err := r.rel(r.dir)
	if err != nil {
		return err
	}
	if _, err := iptables(r.ipt, "-N", chain); err != nil {
		return fmt.Errorf("netcut: %w", err)
	}
	defer func() {
		_, _ = iptables(r.ipt, "-F", chain)
		_, _ = iptables(r.ipt, "-X", chain)
	}()
	var rules [][]string
	for _, rule := range append([][]string{markRule(cmt, rel, 1)}, cutRules(cmt, rel, 2, []int{1, 2})...) {
		rules = append(rules, append([]string{"-A", chain}, rule...))
	}
	if err := restore(r.ipt, rules); err != nil {
		return fmt.Errorf("netcut: %w", err)
	}
	return nil
}

// rel is dir relative to the cgroup v2 root, as iptables' cgroup match
// takes it.
func (r *Run) rel(dir string) (string, error) {
	rel, err := filepath.Rel(r.mount, dir)
	if err != nil {
		return "", fmt.Errorf("netcut: %w", err)
	}
	return rel, nil
}

// Dir is the run's cgroup v2 directory.
func (r *Run) Dir() string { return r.dir }

// Close removes the run's cgroup v2 directory (its clusters' must be
// gone) and the top directory if no other run uses it.
func (r *Run) Close() error {
	if r == nil {
		return nil
	}
	err := removeDir(r.dir)
	_ = os.Remove(filepath.Dir(r.dir))
	return err
}

// removeDir removes an empty cgroup directory, waiting up to 5 s for its
// last processes to go; gone already is fine.
func removeDir(dir string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := os.Remove(dir)
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Node is a node of a cluster: its name and the ports it listens on.
type Node struct {
	Name  string
	Ports []int
}

type node struct {
	Node
	id  int
	dir string
	rel string
}

// Net is the cgroups and rules of one cluster. Its methods are safe for
// concurrent use.
type Net struct {
	run     *Run
	chain   string
	comment string
	nodes   []node

	mu      sync.Mutex
	removed bool
}

// Net makes a cgroup for each node of cluster and the cluster's chains,
// with the rules that mark every connection a node opens; the nodes'
// processes must be started after, in Dir(node). On error nothing is
// left.
func (r *Run) Net(cluster string, nodes []Node) (n *Net, err error) {
	if len(nodes) > MaxNodes {
		return nil, fmt.Errorf("netcut: %d nodes, at most %d", len(nodes), MaxNodes)
	}
	n = &Net{run: r, chain: chainName(r.name, cluster), comment: comment(r.name)}
	defer func() {
		if err != nil {
			_ = n.RemoveRules()
			_ = n.RemoveCgroups()
			n = nil
		}
	}()
	for i, nd := range nodes {
		dir := filepath.Join(r.dir, cluster+"."+nd.Name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return n, fmt.Errorf("netcut: %w", err)
		}
		rel, err := r.rel(dir)
		if err != nil {
			return n, err
		}
		n.nodes = append(n.nodes, node{Node: nd, id: i + 1, dir: dir, rel: rel})
	}
	cuts := cutChain(n.chain)
	cmds := [][]string{{"-N", n.chain}, {"-N", cuts}}
	for _, nd := range n.nodes {
		cmds = append(cmds, append([]string{"-A", n.chain}, markRule(n.comment, nd.rel, nd.id)...))
	}
	cmds = append(cmds,
		append([]string{"-A", n.chain}, jumpRule(n.comment, cuts)...),
		append([]string{"-I", "OUTPUT", "1"}, jumpRule(n.comment, n.chain)...))
	for _, c := range cmds {
		if _, err := iptables(r.ipt, c...); err != nil {
			return n, fmt.Errorf("netcut: %w", err)
		}
	}
	return n, nil
}

// Dir is node's cgroup v2 directory, "" for no such node.
func (n *Net) Dir(name string) string {
	if nd := n.node(name); nd != nil {
		return nd.dir
	}
	return ""
}

func (n *Net) node(name string) *node {
	for i := range n.nodes {
		if n.nodes[i].Name == name {
			return &n.nodes[i]
		}
	}
	return nil
}

// Chains are the cluster's chains.
func (n *Net) Chains() []string { return []string{n.chain, cutChain(n.chain)} }

// Cut drops the data node from sends to node to (one way): connections
// between them hang.
func (n *Net) Cut(from, to string) error { return n.CutAll([][2]string{{from, to}}) }

// CutAll makes every cut (from, to) at once: one iptables-restore, which
// the kernel applies in one transaction, so that a partition lands in one
// step rather than link by link.
func (n *Net) CutAll(cuts [][2]string) error {
	var rules [][]string
	for _, c := range cuts {
		from, to := c[0], c[1]
		if from == to {
			return fmt.Errorf("cut %s -> %s: a node cannot be cut from itself", from, to)
		}
		nf, nt := n.node(from), n.node(to)
		if nf == nil || nt == nil {
			return fmt.Errorf("cut %s -> %s: no such node", from, to)
		}
		for _, r := range cutRules(n.comment, nf.rel, nt.id, nt.Ports) {
			rules = append(rules, append([]string{"-A", cutChain(n.chain)}, r...))
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.removed {
		return errors.New("cut: the cluster's rules are removed")
	}
	if len(rules) == 0 {
		return nil
	}
	if err := restore(n.run.ipt, rules); err != nil {
		return fmt.Errorf("cut: %w", err)
	}
	return nil
}

// restore adds rules to the filter table in one iptables-restore
// --noflush (next to iptables); every argument is a plain word.
func restore(ipt string, rules [][]string) error {
	var in strings.Builder
	in.WriteString("*filter\n")
	for _, r := range rules {
		in.WriteString(strings.Join(r, " ") + "\n")
	}
	in.WriteString("COMMIT\n")
	cmd := exec.Command(ipt+"-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("iptables-restore: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Heal removes every cut.
func (n *Net) Heal() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.removed {
		return nil
	}
	if _, err := iptables(n.run.ipt, "-F", cutChain(n.chain)); err != nil {
		return fmt.Errorf("heal: %w", err)
	}
	return nil
}

// RemoveRules removes the cluster's jump from OUTPUT and its chains
// (cuts included). Safe to call more than once.
func (n *Net) RemoveRules() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.removed {
		return nil
	}
	n.removed = true
	return removeRules(n.run.ipt, []string{n.chain, cutChain(n.chain)},
		[][]string{append([]string{"OUTPUT"}, jumpRule(n.comment, n.chain)...)})
}

// removeRules deletes jumps (each a chain and a rule spec, as after -D),
// then flushes and deletes chains. A jump or a chain that is not there is
// not an error.
func removeRules(ipt string, chains []string, jumps [][]string) error {
	var errs []error
	for _, j := range jumps {
		for {
			_, err := iptables(ipt, append([]string{"-D"}, j...)...)
			if err != nil {
				if !missing(err) {
					errs = append(errs, err)
				}
				break
			}
		}
	}
	for _, c := range chains {
		if _, err := iptables(ipt, "-F", c); err != nil && !missing(err) {
			errs = append(errs, err)
		}
	}
	for _, c := range chains {
		if _, err := iptables(ipt, "-X", c); err != nil && !missing(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// missing reports whether iptables failed because the rule or chain is
// not there.
func missing(err error) bool {
	s := err.Error()
	return strings.Contains(s, "does a matching rule exist") || strings.Contains(s, "No chain/target/match by that name") ||
		strings.Contains(s, "does not exist") || strings.Contains(s, "Bad rule")
}

// RemoveCgroups removes the nodes' cgroup directories; their processes
// must be gone (it waits up to 5 s each for the last to leave).
func (n *Net) RemoveCgroups() error {
	var errs []error
	for _, nd := range n.nodes {
		if err := removeDir(nd.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Leftover is what a run left: its rules (Kind "rules", Name its chains)
// or its cgroup v2 directory (Kind "cgroup").
type Leftover struct {
	Kind string
	Name string
	Run  string // the run's name, as freezer.RunName made it
}

// Leftovers lists every run's rules and cgroup v2 directories, live runs'
// included: the caller tells them apart by Run.
func Leftovers() ([]Leftover, error) {
	var out []Leftover
	var errs []error
	if ipt, err := iptablesPath(); err == nil {
		save, err := iptables(ipt, "-S")
		if err != nil && !denied(err) {
			// Without the right to read the rules (a container without
			// CAP_NET_ADMIN), no run here could have made any.
			errs = append(errs, err)
		}
		for run, rs := range parseSave(save) {
			if len(rs.chains) > 0 {
				out = append(out, Leftover{Kind: "rules", Name: "iptables chains " + strings.Join(rs.chains, ", "), Run: run})
			}
		}
	}
	if mount := Mount(); mount != "" {
		runs, err := os.ReadDir(filepath.Join(mount, Top))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		for _, r := range runs {
			if r.IsDir() {
				out = append(out, Leftover{Kind: "cgroup", Name: filepath.Join(mount, Top, r.Name()), Run: r.Name()})
			}
		}
	}
	return out, errors.Join(errs...)
}

// Remove removes a leftover: the run's jumps and chains as iptables -S
// lists them now; or its cgroup directories, after killing what is left
// in them.
func Remove(l Leftover) error {
	switch l.Kind {
	case "rules":
		ipt, err := iptablesPath()
		if err != nil {
			return err
		}
		save, err := iptables(ipt, "-S")
		if err != nil {
			return err
		}
		rs := parseSave(save)[l.Run]
		if rs == nil {
			return nil
		}
		return removeRules(ipt, rs.chains, rs.jumps)
	case "cgroup":
		nodes, _ := os.ReadDir(l.Name)
		var errs []error
		for _, nd := range nodes {
			if !nd.IsDir() {
				continue
			}
			dir := filepath.Join(l.Name, nd.Name())
			killAll(dir)
			if err := removeDir(dir); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			if err := removeDir(l.Name); err != nil {
				errs = append(errs, err)
			}
		}
		_ = os.Remove(filepath.Dir(l.Name)) // busy while a run has its dir there
		return errors.Join(errs...)
	}
	return fmt.Errorf("netcut: no leftover kind %q", l.Kind)
}

// killAll SIGKILLs the processes left in a dead run's cgroup.
func killAll(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	me := os.Getpid()
	for _, s := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(s); err == nil && pid != me {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// denied reports whether an iptables error is a lack of privilege.
func denied(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Permission denied") || strings.Contains(msg, "you must be root")
}
