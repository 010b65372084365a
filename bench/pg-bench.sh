#!/bin/sh
# PostgreSQL driver benchmarks (issue #6), run on demand, never by `make check`:
#
#   make && make build/tests/pg-driver && sh bench/pg-bench.sh [apply|copy|all]
#
# Everything runs against one throwaway server started by tests/lib-pg.sh
# (Unix socket, fsync off), the same server for every tool in a run.
#   apply: 1,000 one-table migrations, each in its own transaction with a
#          bookkeeping insert: the real psql binary (one -f script), cairn's
#          PostgreSQL driver, and sqitch (Debian, with the real psql binary).
#   copy:  loading a CSV file of BENCH_COPY_MIB MiB (default 1024): psql's
#          \copy against the driver's streamed COPY, with peak RSS.
# Needs hyperfine. BENCH_N (default 1000), BENCH_RUNS (default 5).
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
N=${BENCH_N:-1000}
RUNS=${BENCH_RUNS:-5}
PD="$SRC_DIR/build/tests/pg-driver"
test -x "$PD" || { echo "bench: build first: make build/tests/pg-driver" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine" >&2; exit 2; }

# lib-pg.sh expects the test library's few names.
TRASH_DIRECTORY=$(mktemp -d /tmp/cairn-bench.XXXXXX)
chmod 755 "$TRASH_DIRECTORY"
TEST_NAME=pg-bench
test_failure=0
test_at_done=
say() { printf '%s\n' "$*"; }
test_done() { exit 1; }
. "$SRC_DIR/tests/lib-pg.sh"
cleanup() { pg_stop; rm -rf "$TRASH_DIRECTORY"; }
trap cleanup EXIT
pg_start
cd "$TRASH_DIRECTORY"
export LC_ALL=C
echo "# server: $("$PSQL" -X -At -c 'show server_version') on $(nproc) CPUs; psql: $PSQL"


bench_apply() {
	mkdir -p m
	: >psql.sql
	i=1
	while test $i -le "$N"; do
		v=$(printf '%05d' $i)
		mkdir -p "m/${v}_t"
		echo "CREATE TABLE t_$v (id integer PRIMARY KEY, name text NOT NULL);" >"m/${v}_t/up.sql"
		echo "DROP TABLE t_$v;" >"m/${v}_t/down.sql"
		printf 'BEGIN;\nCREATE TABLE t_%s (id integer PRIMARY KEY, name text NOT NULL);\nINSERT INTO books.migrations (version, name, checksum, applied_at) VALUES ('"'"'%s'"'"', '"'"'%s_t'"'"', '"'"'sha256:%s'"'"', now());\nCOMMIT;\n' \
			"$v" "$v" "$v" "$(printf '%064d' $i)" >>psql.sql
		i=$((i + 1))
	done
	ls -d m/* >list
	cat >prep-psql.sh <<-EOF
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" &&
	"$PSQL" -X -q -d bench -c "CREATE SCHEMA books; CREATE TABLE books.migrations (version text PRIMARY KEY, name text, checksum text, applied_at timestamptz)"
	EOF
	cat >prep.sh <<-EOF
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench"
	EOF
	# sqitch: a plan with N changes, deploy scripts only (as the others)
	mkdir -p sq/deploy sq/revert sq/verify
	{
		echo '%syntax-version=1.0.0'
		echo '%project=bench'
		echo
		i=1
		while test $i -le "$N"; do
			v=$(printf '%05d' $i)
			echo "CREATE TABLE t_$v (id integer PRIMARY KEY, name text NOT NULL);" >"sq/deploy/t_$v.sql"
			echo "DROP TABLE t_$v;" >"sq/revert/t_$v.sql"
			echo "t_$v 2026-11-22T00:00:00Z Bench <bench@example.com> # t_$v"
			i=$((i + 1))
		done
	} >sq/sqitch.plan
	cat >sq/sqitch.conf <<-EOF
	[core]
		engine = pg
	[engine "pg"]
		target = db:pg:bench
		client = $PSQL
	EOF
	set -- \
		--command-name "psql ($N transactions + bookkeeping inserts)" --prepare "sh prep-psql.sh" \
		"$PSQL -X -q -v ON_ERROR_STOP=1 -d bench -f psql.sql" \
		--command-name "cairn postgres driver" --prepare "sh prep.sh" \
		"$PD migrate dbname=bench $(tr '\n' ' ' <list)"
	hyperfine -N --runs "$RUNS" --export-markdown apply.md --export-json apply.json "$@" | tee apply.txt
	if command -v sqitch >/dev/null; then
		hyperfine -N --runs "${BENCH_SQITCH_RUNS:-2}" --export-markdown sqitch.md \
			--command-name "sqitch deploy" --prepare "sh prep.sh" \
			"sh -c 'cd sq && SQITCH_CONFIG=sqitch.conf sqitch --quiet deploy'" | tee sqitch.txt
	else
		echo "# sqitch not installed (apt-get install sqitch libdbd-pg-perl): skipped"
	fi
	cat apply.md
	test -f sqitch.md && cat sqitch.md
	"$PSQL" -X -At -d bench -c "select count(*) from cairn.cairn_migrations where state = 'applied'" 2>/dev/null | sed 's/^/# cairn rows applied in the last run: /' || true
}

bench_copy() {
	mib=${BENCH_COPY_MIB:-1024}
	mkdir -p c/data
	# rows of about 64 bytes until the file reaches the size asked for
	rows=$((mib * 1024 * 1024 / 64))
	awk -v n="$rows" 'BEGIN { for (i = 1; i <= n; i++) printf "%d,name %010d,%d,2026-11-22 10:%02d:%02d,some padding text here\n", i, i, i * 7, i % 60, i % 60 }' >c/data/big.csv
	ls -l c/data/big.csv | awk '{ printf "# CSV: %.0f MiB\n", $5 / 1048576 }'
	echo "COPY big FROM 'data/big.csv' WITH (FORMAT csv);" >c/up.sql
	cat >prep-copy.sh <<-EOF
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" &&
	"$PSQL" -X -q -d bench -c "CREATE TABLE big (id bigint, name text, n bigint, at timestamp, pad text)"
	EOF
	hyperfine -N --runs "${BENCH_COPY_RUNS:-3}" --export-markdown copy.md --prepare "sh prep-copy.sh" \
		--command-name "psql \\copy" "$PSQL -X -q -d bench -c \"\\\\copy big from 'c/data/big.csv' with (format csv)\"" \
		--command-name "cairn postgres driver COPY" "$PD exec dbname=bench c/up.sql --tx" | tee copy.txt
	sh prep-copy.sh
	/usr/bin/time -f '%M' -o rss.psql "$PSQL" -X -q -d bench -c "\\copy big from 'c/data/big.csv' with (format csv)"
	sh prep-copy.sh
	/usr/bin/time -f '%M' -o rss.cairn "$PD" exec dbname=bench c/up.sql --tx >/dev/null
	echo "# peak RSS: psql $(cat rss.psql) KiB, cairn driver $(cat rss.cairn) KiB"
	cat copy.md
}

case "$what" in
apply) bench_apply ;;
copy) bench_copy ;;
all) bench_apply; bench_copy ;;
*) echo "usage: sh bench/pg-bench.sh [apply|copy|all]" >&2; exit 2 ;;
esac
