# A throwaway PostgreSQL server for the tests. Source it after test-lib.sh:
#
#   . "$(dirname "$0")/test-lib.sh"
#   . "$TEST_DIRECTORY/lib-pg.sh"
#   pg_start            # or skip_all when there is no server and CI is unset
#
# pg_start runs initdb into "$TRASH_DIRECTORY/pg" and starts a postmaster
# that listens on a Unix socket in that directory only: listen_addresses=''
# turns TCP off, so nothing outside this test can reach it. As root, the
# server runs as an unprivileged user (CAIRN_PG_USER, else cairn-test, created
# when missing, else postgres, else nobody), and the directory is theirs.
# It exports PGHOST, PGPORT, PGDATABASE and PGUSER; libpq and psql need no
# other setting. pg_stop runs at test_done and on a signal.
#
# Speed: this server holds nothing worth keeping, so fsync, synchronous_commit
# and full_page_writes are off (a crash of the host loses the test's data,
# which the next run recreates anyway). Never copy these settings elsewhere.
#
# With CI=true the tests must never be skipped: a server that cannot start
# fails the script loudly instead.

PG_BINDIR=${PG_BINDIR:-}
if test -z "$PG_BINDIR"; then
	for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
		if test -x "/usr/lib/postgresql/$v/bin/initdb"; then
			PG_BINDIR=/usr/lib/postgresql/$v/bin
			break
		fi
	done
fi
# The real psql binary: Debian's /usr/bin/psql is a Perl wrapper (25 ms/start).
PSQL="$PG_BINDIR/psql"
export PG_BINDIR PSQL

# The driver's test helper (tests/helpers/pg-driver.c): the PostgreSQL
# driver run without the engine, for the driver's own tests.
PD="$SRC_DIR/build/tests/pg-driver"

# pg_mig DIR UP DOWN: a migration directory for "$PD" migrate.
pg_mig() {
	mkdir -p "$1" && printf '%s\n' "$2" >"$1/up.sql" && printf '%s\n' "$3" >"$1/down.sql"
}

pg_fail_() {
	say "not ok - PostgreSQL test server: $*"
	if test -n "$pg_log" && test -f "$pg_log"; then sed -e 's/^/#   /' "$pg_log" | tail -n 20; fi
	test_failure=$((test_failure + 1))
	test_done
}

# pg_unavailable_ REASON: skip the script, or fail it on CI.
pg_unavailable_() {
	if test "${CI:-}" = true; then
		pg_fail_ "$1 (CI=true: PostgreSQL tests are never skipped)"
	fi
	say "# SKIP $TEST_NAME: $1 (run 'make deps' to install PostgreSQL)"
	test_done
}

# The user the server runs as, and a prefix that runs a command as that user.
pg_pick_user_() {
	if test "$(id -u)" -ne 0; then
		pg_user=$(id -un)
		pg_as=
		return 0
	fi
	pg_user=${CAIRN_PG_USER:-}
	if test -z "$pg_user"; then
		if id cairn-test >/dev/null 2>&1; then
			pg_user=cairn-test
		elif command -v useradd >/dev/null 2>&1 &&
		     useradd --system --no-create-home --home-dir /nonexistent \
			     --shell /usr/sbin/nologin cairn-test >/dev/null 2>&1; then
			pg_user=cairn-test
		elif id postgres >/dev/null 2>&1; then
			pg_user=postgres
		else
			pg_user=nobody
		fi
	fi
	pg_as="runuser -u $pg_user --"
}

pg_start() {
	pg_dir=
	pg_log=
	test -n "$PG_BINDIR" && test -x "$PG_BINDIR/initdb" ||
		pg_unavailable_ "no PostgreSQL server binaries under /usr/lib/postgresql"
	pg_pick_user_
	# The data directory and socket live in the trash directory, unless the
	# server's user cannot reach it or the socket path would pass the
	# 107-byte limit of sun_path; then in a private directory under /tmp,
	# linked from the trash directory and removed by pg_stop.
	pg_dir="$TRASH_DIRECTORY/pg"
	pg_tmp=
	if test ${#pg_dir} -gt 80 || ! $pg_as test -x "$TRASH_DIRECTORY" 2>/dev/null; then
		pg_tmp=$(mktemp -d /tmp/cairn-pg.XXXXXX) || pg_fail_ "mktemp failed"
		chmod 755 "$pg_tmp"
		ln -s "$pg_tmp/pg" "$pg_dir"
		pg_dir="$pg_tmp/pg"
	fi
	mkdir -p "$pg_dir" || pg_fail_ "cannot create $pg_dir"
	chmod 700 "$pg_dir"
	if test -n "$pg_as"; then chown "$pg_user" "$pg_dir" || pg_fail_ "cannot chown $pg_dir to $pg_user"; fi
	pg_log="$pg_dir/server.log"
	$pg_as "$PG_BINDIR/initdb" -D "$pg_dir/data" -U cairn --auth=trust -E UTF8 \
		--locale=C --no-sync >"$pg_dir/initdb.log" 2>&1 ||
		{ pg_log="$pg_dir/initdb.log"; pg_fail_ "initdb failed"; }
	# The role cairn_pw authenticates with a password over the socket (the
	# password-handling tests use it); everyone else is trusted.
	$pg_as sh -c "cat >'$pg_dir/data/pg_hba.conf'" <<-EOF || pg_fail_ "cannot write pg_hba.conf"
	local all cairn_pw scram-sha-256
	local all all trust
	EOF
	$pg_as sh -c "cat >>'$pg_dir/data/postgresql.conf'" <<-EOF || pg_fail_ "cannot write postgresql.conf"
	listen_addresses = ''
	unix_socket_directories = '$pg_dir'
	unix_socket_permissions = 0777
	port = 5432
	fsync = off
	synchronous_commit = off
	full_page_writes = off
	max_connections = 60
	shared_buffers = 64MB
	max_wal_size = 4GB
	checkpoint_timeout = 30min
	log_min_messages = warning
	log_statement = 'none'
	log_min_error_statement = panic
	EOF
	chmod 755 "$pg_dir"
	$pg_as "$PG_BINDIR/pg_ctl" -D "$pg_dir/data" -l "$pg_log" -w -t 60 start \
		>"$pg_dir/pg_ctl.log" 2>&1 || pg_fail_ "the server did not start"
	pg_running=t
	trap 'pg_stop; exit 130' INT TERM HUP
	PGHOST="$pg_dir"
	PGPORT=5432
	PGDATABASE=postgres
	PGUSER=cairn
	export PGHOST PGPORT PGDATABASE PGUSER
	unset PGPASSWORD PGSERVICE PGSERVICEFILE PGPASSFILE PGHOSTADDR PGOPTIONS PGSSLMODE
	"$PSQL" -X -q -c 'select 1' >/dev/null 2>"$pg_dir/psql.log" ||
		{ pg_log="$pg_dir/psql.log"; pg_fail_ "psql cannot reach the server"; }
	test_at_done="pg_stop; $test_at_done"
}

pg_stop() {
	if test -n "$pg_running"; then
		$pg_as "$PG_BINDIR/pg_ctl" -D "$pg_dir/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
			$pg_as "$PG_BINDIR/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1
		pg_running=
	fi
	if test -n "$pg_tmp"; then
		rm -rf "$pg_tmp"
		pg_tmp=
	fi
}

# pg_preload SO: the server restarted with the module SO (a copy in the
# server's directory, which its user can read) in shared_preload_libraries.
pg_preload() {
	cp "$1" "$pg_dir/" && chmod 644 "$pg_dir/${1##*/}" &&
	$pg_as sh -c "echo \"shared_preload_libraries = '$pg_dir/${1##*/}'\" >>'$pg_dir/data/postgresql.conf'" &&
	$pg_as "$PG_BINDIR/pg_ctl" -D "$pg_dir/data" -l "$pg_log" -w -t 60 restart >"$pg_dir/pg_ctl.log" 2>&1
}

# psql against the test server: quiet, no psqlrc, stop at the first error,
# unaligned tuples-only output (easy to compare with test_cmp).
pg_sql() {
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# pg_start_app: pg_start for the applier's tests on database app: none of
# the caller's CAIRN_ENV, CAIRN_DB, CAIRN_LOCK_TIMEOUT, CAIRN_CHECKPOINT,
# CAIRN_CHECKPOINT_KEY or CAIRN_APPLY_CONFIG, and DB the DSN of database app (not created: see
# pg_fresh_db).
pg_start_app() {
	unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY CAIRN_APPLY_CONFIG
	pg_start
	DB="postgresql:///app?host=$PGHOST"
}

# bk [DBNAME] SQL: one query on database DBNAME (app when only SQL is
# given), rows as a|b lines: what the catalog and the books really hold.
bk() {
	if test $# -ge 2; then
		pg_sql -d "$1" -c "$2"
	else
		pg_sql -d app -c "$1"
	fi
}

# pg_dsn NAME: the DSN of database NAME on the test server.
pg_dsn() {
	echo "postgresql:///$1?host=$PGHOST"
}

# pg_project DIR: apply_project's project (lib-apply.sh), on PostgreSQL only.
pg_project() {
	apply_project "$1" &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" "$1/cairn.yaml"
}

# pg_config [LINE]: cairn-apply.yaml with environment dev on $DB, signed
# by ci.pub, LINE (indented under dev) added.
pg_config() {
	cat >cairn-apply.yaml <<-EOF
	environments:
	  dev:
	    database: { dsn: "$DB" }
	    builders: [ci.pub]
	    $1
	EOF
}

# pg_config_lock LOCK_TIMEOUT BUDGET: pg_config with lock_timeout and
# lock_retry_budget set.
pg_config_lock() {
	pg_config "postgres: { lock_timeout: $1, lock_retry_budget: $2 }"
}

# pg_hold DB TABLE SECONDS SQL: session "holder" runs SQL in a transaction
# left open for SECONDS; its psql's pid in $holder, its backend's in
# $holder_pid; returns once it holds a granted lock on TABLE.
pg_hold() {
	{ PGAPPNAME=holder "$PSQL" -X -q -d "$1" -c "begin; $4; select pg_sleep($3); commit;" >/dev/null 2>&1 & } &&
	holder=$! &&
	n=0 &&
	while test "$(pg_sql -d "$1" -c "select count(*) from pg_locks l join pg_stat_activity a using (pid) where a.application_name = 'holder' and l.relation = '$2'::regclass and l.granted")" = 0; do
		n=$((n + 1)) &&
		test $n -lt 500 &&
		sleep 0.02 || { echo >&2 "pg_hold: no lock on $2 after 10 s"; return 1; }
	done &&
	holder_pid=$(pg_sql -d "$1" -c "select pid from pg_stat_activity where application_name = 'holder'")
}

# pg_fresh_db NAME: an empty database, created anew.
pg_fresh_db() {
	pg_sql -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\""
}

# pg_project_ab DIR: a PostgreSQL project DIR (lib-apply.sh) with tables
# t_0001_a and t_0002_b, built as v1.tar.gz (the first) and v2.tar.gz (both)
pg_project_ab() {
	apply_project "$1" &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" "$1/cairn.yaml" &&
	apply_table "$1" 0001_a &&
	apply_build "$1" "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_table "$1" 0002_b &&
	apply_build "$1" "$TRASH_DIRECTORY/v2.tar.gz"
}

# pg_plain_db NAME: a new database NAME (dropped first) owned by a login
# role NAME (created when missing) that is no superuser and holds nothing
# the role check names (apply/role.h): the role an environment asking
# more than a build must apply as, privileged_role: refuse being its
# default (attack15h). Its DSN: postgresql://NAME@/NAME?host=$PGHOST.
pg_plain_db() {
	pg_sql -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" \
		-c "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$1') THEN CREATE ROLE \"$1\" LOGIN; END IF; END \$\$" \
		-c "CREATE DATABASE \"$1\" OWNER \"$1\""
}

# pg_rechain DBNAME: what an attacker who can write the database does to
# hide an edit of its books: every hash recomputed with cairn's unkeyed
# encoding (apply/audit.c) and the bookkeeping rows pointed at the new hashes
pg_rechain() {
	pg_sql -d "$1" -c "DO \$\$
	DECLARE r record; prev text := repeat('0', 64); h text; b text;
	BEGIN
	  FOR r IN SELECT * FROM cairn.cairn_audit ORDER BY seq LOOP
	    b := E'cairn-audit-v1\n';
	    b := b || octet_length(r.seq::text) || ':' || r.seq::text || E'\n'
	           || octet_length(r.at) || ':' || r.at || E'\n'
	           || octet_length(r.actor) || ':' || r.actor || E'\n'
	           || octet_length(r.action) || ':' || r.action || E'\n'
	           || octet_length(r.version) || ':' || r.version || E'\n'
	           || octet_length(r.from_version) || ':' || r.from_version || E'\n'
	           || octet_length(r.to_version) || ':' || r.to_version || E'\n'
	           || octet_length(r.bundle_id) || ':' || r.bundle_id || E'\n'
	           || octet_length(r.environment) || ':' || r.environment || E'\n'
	           || octet_length(r.detail) || ':' || r.detail || E'\n'
	           || octet_length(prev) || ':' || prev || E'\n';
	    h := encode(sha256(convert_to(b, 'UTF8')), 'hex');
	    UPDATE cairn.cairn_audit SET prev_hash = prev, hash = h WHERE seq = r.seq;
	    UPDATE cairn.cairn_migrations SET audit_hash = h WHERE audit_hash = r.hash;
	    prev := h;
	  END LOOP;
	END \$\$"
}
