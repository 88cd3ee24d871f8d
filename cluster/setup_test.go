package cluster

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
)

// The bring-up text is pinned: both backends write it, and a change here
// changes every cluster.

func TestServerConf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		listen   Listen
		extra    map[string]string
		scenario map[string]string
		want     string
	}{
		{"local primary, scenario settings", Listen{Addresses: "127.0.0.1", Port: 40001, SocketDir: "/tmp/x/s0"},
			map[string]string{"dynamic_shared_memory_type": "mmap"},
			map[string]string{"synchronous_commit": "remote_apply", "wal_sender_timeout": "5s"}, `
# pgbench-ha: harness settings
cluster_name = 'primary'
dynamic_shared_memory_type = 'mmap'
hot_standby = 'on'
listen_addresses = '127.0.0.1'
log_checkpoints = 'on'
log_connections = 'off'
log_line_prefix = '%m [%p] %q%u@%d '
logging_collector = 'off'
max_replication_slots = '10'
max_wal_senders = '10'
password_encryption = 'scram-sha-256'
port = '40001'
unix_socket_directories = '/tmp/x/s0'
wal_level = 'replica'
wal_receiver_status_interval = '1s'
# pgbench-ha: scenario settings
synchronous_commit = 'remote_apply'
wal_sender_timeout = '5s'
# pgbench-ha: node settings
synchronous_standby_names = ''
`},
		{"docker, no scenario settings", Listen{Addresses: "*", Port: 5432, SocketDir: "/pgbench-ha/run"}, nil, nil, `
# pgbench-ha: harness settings
cluster_name = 'primary'
hot_standby = 'on'
listen_addresses = '*'
log_checkpoints = 'on'
log_connections = 'off'
log_line_prefix = '%m [%p] %q%u@%d '
logging_collector = 'off'
max_replication_slots = '10'
max_wal_senders = '10'
password_encryption = 'scram-sha-256'
port = '5432'
unix_socket_directories = '/pgbench-ha/run'
wal_level = 'replica'
wal_receiver_status_interval = '1s'
# pgbench-ha: node settings
synchronous_standby_names = ''
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ServerConf("primary", tc.listen, tc.extra, tc.scenario)
			if got != tc.want {
				t.Errorf("ServerConf =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestServerConfQuotes(t *testing.T) {
	t.Parallel()
	got := ServerConf("n", Listen{}, nil, map[string]string{"application_name": "it's"})
	if want := "application_name = 'it''s'\n"; !strings.Contains(got, want) {
		t.Errorf("ServerConf =\n%s\nholds no %q", got, want)
	}
}

func TestHBA(t *testing.T) {
	t.Parallel()
	want := "# written by pgbench-ha\n" +
		"local all all trust\n" +
		"host all all samenet scram-sha-256\n" +
		"host replication replicator samenet scram-sha-256\n"
	if got := HBA("samenet"); got != want {
		t.Errorf("HBA(samenet) =\n%s\nwant\n%s", got, want)
	}
}

func TestSetupSQL(t *testing.T) {
	t.Parallel()
	pw := Passwords{Admin: "a", App: "b'c", Replication: "r"}
	got := pw.SetupSQL([]ReplicaSpec{{Name: "replica1", Slot: "replica1"}, {Name: "replica2"}})
	want := []string{
		"ALTER ROLE postgres PASSWORD 'a'",
		"CREATE ROLE replicator REPLICATION LOGIN PASSWORD 'r'",
		"CREATE ROLE app LOGIN PASSWORD 'b''c'",
		"GRANT CREATE ON SCHEMA public TO app",
		"SELECT pg_create_physical_replication_slot('replica1', true)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SetupSQL =\n%q\nwant\n%q", got, want)
	}
}

func TestConnStrings(t *testing.T) {
	t.Parallel()
	pw := Passwords{Admin: "adm", App: "a p", Replication: "rep"}
	tests := []struct{ name, got, want string }{
		{"admin", pw.ConnString("127.0.0.1", 5432, Admin),
			"host=127.0.0.1 port=5432 user=postgres password=adm dbname=postgres sslmode=disable"},
		{"app, quoted", pw.ConnString("127.0.0.1", 40001, App),
			"host=127.0.0.1 port=40001 user=app password='a p' dbname=postgres sslmode=disable"},
		{"stream", pw.StreamConnInfo("pgbench-ha-v0-primary", 5432, "replica1", "/d/p.pgpass"),
			"host=pgbench-ha-v0-primary port=5432 user=replicator passfile=/d/p.pgpass application_name=replica1 dbname=postgres sslmode=disable"},
		{"pass file", Passwords{Replication: `r:e\p`}.PassFile(), `*:*:*:replicator:r\:e\\p` + "\n"},
		{"standby conf with slot", StandbyConf("host=h password='x y'", "replica1"),
			"primary_conninfo = 'host=h password=''x y'''\nprimary_slot_name = 'replica1'\n"},
		{"standby conf, no slot", StandbyConf("host=h", ""), "primary_conninfo = 'host=h'\n"},
		{"base backup", strings.Join(BaseBackupArgs("127.0.0.1", 40001, "/d", "replica1"), " "),
			"-h 127.0.0.1 -p 40001 -U replicator -D /d -X stream -c fast --no-sync -w -S replica1"},
		{"base backup env", strings.Join(pw.BaseBackupEnv(), " "), "PGPASSWORD=rep PGAPPNAME=pgbench-ha-clone"},
		// Part of the local backend's template cache key: a change makes
		// every cached template stale.
		{"initdb", strings.Join(InitdbArgs(), " "),
			"-U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync --no-instructions"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestNewPasswords(t *testing.T) {
	t.Parallel()
	a, b := NewPasswords(), NewPasswords()
	for _, pw := range []string{a.Admin, a.App, a.Replication} {
		if len(pw) != 36 || strings.Trim(pw, "0123456789abcdef") != "" {
			t.Errorf("password %q: want 36 hex digits", pw)
		}
	}
	if a.Admin == a.App || a.App == a.Replication || a == b {
		t.Errorf("passwords repeat: %+v %+v", a, b)
	}
}

func TestCheckShutDown(t *testing.T) {
	control := func(order binary.ByteOrder, state uint32) []byte {
		b := make([]byte, 296)
		order.PutUint64(b[0:], 7714022762702692157)
		order.PutUint32(b[8:], 1300)
		order.PutUint32(b[12:], 202209061)
		order.PutUint32(b[16:], state)
		return b
	}
	cases := []struct {
		name    string
		control []byte
		ok      bool
	}{
		{"shut down", control(binary.LittleEndian, 1), true},
		{"shut down, big-endian", control(binary.BigEndian, 1), true},
		{"in production", control(binary.LittleEndian, 6), false},
		{"shut down in recovery", control(binary.LittleEndian, 2), false},
		{"truncated", control(binary.LittleEndian, 1)[:16], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckShutDown(tc.control); (err == nil) != tc.ok {
				t.Errorf("CheckShutDown = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
