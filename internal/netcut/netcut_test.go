package netcut

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// TestMain runs this test binary as a helper: NETCUT_HELPER=listen:PORT
// echoes lines back to whoever connects; connect:PORT sends its stdin's
// lines there and prints the echoes.
func TestMain(m *testing.M) {
	if h := os.Getenv("NETCUT_HELPER"); h != "" {
		helper(h)
		return
	}
	os.Exit(m.Run())
}

func helper(h string) {
	mode, port, _ := strings.Cut(h, ":")
	addr := "127.0.0.1:" + port
	switch mode {
	case "listen":
		l, err := net.Listen("tcp", addr)
		if err != nil {
			os.Exit(2)
		}
		fmt.Println("ready")
		for {
			c, err := l.Accept()
			if err != nil {
				os.Exit(2)
			}
			go func() { _, _ = io.Copy(c, c) }()
		}
	case "connect":
		c, err := net.Dial("tcp", addr)
		if err != nil {
			os.Exit(2)
		}
		fmt.Println("ready")
		go func() { _, _ = io.Copy(os.Stdout, c) }()
		_, _ = io.Copy(c, os.Stdin)
	}
	os.Exit(0)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type helperProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

// start runs a helper in the freezer cgroup fz (when there is one) and
// the cgroup v2 directory dir, as a node's processes are started.
func start(t *testing.T, fz *freezer.Cgroup, dir, mode string, port int) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), fmt.Sprintf("NETCUT_HELPER=%s:%d", mode, port))
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(d.Fd()), Pdeathsig: syscall.SIGKILL}
	if fz != nil {
		err = fz.Start(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		t.Fatalf("start %s helper: %v", mode, err)
	}
	h := &helperProc{cmd: cmd, in: in, lines: make(chan string, 100)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // the process this test started, by pid
		_ = cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		close(h.lines)
	}()
	if l := h.next(5 * time.Second); l != "ready" {
		t.Fatalf("%s helper: %q", mode, l)
	}
	return h
}

func (h *helperProc) next(d time.Duration) string {
	select {
	case l := <-h.lines:
		return l
	case <-time.After(d):
		return ""
	}
}

// TestCut: two processes in two nodes' cgroups, one connected to the
// other before any cut. A cut either way stops the data that way (the
// other way round on the connection the first opened: the mark), Heal
// lets it through again, and removing the rules leaves nothing.
func TestCut(t *testing.T) {
	testgate.Integration(t)
	run := freezer.RunName("pgbench-ha-netcuttest")
	r, err := Open(run)
	if err != nil {
		testgate.Missing(t, testgate.RequirePatroni, err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	var fzA, fzB *freezer.Cgroup
	if fdir, err := freezer.Open(freezer.Mount, run); err == nil {
		t.Cleanup(func() { _ = freezer.Close(fdir) })
		if fzA, err = freezer.New(fdir, "c.a"); err != nil {
			t.Fatal(err)
		}
		if fzB, err = freezer.New(fdir, "c.b"); err != nil {
			t.Fatal(err)
		}
	}
	pa, pb := freePort(t), freePort(t)
	n, err := r.Net("c", []Node{{Name: "a", Ports: []int{pa}}, {Name: "b", Ports: []int{pb}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.RemoveRules(); _ = n.RemoveCgroups() })
	server := start(t, fzB, n.Dir("b"), "listen", pb)
	client := start(t, fzA, n.Dir("a"), "connect", pb)
	// Both cgroups, v1 freezer and v2, from the start.
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", client.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if rel, _ := filepath.Rel(r.mount, n.Dir("a")); !strings.Contains(string(cg), "0::/"+rel+"\n") {
		t.Errorf("client's cgroups:\n%s\nwant 0::/%s", cg, rel)
	}
	if fzA != nil && !strings.Contains(string(cg), ":freezer:/"+freezer.Top+"/"+run+"/c.a\n") {
		t.Errorf("client's cgroups:\n%s\nwant its freezer cgroup too", cg)
	}
	i := 0
	echo := func(d time.Duration) bool {
		i++
		want := strconv.Itoa(i)
		if _, err := io.WriteString(client.in, want+"\n"); err != nil {
			t.Fatal(err)
		}
		return client.next(d) == want
	}
	// After a cut, what was sent arrives with TCP's next retransmission.
	catchUp := func() bool {
		deadline := time.Now().Add(15 * time.Second)
		for time.Now().Before(deadline) {
			if l := client.next(time.Second); l != "" {
				return l == strconv.Itoa(i)
			}
		}
		return false
	}
	if !echo(2 * time.Second) {
		t.Fatal("no echo before any cut")
	}
	for _, c := range [][2]string{{"a", "b"}, {"b", "a"}} {
		if err := n.Cut(c[0], c[1]); err != nil {
			t.Fatal(err)
		}
		if echo(1500 * time.Millisecond) {
			t.Errorf("cut %s -> %s: the echo came through", c[0], c[1])
		}
		if err := n.Heal(); err != nil {
			t.Fatal(err)
		}
		if !catchUp() {
			t.Errorf("healed %s -> %s: no echo", c[0], c[1])
		}
		if !echo(2 * time.Second) {
			t.Errorf("healed %s -> %s: no new echo", c[0], c[1])
		}
	}
	// The harness (this process, in neither cgroup) is never cut.
	if err := n.Cut("a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := n.Cut("b", "a"); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", pb), 2*time.Second); err != nil {
		t.Errorf("the harness could not connect to b while a and b are cut: %v", err)
	} else {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = io.WriteString(c, "x\n")
		if l, err := bufio.NewReader(c).ReadString('\n'); l != "x\n" {
			t.Errorf("the harness got no echo from b while a and b are cut: %q %v", l, err)
		}
		c.Close()
	}
	_ = server
	if err := n.RemoveRules(); err != nil {
		t.Fatal(err)
	}
	out, err := iptables(r.ipt, "-S")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, n.chain) || strings.Contains(out, comment(run)) {
		t.Errorf("rules left after RemoveRules:\n%s", out)
	}
	if err := n.Heal(); err != nil {
		t.Errorf("Heal after RemoveRules: %v", err)
	}
	for _, h := range []*helperProc{client, server} {
		_ = h.cmd.Process.Kill()
		_ = h.cmd.Wait()
	}
	if err := n.RemoveCgroups(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(n.Dir("a")); !os.IsNotExist(err) {
		t.Errorf("cgroup %s left: %v", n.Dir("a"), err)
	}
}

// TestLeftovers: what a run that never tore down left (its rules, its
// cgroups) is listed under its name, and Remove removes it all.
func TestLeftovers(t *testing.T) {
	testgate.Integration(t)
	run := freezer.RunName("pgbench-ha-netcutleft")
	r, err := Open(run)
	if err != nil {
		testgate.Missing(t, testgate.RequirePatroni, err)
	}
	n, err := r.Net("c", []Node{{Name: "a", Ports: []int{1}}, {Name: "b", Ports: []int{2}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.RemoveRules(); _ = n.RemoveCgroups(); _ = r.Close() })
	if err := n.Cut("a", "b"); err != nil {
		t.Fatal(err)
	}
	left, err := Leftovers()
	if err != nil {
		t.Fatal(err)
	}
	var mine []Leftover
	for _, l := range left {
		if l.Run == run {
			mine = append(mine, l)
		}
	}
	if len(mine) != 2 {
		t.Fatalf("leftovers of %s: %+v", run, mine)
	}
	for _, l := range mine {
		if err := Remove(l); err != nil {
			t.Errorf("remove %+v: %v", l, err)
		}
	}
	out, err := iptables(r.ipt, "-S")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, comment(run)) {
		t.Errorf("rules left after Remove:\n%s", out)
	}
	if _, err := os.Stat(r.Dir()); !os.IsNotExist(err) {
		t.Errorf("%s left after Remove: %v", r.Dir(), err)
	}
}

func TestDenied(t *testing.T) {
	t.Parallel()
	for msg, want := range map[string]bool{
		"iptables -S: exit status 4: iptables v1.8.9 (nf_tables): Could not fetch rule set generation id: Permission denied (you must be root)": true,
		"iptables -S: exit status 4: iptables v1.4 : you must be root":                                                                          true,
		"iptables -S: exit status 1: iptables: No chain/target/match by that name.":                                                             false,
	} {
		if got := denied(errors.New(msg)); got != want {
			t.Errorf("denied(%q) = %v, want %v", msg, got, want)
		}
	}
}
