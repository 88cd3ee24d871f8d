package external

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// A hook is run as Shell -c COMMAND in a process group of its own, with
// the harness's environment and:
//
//	PGBHA_ACTION   the action (kill, stop, ...)
//	PGBHA_NODE     the node's name; PGBHA_MEMBER its name in the manager
//	PGBHA_ROLE     primary or replica, as the harness knew it when the run started
//	PGBHA_HOST, PGBHA_PORT, PGBHA_DSN   how the harness reaches the node
//	PGBHA_LOG_DIR  the variant's log folder in the run folder
//	and the node's env from the scenario.
//
// cut, link and unlink add PGBHA_FROM and PGBHA_TO (and PGBHA_FROM_MEMBER,
// PGBHA_TO_MEMBER, PGBHA_TO_HOST, PGBHA_TO_PORT, PGBHA_TO_DSN), the node
// being the from side; link adds
// the condition: PGBHA_CONDITION (blackhole, latency, bandwidth, reset),
// PGBHA_DIRECTION (upstream: from -> to; downstream: to -> from),
// PGBHA_LATENCY_MS, PGBHA_JITTER_MS, PGBHA_RATE_KBPS and PGBHA_NAME,
// which unlink gets to remove it; stop adds PGBHA_IMMEDIATE
// (1 or 0); switchover PGBHA_CANDIDATE and PGBHA_CANDIDATE_MEMBER (""
// for the manager's choice); prepare PGBHA_VARIANT.
// Its output (stdout and stderr) goes to hooks/NNN-ACTION-NODE.log under
// the log folder, and one line per run to hooks/hooks.log: when, what,
// exit status, how long.

// run runs the hook of action for node with extra variables; it returns
// the hook's standard output. A hook that is missing, fails (exit status
// not 0) or outlives the hook timeout (killed, its process group with it)
// is an error that says which, with the output's last line and where the
// whole output is.
func (c *Cluster) run(ctx context.Context, action, node string, extra map[string]string) ([]byte, error) {
	command := strings.TrimSpace(c.b.cfg.Hooks[action])
	if command == "" {
		return nil, fmt.Errorf("no %s hook: give external.hooks.%s", action, action)
	}
	c.hookMu.Lock()
	c.hookSeq++
	seq := c.hookSeq
	c.hookMu.Unlock()
	dir := filepath.Join(c.logDir, "hooks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s hook: %w", action, err)
	}
	tag := action
	if node != "" {
		tag += "-" + safeName.ReplaceAllString(node, "_")
	}
	outPath := filepath.Join(dir, fmt.Sprintf("%03d-%s.log", seq, tag))
	out, err := os.OpenFile(outPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s hook: %w", action, err)
	}
	defer out.Close()
	var stdout bytes.Buffer
	cmd := exec.Command(c.b.cfg.Shell, "-c", command)
	cmd.Env = append(os.Environ(), c.env(action, node, extra)...)
	cmd.Stdout = &teeWriter{a: out, b: &stdout}
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s hook for %s: %w", action, node, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(c.b.cfg.HookTimeout)
	defer timer.Stop()
	var werr error
	why := ""
	select {
	case werr = <-done:
	case <-timer.C:
		why = fmt.Sprintf("did not return within %s (external.hooks.timeout): killed", c.b.cfg.HookTimeout)
	case <-ctx.Done():
		why = "interrupted: killed"
	}
	if why != "" {
		// The whole group: a shell's children go with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		werr = <-done
	}
	took := time.Since(start)
	status := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		status = ee.ExitCode()
	}
	c.logHook(dir, start, action, node, command, why, status, took)
	what := action + " hook"
	if node != "" {
		what += " for " + node
	}
	switch {
	case why != "":
		return nil, fmt.Errorf("%s %s after %s%s; output: %s", what, why, took.Round(time.Millisecond), lastLine(outPath), outPath)
	case werr != nil:
		return nil, fmt.Errorf("%s exited with status %d after %s%s; command: %s; output: %s", what, status, took.Round(time.Millisecond), lastLine(outPath), command, outPath)
	}
	return stdout.Bytes(), nil
}

var safeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// env is the hook's own variables.
func (c *Cluster) env(action, node string, extra map[string]string) []string {
	vars := map[string]string{"PGBHA_ACTION": action, "PGBHA_LOG_DIR": c.logDir}
	if n, ok := c.node(node); ok {
		for k, v := range n.Env {
			vars[k] = v
		}
		host, port := hostPort(n.DSN)
		role := "replica"
		if node == c.nodes[0].Name {
			role = "primary"
		}
		vars["PGBHA_NODE"], vars["PGBHA_MEMBER"], vars["PGBHA_ROLE"] = n.Name, c.member(n.Name), role
		vars["PGBHA_HOST"], vars["PGBHA_PORT"], vars["PGBHA_DSN"] = host, strconv.Itoa(port), n.DSN
	}
	for k, v := range extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// logHook appends one line to hooks/hooks.log.
func (c *Cluster) logHook(dir string, at time.Time, action, node, command, why string, status int, took time.Duration) {
	f, err := os.OpenFile(filepath.Join(dir, "hooks.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	if why == "" {
		why = "exit " + strconv.Itoa(status)
	}
	fmt.Fprintf(f, "%s %s node=%s %s after %s: %s\n", at.UTC().Format(time.RFC3339Nano), action, node, why, took.Round(time.Millisecond), command)
}

// lastLine is "": LINE" with the output's last non-empty line, clipped,
// or "" when it printed nothing.
func lastLine(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if l == "" {
		return ""
	}
	if len(l) > 200 {
		l = l[:200] + "..."
	}
	return ": " + cluster.Redact(l)
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if _, err := t.b.Write(p); err != nil {
		return 0, err
	}
	return t.a.Write(p)
}

// Kill runs the kill hook. The node refusing connections is observed
// apart (the fault's TookEffect).
func (c *Cluster) Kill(ctx context.Context, node string) error {
	_, err := c.run(ctx, HookKill, node, nil)
	return err
}

// Stop runs the stop hook, PGBHA_IMMEDIATE saying which shutdown.
func (c *Cluster) Stop(ctx context.Context, node string, immediate bool) error {
	imm := "0"
	if immediate {
		imm = "1"
	}
	_, err := c.run(ctx, HookStop, node, map[string]string{"PGBHA_IMMEDIATE": imm})
	return err
}

// Start runs the start hook and returns once the node answers a query,
// within the effect timeout.
func (c *Cluster) Start(ctx context.Context, node string) error {
	if _, err := c.run(ctx, HookStart, node, nil); err != nil {
		return err
	}
	return c.waitAnswers(ctx, node)
}

// Pause and Resume run the pause and resume hooks.
func (c *Cluster) Pause(ctx context.Context, node string) error {
	_, err := c.run(ctx, HookPause, node, nil)
	return err
}

func (c *Cluster) Resume(ctx context.Context, node string) error {
	_, err := c.run(ctx, HookResume, node, nil)
	return err
}

// Cut runs the cut hook for the link from -> to.
func (c *Cluster) Cut(ctx context.Context, from, to string) error {
	_, err := c.run(ctx, HookCut, from, c.linkEnv(from, to))
	return err
}

// Links are every ordered pair of nodes when the link and unlink hooks
// are given (a fault's toxics are placed through them), none otherwise:
// a partition is then made of cuts (Cut).
func (c *Cluster) Links() [][2]string {
	if strings.TrimSpace(c.b.cfg.Hooks[HookLink]) == "" {
		return nil
	}
	var out [][2]string
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a.Name != b.Name {
				out = append(out, [2]string{a.Name, b.Name})
			}
		}
	}
	return out
}

// ClientConnString is "": client groups have no links of their own on an
// external cluster.
func (c *Cluster) ClientConnString(client, node string, u cluster.User) string { return "" }

// AddToxic runs the link hook: a network condition on the link from ->
// to, one direction, named so that the unlink hook can remove it.
func (c *Cluster) AddToxic(ctx context.Context, from, to string, t cluster.Toxic) error {
	extra := c.linkEnv(from, to)
	extra["PGBHA_CONDITION"], extra["PGBHA_DIRECTION"], extra["PGBHA_NAME"] = t.Kind, t.Direction, t.Name
	extra["PGBHA_LATENCY_MS"] = strconv.FormatInt(t.Latency.Milliseconds(), 10)
	extra["PGBHA_JITTER_MS"] = strconv.FormatInt(t.Jitter.Milliseconds(), 10)
	extra["PGBHA_RATE_KBPS"] = strconv.FormatInt(t.RateKBps, 10)
	_, err := c.run(ctx, HookLink, from, extra)
	return err
}

// RemoveToxic runs the unlink hook for the condition named name.
func (c *Cluster) RemoveToxic(ctx context.Context, from, to, name string) error {
	extra := c.linkEnv(from, to)
	extra["PGBHA_NAME"] = name
	_, err := c.run(ctx, HookUnlink, from, extra)
	return err
}

// linkEnv names a link's two ends for its hooks.
func (c *Cluster) linkEnv(from, to string) map[string]string {
	extra := map[string]string{"PGBHA_FROM": from, "PGBHA_TO": to, "PGBHA_FROM_MEMBER": c.member(from), "PGBHA_TO_MEMBER": c.member(to)}
	if n, ok := c.node(to); ok {
		host, port := hostPort(n.DSN)
		extra["PGBHA_TO_HOST"], extra["PGBHA_TO_PORT"], extra["PGBHA_TO_DSN"] = host, strconv.Itoa(port), n.DSN
	}
	return extra
}

// Heal runs the heal hook: every cut removed.
func (c *Cluster) Heal(ctx context.Context) error {
	_, err := c.run(ctx, HookHeal, "", nil)
	return err
}

// Promote runs the promote hook when there is one, else pg_promote().
func (c *Cluster) Promote(ctx context.Context, node string) error {
	if strings.TrimSpace(c.b.cfg.Hooks[HookPromote]) == "" {
		return promoteSQL(ctx, c, node)
	}
	_, err := c.run(ctx, HookPromote, node, nil)
	return err
}

// Switchover runs the switchover hook, to candidate if given.
func (c *Cluster) Switchover(ctx context.Context, candidate string) error {
	extra := map[string]string{"PGBHA_CANDIDATE": candidate, "PGBHA_CANDIDATE_MEMBER": c.member(candidate)}
	_, err := c.run(ctx, HookSwitchover, c.nodes[0].Name, extra)
	return err
}

// Manager names the history in messages.
func (c *Cluster) Manager() string { return "the manager's history (history hook)" }

// History runs the history hook, which prints the manager's promotions:
// Patroni's GET /history as it is (a JSON array of [timeline, lsn,
// reason, timestamp, leader]), or JSON objects, one per line or in an
// array, of {"timeline": N, "leader": NAME, "at": RFC3339} for timeline N
// beginning on NAME (CloudNativePG's status.timelineID, currentPrimary
// and currentPrimaryTimestamp). Leaders are mapped from member names to
// node names. Without a history hook: none, no error.
func (c *Cluster) History(ctx context.Context) ([]cluster.Promotion, error) {
	if strings.TrimSpace(c.b.cfg.Hooks[HookHistory]) == "" {
		return nil, nil
	}
	out, err := c.run(ctx, HookHistory, "", nil)
	if err != nil {
		return nil, err
	}
	ps, err := parseHistory(out)
	if err != nil {
		return nil, fmt.Errorf("history hook: its output is neither Patroni's /history nor {\"timeline\", \"leader\", \"at\"} objects: %w", err)
	}
	for i := range ps {
		ps[i].Leader = c.nodeOfMember(ps[i].Leader)
	}
	return ps, nil
}

// member is node's name in the manager's history, "" for "".
func (c *Cluster) member(node string) string {
	if n, ok := c.node(node); ok && n.Member != "" {
		return n.Member
	}
	return node
}

// nodeOfMember maps a manager's member name to the node's name.
func (c *Cluster) nodeOfMember(member string) string {
	for _, n := range c.nodes {
		if n.Member == member && member != "" {
			return n.Name
		}
	}
	return member
}

// historyEntry is one promotion in the hook's own format.
type historyEntry struct {
	Timeline int       `json:"timeline"`
	Leader   string    `json:"leader"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

func parseHistory(b []byte) ([]cluster.Promotion, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, nil
	}
	if bytes.HasPrefix(b, []byte("[[")) || bytes.Equal(b, []byte("[]")) {
		return cluster.ParsePatroniHistory(b)
	}
	var entries []historyEntry
	if bytes.HasPrefix(b, []byte("[")) {
		if err := json.Unmarshal(b, &entries); err != nil {
			return nil, err
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(b))
		for dec.More() {
			var e historyEntry
			if err := dec.Decode(&e); err != nil {
				return nil, err
			}
			entries = append(entries, e)
		}
	}
	var out []cluster.Promotion
	for _, e := range entries {
		if e.Timeline < 2 || e.Leader == "" {
			return nil, fmt.Errorf("%+v: want a timeline after the first and its leader", e)
		}
		out = append(out, cluster.Promotion{Timeline: e.Timeline - 1, Leader: e.Leader, At: e.At, Reason: e.Reason})
	}
	return out, nil
}
