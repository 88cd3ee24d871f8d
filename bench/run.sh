#!/usr/bin/env bash
# bench/run.sh: run the benchmarks of ./bench once each, print their
# figures, check that nothing was left running or on disk, and end with
#   probe overhead: N.N %                 (closed-loop writer TPS lost to the probes)
#   ledger bytes per write: N             (the ledger's memory, 1 M writes)
#   bring-up harness/manual ratio, template cached: N.NN   (a new backend's
#                     first Up with the initdb template in the cache: the
#                     first variant of every run after the first on a machine)
#   writer/pgbench tps ratio: N.NN
#   bring-up harness/manual ratio: N.NN   (cold: the first Up of a backend)
# Exits non-zero when a benchmark fails or something was left behind.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

# Every temp dir of the run (backend roots, clusters built by hand, logs)
# goes under one private dir; the server user only passes through it.
work=$(mktemp -d "${TMPDIR:-/tmp}/pgbench-ha-bench.XXXXXX")
chmod 711 "$work"
out=$(mktemp "${TMPDIR:-/tmp}/pgbench-ha-bench-out.XXXXXX")

# Postmasters whose data dir is under $work: ours, whoever else runs
# PostgreSQL on this machine.
our_postmasters() {
	local pid
	for pid in $(pgrep -u postgres -x postgres 2>/dev/null || true); do
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-D $work/"; then
			echo "$pid"
		fi
	done
}

# On an interrupted run, stop what we started, by data dir, never by name.
cleanup() {
	local pidfile data pgctl
	pgctl=$(ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1 || true)
	while IFS= read -r pidfile; do
		data=$(dirname "$pidfile")
		if [ -z "$pgctl" ]; then
			continue
		elif [ "$(id -u)" = 0 ]; then
			su postgres -s /bin/sh -c "'$pgctl' -D '$data' -m immediate -w stop" >/dev/null 2>&1 || true
		else
			"$pgctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	done < <(find "$work" -name postmaster.pid 2>/dev/null || true)
	rm -rf "$work" "$out"
}
trap cleanup EXIT

before=$(pgrep -u postgres -x postgres 2>/dev/null | sort || true)
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

set +e
TMPDIR=$work go test -run '^$' -bench . -benchtime=1x -count=1 -timeout 10m -v ./bench/ 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

fail=0
left=$(our_postmasters)
if [ -n "$left" ]; then
	echo "FAIL: postmasters of this run still running: $left" >&2
	fail=1
fi
after=$(pgrep -u postgres -x postgres 2>/dev/null | sort || true)
if [ -z "$after" ]; then
	echo "check: pgrep -u postgres -x postgres: none running"
elif [ -z "$left" ]; then
	new=$(comm -13 <(echo "$before") <(echo "$after") | grep -c . || true)
	echo "check: pgrep -u postgres -x postgres: $(echo "$after" | grep -c .) running, none with a data dir of this run" \
		"($new of them started during the run)"
fi
leftovers=$(find "$work" -mindepth 1 -maxdepth 1 2>/dev/null | head -n 5)
if [ -n "$leftovers" ]; then
	echo "FAIL: temp dirs left behind: $leftovers" >&2
	fail=1
else
	echo "check: no temp dirs left"
fi

if [ "$rc" -ne 0 ]; then
	echo "FAIL: benchmarks exited with $rc" >&2
	exit "$rc"
fi

# metric UNIT: the value printed before UNIT on a benchmark's result line.
metric() {
	awk -v unit="$1" '/^Benchmark/ { for (i = 2; i <= NF; i++) if ($i == unit) print $(i - 1) }' "$out" | tail -n 1
}
wtps=$(metric writer_tps)
ptps=$(metric pgbench_tps)
tratio=$(metric tps_ratio)
cold=$(metric cold_ms)
warm=$(metric warm_ms)
manual=$(metric manual_ms)
cratio=$(metric cold_ratio)
wratio=$(metric warm_ratio)
cached=$(metric cached_ms)
kratio=$(metric cached_ratio)
pover=$(metric 'probe_overhead_%')
for v in "$wtps" "$ptps" "$tratio" "$cold" "$warm" "$manual" "$cratio" "$wratio" "$cached" "$kratio" "$pover"; do
	if [ -z "$v" ]; then
		echo "FAIL: a figure is missing from the benchmark output" >&2
		exit 1
	fi
done
if [ "$fail" -ne 0 ]; then
	exit 1
fi
# The ledger's memory per write, 1 M writes measured (no server needed).
ledger=$(go test -run '^$' -bench LedgerBytes -benchtime=1x -count=1 ./workload/ |
	awk '/^BenchmarkLedgerBytes/ { for (i = 2; i <= NF; i++) if ($i == "bytes/write") print $(i - 1) }')
if [ -z "$ledger" ]; then
	echo "FAIL: ledger bytes per write missing" >&2
	exit 1
fi

echo
echo "writer $wtps tps, pgbench $ptps tps (medians); client CPU per transaction: writer $(metric 'writer_cpu_us/tx') us, pgbench $(metric 'pgbench_cpu_us/tx') us"
echo "bring-up: harness cold $cold ms, template cached $cached ms, warm $warm ms, manual $manual ms (medians)"
echo "probes: writer $(metric noprobe_tps) tps without, $(metric probe_tps) tps with (medians);" \
	"CPU per write (harness and servers) $(metric 'probe_cpu_overhead_%') % more with;" \
	"$(metric 'probe_queries/s') probe queries/s, $(metric 'probe_polls/s') of them visibility polls;" \
	"visibility p50 $(metric visibility_p50_ms) ms"
echo "bring-up harness/manual ratio, warm (a second Up of one backend): $(printf '%.2f' "$wratio")"
printf 'probe overhead: %.1f %%\n' "$pover"
printf 'ledger bytes per write: %s\n' "$ledger"
printf 'bring-up harness/manual ratio, template cached: %.2f\n' "$kratio"
printf 'writer/pgbench tps ratio: %.2f\n' "$tratio"
printf 'bring-up harness/manual ratio: %.2f\n' "$cratio"
