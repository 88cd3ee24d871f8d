#!/usr/bin/env bash
# bench/soak.sh: run scenarios/soak.yaml for DURATION (default 30m) and say
# what the run cost as the work grew: the harness's peak memory (the run
# renders the report too), the size of result.json and of the side files,
# and the time to render the report again from result.json; each also per
# million writes. make soak runs it.
#
#   DURATION=5m BIN=bin/pgbench-ha bash bench/soak.sh
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30m}
BIN=${BIN:-bin/pgbench-ha}
OUT=${SOAK_OUT:-results/soak}
if [ ! -x /usr/bin/time ]; then
	echo "soak: /usr/bin/time is missing (apt-get install time)" >&2
	exit 3
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgbench-ha-soak.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
sed "s/^duration: .*/duration: $DURATION/" scenarios/soak.yaml >"$tmp/soak.yaml"
"$BIN" validate "$tmp/soak.yaml"
mkdir -p "$OUT"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
set +e
/usr/bin/time -v -o "$tmp/time.txt" "$BIN" run --out "$OUT" "$tmp/soak.yaml" | tail -n 40
rc=${PIPESTATUS[0]}
set -e
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$rc" -ne 0 ]; then
	echo "FAIL: the run exited with $rc" >&2
	exit "$rc"
fi

run=$(ls -dt "$OUT"/soak/*/ | head -n 1)
run=${run%/}
res="$run/result.json"
writes=$(awk -F'[:,]' '/"writes_attempted":/ { gsub(/ /, "", $2); print $2; exit }' "$res")
rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/time.txt")
size=$(stat -c %s "$res")
side=$(find "$run/history" "$run/series" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')

# Render the report again from result.json alone, timed.
start=$(date +%s%N)
/usr/bin/time -v -o "$tmp/report-time.txt" "$BIN" report --out "$tmp/report" "$res" >/dev/null
render_ms=$(( ($(date +%s%N) - start) / 1000000 ))
report_rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$tmp/report-time.txt")

if [ -z "$writes" ] || [ "$writes" -eq 0 ]; then
	echo "FAIL: no writes in $res" >&2
	exit 1
fi
echo
echo "soak: $DURATION, $writes writes, run folder $run"
echo "  history and series files: $side bytes"
echo "  report: $report_rss_kb kB peak memory to render"
awk -v w="$writes" -v rss="$rss_kb" -v size="$size" -v ms="$render_ms" 'BEGIN {
	m = w / 1e6
	printf "harness peak RSS: %.1f MB (%.1f MB per million writes)\n", rss / 1024, rss / 1024 / m
	printf "result.json: %.2f MB (%.2f MB per million writes)\n", size / 1048576, size / 1048576 / m
	printf "report render: %.2f s (%.2f s per million writes)\n", ms / 1000, ms / 1000 / m
}'
