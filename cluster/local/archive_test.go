package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
)

// TestArchiveCommandQuoting: a folder with a quote, a space, a percent
// sign and a backslash survives the shell, the archiver's % escapes and
// postgresql.conf's quoting.
func TestArchiveCommandQuoting(t *testing.T) {
	t.Parallel()
	got := ArchiveCommand(`/tmp/a b'c%d\e`)
	want := `if test -f '/tmp/a b'\\''c%%d\\e'/%f; then cmp -s %p '/tmp/a b'\\''c%%d\\e'/%f; else cp %p '/tmp/a b'\\''c%%d\\e'/%f.tmp && mv '/tmp/a b'\\''c%%d\\e'/%f.tmp '/tmp/a b'\\''c%%d\\e'/%f; fi`
	if got != want {
		t.Errorf("ArchiveCommand:\ngot  %s\nwant %s", got, want)
	}
}

// TestArchive: a lone primary archives each segment it switches from;
// an archive folder it cannot write to makes archive_command fail (the
// archiver's failed_count grows, and nothing half copied stands as a
// segment); once writable again the archiver catches up; Down moves the
// archive into Spec.ArchiveDir, owned by the harness's user.
func TestArchive(t *testing.T) {
	b := newBackend(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	keep := filepath.Join(t.TempDir(), "run", "archive", "0-default")
	c, err := b.Up(ctx, cluster.Spec{ID: "archive", LogDir: t.TempDir(), ArchiveDir: keep})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Down(context.Background())
	lc := c.(*Cluster)
	conn, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var mode string
	if err := conn.QueryRow(ctx, "SHOW archive_mode").Scan(&mode); err != nil || mode != "on" {
		t.Fatalf("archive_mode = %q, %v", mode, err)
	}
	// switchWAL writes something and switches to a new segment; it
	// returns the name of the segment switched from.
	switchWAL := func() string {
		t.Helper()
		var name string
		if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS archive_test (x int); INSERT INTO archive_test VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_switch_wal())").Scan(&name); err != nil {
			t.Fatal(err)
		}
		return name
	}
	// until waits for the archiver's counts to satisfy ok.
	until := func(what string, ok func(archived, failed int64) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var archived, failed int64
			if err := conn.QueryRow(ctx, "SELECT archived_count, failed_count FROM pg_stat_archiver").Scan(&archived, &failed); err != nil {
				t.Fatal(err)
			}
			if ok(archived, failed) {
				return
			}
			if time.Now().After(deadline) {
				var status, cur string
				_ = conn.QueryRow(ctx, "SELECT coalesce(string_agg(name, ' '), '') FROM pg_ls_archive_statusdir()").Scan(&status)
				_ = conn.QueryRow(ctx, "SELECT pg_walfile_name(pg_current_wal_lsn())").Scan(&cur)
				log, _ := os.ReadFile(lc.LogPath("primary"))
				t.Fatalf("%s: archived %d, failed %d after 30 s; archive_status: %s; writing %s; log:\n%s", what, archived, failed, status, cur, log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first := switchWAL()
	until("the first segment", func(a, f int64) bool { return a >= 1 })

	// Unwritable for the server user: the copy fails.
	if err := os.Chmod(lc.archive, 0o500); err != nil {
		t.Fatal(err)
	}
	second := switchWAL()
	until("a failure", func(a, f int64) bool { return f >= 1 })
	if _, err := os.Stat(filepath.Join(lc.archive, second)); err == nil {
		t.Errorf("%s stands in the archive after a failed copy", second)
	}
	if err := os.Chmod(lc.archive, 0o700); err != nil {
		t.Fatal(err)
	}
	// After 3 failures in a row the archiver waits for the next segment
	// (or a minute): a new one wakes it, and it archives the one that
	// failed first.
	third := switchWAL()
	until("catching up", func(a, f int64) bool { return a >= 3 })

	if err := c.Down(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(keep)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if int(st.Uid) != os.Getuid() || info.Mode().Perm() != 0o644 || info.Size() != 16<<20 || strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("%s: uid %d, mode %v, %d bytes", e.Name(), st.Uid, info.Mode(), info.Size())
		}
	}
	t.Logf("archive: %v", names)
	for _, want := range []string{first, second, third} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("the archive lacks %s: %v", want, names)
		}
	}
}
