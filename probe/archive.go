package probe

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/result"
)

// archiverSQL reads the archiver of a primary and the segment it writes,
// with its WAL position in bytes (a standby in recovery refuses it).
const archiverSQL = `SELECT coalesce(last_archived_wal, ''),
	(extract(epoch FROM clock_timestamp() - last_archived_time) * 1000)::float8,
	failed_count, coalesce(last_failed_wal, ''),
	pg_walfile_name(pg_current_wal_lsn()),
	pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8
FROM pg_stat_archiver`

// segmentSizeSQL is the server's WAL segment size in bytes.
const segmentSizeSQL = `SELECT pg_size_bytes(current_setting('wal_segment_size'))`

// DefaultSegmentSize is PostgreSQL's WAL segment size unless initdb was
// told otherwise.
const DefaultSegmentSize = 16 << 20

// archive samples, every LagInterval, the archiver of whichever node is
// primary.
func (s *Sampler) archive(ctx context.Context) {
	cs := cluster.NewConns(s.c, "pgbench-ha-archive", time.Second)
	defer cs.Close()
	t := time.NewTicker(s.cfg.LagInterval)
	defer t.Stop()
	segSize := int64(0) // asked once, of the first primary that answers
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		at := s.now()
		primary := s.roles.Primary()
		conn, err := cs.Get(ctx, primary)
		if err != nil {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, time.Second)
		if segSize == 0 {
			s.queries.Add(1)
			if err := conn.QueryRow(qctx, segmentSizeSQL).Scan(&segSize); err != nil || segSize <= 0 {
				segSize = 0
			}
		}
		size := segSize
		if size == 0 {
			size = DefaultSegmentSize
		}
		p := result.ArchivePoint{Ms: ms(at), Node: primary}
		var lsn float64
		s.queries.Add(1)
		err = conn.QueryRow(qctx, archiverSQL).Scan(&p.LastArchivedWAL, &p.SinceArchivedMs, &p.FailedCount, &p.LastFailedWAL,
			&p.CurrentWAL, &lsn)
		cancel()
		if err != nil {
			cs.Drop(primary)
			continue
		}
		p.LagSegments, p.LagBytes = ArchiveLag(p.CurrentWAL, p.LastArchivedWAL, lsn, size)
		s.mu.Lock()
		s.archived = append(s.archived, p)
		s.mu.Unlock()
	}
}

// Archive returns the archiver's samples, after Run returned.
func (s *Sampler) Archive() []result.ArchivePoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]result.ArchivePoint(nil), s.archived...)
}

// ArchiveLag is how far the archive is behind a primary that writes
// segment current at WAL position lsn (bytes), when lastArchived is the
// last file it archived, with segments of segSize bytes: the segments the
// current one is ahead of the last archived (timelines aside: one
// position space runs through them), and the bytes written past the end
// of that segment. A .partial segment (the old timeline's last segment,
// which a promoted standby archives) holds that segment only up to the
// switch, so it counts as the segment before it. Nil, nil when
// lastArchived is not a segment (none yet, a timeline history file, a
// backup history file) or a name does not parse.
func ArchiveLag(current, lastArchived string, lsn float64, segSize int64) (*int64, *float64) {
	cur, ok := SegmentNumber(current, segSize)
	if !ok {
		return nil, nil
	}
	name, partial := strings.CutSuffix(lastArchived, ".partial")
	last, ok := SegmentNumber(name, segSize)
	if !ok {
		return nil, nil
	}
	if partial {
		last--
	}
	segs := cur - last
	bytes := lsn - float64(last+1)*float64(segSize)
	if bytes < 0 {
		bytes = 0
	}
	return &segs, &bytes
}

// SegmentNumber parses a WAL segment file name, 24 hex digits (timeline,
// log, segment: TTTTTTTTXXXXXXXXYYYYYYYY), into the segment's number in
// the WAL position space (the position of its start over segSize), the
// timeline left out.
func SegmentNumber(name string, segSize int64) (int64, bool) {
	if len(name) != 24 || segSize <= 0 || (1<<32)%segSize != 0 {
		return 0, false
	}
	if _, err := strconv.ParseUint(name[:8], 16, 32); err != nil {
		return 0, false
	}
	log, err := strconv.ParseUint(name[8:16], 16, 32)
	if err != nil {
		return 0, false
	}
	seg, err := strconv.ParseUint(name[16:], 16, 32)
	perLog := uint64(1<<32) / uint64(segSize)
	if err != nil || seg >= perLog {
		return 0, false
	}
	return int64(log*perLog + seg), true
}
