// Package fault holds the fault kinds a scenario can inject, one Go type per
// kind in a file of its own: its parameters (the scenario keys it takes),
// its validation, its description, the nodes it names, whether it lasts,
// what a backend needs to do it, and how to inject it and heal it. Kinds
// that can tell also wait until the fault took effect and until the heal
// did (roachtest's Failer lifecycle).
//
// Under a real failover manager a kill may take one process of a node
// (Kill.Process: postgres or patroni), a switchover asks Patroni to hand
// the primary over (Switchover), and kill, stop and pause may take a
// service beside the nodes (IsService: etcd members, haproxy, pgbouncer).
// A cluster that can do so implements ProcessKiller and Switchoverer, or
// takes service names in its Killer, Stopper and Pauser; its backend says
// so in cluster.Abilities (Processes, Switchover, Services), and a
// scenario that needs more is refused before it starts (Supported).
//
// Adding a kind is one file here (a type implementing Spec and a register
// call in its init), its test and its documentation; the scenario decoder,
// the timeline and the report need no change.
//
//	k, _ := fault.Lookup("pause")
//	spec := k.New()                  // *Pause, filled by the scenario decoder
//	heal, err := spec.Inject(ctx, fault.Env{Cluster: c, Roles: roles, ID: "f0"})
//	defer heal.Do(ctx)
package fault
