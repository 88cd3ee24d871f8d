package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// WAL archiving (Spec.ArchiveDir). The servers archive into a folder of
// the cluster's own dir, which the server user owns: the run folder may
// lie where that user cannot reach (a home directory or a test's temp dir
// of mode 0700, when the harness runs as root). Down moves what they
// archived into Spec.ArchiveDir, owned by the harness's user.

// archiveSettings are the settings that make a node archive into dir.
func archiveSettings(dir string) map[string]string {
	return map[string]string{"archive_mode": "on", "archive_command": ArchiveCommand(dir)}
}

// ArchiveCommand is the archive_command that copies a segment into dir:
// through a temporary name and a rename, so that a copy cut short (a
// node killed while it archives) never stands as the segment; a segment
// already there is a success when it is the same file (the archiver
// retries one whose success it had not recorded when it was killed), a
// failure otherwise, so nothing archived is ever overwritten. dir is
// quoted for the shell and its % doubled for the archiver; the value is
// then quoted for postgresql.conf, backslashes included.
func ArchiveCommand(dir string) string {
	q := "'" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
	q = strings.ReplaceAll(q, "%", "%%")
	cmd := fmt.Sprintf("if test -f %[1]s/%%f; then cmp -s %%p %[1]s/%%f; else cp %%p %[1]s/%%f.tmp && mv %[1]s/%%f.tmp %[1]s/%%f; fi", q)
	return strings.ReplaceAll(cmd, `\`, `\\`)
}

// wakeCheckpointer makes a server that just started honour
// archive_timeout at once: PostgreSQL 15's checkpointer, started while
// the server was still starting up, sleeps a whole checkpoint_timeout
// before it first looks at archive_timeout, unless something wakes it (a
// promotion's checkpoint does; a clean start has none). A configuration
// reload wakes it, and changes nothing.
func wakeCheckpointer(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("archive_timeout: wake the checkpointer: %w", err)
	}
	return nil
}

// moveArchive moves every file the nodes archived (not a copy cut short)
// into to, owned by the harness's user and readable by all, like the rest
// of the run folder.
func (c *Cluster) moveArchive(from, to string) error {
	if err := os.MkdirAll(to, 0o755); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	entries, err := os.ReadDir(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		src, dst := filepath.Join(from, e.Name()), filepath.Join(to, e.Name())
		if err := os.Rename(src, dst); err != nil {
			// Another file system: copy.
			if err := copyFile(src, dst); err != nil {
				errs = append(errs, fmt.Errorf("archive: %w", err))
				continue
			}
		}
		if err := os.Chown(dst, uid, gid); err != nil {
			errs = append(errs, fmt.Errorf("archive: %w", err))
		}
		if err := os.Chmod(dst, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("archive: %w", err))
		}
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}
