package cluster

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgbench-ha/pgbench-ha/internal/pgquote"
)

// The steps every backend's bring-up shares, once its servers run.

// Setup runs p.SetupSQL on a new primary over conn, as the superuser,
// and returns the primary's WAL flush position after it: a standby made
// from a copy of the primary's data directory taken before (rather than a
// base backup taken after) has the roles and passwords once it has
// replayed up to there (see WaitStreaming). The commits ask for
// synchronous_commit = remote_apply: with no synchronous standby yet, each
// waits only for its local flush, and a standby replaying it tells the
// primary at once rather than at its next status interval.
func (p Passwords) Setup(ctx context.Context, conn *pgx.Conn, replicas []ReplicaSpec) (lsn string, err error) {
	if _, err := conn.Exec(ctx, "SET synchronous_commit = remote_apply"); err != nil {
		return "", fmt.Errorf("primary setup: %w", err)
	}
	for _, q := range p.SetupSQL(replicas) {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", fmt.Errorf("primary setup: %s", Redact(err.Error()))
		}
	}
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_flush_lsn()::text").Scan(&lsn); err != nil {
		return "", fmt.Errorf("primary setup: %w", err)
	}
	if _, err := conn.Exec(ctx, "RESET synchronous_commit"); err != nil {
		return "", fmt.Errorf("primary setup: %w", err)
	}
	return lsn, nil
}

// WaitStreaming waits, on a connection to the primary, until every
// replica named is streaming in pg_stat_replication and, if replayed is
// not "", has replayed the primary's WAL up to that position (up to 60 s).
func WaitStreaming(ctx context.Context, conn *pgx.Conn, replicas []ReplicaSpec, replayed string) error {
	want := map[string]bool{}
	for _, r := range replicas {
		want[r.Name] = true
	}
	q := "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"
	var args []any
	if replayed != "" {
		q += " AND replay_lsn >= $1::pg_lsn"
		args = append(args, replayed)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("wait for streaming: %w", err)
		}
		got := map[string]bool{}
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err == nil {
				got[name] = true
			}
		}
		rows.Close()
		missing := []string{}
		for n := range want {
			if !got[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			if replayed != "" {
				return fmt.Errorf("replicas not streaming, or not replayed up to %s, after 60s: %s (see their logs)", replayed, strings.Join(missing, ", "))
			}
			return fmt.Errorf("replicas not streaming after 60s: %s (see their logs)", strings.Join(missing, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// SetSyncNames sets the primary's synchronous_standby_names and waits
// until a standby is synchronous. Call it once the standbys stream: set
// before, every write (even creating the roles) waits for them.
func SetSyncNames(ctx context.Context, conn *pgx.Conn, names string) error {
	if _, err := conn.Exec(ctx, "ALTER SYSTEM SET synchronous_standby_names = "+pgquote.Literal(names)); err != nil {
		return fmt.Errorf("set synchronous_standby_names: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')").Scan(&n)
		if err != nil {
			return fmt.Errorf("wait for sync standbys: %w", err)
		}
		if n > 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no standby became synchronous for %q after 10s", names)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(3 * time.Millisecond):
		}
	}
}

// ParseServerVersion takes the version out of `postgres --version`:
// "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" gives "15.18".
func ParseServerVersion(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if w == "(PostgreSQL)" && i+1 < len(f) {
			return f[i+1]
		}
	}
	return strings.TrimSpace(s)
}

// The text every backend writes during bring-up. A backend supplies only
// what differs with where its servers run (addresses, ports, directories)
// and moves the bytes into place.

// Roles the harness logs in as on every cluster.
const (
	AdminRole       = "postgres"   // the superuser
	AppRole         = "app"        // the workload's unprivileged role
	ReplicationRole = "replicator" // the role standbys stream and clone as
)

// Passwords are one cluster's role passwords.
type Passwords struct {
	Admin, App, Replication string
}

// NewPasswords draws random passwords for a new cluster.
func NewPasswords() Passwords {
	return Passwords{Admin: randomPassword(), App: randomPassword(), Replication: randomPassword()}
}

func randomPassword() string {
	var buf [18]byte
	if _, err := rand.Read(buf[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(buf[:])
}

// ConnString is a libpq keyword/value string reaching the server at
// host:port as u, database postgres.
func (p Passwords) ConnString(host string, port int, u User) string {
	role, pw := AdminRole, p.Admin
	if u == App {
		role, pw = AppRole, p.App
	}
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=disable",
		host, port, role, pgquote.ConnValue(pw))
}

// PassFileName is the file, in a standby's data directory, that holds the
// replication password: primary_conninfo names it, so that the password
// is never in a setting, and so never in a server log (PostgreSQL logs a
// changed primary_conninfo in full at reload).
const PassFileName = "pgbench-ha-replication.pgpass"

// StreamConnInfo is the primary_conninfo with which standby streams from
// the server at host:port, its password read from passfile (see
// PassFile). It names a database, which streaming ignores and
// PostgreSQL 17's slot synchronization (sync_replication_slots) needs.
func (p Passwords) StreamConnInfo(host string, port int, standby, passfile string) string {
	return fmt.Sprintf("host=%s port=%d user=%s passfile=%s application_name=%s dbname=postgres sslmode=disable",
		host, port, ReplicationRole, pgquote.ConnValue(passfile), pgquote.ConnValue(standby))
}

// PassFile is the content of a standby's password file (libpq's .pgpass
// format, mode 0600): the replication role's password for any server.
func (p Passwords) PassFile() string {
	esc := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return "*:*:*:" + esc.Replace(ReplicationRole) + ":" + esc.Replace(p.Replication) + "\n"
}

// SetupSQL is what the harness runs as the superuser on a new primary,
// in order: the roles and their passwords, the app role's right to
// create its tables, and a physical replication slot for each replica
// that names one (reserving WAL at once).
func (p Passwords) SetupSQL(replicas []ReplicaSpec) []string {
	q := []string{
		"ALTER ROLE " + AdminRole + " PASSWORD " + pgquote.Literal(p.Admin),
		"CREATE ROLE " + ReplicationRole + " REPLICATION LOGIN PASSWORD " + pgquote.Literal(p.Replication),
		"CREATE ROLE " + AppRole + " LOGIN PASSWORD " + pgquote.Literal(p.App),
		"GRANT CREATE ON SCHEMA public TO " + AppRole,
	}
	for _, r := range replicas {
		if r.Slot != "" {
			q = append(q, "SELECT pg_create_physical_replication_slot("+pgquote.Literal(r.Slot)+", true)")
		}
	}
	return q
}

// BaseBackupEnv is the environment pg_basebackup runs with to clone a
// standby: the replication role's password and an application name
// that tells the clone's connection apart from streaming standbys.
func (p Passwords) BaseBackupEnv() []string {
	return []string{"PGPASSWORD=" + p.Replication, "PGAPPNAME=pgbench-ha-clone"}
}

// InitdbArgs are the initdb options of every primary (the data directory
// and the superuser's password file are the backend's): trust on the
// socket, scram-sha-256 over TCP, UTF8 in the C locale.
func InitdbArgs() []string {
	return []string{"-U", AdminRole, "--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"}
}

// BaseBackupArgs are pg_basebackup's arguments to clone the primary at
// host:port into dataDir, through slot if not "".
func BaseBackupArgs(host string, port int, dataDir, slot string) []string {
	args := []string{"-h", host, "-p", strconv.Itoa(port), "-U", ReplicationRole,
		"-D", dataDir, "-X", "stream", "-c", "fast", "--no-sync", "-w"}
	if slot != "" {
		args = append(args, "-S", slot)
	}
	return args
}

// HBA is every node's pg_hba.conf: trust on the socket (its directory
// is 0700, owned by the server user), scram-sha-256 for clients and for
// the replication role from network, an address ("127.0.0.1/32") or a
// keyword ("samenet").
func HBA(network string) string {
	return "# written by pgbench-ha\n" +
		"local all all trust\n" +
		"host all all " + network + " scram-sha-256\n" +
		"host replication " + ReplicationRole + " " + network + " scram-sha-256\n"
}

// Listen is where a node's server listens, as its backend lays it out.
type Listen struct {
	Addresses string // listen_addresses
	Port      int
	SocketDir string // unix_socket_directories
}

// ServerConf is what a backend appends to a node's postgresql.conf: the
// harness's settings (with l and the backend's extra ones), then the
// scenario's, then the node's own; the last occurrence of a name wins.
//
// The node's own is an empty synchronous_standby_names. On the primary
// it is set by SetSyncNames once the standbys stream: before, every
// write (even creating the roles) would wait for them. A standby's base
// backup copies the primary's settings, and a standby must not wait for
// synchronous standbys of its own once promoted.
func ServerConf(node string, l Listen, extra, scenario map[string]string) string {
	base := map[string]string{
		"listen_addresses":             l.Addresses,
		"port":                         strconv.Itoa(l.Port),
		"unix_socket_directories":      l.SocketDir,
		"cluster_name":                 node,
		"wal_level":                    "replica",
		"max_wal_senders":              "10",
		"max_replication_slots":        "10",
		"hot_standby":                  "on",
		"password_encryption":          "scram-sha-256",
		"logging_collector":            "off",
		"log_line_prefix":              "%m [%p] %q%u@%d ",
		"log_connections":              "off",
		"log_checkpoints":              "on",
		"wal_receiver_status_interval": "1s",
	}
	for k, v := range extra {
		base[k] = v
	}
	var sb strings.Builder
	sb.WriteString("\n# pgbench-ha: harness settings\n")
	writeSorted(&sb, base)
	if len(scenario) > 0 {
		sb.WriteString("# pgbench-ha: scenario settings\n")
		writeSorted(&sb, scenario)
	}
	sb.WriteString("# pgbench-ha: node settings\n")
	writeSorted(&sb, map[string]string{"synchronous_standby_names": ""})
	return sb.String()
}

func writeSorted(sb *strings.Builder, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(sb, "%s = %s\n", k, pgquote.Literal(m[k]))
	}
}

// StandbyConf is a standby's postgresql.auto.conf: stream from the
// primary with primaryConnInfo, through slot if not "". The backend
// writes an empty standby.signal beside it.
func StandbyConf(primaryConnInfo, slot string) string {
	s := "primary_conninfo = " + pgquote.Literal(primaryConnInfo) + "\n"
	if slot != "" {
		s += "primary_slot_name = " + pgquote.Literal(slot) + "\n"
	}
	return s
}

// CheckShutDown checks that pg_control (the content of global/pg_control)
// says its data directory was shut down cleanly, as initdb leaves it: only
// then is a copy of the directory, made while no server runs it, a valid
// standby of a primary started from it, with no backup label. The state
// is the int32 after the system identifier and the two version numbers
// (PostgreSQL's ControlFileData, DB_SHUTDOWNED = 1), in the byte order of
// the machine that wrote it, told by the version number (1300 for
// PostgreSQL 15, well below 2^16 either way).
func CheckShutDown(pgControl []byte) error {
	if len(pgControl) < 20 {
		return fmt.Errorf("pg_control too short (%d bytes)", len(pgControl))
	}
	var order binary.ByteOrder = binary.LittleEndian
	if order.Uint32(pgControl[8:12]) > 0xffff {
		order = binary.BigEndian
	}
	const dbShutdowned = 1
	if st := int32(order.Uint32(pgControl[16:20])); st != dbShutdowned {
		return fmt.Errorf("pg_control: state %d, not shut down cleanly (%d)", st, dbShutdowned)
	}
	return nil
}

// MinimalSettings are the lowest values of the settings a standby must not
// set below its primary's. A standby checks them, at its first start,
// against those its control file recorded: a standby copied from an initdb
// template would refuse to start below the template's (initdb's
// max_connections = 100 against a scenario's 50, say). A template records
// these instead, and the primary's own values reach the standbys in the
// WAL, as they would from a base backup.
var MinimalSettings = []string{"max_connections=4", "max_worker_processes=0", "max_wal_senders=0",
	"max_prepared_transactions=0", "max_locks_per_transaction=10"}

// SingleUserArgs are the arguments, after -D, of the single-user start
// that makes a fresh template's control file record MinimalSettings (it
// reads its commands from stdin: none, it shuts down cleanly).
func SingleUserArgs() []string {
	var args []string
	for _, kv := range MinimalSettings {
		args = append(args, "-c", kv)
	}
	return append(args, "template1")
}
