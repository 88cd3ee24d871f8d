package local

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// TestKeepThenCleanup: a kept cluster runs on, still replicating, after
// its backend has closed; its connection details are in a file only its
// owner reads; once its harness is gone, Cleanup stops its servers and
// removes everything, shared memory included.
func TestKeepThenCleanup(t *testing.T) {
	shared := newBackend(t) // skips without PostgreSQL
	tmp, err := os.MkdirTemp("", "keep-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil { // the server user goes through it
		t.Fatal(err)
	}
	b, err := New(Options{TempDir: tmp, BinDir: shared.BinDir()})
	if err != nil {
		t.Fatal(err)
	}
	root := b.root
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := b.Up(ctx, cluster.Spec{ID: "k", Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}, LogDir: filepath.Join(tmp, "logs")})
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	c := cl.(*Cluster)
	var dataDirs []string
	for _, n := range c.nodes {
		dataDirs = append(dataDirs, n.dataDir)
	}
	t.Cleanup(func() { _, _ = stopServers(dataDirs, false) }) // on failure only: nothing left running
	kept, err := c.Keep(ctx, "primary")
	if err != nil {
		c.Down(ctx)
		b.Close()
		t.Fatal(err)
	}
	if err := c.Down(ctx); err != nil { // a no-op once kept
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	// The file: 0600, with what it takes to connect.
	st, err := os.Stat(kept.File)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", kept.File, st.Mode().Perm())
	}
	var doc struct{ Nodes []cluster.KeptNode }
	raw, _ := os.ReadFile(kept.File)
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc.Nodes) != 2 {
		t.Fatalf("%s: %v, %d nodes: %s", kept.File, err, len(doc.Nodes), raw)
	}
	// The servers run on, detached, and the standby still streams.
	conn, err := pgx.Connect(ctx, doc.Nodes[0].Admin)
	if err != nil {
		t.Fatalf("kept primary: %v", err)
	}
	defer conn.Close(ctx)
	var streaming int
	deadline := time.Now().Add(30 * time.Second)
	for streaming == 0 && time.Now().Before(deadline) {
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'").Scan(&streaming); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if streaming != 1 {
		t.Fatalf("kept primary: %d standbys streaming, want 1", streaming)
	}
	conn.Close(ctx)
	var pids []int
	for _, d := range dataDirs {
		pid, ok := keptServer(d)
		if !ok {
			t.Fatalf("%s: no server runs it", d)
		}
		pids = append(pids, pid)
	}

	// A live harness's kept cluster stays; a dead one's goes.
	// (Cleanup also sees the freezer cgroups of every run on the
	// machine: only what is under tmp counts here.)
	ours := func(ls []Leftover) []Leftover {
		var out []Leftover
		for _, l := range ls {
			if strings.Contains(l.Name, tmp) {
				out = append(out, l)
			}
		}
		return out
	}
	if ls, err := Cleanup(CleanupOptions{TempDir: tmp}); err != nil || len(ours(ls)) != 1 || !ours(ls)[0].Alive {
		t.Fatalf("cleanup while the harness lives: %v, %+v", err, ls)
	}
	if err := os.WriteFile(filepath.Join(root, markerName), []byte("1 1 another-boot\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ls, err := Cleanup(CleanupOptions{TempDir: tmp})
	if err != nil {
		t.Fatalf("cleanup: %v, %+v", err, ls)
	}
	var kinds []string
	for _, l := range ours(ls) {
		kinds = append(kinds, l.Kind)
		if !l.Removed {
			t.Errorf("not removed: %+v", l)
		}
	}
	if got := strings.Join(kinds, ","); got != "server,server,directory" {
		t.Errorf("cleanup found %s, want two servers and the directory", got)
	}
	for _, pid := range pids {
		if alive(pid) {
			t.Errorf("server %d still runs after cleanup", pid)
		}
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("%s still there after cleanup: %v", root, err)
	}
	for _, d := range dataDirs {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there", d)
		}
	}
}
