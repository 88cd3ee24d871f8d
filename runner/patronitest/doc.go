// Package patronitest runs scenarios under Patroni for real, through the
// runner: failover on each client path, partitions, isolation and an
// interrupted run. Its tests wait on Patroni's timers (ttl, loop_wait)
// for minutes, mostly idle; a package of their own lets go test run them
// beside the runner's other integration tests.
package patronitest
