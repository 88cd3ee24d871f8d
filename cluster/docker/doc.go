// Package docker is the backend that runs each PostgreSQL server in its own
// Docker container, through github.com/ory/dockertest (its Pool and the
// Docker client it embeds).
//
//	b, err := docker.New(docker.Options{Image: "postgres:16"})
//	defer b.Close()
//	c, err := b.Up(ctx, cluster.Spec{Replicas: []cluster.ReplicaSpec{{Name: "replica1"}}})
//	defer c.Down(context.Background())
//	conn, err := pgx.Connect(ctx, c.ConnString("primary", cluster.Admin))
//
// # How a node runs
//
// The image's entrypoint is not used: a container's main process only
// waits (a shell looping on sleep), and the harness runs the server itself
// with docker exec as the image's postgres user: initdb once per backend
// (in the first cluster's primary, its data directory then kept as a
// template and copied into every node of every cluster, a standby's copy
// standing for its base backup; standbys stream from the primary's
// container name on the run's private network), then postgres -D
// /pgbench-ha/data, whose output streams into the node's log file on the
// host (Spec.LogDir/<node>.log), so logs outlive the containers. Nothing depends on one image's quirks:
// the server binaries are found in the image (pg_config --bindir, PATH,
// /usr/lib/postgresql/*/bin), and any image with a shell, sleep, id and a
// postgres user works, the official postgres images and the one
// scripts/image.sh builds alike.
//
// # Faults
//
//   - kill: docker kill (SIGKILL to the container's first process, which
//     takes every process of the container's PID namespace with it at
//     once: a crashed machine). Start starts the container again and the
//     server recovers from its data directory, which lives in the
//     container's writable layer.
//   - stop, restart: pg_ctl stop -m fast or -m immediate inside the
//     container, which keeps running; Start runs postgres again.
//   - pause, resume: docker pause and unpause (the cgroup freezer).
//   - isolate, partition (NodePartitioner): Cut drops the packets one node
//     sends another with an iptables rule in the receiving container
//     (docker exec as root; containers have NET_ADMIN, the sender's
//     address on the private network comes from docker inspect); Heal
//     deletes every rule. Connections hang as in a real partition. Only
//     links between nodes can be cut: the harness's clients connect from
//     the host through published ports, which these rules do not see, so
//     faults naming client groups, and latency, bandwidth and reset, need
//     the local backend. The image needs iptables (scripts/image.sh's has
//     it).
//
// # Safety and cleanup
//
// One private bridge network per backend (per run); each server publishes
// 5432 on 127.0.0.1 only, on a port chosen when its container is created
// and kept across restarts. TCP logins use scram-sha-256 with random
// passwords per cluster, accepted only from the private network (pg_hba
// samenet; the harness's connections arrive through the network's
// gateway). Every container and network carries the labels pgbench-ha=1,
// pgbench-ha.run=<run id>, pgbench-ha.pid=<harness pid> and
// pgbench-ha.host=<hostname>: Down removes a cluster's containers, Close
// removes everything the run created (also on a forced exit), and Cleanup
// removes what crashed runs left behind.
//
// The Docker client used here does not take contexts on every call; long
// operations (initdb, template copies, waits) return when the context ends,
// and the cluster's containers are then removed, which ends them.
package docker
