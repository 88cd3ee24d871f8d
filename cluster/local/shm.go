package local

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A postmaster keeps its main shared memory in a System V segment, which
// outlives it when it is killed. The segment belongs to the server user,
// and only its owner may remove it: root in a container has neither
// CAP_IPC_OWNER nor CAP_SYS_ADMIN, so the harness removes it as the owner.
// It is found in /proc/sysvipc/shm, which anyone may read, rather than with
// IPC_STAT, which needs read permission on the segment.

// segment is one System V shared memory segment.
type segment struct {
	key, id, cpid, nattch, uid int
}

// segments lists the segments of this IPC namespace.
func segments() ([]segment, error) {
	f, err := os.Open("/proc/sysvipc/shm")
	if err != nil {
		return nil, fmt.Errorf("list shared memory segments: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return nil, fmt.Errorf("list shared memory segments: /proc/sysvipc/shm is empty")
	}
	col := map[string]int{}
	for i, h := range strings.Fields(sc.Text()) {
		col[h] = i
	}
	names := []string{"key", "shmid", "cpid", "nattch", "uid"}
	for _, n := range names {
		if _, ok := col[n]; !ok {
			return nil, fmt.Errorf("list shared memory segments: no %s column in /proc/sysvipc/shm", n)
		}
	}
	var out []segment
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		var v [5]int
		ok := true
		for i, n := range names {
			if col[n] >= len(f) {
				ok = false
				break
			}
			x, err := strconv.ParseInt(f[col[n]], 10, 64)
			if err != nil {
				ok = false
				break
			}
			v[i] = int(x)
		}
		if ok {
			out = append(out, segment{key: int(int32(v[0])), id: v[1], cpid: v[2], nattch: v[3], uid: v[4]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("list shared memory segments: %w", err)
	}
	return out, nil
}

// pidFile is what a data directory's postmaster.pid says: the postmaster's
// pid and, from line 7, its segment's key and id.
type pidFile struct {
	pid, key, shmid int
	hasShm          bool
}

// readPidFile reads dataDir/postmaster.pid; the error wraps
// fs.ErrNotExist when there is none (the server stopped cleanly, or never
// started).
func readPidFile(dataDir string) (pidFile, error) {
	path := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(path)
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	var pf pidFile
	if pf.pid, err = strconv.Atoi(strings.TrimSpace(lines[0])); err != nil {
		return pidFile{}, fmt.Errorf("%s: line 1 is not a pid: %q", path, lines[0])
	}
	if len(lines) < 7 {
		return pf, nil // the postmaster died before it made its segment
	}
	f := strings.Fields(lines[6])
	if len(f) != 2 {
		return pf, nil
	}
	// Both are printed as unsigned longs; the key is a C int.
	key, err1 := strconv.ParseUint(f[0], 10, 64)
	id, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return pidFile{}, fmt.Errorf("%s: line 7 is not a key and an id: %q", path, lines[6])
	}
	pf.key, pf.shmid, pf.hasShm = int(int32(uint32(key))), id, true
	return pf, nil
}

// serverSegment finds the segment pf names, if it still exists and is
// that server's: same id, same key, made by that postmaster. An id the
// kernel gave to another segment since is not the server's.
func serverSegment(pf pidFile) (segment, bool, error) {
	if !pf.hasShm {
		return segment{}, false, nil
	}
	segs, err := segments()
	if err != nil {
		return segment{}, false, err
	}
	for _, s := range segs {
		if s.id == pf.shmid && s.key == pf.key && s.cpid == pf.pid {
			return s, true, nil
		}
	}
	return segment{}, false, nil
}

// removeShm removes the segment a dead server of dataDir left behind.
// Nothing to do is no error: no postmaster.pid (a clean stop removes its
// segment and the file), or the segment is gone already.
func removeShm(dataDir string) error {
	pf, err := readPidFile(dataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove shared memory: %w", err)
	}
	seg, ok, err := serverSegment(pf)
	if err != nil || !ok {
		return err
	}
	return removeSegment(seg)
}

// removeSegment removes seg as its owner: directly when this process runs
// as the owner (or is not root: then the kernel decides), else (root) on a
// thread that takes the owner's uid for the call. A segment still attached
// goes when its last process detaches.
func removeSegment(seg segment) error {
	what := fmt.Sprintf("shared memory segment %d (key %d)", seg.id, seg.key)
	var err error
	if euid := os.Geteuid(); euid == seg.uid || euid != 0 {
		_, err = unix.SysvShmCtl(seg.id, unix.IPC_RMID, nil)
	} else {
		err = asUser(seg.uid, func() error {
			_, err := unix.SysvShmCtl(seg.id, unix.IPC_RMID, nil)
			return err
		})
	}
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EIDRM) { // EINVAL: gone already
		return fmt.Errorf("remove %s as uid %d: %w", what, seg.uid, err)
	}
	return nil
}

// asUser runs fn on a thread of its own whose effective uid is uid, then
// gives the thread its uid back. Only that thread changes: the raw
// setresuid(2) acts on the calling thread, where syscall.Setresuid would
// change every thread of the program. The Go runtime never clones a locked
// thread to make a new one, so nothing else inherits the uid meanwhile.
func asUser(uid int, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		keep := ^uintptr(0) // -1: leave unchanged
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, uintptr(uid), keep); e != 0 {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("setresuid(-1, %d, -1): %w", uid, e)
			return
		}
		err := fn()
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keep, 0, keep); e != 0 {
			// Not expected (the saved uid is 0). The thread keeps the
			// server's uid and stays locked to this goroutine forever:
			// ending it would end the processes it started (Pdeathsig).
			done <- fmt.Errorf("setresuid(-1, 0, -1): %w", e)
			select {}
		}
		runtime.UnlockOSThread()
		done <- err
	}()
	return <-done
}

// RemoveShm removes the System V shared memory segment a dead server of
// dataDir left behind, as its owner (see removeShm), for another backend
// that kills servers it did not start itself.
func RemoveShm(dataDir string) error { return removeShm(dataDir) }
