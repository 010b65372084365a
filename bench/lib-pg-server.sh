# Shared by the PostgreSQL benchmarks: one throwaway server from
# tests/lib-pg.sh (initdb in a temporary directory, Unix socket only, run as
# an unprivileged user when root, fsync off), stopped and removed on exit.
#
#   SRC_DIR=... ; . "$SRC_DIR/bench/lib-pg-server.sh"; bench_pg_start NAME
#
# leaves the shell in the server's temporary directory ($TRASH_DIRECTORY),
# with LC_ALL=C, and prints the server's version as a "# server:" line
# (with $2's words after it). BENCH_PG_DIR names the directory instead of a
# new one; BENCH_KEEP keeps it at exit.

# lib-pg.sh expects the test library's few names.
TEST_NAME=pg-bench
test_failure=0
test_at_done=
say() { printf '%s\n' "$*"; }
test_done() { exit 1; }

bench_pg_start() { # bench_pg_start NAME [NOTE]
	TRASH_DIRECTORY=${BENCH_PG_DIR:-$(mktemp -d "/tmp/cairn-bench-$1.XXXXXX")}
	mkdir -p "$TRASH_DIRECTORY"
	chmod 755 "$TRASH_DIRECTORY"
	TEST_NAME=$1
	. "$SRC_DIR/tests/lib-pg.sh"
	trap 'pg_stop; test -n "${BENCH_KEEP:-}" || rm -rf "$TRASH_DIRECTORY"' EXIT
	pg_start
	cd "$TRASH_DIRECTORY"
	export LC_ALL=C
	echo "# server: $("$PSQL" -X -At -c 'show server_version') on $(nproc) CPUs${2:+; $2}"
}
