// Package local is the backend that runs PostgreSQL servers as processes on
// this machine: one initdb per backend, a template copied into every node
// of each cluster (the standbys' copies are their base backups), servers
// on 127.0.0.1 with scram-sha-256 and random passwords, run as the
// postgres system user when the harness is root.
package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/freezer"
)

// ErrNoPostgres means no PostgreSQL server binaries were found.
var ErrNoPostgres = errors.New("PostgreSQL server binaries not found")

// Options configure the local backend.
type Options struct {
	// BinDir holds initdb, postgres and pg_basebackup. Empty: found with
	// pg_config --bindir, then PATH, then /usr/lib/postgresql/*/bin.
	BinDir string
	// TempDir is where data directories go; empty means os.TempDir().
	TempDir string
	// RunAs is the system user that runs the servers when the harness is
	// root; default "postgres".
	RunAs string
	// CacheDir keeps the initdb template between runs, keyed by the
	// server version and binaries, so a run's first cluster needs no
	// initdb. Empty: $PGBENCH_HA_CACHE_DIR, else the user's cache dir
	// (~/.cache/pgbench-ha).
	CacheDir string
	// NoCache makes every backend run its own initdb.
	NoCache bool
}

// Backend runs clusters as local processes.
type Backend struct {
	binDir  string
	version string
	root    string // private temp dir holding template and clusters
	cred    *syscall.Credential
	uid     int
	gid     int

	// freezer is the run's cgroup in the freezer hierarchy, each node's
	// cgroup in it; "" when the freezer cannot be used (noFreezer says
	// why), and nodes are signalled instead.
	freezer   string
	noFreezer error

	cacheDir string // "" without a template cache
	tmplOnce sync.Once
	tmplErr  error
	tmplDir  string
	tmplMs   float64

	mu   sync.Mutex
	kept []string // cluster dirs left running (Keep)
}

// FindBinDir locates the server binaries: explicit dir, pg_config --bindir,
// PATH, then /usr/lib/postgresql/<newest>/bin.
func FindBinDir(explicit string) (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"postgres", "initdb", "pg_basebackup"} {
			if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
				return false
			}
		}
		return true
	}
	if explicit != "" {
		if has(explicit) {
			return explicit, nil
		}
		return "", fmt.Errorf("%w in --pg-bin %s (it needs postgres, initdb and pg_basebackup); "+
			"install them (Debian/Ubuntu: apt-get install -y postgresql-15, or run `make setup`) or point --pg-bin at their directory", ErrNoPostgres, explicit)
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if d := strings.TrimSpace(string(out)); has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("postgres"); err == nil && has(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	return "", fmt.Errorf("%w: tried pg_config --bindir, PATH and /usr/lib/postgresql/*/bin; "+
		"install them (Debian/Ubuntu: apt-get install -y postgresql-15, or run `make setup`) or pass --pg-bin DIR", ErrNoPostgres)
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// New finds the binaries and prepares a private temp dir. Call Close.
func New(opts Options) (*Backend, error) {
	bin, err := FindBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(filepath.Join(bin, "postgres"), "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w", filepath.Join(bin, "postgres"), err)
	}
	b := &Backend{binDir: bin, version: cluster.ParseServerVersion(string(out)), uid: os.Getuid(), gid: os.Getgid()}
	if os.Geteuid() == 0 {
		name := opts.RunAs
		if name == "" {
			name = "postgres"
		}
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL refuses to run as root and the user %q to run it as does not exist: %w (create it, e.g. apt-get install postgresql-common, or run as a normal user)", name, err)
		}
		b.uid, _ = strconv.Atoi(u.Uid)
		b.gid, _ = strconv.Atoi(u.Gid)
		b.cred = &syscall.Credential{Uid: uint32(b.uid), Gid: uint32(b.gid), NoSetGroups: true}
	}
	root, err := os.MkdirTemp(opts.TempDir, "pgbench-ha-")
	if err != nil {
		return nil, fmt.Errorf("local backend: %w", err)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		os.RemoveAll(root)
		return nil, err
	}
	if err := os.Chown(root, b.uid, b.gid); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("local backend: give %s to the server user: %w", root, err)
	}
	if err := writeMarker(root); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("local backend: %w", err)
	}
	b.root = root
	b.freezer, b.noFreezer = freezer.Open(freezer.Mount, freezer.RunName(root))
	adoptOrphans()
	if !opts.NoCache {
		b.cacheDir = cacheDir(opts.CacheDir)
	}
	return b, nil
}

// cacheDir picks the template cache: explicit, environment, user cache.
func cacheDir(explicit string) string {
	if explicit != "" {
		return explicit
	}
	if env := os.Getenv("PGBENCH_HA_CACHE_DIR"); env != "" {
		return env
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "pgbench-ha")
	}
	return ""
}

// cachedTemplate is where the template for these binaries is cached.
func (b *Backend) cachedTemplate() string {
	if b.cacheDir == "" {
		return ""
	}
	h := sha256.Sum256([]byte(b.version + "\x00" + b.binDir + "\x00" + strings.Join(cluster.InitdbArgs(), " ") +
		"\x00" + strings.Join(cluster.MinimalSettings, " ")))
	return filepath.Join(b.cacheDir, "template-"+b.version+"-"+hex.EncodeToString(h[:6]))
}

// validTemplate reports whether dir holds a complete data directory,
// cleanly shut down.
func validTemplate(dir string) bool {
	return fileExists(filepath.Join(dir, "PG_VERSION")) && cleanlyShutDown(dir) == nil
}

// cleanlyShutDown checks that the data directory dir was shut down
// cleanly (see cluster.CheckShutDown).
func cleanlyShutDown(dir string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "global", "pg_control"))
	if err != nil {
		return err
	}
	if err := cluster.CheckShutDown(raw); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}

// Prepare makes the template ready (from the cache or with initdb), so
// the first Up does not pay for it.
func (b *Backend) Prepare(ctx context.Context) error {
	_, err := b.template(ctx)
	return err
}

// Name is "local".
func (b *Backend) Name() string { return "local" }

// ServerVersion is the version of the server binaries.
func (b *Backend) ServerVersion() string { return b.version }

// BinDir is the directory of the server binaries in use.
func (b *Backend) BinDir() string { return b.binDir }

// Close removes the backend's temp dir and cgroups. Clusters must be
// down, or kept: a kept cluster's dir stays, with the marker, for cleanup
// to find.
func (b *Backend) Close() error {
	if b.root == "" {
		return nil
	}
	var ferr error
	if b.freezer != "" {
		ferr = freezer.Close(b.freezer)
		b.freezer = ""
	}
	b.mu.Lock()
	kept := len(b.kept) > 0
	b.mu.Unlock()
	if kept {
		err := b.closeKept()
		b.root = ""
		return errors.Join(ferr, err)
	}
	err := os.RemoveAll(b.root)
	b.root = ""
	return errors.Join(ferr, err)
}

// Freezer reports whether nodes are frozen and killed through the cgroup
// freezer, and if not, why.
func (b *Backend) Freezer() (bool, error) {
	return b.freezer != "", b.noFreezer
}

func (b *Backend) baseEnv() []string {
	env := []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "LANG=C", "TZ=UTC", RunEnv(b.root)}
	return env
}

// template initializes, once, the data directory every node starts from:
// taken from the cache when a run before made it, else made with initdb
// (and then cached). The superuser's initdb password is random and thrown
// away; every cluster sets its own passwords.
// lowerRecordedSettings makes the template's control file record
// cluster.MinimalSettings: one start in single-user mode, which records
// the settings it runs with, then its clean shutdown.
func (b *Backend) lowerRecordedSettings(ctx context.Context, dir string) error {
	args := []string{"--single", "-D", dir}
	args = append(args, cluster.SingleUserArgs()...)
	if out, err := b.run(ctx, filepath.Join(b.binDir, "postgres"), args, nil); err != nil {
		return fmt.Errorf("template: record minimal settings: %w: %s", err, lastLines(out, 5))
	}
	return nil
}

func (b *Backend) template(ctx context.Context) (string, error) {
	b.tmplOnce.Do(func() {
		start := time.Now()
		cached := b.cachedTemplate()
		if cached != "" && validTemplate(cached) {
			b.tmplDir = cached
			return
		}
		dir := filepath.Join(b.root, "template")
		pw := filepath.Join(b.root, "initdb.pw")
		if err := os.WriteFile(pw, []byte(cluster.NewPasswords().Admin+"\n"), 0o600); err != nil {
			b.tmplErr = err
			return
		}
		_ = os.Chown(pw, b.uid, b.gid)
		args := append([]string{"-D", dir, "--pwfile", pw}, cluster.InitdbArgs()...)
		_, err := b.run(ctx, filepath.Join(b.binDir, "initdb"), args, nil)
		os.Remove(pw)
		if err != nil {
			b.tmplErr = fmt.Errorf("initdb: %w", err)
			return
		}
		if err := b.lowerRecordedSettings(ctx, dir); err != nil {
			b.tmplErr = err
			return
		}
		if err := cleanlyShutDown(dir); err != nil {
			b.tmplErr = fmt.Errorf("initdb: %w", err)
			return
		}
		b.tmplDir = dir
		b.tmplMs = float64(time.Since(start).Microseconds()) / 1000
		if cached != "" {
			b.storeTemplate(dir, cached)
		}
	})
	return b.tmplDir, b.tmplErr
}

// storeTemplate copies a fresh template into the cache under a temporary
// name and renames it into place, so a concurrent run never sees half of
// one. A cache that cannot be written is only a missed speed-up.
func (b *Backend) storeTemplate(dir, cached string) {
	if err := os.MkdirAll(b.cacheDir, 0o700); err != nil {
		return
	}
	tmp, err := os.MkdirTemp(b.cacheDir, ".template-")
	if err != nil {
		return
	}
	if err := b.copyTree(dir, tmp); err != nil || os.Chmod(tmp, 0o700) != nil || os.Rename(tmp, cached) != nil {
		os.RemoveAll(tmp)
	}
}

// copyTree copies a data directory, files owned by the server user.
func (b *Backend) copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil && !os.IsExist(err) {
				return err
			}
			return os.Lchown(target, b.uid, b.gid)
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		return os.Lchown(target, b.uid, b.gid)
	})
}

// FreePort returns a free TCP port on 127.0.0.1 (the other backends and
// the client path share it) below the kernel's ephemeral range, when
// there is room: a port from that range (what listening on port 0 gives)
// may be taken as the source port of an outgoing connection, of this run
// or any other program, between this check and the server's bind, and
// the server exits with "Address already in use". Below the range only
// another listener can take it. Without room, the kernel's choice.
func FreePort() (int, error) {
	if lo := ephemeralLow(); lo-minPort >= 1000 {
		for range 50 {
			p := minPort + rand.IntN(lo-minPort)
			if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p))); err == nil {
				l.Close()
				return p, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// minPort is the lowest port FreePort gives: above the well-known and
// most services' registered ports.
const minPort = 20000

// ephemeralLow is the first port of the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), 0 when unknown.
func ephemeralLow() int {
	raw, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) != 2 {
		return 0
	}
	lo, _ := strconv.Atoi(f[0])
	return lo
}

// mkdirOwned makes a 0700 directory owned by the server user.
func (b *Backend) mkdirOwned(p string) error {
	if err := os.MkdirAll(p, 0o700); err != nil {
		return err
	}
	if err := os.Chmod(p, 0o700); err != nil {
		return err
	}
	return os.Chown(p, b.uid, b.gid)
}

// connectSocket opens an admin connection over the node's private socket.
func connectSocket(ctx context.Context, sockDir string, port int) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("")
	if err != nil {
		return nil, err
	}
	cfg.Host = sockDir
	cfg.Port = uint16(port)
	cfg.User = "postgres"
	cfg.Database = "postgres"
	cfg.ConnectTimeout = 2 * time.Second
	cfg.RuntimeParams = map[string]string{"application_name": "pgbench-ha-admin"}
	return pgx.ConnectConfig(ctx, cfg)
}

var (
	_ cluster.Backend = (*Backend)(nil)
	_ cluster.Able    = (*Backend)(nil)
)

// Abilities: local clusters kill, stop and pause nodes, and with
// Spec.Network put every link, client groups' included, behind a proxy.
func (b *Backend) Abilities() cluster.Abilities {
	return cluster.Abilities{Kill: true, Stop: true, Pause: true, Links: true, ClientLinks: true}
}
