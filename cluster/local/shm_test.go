package local

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeSegment makes a System V segment owned by this process, as a
// postmaster would, and removes it with the test if it is still there.
func fakeSegment(t *testing.T) (key, id int) {
	t.Helper()
	key = int(rand.Int32N(1<<30)) + 1<<30
	id, err := unix.SysvShmGet(key, 4096, unix.IPC_CREAT|unix.IPC_EXCL|0o600)
	if err != nil {
		t.Fatalf("shmget: %v", err)
	}
	t.Cleanup(func() { _, _ = unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	return key, id
}

// fakeDataDir writes a postmaster.pid naming pid and the segment.
func fakeDataDir(t *testing.T, pid, key, id int) string {
	t.Helper()
	dir := t.TempDir()
	content := fmt.Sprintf("%d\n%s\n1700000000\n5432\n/tmp\n127.0.0.1\n%9d %9d\nready   \n", pid, dir, key, id)
	if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func segmentExists(t *testing.T, id int) bool {
	t.Helper()
	_, ok := findSegment(t, id)
	return ok
}

func TestSegmentsListsOwn(t *testing.T) {
	key, id := fakeSegment(t)
	s, ok := findSegment(t, id)
	if !ok {
		t.Fatalf("segment %d not in /proc/sysvipc/shm", id)
	}
	if s.key != key || s.cpid != os.Getpid() || s.uid != os.Geteuid() || s.nattch != 0 {
		t.Errorf("segment %d = %+v, want key %d, cpid %d, uid %d, nattch 0", id, s, key, os.Getpid(), os.Geteuid())
	}
}

// TestRemoveShm: a dead server's segment is removed, a segment that is
// not the server's is left alone, and a segment that cannot be removed is
// an error, never ignored.
func TestRemoveShm(t *testing.T) {
	t.Run("removes the server's", func(t *testing.T) {
		key, id := fakeSegment(t)
		if err := removeShm(fakeDataDir(t, os.Getpid(), key, id)); err != nil {
			t.Fatal(err)
		}
		if segmentExists(t, id) {
			t.Errorf("segment %d still exists", id)
		}
	})
	t.Run("nothing to remove", func(t *testing.T) {
		if err := removeShm(t.TempDir()); err != nil {
			t.Errorf("no postmaster.pid: %v", err)
		}
		key, id := fakeSegment(t)
		dir := fakeDataDir(t, os.Getpid(), key, id)
		if _, err := unix.SysvShmCtl(id, unix.IPC_RMID, nil); err != nil {
			t.Fatal(err)
		}
		if err := removeShm(dir); err != nil {
			t.Errorf("segment gone already: %v", err)
		}
	})
	t.Run("leaves another's", func(t *testing.T) {
		key, id := fakeSegment(t)
		// Same id, another key or another creator: the id was reused.
		for _, dir := range []string{fakeDataDir(t, os.Getpid(), key+1, id), fakeDataDir(t, os.Getpid()+1, key, id)} {
			if err := removeShm(dir); err != nil {
				t.Errorf("%v", err)
			}
			if !segmentExists(t, id) {
				t.Fatalf("segment %d removed though postmaster.pid does not name it", id)
			}
		}
	})
	t.Run("attached goes with its last process", func(t *testing.T) {
		key, id := fakeSegment(t)
		mem, err := unix.SysvShmAttach(id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := removeShm(fakeDataDir(t, os.Getpid(), key, id)); err != nil {
			t.Fatal(err)
		}
		if err := unix.SysvShmDetach(mem); err != nil {
			t.Fatal(err)
		}
		if segmentExists(t, id) {
			t.Errorf("segment %d still exists once detached", id)
		}
	})
	t.Run("removes the server user's as that user", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root: a segment of another user")
		}
		key, id := fakeSegment(t)
		giveSegment(t, id, serverUID(t))
		if err := removeShm(fakeDataDir(t, os.Getpid(), key, id)); err != nil {
			t.Fatal(err)
		}
		if segmentExists(t, id) {
			t.Errorf("segment %d still exists", id)
		}
		if os.Geteuid() != 0 {
			t.Errorf("the program's effective uid is %d after the removal, want 0", os.Geteuid())
		}
	})
	t.Run("cannot remove is an error", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root: a segment of another user")
		}
		key, id := fakeSegment(t)
		seg, ok := findSegment(t, id)
		if !ok {
			t.Fatalf("segment %d (key %d) not found", id, key)
		}
		// Root's segment, removed as the server user: not allowed.
		seg.uid = serverUID(t)
		err := removeSegment(seg)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprint(id)) || !errors.Is(err, unix.EPERM) {
			t.Errorf("removeSegment as another user = %v, want EPERM naming segment %d", err, id)
		}
		if !segmentExists(t, id) {
			t.Fatalf("segment %d removed by a user that does not own it", id)
		}
	})
}

// giveSegment makes uid the owner of segment id.
func giveSegment(t *testing.T, id, uid int) {
	t.Helper()
	var desc unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &desc); err != nil {
		t.Fatal(err)
	}
	desc.Perm.Uid = uint32(uid)
	if _, err := unix.SysvShmCtl(id, unix.IPC_SET, &desc); err != nil {
		t.Fatal(err)
	}
}
