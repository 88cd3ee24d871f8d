#!/usr/bin/env bash
# Installs what pgbench-ha needs to run on Debian/Ubuntu: the PostgreSQL
# server binaries (initdb, postgres, pg_basebackup, pgbench), HAProxy and
# PgBouncer for the client paths (package clientpath), and Patroni and etcd
# for the Patroni backend. Does nothing when they are already there. Never
# starts a server: Debian's packages would start a default cluster on port
# 5432 (PgBouncer on 6432, etcd-server its etcd), so service starts are
# denied for the duration of the install.
set -euo pipefail

have_pg() {
	local d
	if d=$(pg_config --bindir 2>/dev/null) && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ]; then
		return 0
	fi
	for d in /usr/lib/postgresql/*/bin; do
		if [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ] && [ -x "$d/pgbench" ]; then
			return 0
		fi
	done
	return 1
}

have_proxies() {
	[ -x /usr/sbin/haproxy ] && [ -x /usr/sbin/pgbouncer ]
}

have_patroni() {
	command -v patroni >/dev/null 2>&1 && command -v etcd >/dev/null 2>&1
}

if have_pg && id postgres >/dev/null 2>&1 && have_proxies && have_patroni; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "setup: PostgreSQL server binaries, HAProxy, PgBouncer, Patroni or etcd are missing; install them as root:" >&2
	echo "  sudo apt-get install -y postgresql-15 haproxy pgbouncer patroni etcd-server   (or your distribution's packages)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "setup: no apt-get here: install the PostgreSQL server binaries (15 or later) with your package manager" >&2
	exit 1
fi

echo "setup: installing PostgreSQL server packages, patroni and etcd" >&2
policy=/usr/sbin/policy-rc.d
restore_policy=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod +x "$policy"
	restore_policy=yes
fi
trap '[ -n "$restore_policy" ] && rm -f "$policy"' EXIT
mkdir -p /etc/postgresql-common
if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
	echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
pkg=postgresql-15
apt-cache show "$pkg" >/dev/null 2>&1 || pkg=postgresql
apt-get install -y -qq -o Dpkg::Options::=--force-confold "$pkg" haproxy pgbouncer patroni etcd-server >/dev/null
have_pg || { echo "setup: $pkg installed but the server binaries were not found" >&2; exit 1; }
have_proxies || { echo "setup: haproxy and pgbouncer installed but not found in /usr/sbin" >&2; exit 1; }
have_patroni || { echo "setup: patroni and etcd-server installed but patroni or etcd not found" >&2; exit 1; }
echo "setup: done" >&2
