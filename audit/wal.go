package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// WALBeyond reads, with pg_waldump, what old (a primary that was failed
// over) wrote past the point where final's history left old's timeline,
// or, when old's timeline is a branch final does not descend from, all it
// wrote on it: the WAL no promoted standby ever had. It counts the order rows inserted
// and the transactions committed there. Every acknowledged write lost by
// the failover must be one of those rows, when its commit reached old's
// WAL files before the ack (any synchronous_commit but off). It returns
// nil, nil when the cluster's WAL cannot be read by the harness or final
// never left old's timeline.
func WALBeyond(ctx context.Context, c cluster.Cluster, final, old string) (*result.WALBeyond, error) {
	wr, ok := c.(cluster.WALReader)
	if !ok {
		return nil, nil
	}
	dump := filepath.Join(wr.BinDir(), "pg_waldump")
	if _, err := os.Stat(dump); err != nil {
		return nil, nil
	}
	walDir, err := wr.WALDir(old)
	if err != nil {
		return nil, err
	}
	oldTLI, err := latestTimeline(walDir)
	if err != nil {
		return nil, fmt.Errorf("wal of %s: %w", old, err)
	}
	cs := cluster.NewConns(c, "pgbench-ha-audit", 5*time.Second)
	defer cs.Close()
	conn, err := cs.Get(ctx, final)
	if err != nil {
		return nil, fmt.Errorf("wal: %s: %w", final, err)
	}
	var tli int
	var history, rel string
	// The current timeline, from the WAL being written: the control
	// file's lags behind a promotion until its checkpoint.
	err = conn.QueryRow(ctx, `WITH t AS (SELECT substring(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tli)
		SELECT ('x' || tli)::bit(32)::int,
		CASE WHEN tli <> '00000001' THEN pg_read_file('pg_wal/' || tli || '.history') ELSE '' END,
		(SELECT CASE WHEN reltablespace = 0 THEN (SELECT oid FROM pg_tablespace WHERE spcname = 'pg_default') ELSE reltablespace END
			FROM pg_class WHERE oid = 'orders'::regclass)::text || '/' ||
		(SELECT oid FROM pg_database WHERE datname = current_database())::text || '/' ||
		pg_relation_filenode('orders')::text
		FROM t`).Scan(&tli, &history, &rel)
	if err != nil {
		return nil, fmt.Errorf("wal: %s: %w", final, err)
	}
	switchLSN, ok := switchPoint(history, oldTLI)
	if !ok {
		// Old's timeline is a branch of its own, not one final descends
		// from (final was promoted from an older timeline, never having
		// followed old): all old wrote on it is beyond final, from where
		// old's own history starts it.
		own, err := os.ReadFile(filepath.Join(walDir, fmt.Sprintf("%08X.history", oldTLI)))
		if err != nil {
			return nil, nil // timeline 1, or its history gone: nothing to read from
		}
		if switchLSN, ok = branchPoint(string(own)); !ok {
			return nil, nil
		}
	}
	out, err := runWALDump(ctx, dump, walDir, oldTLI, switchLSN)
	if err != nil {
		return nil, err
	}
	w := &result.WALBeyond{Node: old, Timeline: oldTLI, FromLSN: switchLSN}
	w.OrderInserts, w.Commits = countRecords(out, rel)
	return w, nil
}

// latestTimeline is the highest timeline of the WAL segments in dir.
func latestTimeline(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	best := 0
	for _, e := range entries {
		n := e.Name()
		if len(n) != 24 || strings.Trim(n, "0123456789ABCDEF") != "" {
			continue
		}
		t, err := strconv.ParseInt(n[:8], 16, 32)
		if err == nil && int(t) > best {
			best = int(t)
		}
	}
	if best == 0 {
		return 0, errors.New("no WAL segment")
	}
	return best, nil
}

// switchPoint finds, in a timeline history file, where timeline tli
// ended: the first WAL location not on it.
func switchPoint(history string, tli int) (string, bool) {
	for _, line := range strings.Split(history, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == strconv.Itoa(tli) {
			return f[1], true
		}
	}
	return "", false
}

// branchPoint is where a timeline starts, from its own history file: the
// switch point of its last line.
func branchPoint(history string) (string, bool) {
	lsn := ""
	for _, line := range strings.Split(history, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && !strings.HasPrefix(f[0], "#") {
			lsn = f[1]
		}
	}
	return lsn, lsn != ""
}

// runWALDump lists the records of timeline tli in walDir from lsn on. The
// end of the WAL written is where pg_waldump stops with an error; no
// record after lsn is none.
func runWALDump(ctx context.Context, dump, walDir string, tli int, lsn string) (string, error) {
	cmd := exec.CommandContext(ctx, dump, "--path="+walDir, "--timeline="+strconv.Itoa(tli), "--start="+lsn)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	msg := stderr.String()
	switch {
	case err == nil:
	case strings.Contains(msg, "could not find a valid record after"):
		return "", nil
	case strings.Contains(msg, "error in WAL record at"):
		// The end of the WAL: the rest of the segment is not a record.
	default:
		return "", fmt.Errorf("pg_waldump: %v: %s", err, strings.TrimSpace(msg))
	}
	return stdout.String(), nil
}

// countRecords counts, in pg_waldump's output, heap inserts into the
// relation rel (tablespace/database/relfilenode) and commits.
func countRecords(out, rel string) (inserts, commits int64) {
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "rmgr: Heap ") && strings.Contains(line, "desc: INSERT") &&
			strings.Contains(line, "rel "+rel+" "):
			inserts++
		case strings.HasPrefix(line, "rmgr: Transaction ") && strings.Contains(line, "desc: COMMIT"):
			commits++
		}
	}
	return inserts, commits
}
