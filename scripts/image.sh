#!/usr/bin/env bash
# Builds pgbench-ha/postgres:15 (or :17), a local PostgreSQL image for the
# docker backend on machines that cannot pull one: a minimal Debian
# (debootstrap, minbase) with postgresql-$PG_MAJOR, iproute2 and iptables,
# imported with `docker import`; and make, so that `make test` runs in it
# as in a CI job container (scripts/container-test.sh). Nothing comes from
# a container registry. Does nothing when the image already exists (remove
# it with `docker image rm` to build it again).
#
#   bash scripts/image.sh                      # or: make image
#   PG_MAJOR=17 bash scripts/image.sh          # or: make image PG=17
#   pgbench-ha run --backend docker --image pgbench-ha/postgres:15 scenarios/sync-vs-async.yaml
#
# Environment: PG_MAJOR (15), IMAGE (default pgbench-ha/postgres:$PG_MAJOR),
# SUITE (bookworm for 15, trixie for 17: the Debian release that packages
# that major), MIRROR (default: the Debian archive this machine's own apt
# sources name, /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list,
# else http://deb.debian.org/debian).
#
# The PostgreSQL server, haproxy and pgbouncer are required; patroni and
# etcd-server are optional: whatever the suite lacks is left out of the
# image, and the image's message and its pgbench-ha.packages and
# pgbench-ha.left-out labels say so (trixie had both when this was
# written; etcd has left Debian testing before). debootstrap from
# bookworm knows trixie (/usr/share/debootstrap/scripts/trixie) and
# bookworm's debian-archive-keyring (2023.3+deb12u2) holds trixie's keys.
#
# The image has no default cluster: the package's main cluster is neither
# created nor started (policy-rc.d denies service starts during the install,
# createcluster.conf says create_main_cluster = false). The harness runs
# initdb and postgres itself.
set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
IMAGE=${IMAGE:-pgbench-ha/postgres:$PG_MAJOR}

say() { echo "image: $*" >&2; }

case "$PG_MAJOR" in
15) SUITE=${SUITE:-bookworm} ;;
17) SUITE=${SUITE:-trixie} ;;
*)
	if [ -z "${SUITE:-}" ]; then
		say "PG_MAJOR=$PG_MAJOR: no Debian suite known for it (15: bookworm, 17: trixie); set SUITE"
		exit 1
	fi
	;;
esac

# sources_mirror prints the Debian main archive this machine's apt uses
# (not the security archive, not a third-party repository), or nothing.
sources_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822: stanzas separated by blank lines; take the URIs of a
		# stanza whose Suites are not -security and whose URI is a
		# Debian archive (ends in /debian).
		awk '
			function flush() { if (uris != "" && suites !~ /-security/) { n = split(uris, u, " "); for (i = 1; i <= n; i++) if (u[i] ~ /\/debian\/?$/) print u[i] } uris = ""; suites = "" }
			/^[ \t]*$/ { flush(); next }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			END { flush() }
		' "$f"
	done
	if [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if ($(i) ~ /\/debian\/?$/ && $(i+1) !~ /-security/) print $(i) }' /etc/apt/sources.list
	fi
}
if [ -z "${MIRROR:-}" ]; then
	# sed reads it all: head would leave awk writing to a closed pipe
	# (SIGPIPE, a failure under pipefail) with several sources files.
	MIRROR=$(sources_mirror | sed -n 1p)
	MIRROR=${MIRROR%/}
	MIRROR=${MIRROR:-http://deb.debian.org/debian} # last resort: no Debian archive in the apt sources
fi

if ! command -v docker >/dev/null 2>&1; then
	say "docker is not installed"
	exit 1
fi
# REV names what the image holds; an image of an older REV (built before
# a package was added) is built again.
# The 15 and 17 images are checked apart, each by its own label.
REV=3
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
	have=$(docker image inspect -f '{{index .Config.Labels "pgbench-ha.rev"}}' "$IMAGE" 2>/dev/null || true)
	if [ "$have" = "$REV" ]; then
		say "$IMAGE exists (docker image rm $IMAGE to build it again)"
		exit 0
	fi
	say "$IMAGE is of an older make (rev '${have:-none}', now $REV): building it again"
	docker image rm "$IMAGE" >/dev/null
fi
if [ "$(id -u)" -ne 0 ]; then
	say "building $IMAGE needs root (debootstrap and chroot): run it with sudo"
	exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
	say "installing debootstrap"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
fi

dir=$(mktemp -d "${TMPDIR:-/var/tmp}/pgbench-ha-image.XXXXXX")
cleanup() {
	# Unmount whatever is still mounted inside the tree (deepest first),
	# then remove it without crossing into another file system.
	local m
	for m in $(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$dir"
}
trap cleanup EXIT
chmod 0755 "$dir"
root="$dir/rootfs"
start=$(date +%s)

say "debootstrap $SUITE (minbase, iproute2, iptables, make) from $MIRROR"
debootstrap --variant=minbase --include=iproute2,iptables,ca-certificates,make \
	"$SUITE" "$root" "$MIRROR" >"$dir/debootstrap.log" 2>&1 ||
	{ tail -n 30 "$dir/debootstrap.log" >&2; say "debootstrap failed"; exit 1; }

# No service may start during the install, and the package must not create
# a main cluster: the harness initializes its own data directories.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 0755 "$root/usr/sbin/policy-rc.d"
mkdir -p "$root/etc/postgresql-common"
echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.conf"
cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc"

# HAProxy and PgBouncer: the client paths' tests (package clientpath) run
# in the job container too (make test-container); Patroni and etcd so that
# make setup finds everything there (the Patroni backend's tests need a
# writable cgroup freezer, which the job container has not). Patroni and
# etcd-server are optional: a suite without them gives an image without
# them.
required="postgresql-$PG_MAJOR haproxy pgbouncer"
optional="patroni etcd-server"
in_chroot() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C sh -c "$1"
}
in_chroot "apt-get update -qq" >"$dir/apt.log" 2>&1 ||
	{ tail -n 30 "$dir/apt.log" >&2; say "apt-get update in $SUITE failed"; exit 1; }
packages=$required
left_out=""
for p in $optional; do
	# A package the suite has has a candidate version. (Read whole, not
	# piped into grep -q: under pipefail, apt-cache killed by SIGPIPE
	# would fail the test.)
	policy=$(in_chroot "apt-cache policy $p" 2>/dev/null || true)
	if printf '%s\n' "$policy" | grep 'Candidate: [0-9]' >/dev/null; then
		packages="$packages $p"
	else
		left_out="$left_out $p"
	fi
done
left_out=${left_out# }
[ -z "$left_out" ] || say "$SUITE has no $left_out: left out of $IMAGE"
say "installing $packages"
in_chroot "apt-get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confold $packages" >>"$dir/apt.log" 2>&1 ||
	{ tail -n 30 "$dir/apt.log" >&2; say "apt-get install $packages failed"; exit 1; }
umount "$root/proc"

bindir="/usr/lib/postgresql/$PG_MAJOR/bin"
for b in postgres initdb pg_basebackup pg_ctl; do
	[ -x "$root$bindir/$b" ] || { say "$bindir/$b missing after the install"; exit 1; }
done
check="/usr/sbin/haproxy /usr/sbin/pgbouncer"
case " $packages " in *" patroni "*) check="$check /usr/bin/patroni" ;; esac
case " $packages " in *" etcd-server "*) check="$check /usr/bin/etcd" ;; esac
for b in $check; do
	[ -x "$root$b" ] || { say "$b missing after the install"; exit 1; }
done
chroot "$root" id postgres >/dev/null || { say "no postgres user after the install"; exit 1; }
if [ -n "$(ls -A "$root/etc/postgresql/$PG_MAJOR" 2>/dev/null)" ] || [ -n "$(ls -A "$root/var/lib/postgresql/$PG_MAJOR" 2>/dev/null)" ]; then
	say "the package created a default cluster; it should not have"
	exit 1
fi

# Smaller: no package cache, lists, docs, man pages or translations.
rm -f "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
	"$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
	"$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/*
: >"$root/etc/resolv.conf"

say "importing $IMAGE"
tar --numeric-owner -C "$root" -c . | docker import \
	--change "ENV PATH=$bindir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	--change "ENV LANG=C.UTF-8" \
	--change 'CMD ["sleep", "infinity"]' \
	--change "LABEL pgbench-ha.rev=$REV" \
	--change "LABEL pgbench-ha.packages=\"$packages\"" \
	--change "LABEL pgbench-ha.left-out=\"${left_out:-none}\"" \
	--message "debootstrap $SUITE minbase + $packages, iproute2, iptables, make${left_out:+ (not in $SUITE: $left_out)}" \
	- "$IMAGE" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
say "built $IMAGE ($((size / 1024 / 1024)) MB) in $(($(date +%s) - start)) s"
