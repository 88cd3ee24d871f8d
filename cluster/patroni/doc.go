// Package patroni is a cluster.Backend whose clusters are run by Patroni
// (3.0.2) with etcd (3.4) as its DCS, all on 127.0.0.1: one etcd member
// or three, then one Patroni per node, each managing its own PostgreSQL.
// Patroni bootstraps the node named "primary" (started first, so it takes
// the leader key), clones the replicas with pg_basebackup, manages their
// replication slots and, with synchronous_mode, synchronous_standby_names;
// it fails over by itself. The harness only watches it (RESTURL,
// EtcdEndpoints, Scope, Namespace) and injects faults.
//
//	b, err := patroni.New(patroni.Options{TTL: 20, LoopWait: 2, RetryTimeout: 5})
//	c, err := b.Up(ctx, cluster.Spec{ID: "v0", Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}})
//	defer c.Down(context.Background())
//	pc := c.(*patroni.Cluster)
//	leader := pc.Namespace() + pc.Scope() + "/leader" // "/service/v0/leader"
//	err = pc.Kill(ctx, "primary")                     // Patroni and PostgreSQL at once
//	err = pc.KillProcess(ctx, "replica1", "postgres") // Patroni restarts it
//
// Run as root, Patroni, PostgreSQL and etcd run as the postgres user. Each
// node (its Patroni and the PostgreSQL it starts) and each etcd member is
// a process group and a cgroup of the cgroup v1 freezer of its own: Kill
// freezes it and SIGKILLs every process in it, Pause freezes it. The
// freezer is required: Patroni double-forks its postmaster into a session
// of its own, so no process group or tree holds a node, only its cgroup.
//
// Built with spec.Network, a cluster proxies each node's links to the etcd
// members (AddToxic), and, where the machine has iptables and a cgroup v2
// hierarchy (Abilities().NodeCuts; NodeCutsErr says why not), cuts the
// links between nodes (Cut, Heal: NodePartitioner): each node's processes
// are also born in a cgroup v2 directory of their own, and iptables drops
// what one node's processes send to another's ports or on connections the
// other opened (package internal/netcut).
//
// The backend's temp dir follows the local backend's convention
// ($TMPDIR/pgbench-ha-*, with its harness marker, cgroups named by
// freezer.RunName), so `pgbench-ha cleanup` (local.Cleanup) removes what
// a harness killed outright left: it kills the processes whose command
// line names the dead run's dir, removes their shared memory, cgroups
// (freezer and v2), iptables rules and the dir.
package patroni
