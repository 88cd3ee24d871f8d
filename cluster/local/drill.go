package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pgbench-ha/pgbench-ha/cluster"
	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
)

// Restore drills (cluster.Driller). Base backups and dumps are kept in
// the cluster's own dir (the server user's), the drill servers' data dirs
// too; Down removes them with the rest, RemoveServer a server earlier.
// Drill servers log beside the nodes, as drill-<name>.log.

var _ cluster.Driller = (*Cluster)(nil)

// drillName is what a backup, dump or drill server name must match: it
// names files and directories.
var drillName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,40}$`)

func checkDrillName(name string) error {
	if !drillName.MatchString(name) {
		return fmt.Errorf("drill: bad name %q", name)
	}
	return nil
}

// drillServer is the drill server called name, nil if none.
func (c *Cluster) drillServer(name string) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.drills {
		if n.name == name {
			return n
		}
	}
	return nil
}

// BaseBackup takes a base backup of node with pg_basebackup, as the
// replication role over TCP, the WAL it needs streamed into it, with a
// fast checkpoint: backups/<name> in the cluster's dir.
func (c *Cluster) BaseBackup(ctx context.Context, node, name string) error {
	if err := checkDrillName(name); err != nil {
		return err
	}
	n, err := c.node(node)
	if err != nil {
		return fmt.Errorf("base backup: %w", err)
	}
	parent := filepath.Join(c.dir, "backups")
	if err := c.b.mkdirOwned(parent); err != nil {
		return fmt.Errorf("base backup: %w", err)
	}
	args := []string{"-D", filepath.Join(parent, name), "-h", "127.0.0.1", "-p", fmt.Sprint(n.port),
		"-U", cluster.ReplicationRole, "-X", "stream", "-c", "fast", "--no-password"}
	if _, err := c.b.run(ctx, filepath.Join(c.b.binDir, "pg_basebackup"), args, c.pw.BaseBackupEnv()); err != nil {
		return fmt.Errorf("base backup of %s: %w", node, err)
	}
	return nil
}

// dumpPath is where the dump called name is kept.
func (c *Cluster) dumpPath(name string) string {
	return filepath.Join(c.dir, "dumps", name+".dump")
}

// Dump runs pg_dump of the orders table of node, custom format, over the
// node's socket as the superuser, into dumps/<name>.dump in the
// cluster's dir.
func (c *Cluster) Dump(ctx context.Context, node, snapshot, name string) (int64, error) {
	if err := checkDrillName(name); err != nil {
		return 0, err
	}
	n, err := c.node(node)
	if err != nil {
		return 0, fmt.Errorf("dump: %w", err)
	}
	if err := c.b.mkdirOwned(filepath.Dir(c.dumpPath(name))); err != nil {
		return 0, fmt.Errorf("dump: %w", err)
	}
	args := []string{"-h", n.sockDir, "-p", fmt.Sprint(n.port), "-U", cluster.AdminRole, "-d", "postgres",
		"-t", "orders", "-Fc", "-f", c.dumpPath(name), "--no-password"}
	if snapshot != "" {
		args = append(args, "--snapshot", snapshot)
	}
	if _, err := c.b.run(ctx, filepath.Join(c.b.binDir, "pg_dump"), args, nil); err != nil {
		return 0, fmt.Errorf("dump of %s: %w", node, err)
	}
	info, err := os.Stat(c.dumpPath(name))
	if err != nil {
		return 0, fmt.Errorf("dump: %w", err)
	}
	return info.Size(), nil
}

// Restore runs pg_restore of the dump called dump into the drill server
// name, over its socket as the superuser, stopping at the first error.
func (c *Cluster) Restore(ctx context.Context, name, dump string) error {
	n := c.drillServer(name)
	if n == nil {
		return fmt.Errorf("restore: no drill server %q", name)
	}
	if err := checkDrillName(dump); err != nil {
		return err
	}
	args := []string{"-h", n.sockDir, "-p", fmt.Sprint(n.port), "-U", cluster.AdminRole, "-d", "postgres",
		"--no-owner", "--exit-on-error", "--no-password", c.dumpPath(dump)}
	if _, err := c.b.run(ctx, filepath.Join(c.b.binDir, "pg_restore"), args, nil); err != nil {
		return fmt.Errorf("restore into %s: %w", name, err)
	}
	return nil
}

// RestoreCommand is the restore_command that copies a segment from the
// archive dir, quoted as ArchiveCommand is.
func RestoreCommand(dir string) string {
	q := "'" + strings.ReplaceAll(dir, "'", `'\''`) + "'"
	q = strings.ReplaceAll(q, "%", "%%")
	return strings.ReplaceAll("cp "+q+"/%f %p", `\`, `\\`)
}

// StartServer starts a drill server: an empty one from the template with
// the cluster's roles, or one from a base backup that recovers from the
// cluster's archive (to a restore point, then promoted) or stays a
// standby fed by it. Its postgresql.conf is the primary's, with its own
// address and without archiving: a drill server never writes into the
// archive it reads.
func (c *Cluster) StartServer(ctx context.Context, s cluster.ServerSpec) (cluster.Node, error) {
	if err := checkDrillName(s.Name); err != nil {
		return cluster.Node{}, err
	}
	if _, err := c.node(s.Name); err == nil {
		return cluster.Node{}, fmt.Errorf("drill server %s: the name is taken", s.Name)
	}
	if s.Backup != "" && c.archive == "" {
		return cluster.Node{}, fmt.Errorf("drill server %s: the cluster has no WAL archive", s.Name)
	}
	port, err := FreePort()
	if err != nil {
		return cluster.Node{}, fmt.Errorf("free port: %w", err)
	}
	n := &node{
		name:    s.Name,
		port:    port,
		dataDir: filepath.Join(c.dir, "drill-"+s.Name),
		sockDir: filepath.Join(c.dir, "ds-"+s.Name),
		logPath: filepath.Join(filepath.Dir(c.nodes[0].logPath), "drill-"+s.Name+".log"),
	}
	c.mu.Lock()
	if c.down {
		c.mu.Unlock()
		return cluster.Node{}, fmt.Errorf("drill server %s: the cluster is down", s.Name)
	}
	// Registered before anything starts, so that Down finds it.
	c.drills = append(c.drills, n)
	c.mu.Unlock()
	if err := c.startDrill(ctx, n, s); err != nil {
		_ = c.RemoveServer(context.Background(), s.Name)
		return cluster.Node{}, err
	}
	return cluster.Node{Name: n.name, Host: "127.0.0.1", Port: n.port}, nil
}

func (c *Cluster) startDrill(ctx context.Context, n *node, s cluster.ServerSpec) error {
	if err := c.b.mkdirOwned(n.sockDir); err != nil {
		return err
	}
	extra := map[string]string{"dynamic_shared_memory_type": "mmap", "archive_mode": "off"}
	conf := c.primaryConf + cluster.ServerConf(n.name, cluster.Listen{Addresses: "127.0.0.1", Port: n.port, SocketDir: n.sockDir}, extra, s.Settings)
	if s.Backup == "" {
		tmpl, err := c.b.template(ctx)
		if err != nil {
			return err
		}
		return c.startSubscriber(ctx, tmpl, n, conf)
	}
	src := filepath.Join(c.dir, "backups", s.Backup)
	if err := c.b.copyTree(src, n.dataDir); err != nil {
		return fmt.Errorf("drill server %s: copy the base backup: %w", n.name, err)
	}
	if err := os.Chmod(n.dataDir, 0o700); err != nil {
		return err
	}
	for _, f := range []string{"standby.signal", "recovery.signal", "postmaster.pid"} {
		if err := os.Remove(filepath.Join(n.dataDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := c.writeOwned(filepath.Join(n.dataDir, "postgresql.conf"), conf); err != nil {
		return err
	}
	auto := "restore_command = " + pgquote.Literal(RestoreCommand(c.archive)) + "\n"
	signal := "standby.signal"
	if !s.Standby {
		signal = "recovery.signal"
		auto += "recovery_target_timeline = 'latest'\nrecovery_target_action = 'promote'\n"
		if s.TargetName != "" {
			auto += "recovery_target_name = " + pgquote.Literal(s.TargetName) + "\n"
		}
	}
	if err := c.writeOwned(filepath.Join(n.dataDir, "postgresql.auto.conf"), auto); err != nil {
		return err
	}
	if err := c.writeOwned(filepath.Join(n.dataDir, signal), ""); err != nil {
		return err
	}
	return c.start(ctx, n)
}

// RemoveServer kills the drill server name and removes its data dir; its
// log stays.
func (c *Cluster) RemoveServer(ctx context.Context, name string) error {
	c.mu.Lock()
	var n *node
	for i, d := range c.drills {
		if d.name == name {
			n = d
			c.drills = append(c.drills[:i:i], c.drills[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	if n == nil {
		return fmt.Errorf("remove: no drill server %q", name)
	}
	var errs []error
	c.mu.Lock()
	p := n.proc
	c.mu.Unlock()
	if p != nil {
		if p.running() || n.cg != nil {
			p.kill()
		}
		if !p.wait(10*time.Second) || !p.groupGone(10*time.Second) {
			errs = append(errs, fmt.Errorf("remove %s: processes of group %d did not exit", name, p.pgid))
		} else if err := removeShm(n.dataDir); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
		}
	}
	if n.cg != nil && len(errs) == 0 {
		if err := n.cg.Remove(); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", name, err))
		}
	}
	if n.logFile != nil {
		n.logFile.Close()
	}
	if len(errs) == 0 {
		errs = append(errs, os.RemoveAll(n.dataDir), os.RemoveAll(n.sockDir))
	}
	return errors.Join(errs...)
}
