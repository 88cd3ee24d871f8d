package cluster

import "context"

// Driller is a Cluster that can run restore drills on copies of its
// data: base backups and logical dumps of a node, and servers of their
// own started from them (not nodes: not in Nodes, never a primary of the
// cluster), reached with ConnString by their name. Down stops and
// removes them with the rest; RemoveServer does earlier. Methods are
// safe for concurrent use, on different names.
type Driller interface {
	// BaseBackup takes a base backup of node (pg_basebackup, the WAL it
	// needs streamed into it), kept under name.
	BaseBackup(ctx context.Context, node, name string) error
	// Dump writes a logical dump of the orders table of node (pg_dump,
	// custom format), kept under name, as of snapshot (an exported
	// snapshot, pg_export_snapshot(), of a transaction still open) when
	// not "". It returns the dump's size in bytes.
	Dump(ctx context.Context, node, snapshot, name string) (int64, error)
	// StartServer starts a server of its own as s says and returns once
	// it accepts connections (a recovering one may still be in
	// recovery).
	StartServer(ctx context.Context, s ServerSpec) (Node, error)
	// Restore loads the dump kept under dump into the server name
	// (pg_restore, objects owned by the admin user).
	Restore(ctx context.Context, name, dump string) error
	// RemoveServer stops the server name and removes its data.
	RemoveServer(ctx context.Context, name string) error
}

// ServerSpec is a server a Driller starts beside the nodes.
type ServerSpec struct {
	Name string
	// Backup is the base backup (BaseBackup's name) it starts from; ""
	// for an empty server with the cluster's roles and passwords.
	Backup string
	// With a Backup: Standby makes it a standby fed by the cluster's WAL
	// archive alone (restore_command, no primary_conninfo); otherwise it
	// recovers from the archive to TargetName, a restore point
	// (pg_create_restore_point), and is promoted there.
	Standby    bool
	TargetName string
	// Settings are postgresql.conf values of its own, after the
	// harness's.
	Settings map[string]string
}
