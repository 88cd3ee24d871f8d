#!/usr/bin/env bash
# Runs `make test` the way most CI jobs run it: inside a job container made
# from the project's image (pgbench-ha/postgres:15, `make image`), whose
# PID 1 is `sleep infinity` and never reaps an orphan, with Docker's
# default capabilities (root there may not touch another user's shared
# memory), and no init. Then checks that the tests left no zombie process
# and no shared memory segment in the container.
#
#   bash scripts/container-test.sh            # or: make test-container
#
# The tests run on a clean copy of HEAD (git archive), with this machine's
# Go (mounted read-only), module cache (read-only: nothing is downloaded)
# and build cache; /tmp is a tmpfs. The container has no docker daemon:
# the docker backend's tests skip there; they run on the host.
#
# Environment: IMAGE (default pgbench-ha/postgres:15), RUNS (how many times
# `make test` runs in the same container, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-pgbench-ha/postgres:15}
RUNS=${RUNS:-1}

say() { echo "container-test: $*" >&2; }
begin=$(date +%s)

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
	say "$IMAGE missing: run make image first"
	exit 1
fi
goroot=$(go env GOROOT)
modcache=$(go env GOMODCACHE)
gocache=$(go env GOCACHE)
go mod download # into the host's cache: the container has no network

src=$(mktemp -d "${TMPDIR:-/tmp}/pgbench-ha-src.XXXXXX")
name="pgbench-ha-ci-$$"
cleanup() {
	docker rm -f "$name" >/dev/null 2>&1 || true
	rm -rf "$src"
}
trap cleanup EXIT
git archive --format=tar HEAD | tar -x -C "$src"

# As a CI job container: PID 1 is sleep, default capabilities, no --init.
docker run -d --name "$name" --network none --tmpfs /tmp:rw,exec,nosuid,mode=1777 \
	-v "$goroot:/usr/local/go:ro" -v "$modcache:/go/pkg/mod:ro" -v "$gocache:/root/.cache/go-build" \
	-v "$src:/src" -w /src \
	-e GOMODCACHE=/go/pkg/mod -e GOPROXY=off -e GOFLAGS=-mod=readonly -e GOTOOLCHAIN=local \
	-e PGBENCH_HA_REQUIRE_PG=1 \
	"$IMAGE" sleep infinity >/dev/null
in_ctr() { docker exec "$name" sh -c 'PATH=/usr/local/go/bin:$PATH; '"$1"; }

pid1=$(in_ctr 'cat /proc/1/comm')
caps=$(in_ctr "awk '/^CapEff/ {print \$2}' /proc/self/status")
[ "$pid1" = sleep ] || { say "PID 1 is $pid1, want sleep"; exit 1; }
in_ctr 'command -v make >/dev/null' ||
	{ say "$IMAGE has no make: it predates make in the image; docker image rm $IMAGE && make image"; exit 1; }
in_ctr 'test -x /usr/sbin/haproxy && test -x /usr/sbin/pgbouncer' ||
	{ say "$IMAGE has no haproxy or pgbouncer: it predates them in the image; docker image rm $IMAGE && make image"; exit 1; }

# Zombies and System V segments in the container, from /proc (the image
# has no ps).
zombies() { in_ctr "cat /proc/[0-9]*/stat 2>/dev/null | sed -n 's/.*) \\(.\\) .*/\\1/p' | grep -c '^Z' || true"; }
segments() { in_ctr 'tail -n +2 /proc/sysvipc/shm | wc -l'; }

say "$IMAGE, PID 1 $pid1, capabilities $caps; make test, $RUNS time(s)"
for i in $(seq "$RUNS"); do
	start=$(date +%s)
	in_ctr 'make test'
	z=$(zombies)
	s=$(segments)
	say "run $i: passed in $(($(date +%s) - start)) s; left $z zombie processes and $s shared memory segments"
	if [ "$z" -ne 0 ] || [ "$s" -ne 0 ]; then
		in_ctr 'cat /proc/sysvipc/shm; for f in /proc/[0-9]*/stat; do case "$(cat $f)" in *") Z "*) cat $f;; esac; done 2>/dev/null | head -20' >&2 || true
		say "the tests left zombies or shared memory in the container"
		exit 1
	fi
done
say "done in $(($(date +%s) - begin)) s"
