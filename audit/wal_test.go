package audit

import "testing"

func TestTimelineHistory(t *testing.T) {
	h := "1\t0/5000148\tno recovery target specified\n\n2\t0/7000000\tno recovery target specified\n"
	if lsn, ok := switchPoint(h, 2); !ok || lsn != "0/7000000" {
		t.Errorf("switch point of 2: %q %v", lsn, ok)
	}
	if lsn, ok := switchPoint(h, 3); ok {
		t.Errorf("switch point of 3: %q, want none", lsn)
	}
	if lsn, ok := branchPoint(h); !ok || lsn != "0/7000000" {
		t.Errorf("branch point: %q %v, want the last line's", lsn, ok)
	}
	if _, ok := branchPoint(""); ok {
		t.Error("branch point of an empty history")
	}
}

func TestCountRecords(t *testing.T) {
	out := `rmgr: Heap        len (rec/tot):     79/    79, tx:        745, lsn: 0/03000060, prev 0/03000028, desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/5/16384 blk 0
rmgr: Btree       len (rec/tot):     64/    64, tx:        745, lsn: 0/030000B0, prev 0/03000060, desc: INSERT_LEAF off 3, blkref #0: rel 1663/5/16390 blk 1
rmgr: Transaction len (rec/tot):     34/    34, tx:        745, lsn: 0/030000F0, prev 0/030000B0, desc: COMMIT 2026-11-30 18:00:00.000000 UTC
rmgr: Heap        len (rec/tot):     79/    79, tx:        746, lsn: 0/03000118, prev 0/030000F0, desc: INSERT off 4 flags 0x00, blkref #0: rel 1663/5/16400 blk 0
rmgr: Transaction len (rec/tot):     34/    34, tx:        746, lsn: 0/03000168, prev 0/03000118, desc: COMMIT 2026-11-30 18:00:00.000100 UTC
`
	if ins, com := countRecords(out, "1663/5/16384"); ins != 1 || com != 2 {
		t.Errorf("inserts %d commits %d, want 1 and 2", ins, com)
	}
}
