#!/bin/sh
# PostgreSQL driver benchmarks (issue #6), run on demand, never by `make check`:
#
#   make && make build/tests/pg-driver && sh bench/pg-bench.sh [apply|copy|all]
#
# The COPY benchmark drives the driver through tests/helpers/pg-driver, which
# streams the file from disk the way the engine streams it from a bundle.
#
# Everything runs against one throwaway server started by tests/lib-pg.sh
# (Unix socket, fsync off), the same server for every tool in a run.
#   apply: 1,000 one-table migrations, each in its own transaction with a
#          bookkeeping insert: the real psql binary (one -f script),
#          cairn-apply on a signed bundle (verification included), and
#          sqitch (Debian, with the real psql binary; BENCH_SQITCH=0 skips,
#          BENCH_SQITCH_RUNS rounds, default 3), in interleaved rounds;
#          then one more run of psql and cairn-apply with every statement's
#          server time logged, summed by statement.
#   copy:  loading a CSV file of BENCH_COPY_MIB MiB (default 1024): psql's
#          \copy against the driver's streamed COPY, with peak RSS.
# Needs hyperfine (copy). BENCH_N (default 1000), BENCH_RUNS (default 5).
set -eu
SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
N=${BENCH_N:-1000}
RUNS=${BENCH_RUNS:-5}
PD="$SRC_DIR/build/tests/pg-driver"
test -x "$PD" || { echo "bench: build first: make build/tests/pg-driver" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench: needs hyperfine" >&2; exit 2; }

. "$SRC_DIR/bench/lib-pg-server.sh"
bench_pg_start pg-bench
echo "# psql: $PSQL"
BENCH_DIR=$TRASH_DIRECTORY
. "$SRC_DIR/bench/lib-bench.sh"


bench_apply() {
	# the workload: a cairn project, its signed bundle, and the same SQL for
	# psql and sqitch
	PATH="$SRC_DIR/bin:$PATH"
	export CAIRN_TEMPLATE_DIR="$SRC_DIR/templates"
	export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
	export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
	git init -q p
	(cd p && cairn init >/dev/null)
	sed -i -e 's/^version_style: .*/version_style: sequence/' -e 's/^drivers: .*/drivers: [postgres]/' p/cairn.yaml
	mkdir -p sq/deploy sq/revert
	printf '%%syntax-version=1.0.0\n%%project=bench\n\n' >sq/sqitch.plan
	: >psql.sql
	i=1
	while test $i -le "$N"; do
		v=$(printf '%05d' $i)
		up="CREATE TABLE t_$v (id integer PRIMARY KEY, v text);"
		mkdir -p "p/migrations/${v}_t$v"
		echo "$up" >"p/migrations/${v}_t$v/up.sql"
		echo "DROP TABLE t_$v;" >"p/migrations/${v}_t$v/down.sql"
		printf 'BEGIN;\n%s\nINSERT INTO books.migrations (version, name, checksum, applied_at) VALUES ('"'"'%s'"'"', '"'"'%s_t%s'"'"', '"'"'sha256:%064d'"'"', now());\nCOMMIT;\n' \
			"$up" "$v" "$v" "$v" "$i" >>psql.sql
		echo "$up" >"sq/deploy/t$v.sql"
		echo "DROP TABLE t_$v;" >"sq/revert/t$v.sql"
		echo "t$v 2026-11-22T00:00:00Z Bench <bench@example.com> # t$v" >>sq/sqitch.plan
		i=$((i + 1))
	done
	git -C p add -A && git -C p commit -q -m "$N migrations"
	cairn keygen --no-passphrase ci >/dev/null 2>&1
	(cd p && cairn build --sign ../ci.key -o ../bundle.tar.gz >/dev/null)
	cat >sq/sqitch.conf <<-EOF
	[core]
		engine = pg
	[engine "pg"]
		target = db:pg:bench
		client = $PSQL
	EOF
	# Each run starts from a new database after a CHECKPOINT and a sync, so
	# the files the previous run's DROP DATABASE left to the file system are
	# not written out during the next tool's run (with hyperfine's tool-by-
	# tool order, every run after the first paid for its predecessor's).
	cat >prep-psql.sh <<-EOF
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" &&
	"$PSQL" -X -q -d bench -c "CREATE SCHEMA books; CREATE TABLE books.migrations (version text PRIMARY KEY, name text, checksum text, applied_at timestamptz)" &&
	"$PSQL" -X -q -d postgres -c CHECKPOINT && sync
	EOF
	cat >prep.sh <<-EOF
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench" &&
	"$PSQL" -X -q -d postgres -c CHECKPOINT && sync
	EOF
	# interleaved rounds: psql, cairn-apply, (sqitch), psql, cairn-apply, ...
	sqitch=
	if command -v sqitch >/dev/null && test "${BENCH_SQITCH:-1}" = 1; then
		sqitch=1
	fi
	r=1
	while test $r -le "$RUNS"; do
		timed "psql, $N transactions + bookkeeping inserts" "sh prep-psql.sh" \
			"$PSQL -X -q -v ON_ERROR_STOP=1 -d bench -f psql.sql"
		timed "cairn-apply apply (verifies the bundle)" "sh prep.sh" \
			"cairn-apply apply bundle.tar.gz --env bench --db dbname=bench --key ci.pub"
		if test -n "$sqitch" && test $r -le "${BENCH_SQITCH_RUNS:-3}"; then
			timed "sqitch deploy (Debian, real psql)" "sh prep.sh" \
				"cd sq && SQITCH_CONFIG=sqitch.conf sqitch --quiet deploy"
		fi
		r=$((r + 1))
	done
	summary "### Apply $N one-table migrations ($RUNS interleaved rounds, load $(cut -d' ' -f1-3 /proc/loadavg))" >apply.md
	# where the server's time goes: every statement's duration from the
	# server log, one more run of each, summed by the statement's first words
	statements() { # statements LABEL PREPARE COMMAND
		sh -c "$2"
		"$PSQL" -X -q -d postgres -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
		from=$(wc -l <"$pg_log")
		sh -c "$3" >/dev/null
		"$PSQL" -X -q -d postgres -c "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()" >/dev/null
		echo
		echo "$1, server time by statement:"
		echo
		tail -n +"$((from + 1))" "$pg_log" | grep -o 'duration: [0-9.]* ms  statement: .\{0,40\}' |
			awk '{ k = $5 " " $6 " " $7; sub(/t_[0-9]+.*/, "t_N", k); sub(/\(.*/, "", k); s[k] += $2; n[k]++; t += $2 }
			END { for (k in s) if (s[k] >= 1) printf "    %9.1f ms %6d× %s\n", s[k], n[k], k; printf "    %9.1f ms in all\n", t }' | sort -rn
	}
	statements "psql" "sh prep-psql.sh" "$PSQL -X -q -v ON_ERROR_STOP=1 -d bench -f psql.sql" >>apply.md
	statements "cairn-apply" "sh prep.sh" "cairn-apply apply bundle.tar.gz --env bench --db dbname=bench --key ci.pub" >>apply.md
	"$PSQL" -X -At -d bench -c "select count(*) from cairn.cairn_migrations where state = 'applied'" | sed 's/^/# rows applied: /'
	cat apply.md
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

# copy-bundle: the same load end to end, from a signed bundle through
# cairn-apply (bundle verified at open, the member gunzipped and re-hashed
# while it streams). BENCH_COPY_MIB sizes the file here too.
bench_copy_bundle() {
	mib=${BENCH_COPY_MIB:-1024}
	PATH="$SRC_DIR/bin:$PATH"
	export CAIRN_TEMPLATE_DIR="$SRC_DIR/templates"
	export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
	export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
	git init -q cp
	(cd cp && cairn init >/dev/null)
	sed -i -e 's/^version_style: .*/version_style: sequence/' -e 's/^drivers: .*/drivers: [postgres]/' cp/cairn.yaml
	m=cp/migrations/0001_big
	mkdir -p $m/data
	rows=$((mib * 1024 * 1024 / 64))
	awk -v n="$rows" 'BEGIN { for (i = 1; i <= n; i++) printf "%d,name %010d,%d,2026-11-22 10:%02d:%02d,some padding text here\n", i, i, i * 7, i % 60, i % 60 }' >$m/data/big.csv
	ls -l $m/data/big.csv | awk '{ printf "# CSV: %.0f MiB\n", $5 / 1048576 }'
	printf 'CREATE TABLE big (id bigint, name text, n bigint, at timestamp, pad text);\nCOPY big FROM '"'"'data/big.csv'"'"' WITH (FORMAT csv);\n' >$m/up.sql
	echo "DROP TABLE big;" >$m/down.sql
	git -C cp add -A && git -C cp commit -q -m load
	cairn keygen --no-passphrase ci >/dev/null 2>&1 || true
	(cd cp && cairn build --sign ../ci.key -o ../load.tar.gz >/dev/null)
	ls -l load.tar.gz | awk '{ printf "# bundle: %.0f MiB\n", $5 / 1048576 }'
	cat >prep.sh <<-EOF
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS bench WITH (FORCE)" -c "CREATE DATABASE bench"
	EOF
	hyperfine -N --runs "${BENCH_COPY_RUNS:-3}" --export-markdown copy-bundle.md --prepare "sh prep.sh" \
		--command-name "psql \\copy" "$PSQL -X -q -d bench -c \"CREATE TABLE big (id bigint, name text, n bigint, at timestamp, pad text)\" -c \"\\\\copy big from '$m/data/big.csv' with (format csv)\"" \
		--command-name "cairn-apply apply (bundle)" "cairn-apply apply load.tar.gz --env bench --db dbname=bench --key ci.pub" | tee copy-bundle.txt
	sh prep.sh
	/usr/bin/time -f '%M' -o rss.bundle cairn-apply apply load.tar.gz --env bench --db dbname=bench --key ci.pub >/dev/null
	echo "# cairn-apply peak RSS: $(cat rss.bundle) KiB"
	cat copy-bundle.md
}

case "$what" in
apply) bench_apply ;;
copy) bench_copy ;;
copy-bundle) bench_copy_bundle ;;
all) bench_apply; bench_copy; bench_copy_bundle ;;
*) echo "usage: sh bench/pg-bench.sh [apply|copy|copy-bundle|all]" >&2; exit 2 ;;
esac
