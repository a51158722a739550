#!/bin/sh
# Entrypoint of the test bed's MariaDB image (see mariadb.go). It does what
# the official mysql and mariadb images' docker-entrypoint.sh do, in short:
# on an empty /var/lib/mysql it initialises the data directory, sets root's
# password from MYSQL_ROOT_PASSWORD (or allows none with
# MYSQL_ALLOW_EMPTY_PASSWORD), creates root@'%' (MYSQL_ROOT_HOST), the
# optional MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD, and runs
# /docker-entrypoint-initdb.d/*.sql and *.sh; then it execs the server, so
# that mariadbd is PID 1 and `docker stop` (SIGTERM) shuts it down cleanly.
# The MARIADB_* names of the official mariadb image are accepted too.
set -eu

log() { echo "entrypoint: $*" >&2; }

# `docker run IMAGE --some-option` passes options to the server.
if [ "${1#-}" != "$1" ]; then
	set -- mariadbd "$@"
fi
case "$1" in
mariadbd | mysqld) ;;
*) exec "$@" ;;
esac

: "${MYSQL_ROOT_PASSWORD:=${MARIADB_ROOT_PASSWORD:-}}"
: "${MYSQL_ALLOW_EMPTY_PASSWORD:=${MARIADB_ALLOW_EMPTY_ROOT_PASSWORD:-}}"
: "${MYSQL_ROOT_HOST:=${MARIADB_ROOT_HOST:-%}}"
: "${MYSQL_DATABASE:=${MARIADB_DATABASE:-}}"
: "${MYSQL_USER:=${MARIADB_USER:-}}"
: "${MYSQL_PASSWORD:=${MARIADB_PASSWORD:-}}"

datadir=/var/lib/mysql
mkdir -p "$datadir" /run/mysqld
# Why chown at each start: a host folder or a volume made elsewhere may
# belong to another user; the server runs as mysql (user= in tarsup.cnf).
chown mysql:mysql "$datadir" /run/mysqld

if [ -d "$datadir/mysql" ]; then
	log "$datadir already holds a database: starting it as it is"
	exec "$@"
fi

if [ -z "$MYSQL_ROOT_PASSWORD" ] && [ -z "$MYSQL_ALLOW_EMPTY_PASSWORD" ]; then
	log "error: the database is uninitialised and no password option is given:"
	log "  set MYSQL_ROOT_PASSWORD (or MYSQL_ALLOW_EMPTY_PASSWORD=yes)"
	exit 1
fi

# sql_string quotes $1 as an SQL string literal.
sql_string() {
	printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"
}

log "initialising $datadir"
mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
	--skip-name-resolve --auth-root-authentication-method=normal >/dev/null

# A server without networking for the set-up, as the official images do:
# clients that wait for port 3306 do not see the database half made.
socket=/run/mysqld/init.sock
"$@" --skip-networking --socket="$socket" &
pid=$!
i=0
until mariadb-admin --socket="$socket" --user=root ping >/dev/null 2>&1; do
	if ! kill -0 "$pid" 2>/dev/null; then
		log "error: the server stopped during initialisation"
		exit 1
	fi
	i=$((i + 1))
	if [ "$i" -gt 300 ]; then
		log "error: the server did not answer within 30 s during initialisation"
		exit 1
	fi
	sleep 0.1
done

pw=$(sql_string "$MYSQL_ROOT_PASSWORD")
host=$(sql_string "$MYSQL_ROOT_HOST")
# Why printf and not echo: dash's echo would eat the backslashes of a password.
{
	# mariadb-install-db also makes root@<hostname>, root@127.0.0.1 and
	# root@::1 without a password: only root@localhost stays.
	printf '%s\n' "SET @@SESSION.SQL_LOG_BIN=0;" \
		"DELETE FROM mysql.global_priv WHERE User NOT IN ('mariadb.sys', 'root') OR Host <> 'localhost';" \
		"DELETE FROM mysql.proxies_priv WHERE User <> 'root' OR Host <> 'localhost';" \
		"FLUSH PRIVILEGES;" \
		"ALTER USER 'root'@'localhost' IDENTIFIED BY $pw;"
	if [ "$MYSQL_ROOT_HOST" != localhost ]; then
		printf '%s\n' "CREATE USER 'root'@$host IDENTIFIED BY $pw;" \
			"GRANT ALL ON *.* TO 'root'@$host WITH GRANT OPTION;" \
			"GRANT PROXY ON ''@'%' TO 'root'@$host WITH GRANT OPTION;"
	fi
	if [ -n "$MYSQL_DATABASE" ]; then
		printf '%s\n' "CREATE DATABASE IF NOT EXISTS \`$MYSQL_DATABASE\`;"
	fi
	if [ -n "$MYSQL_USER" ] && [ -n "$MYSQL_PASSWORD" ]; then
		printf '%s\n' "CREATE USER $(sql_string "$MYSQL_USER")@'%' IDENTIFIED BY $(sql_string "$MYSQL_PASSWORD");"
		if [ -n "$MYSQL_DATABASE" ]; then
			printf '%s\n' "GRANT ALL ON \`$MYSQL_DATABASE\`.* TO $(sql_string "$MYSQL_USER")@'%';"
		fi
	fi
	printf '%s\n' "FLUSH PRIVILEGES;"
} | mariadb --socket="$socket" --user=root

for f in /docker-entrypoint-initdb.d/*; do
	case "$f" in
	*.sql)
		log "running $f"
		MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb --socket="$socket" --user=root ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f"
		;;
	*.sh)
		log "running $f"
		. "$f"
		;;
	esac
done

kill -TERM "$pid"
wait "$pid" || true
log "initialisation done: starting the server"
exec "$@"
