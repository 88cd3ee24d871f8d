#!/usr/bin/env bash
# The nightly job: run each scenario of the nightly set, then compare the
# run with its committed baseline. Everything lands in $NIGHTLY_OUT:
#
#   <scenario>/<run-id>/         the run folder (result.json, report.html, plots, logs)
#   <scenario>.run.junit.xml     variants and thresholds of the run
#   <scenario>.run.md
#   <scenario>.compare.junit.xml the run against results/baselines/<scenario>/baseline.json
#   <scenario>.compare.md
#   summary.md                   every Markdown summary, for a CI job summary
#
# Exits 0 when every run completed, every threshold passed and nothing
# regressed; otherwise with the first failing step's code (see the exit
# codes in README.md: 99 thresholds, 4 regression, 3 infrastructure, ...).
#
#   scripts/nightly.sh                      # the nightly set
#   scripts/nightly.sh scenarios/x.yaml     # these scenarios instead
#
# Environment: NIGHTLY_OUT (default results/nightly), BIN (default
# bin/pgbench-ha, built if missing), BASELINES (default results/baselines),
# TOLERANCE (extra --tolerance flags, e.g. "p99_commit_ms=40%").
set -uo pipefail
cd "$(dirname "$0")/.."

NIGHTLY_SET=(scenarios/sync-vs-async.yaml)
OUT=${NIGHTLY_OUT:-results/nightly}
BIN=${BIN:-bin/pgbench-ha}
BASELINES=${BASELINES:-results/baselines}

if [ ! -x "$BIN" ]; then
	go build -o "$BIN" ./cmd/pgbench-ha || exit 1
fi
mkdir -p "$OUT"
: > "$OUT/summary.md"

tolerances=()
for t in ${TOLERANCE:-}; do
	tolerances+=(--tolerance "$t")
done

scenarios=("$@")
if [ ${#scenarios[@]} -eq 0 ]; then
	scenarios=("${NIGHTLY_SET[@]}")
fi

status=0
fail() { # keep the first failure's code
	if [ "$status" -eq 0 ]; then
		status=$1
	fi
}

for sc in "${scenarios[@]}"; do
	name=$(basename "$sc" .yaml)
	echo "== $name: run"
	"$BIN" run --out "$OUT" --junit "$OUT/$name.run.junit.xml" --markdown "$OUT/$name.run.md" "$sc"
	code=$?
	if [ $code -ne 0 ]; then
		echo "== $name: run exited with $code"
		fail $code
	fi

	run=$(ls -1d "$OUT/$name"/*/ 2>/dev/null | sort | tail -n 1)
	baseline="$BASELINES/$name/baseline.json"
	if [ -z "$run" ] || [ ! -f "$run/result.json" ]; then
		echo "== $name: no result to compare"
		fail 1
		{ cat "$OUT/$name.run.md"; echo; } >> "$OUT/summary.md" 2>/dev/null
		continue
	fi
	if [ ! -f "$baseline" ]; then
		echo "== $name: no baseline at $baseline; make one (see results/baselines/README.md)"
		{ cat "$OUT/$name.run.md"; echo; } >> "$OUT/summary.md" 2>/dev/null
		continue
	fi
	echo "== $name: compare with $baseline"
	"$BIN" compare "${tolerances[@]}" --junit "$OUT/$name.compare.junit.xml" --markdown "$OUT/$name.compare.md" "$baseline" "$run"
	code=$?
	if [ $code -ne 0 ]; then
		echo "== $name: compare exited with $code"
		fail $code
	fi
	# The comparison's summary holds the run's too (variants, thresholds).
	{ cat "$OUT/$name.compare.md"; echo; } >> "$OUT/summary.md" 2>/dev/null
done
exit $status
