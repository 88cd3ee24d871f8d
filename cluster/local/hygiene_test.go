package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// upThree starts primary + replica1 (sync, slot) + replica2 (async) and
// tears it down with the test.
func upThree(t *testing.T, b *Backend, logs string) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := b.Up(ctx, cluster.Spec{
		ID:               "h",
		Replicas:         []cluster.ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2"}},
		SyncStandbyNames: "FIRST 1 (replica1)",
		LogDir:           logs,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Down(context.Background()); err != nil {
			t.Errorf("down: %v", err)
		}
	})
	return c.(*Cluster)
}

// serverUID is the uid the servers must run as and own their files with.
func serverUID(t *testing.T) int {
	t.Helper()
	if os.Geteuid() != 0 {
		return os.Getuid()
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

// listeners returns the local addresses ("127.0.0.1", "::", ...) of the
// TCP sockets listening on port, from /proc/net/tcp and /proc/net/tcp6.
func listeners(t *testing.T, port int) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(f, "6") {
				continue // no IPv6 in this kernel
			}
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Scan() // header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			hostPort := strings.Split(fields[1], ":")
			p, err := strconv.ParseUint(hostPort[1], 16, 16)
			if err != nil || int(p) != port {
				continue
			}
			out = append(out, hexAddr(hostPort[0]))
		}
		fh.Close()
	}
	return out
}

// hexAddr decodes the address column of /proc/net/tcp{,6}: 32-bit words
// in host (little-endian) byte order.
func hexAddr(h string) string {
	var b []byte
	for i := 0; i+8 <= len(h); i += 8 {
		w, _ := strconv.ParseUint(h[i:i+8], 16, 32)
		b = append(b, byte(w), byte(w>>8), byte(w>>16), byte(w>>24))
	}
	if len(b) == 4 {
		return fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
	}
	return fmt.Sprintf("%x", b)
}

// shmOf reads the System V shared memory key and id from line 7 of a
// data directory's postmaster.pid.
func shmOf(t *testing.T, dataDir string) (key, id int) {
	t.Helper()
	pf, err := readPidFile(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if !pf.hasShm {
		t.Fatalf("%s/postmaster.pid names no shared memory segment", dataDir)
	}
	return pf.key, pf.shmid
}

// findSegment looks shmid up in /proc/sysvipc/shm.
func findSegment(t *testing.T, shmid int) (segment, bool) {
	t.Helper()
	segs, err := segments()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if s.id == shmid {
			return s, true
		}
	}
	return segment{}, false
}

func groupAlive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

// TestClusterHygiene checks what TestUpStreamingKillDown does not: who owns
// the data, where the servers listen, that Kill leaves no shared memory and
// Down no process, and that the logs survive Down.
func TestClusterHygiene(t *testing.T) {
	b := newBackend(t)
	logs := t.TempDir()
	c := upThree(t, b, logs)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	uid := serverUID(t)

	t.Run("data dirs are 0700 and owned by the server user", func(t *testing.T) {
		dirs := []string{b.root, c.dir}
		for _, n := range c.nodes {
			dirs = append(dirs, n.dataDir, n.sockDir)
		}
		for _, d := range dirs {
			st, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if !st.IsDir() || st.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want drwx------", d, st.Mode())
			}
			if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
				t.Errorf("%s: owner uid %d, want %d", d, got, uid)
			}
		}
		// The files inside too: every node's come from the template copy,
		// some are written by the harness.
		for _, n := range c.nodes {
			for _, f := range []string{"PG_VERSION", "postgresql.conf", "pg_hba.conf", "global/pg_control"} {
				st, err := os.Stat(filepath.Join(n.dataDir, f))
				if err != nil {
					t.Fatal(err)
				}
				if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
					t.Errorf("%s/%s: owner uid %d, want %d", n.name, f, got, uid)
				}
				if st.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s/%s: mode %v, readable by others", n.name, f, st.Mode())
				}
			}
		}
	})

	t.Run("servers run as the server user", func(t *testing.T) {
		for _, n := range c.nodes {
			st, err := os.Stat(fmt.Sprintf("/proc/%d", n.proc.pgid))
			if err != nil {
				t.Fatalf("%s: postmaster %d: %v", n.name, n.proc.pgid, err)
			}
			if got := int(st.Sys().(*syscall.Stat_t).Uid); got != uid {
				t.Errorf("%s: postmaster runs as uid %d, want %d", n.name, got, uid)
			}
		}
	})

	t.Run("servers listen on 127.0.0.1 only", func(t *testing.T) {
		for _, n := range c.nodes {
			addrs := listeners(t, n.port)
			if len(addrs) == 0 {
				t.Errorf("%s: no TCP listener on port %d", n.name, n.port)
			}
			for _, a := range addrs {
				if a != "127.0.0.1" {
					t.Errorf("%s: listens on %s port %d, want 127.0.0.1 only", n.name, a, n.port)
				}
			}
			conn, err := pgx.Connect(ctx, c.ConnString(n.name, cluster.Admin))
			if err != nil {
				t.Fatal(err)
			}
			var la string
			err = conn.QueryRow(ctx, "SHOW listen_addresses").Scan(&la)
			conn.Close(ctx)
			if err != nil || la != "127.0.0.1" {
				t.Errorf("%s: listen_addresses = %q, %v", n.name, la, err)
			}
		}
	})

	t.Run("kill removes the shared memory segment", func(t *testing.T) {
		p := c.nodes[0]
		key, shmid := shmOf(t, p.dataDir)
		// From /proc/sysvipc/shm: root in a container may not IPC_STAT
		// the server user's segment.
		seg, ok := findSegment(t, shmid)
		if !ok {
			t.Fatalf("shmid %d of the running primary is not in /proc/sysvipc/shm", shmid)
		}
		if seg.key != key {
			t.Fatalf("shmid %d has key %d, postmaster.pid says %d", shmid, seg.key, key)
		}
		if seg.uid != uid {
			t.Errorf("shmid %d belongs to uid %d, want the server user %d", shmid, seg.uid, uid)
		}
		if seg.nattch == 0 {
			t.Errorf("shmid %d: no process attached to the running primary's segment", shmid)
		}
		// A backend busy with a query keeps the segment attached for as
		// long as it lives: Kill must take it down with the postmaster.
		busyBackend(t, c, "primary")
		pgid := p.proc.pgid
		if err := c.Kill(ctx, "primary"); err != nil {
			t.Fatal(err)
		}
		if seg, ok := findSegment(t, shmid); ok {
			t.Errorf("shmid %d (key %d) still exists after Kill: %d processes attached", shmid, seg.key, seg.nattch)
		}
		if groupAlive(pgid) {
			t.Errorf("process group %d of the killed primary still has processes", pgid)
		}
		// Only the primary was killed.
		for _, n := range c.nodes[1:] {
			if !groupAlive(n.proc.pgid) || !n.proc.running() {
				t.Errorf("%s (group %d) died with the primary", n.name, n.proc.pgid)
			}
		}
		if err := c.Kill(ctx, "primary"); err == nil {
			t.Error("killing a dead node again succeeded")
		}
	})

	t.Run("down leaves no process, keeps the logs", func(t *testing.T) {
		pgids := map[string]int{}
		for _, n := range c.nodes {
			pgids[n.name] = n.proc.pgid
		}
		if err := c.Down(ctx); err != nil {
			t.Fatal(err)
		}
		for name, pgid := range pgids {
			if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("%s: process group %d after Down: kill -0 = %v, want ESRCH", name, pgid, err)
			}
		}
		if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cluster dir %s after Down: %v", c.dir, err)
		}
		want := map[string]string{
			"primary.log":  "database system is ready to accept connections",
			"replica1.log": "started streaming WAL",
			"replica2.log": "started streaming WAL",
		}
		for f, line := range want {
			b, err := os.ReadFile(filepath.Join(logs, f))
			if err != nil {
				t.Errorf("log %s after Down: %v", f, err)
				continue
			}
			if !strings.Contains(string(b), line) {
				t.Errorf("log %s lacks %q:\n%s", f, line, b)
			}
		}
		if err := c.Down(ctx); err != nil {
			t.Errorf("second Down: %v", err)
		}
	})
}

// procState is the state letter of pid from /proc ("R", "S", "Z", ...),
// or "" when the process no longer exists.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndex(s, ")")
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// dead reports whether pid has exited (gone, or a zombie nobody reaped).
func dead(pid int) bool {
	st := procState(pid)
	return st == "" || st == "Z" || st == "X"
}

// childrenOf lists the processes whose parent is ppid.
func childrenOf(t *testing.T, ppid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(ppid) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// busyBackend starts a CPU-bound query on node, the kind of backend that
// does not look for its postmaster until the query ends, and returns its
// pid. The query stops by itself after 20 s; cleanup kills that pid.
func busyBackend(t *testing.T, c *Cluster, node string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString(node, cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SET statement_timeout = '20s'"); err != nil {
		t.Fatal(err)
	}
	var pid int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !dead(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL) // the backend this test started, by pid
		}
	})
	go func() {
		// A plain CPU loop: no temp files, no waits on a latch.
		_, _ = conn.Exec(context.Background(), "DO $$BEGIN LOOP END LOOP; END$$")
		conn.Close(context.Background())
	}()
	// Wait until it runs.
	deadline := time.Now().Add(5 * time.Second)
	for procState(pid) != "R" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return pid
}

// TestKillAndDownStopEveryProcess: a crash kills every process of the
// node at once, and Down leaves none running, even a backend busy with a
// long query. PostgreSQL puts each child of the postmaster in a process
// group of its own, so signalling the postmaster's group is not enough.
func TestKillAndDownStopEveryProcess(t *testing.T) {
	b := newBackend(t)
	c := upThree(t, b, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("kill", func(t *testing.T) {
		p := c.nodes[0]
		busy := busyBackend(t, c, "primary")
		kids := childrenOf(t, p.proc.pgid)
		if len(kids) < 4 {
			t.Fatalf("primary postmaster %d has only children %v", p.proc.pgid, kids)
		}
		if err := c.Kill(ctx, "primary"); err != nil {
			t.Fatal(err)
		}
		var alive []string
		for _, pid := range kids {
			if !dead(pid) {
				alive = append(alive, fmt.Sprintf("%d (%s)", pid, procState(pid)))
			}
		}
		if len(alive) > 0 {
			t.Errorf("after Kill(primary) returned, processes of the node still run: %v (busy backend %d)", alive, busy)
		}
		// The harness is their subreaper: they were reaped, not left as
		// zombies (in a container, PID 1 may never reap them).
		var left []string
		for _, pid := range kids {
			if st := procState(pid); st != "" {
				left = append(left, fmt.Sprintf("%d (%s)", pid, st))
			}
		}
		if len(left) > 0 {
			t.Errorf("after Kill(primary) returned, processes of the node were not reaped: %v", left)
		}
		if z := ownZombies(); len(z) > 0 {
			t.Errorf("zombie children of the harness after Kill: %v", z)
		}
		// The busy backend, at least, does not stop by itself.
		time.Sleep(300 * time.Millisecond)
		if !dead(busy) {
			t.Errorf("busy backend %d of the killed primary still runs 300ms after Kill (state %s)", busy, procState(busy))
		}
	})

	t.Run("down", func(t *testing.T) {
		busy := busyBackend(t, c, "replica1")
		var kids []int
		for _, n := range c.nodes {
			if n.proc.running() {
				kids = append(kids, childrenOf(t, n.proc.pgid)...)
			}
		}
		if err := c.Down(ctx); err != nil {
			t.Fatal(err)
		}
		var alive []string
		for _, pid := range kids {
			if !dead(pid) {
				alive = append(alive, fmt.Sprintf("%d (%s)", pid, procState(pid)))
			}
		}
		if len(alive) > 0 {
			t.Errorf("after Down returned, processes of the cluster still run: %v (busy backend %d)", alive, busy)
		}
		if z := ownZombies(); len(z) > 0 {
			t.Errorf("zombie children of the harness after Down: %v", z)
		}
		time.Sleep(300 * time.Millisecond)
		if !dead(busy) {
			t.Errorf("busy backend %d of replica1 still runs 300ms after Down (state %s)", busy, procState(busy))
		}
	})
}
