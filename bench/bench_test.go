package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/cluster/local"
	"github.com/pgbench-ha/pgbench-ha/internal/testgate"
)

// spec3 is the cluster both benchmarks use: a primary, replica1
// synchronous (FIRST 1), replica2 asynchronous, each with a slot.
func spec3(id, logDir string) cluster.Spec {
	return cluster.Spec{
		ID: id,
		Replicas: []cluster.ReplicaSpec{
			{Name: "replica1", Slot: "replica1"},
			{Name: "replica2", Slot: "replica2"},
		},
		SyncStandbyNames: "FIRST 1 (replica1)",
		LogDir:           logDir,
	}
}

// newBackend starts a local backend under a temp dir of its own, which
// it returns; b.Cleanup closes the backend after the clusters registered
// later are down, then removes the dir. It runs its own initdb: no
// template cache.
func newBackend(b *testing.B) (*local.Backend, string) {
	return newBackendWith(b, local.Options{NoCache: true})
}

// newBackendWith is newBackend with options (TempDir is set here).
func newBackendWith(b *testing.B, opts local.Options) (*local.Backend, string) {
	b.Helper()
	testgate.Integration(b)
	dir, err := os.MkdirTemp("", "backend-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil { // the server user goes through
		b.Fatal(err)
	}
	opts.TempDir = dir
	be, err := local.New(opts)
	if errors.Is(err, local.ErrNoPostgres) {
		testgate.Missing(b, testgate.RequirePG, err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := be.Close(); err != nil {
			b.Errorf("close backend: %v", err)
		}
	})
	return be, dir
}

// mustUp builds a cluster of the backend under dir; b.Cleanup takes it
// down.
func mustUp(b *testing.B, be *local.Backend, dir string, spec cluster.Spec) cluster.Cluster {
	b.Helper()
	c, err := be.Up(context.Background(), spec)
	if err != nil {
		b.Fatalf("up %s: %v", spec.ID, err)
	}
	b.Cleanup(func() { mustDown(b, c, dir) })
	return c
}

// mustDown takes a cluster of the backend under dir down, and removes the
// POSIX shared memory its servers leave in /dev/shm when killed.
func mustDown(b *testing.B, c cluster.Cluster, dir string) {
	b.Helper()
	segs := dsmFiles(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Down(ctx); err != nil {
		b.Errorf("down: %v", err)
	}
	removeFiles(b, segs)
}

// dsmFiles lists the dynamic shared memory files (/dev/shm/PostgreSQL.*)
// of every postmaster whose data directory lies under dir: those its
// processes map, and those its control segment lists (pinned segments,
// such as the statistics' 1 MB one, that no process may map at the time).
// A postmaster that dies by SIGKILL leaves them all behind: list them
// while it runs, remove them once it is gone. A postmaster leads its
// process group (the local backend and pg_ctl both see to it).
func dsmFiles(dir string) []string {
	procs, _ := filepath.Glob("/proc/[0-9]*")
	groups := map[int]bool{}
	for _, p := range procs {
		raw, err := os.ReadFile(p + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-D" && strings.HasPrefix(args[i+1], dir+"/") {
				if pid, err := strconv.Atoi(filepath.Base(p)); err == nil {
					groups[pid] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	var files []string
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	for _, p := range procs {
		stat, err := os.ReadFile(p + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 3 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(p))
		if pgrp, err := strconv.Atoi(f[2]); err != nil || !groups[pgrp] {
			continue
		}
		maps, err := os.ReadFile(p + "/maps")
		if err != nil {
			continue
		}
		for _, m := range dsmRE.FindAllString(string(maps), -1) {
			add(m)
			if groups[pid] { // the postmaster maps the control segment only
				for _, h := range dsmControlHandles(m) {
					add(fmt.Sprintf("/dev/shm/PostgreSQL.%d", h))
				}
			}
		}
	}
	return files
}

// dsmControlHandles reads the segments in use from a PostgreSQL dynamic
// shared memory control segment (src/backend/storage/ipc/dsm.c, 64-bit):
// a header of magic, nitems, maxitems (uint32 each, padded to 16 bytes),
// then 40-byte items starting with handle and refcnt (uint32 each).
func dsmControlHandles(path string) []uint32 {
	const magic, header, item = 0x9a503d32, 16, 40
	raw, err := os.ReadFile(path)
	if err != nil || len(raw) < header || binary.NativeEndian.Uint32(raw) != magic {
		return nil
	}
	n := int(binary.NativeEndian.Uint32(raw[4:]))
	var hs []uint32
	for i := 0; i < n && header+(i+1)*item <= len(raw); i++ {
		it := raw[header+i*item:]
		if h, refs := binary.NativeEndian.Uint32(it), binary.NativeEndian.Uint32(it[4:]); refs > 0 && h%2 == 0 {
			hs = append(hs, h) // odd handles live in the main shared memory
		}
	}
	return hs
}

var dsmRE = regexp.MustCompile(`/dev/shm/PostgreSQL\.[0-9]+`)

func removeFiles(b *testing.B, files []string) {
	b.Helper()
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			b.Errorf("remove %s: %v", f, err)
		}
	}
}

// serverUser is who runs the server binaries: the postgres system user
// when we are root (the server refuses root), else ourselves.
type serverUser struct {
	cred     *syscall.Credential // nil: run as ourselves
	uid, gid int
}

func lookupServerUser(b *testing.B) serverUser {
	b.Helper()
	su := serverUser{uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() != 0 {
		return su
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		b.Skipf("running as root and the postgres user is missing: %v", err)
	}
	su.uid, _ = strconv.Atoi(u.Uid)
	su.gid, _ = strconv.Atoi(u.Gid)
	su.cred = &syscall.Credential{Uid: uint32(su.uid), Gid: uint32(su.gid), NoSetGroups: true}
	return su
}

// command prepares name to run as the server user in a process group of
// its own, with a small fixed environment plus env.
func (su serverUser) command(name string, args []string, env ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = "/"
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: su.cred}
	return cmd
}

// ownedTempDir makes a directory the server user can write in, removed
// by b.Cleanup.
func ownedTempDir(b *testing.B, su serverUser, pattern string) string {
	b.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			b.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := os.Chown(dir, su.uid, su.gid); err != nil {
		b.Fatal(err)
	}
	return dir
}

func writeOwned(su serverUser, path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Chown(path, su.uid, su.gid)
}

func appendFile(path, content string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func binDir(b *testing.B) string {
	b.Helper()
	dir, err := local.FindBinDir("")
	if err != nil {
		b.Skipf("PostgreSQL server binaries missing: %v", err)
	}
	return dir
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mustExist(b *testing.B, dir, tool string) string {
	b.Helper()
	p := filepath.Join(dir, tool)
	if _, err := os.Stat(p); err != nil {
		b.Skipf("%s missing: %v", tool, err)
	}
	return p
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex() string {
	var buf [16]byte
	if _, err := rand.Read(buf[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(buf[:])
}
