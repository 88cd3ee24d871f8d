// Package clientpath starts what sits between the application (the
// harness's writers and readers) and a cluster's nodes: nothing
// ("direct"), HAProxy routing writes to the node whose health check says
// primary and reads to the replicas ("haproxy", Patroni's documented
// layout), or PgBouncer pooling the writes ("pgbouncer"), either in front
// of HAProxy's write port or one per node for a multi-host connection
// string with target_session_attrs=read-write.
//
// HAProxy decides with HTTP health checks (GET /primary, GET /replica on
// each node's check URL): Patroni's REST API answers them, and so does an
// Agent, for clusters whose failover the harness does itself.
//
//	agent, err := clientpath.NewAgent(c.Nodes(), func(n string) string { return c.ConnString(n, cluster.Admin) })
//	defer agent.Close()
//	p, err := clientpath.Start(ctx, clientpath.Config{
//		Kind:  clientpath.PgBouncer,
//		Nodes: c.Nodes(),
//		Check: agent.URL,
//		User:  cluster.AppRole, Password: appPassword,
//		LogDir: logDir,
//	})
//	defer p.Close()
//	host, port := p.WriteAddr() // PgBouncer, in front of HAProxy's write port
//	dsn := fmt.Sprintf("host=%s port=%d user=app password=%s dbname=postgres default_query_exec_mode=exec", host, port, pw)
//
// PgBouncer 1.18 in transaction (or statement) pooling knows nothing of
// protocol-level prepared statements: pgx clients must not cache them
// (default_query_exec_mode=exec or simple_protocol in the connection
// string, or no named Prepare), or a statement prepared on one server
// connection is missing on the next. A client connection held across a
// failover keeps working, but a statement it prepared before fails with
// SQLSTATE 26000 (prepared statement does not exist).
//
// With a PgBouncer per node, the first client to reach the dead node's
// PgBouncer after the crash logs in (PgBouncer checks the password
// itself) and then waits for a server connection that never comes, up to
// its own connect_timeout; the clients after it are refused at once
// ("pgbouncer cannot connect to server") and move on to the next host.
//
// HAProxy has no notion of a primary: it believes the checks. At start a
// server is up until its first check fails; after that it takes Rise good
// checks to come up and Fall failed ones to go down, so a dead primary
// takes writes (which fail) for up to Fall*Inter, and a promoted replica
// takes none for Rise*Inter after its promotion. Two nodes that both
// answer 200 on /primary (a revived old primary next to the promoted one)
// both take writes, round robin.
//
// Faults take the path's processes by service name: "haproxy" (the
// HAProxy process) and "pgbouncer" (the PgBouncer in front of HAProxy, or
// every PgBouncer in front of a node; errors and logs name each, as
// "pgbouncer-replica1"). Kill (SIGKILL, Landed says when it landed),
// Stop (SIGTERM, or SIGKILL), Pause and Resume (SIGSTOP, SIGCONT) act on
// the process group; Start starts a killed or stopped one again with its
// configuration file, so on the same ports, and returns once it serves.
// Close stops them all, paused or started again.
//
//	p.Kill(ctx, clientpath.HAProxy) // writes through the path refused
//	p.Start(ctx, clientpath.HAProxy) // back on the same write port
//
// A Path's methods may be called concurrently; an Agent's too.
package clientpath
