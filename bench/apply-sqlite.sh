#!/bin/sh
# Applier on SQLite (issue #5): cairn-apply against the sqlite3 CLI running
# the same SQL, dbmate (npm) and sqitch (Debian), same run, same machine.
#
#   bench/apply-sqlite.sh [N...]           (default: 1000 5000)
#
# Environment:
#   BENCH_DIR   work directory (default /tmp/cairn-bench-apply)
#   RUNS        interleaved runs per tool (default 3)
#   DBMATE      dbmate binary (default: $BENCH_DIR/tools/node_modules/.bin/dbmate,
#               installed there with 'npm install dbmate' when npm is present)
#   SQITCH_MAX  largest N sqitch is run for (default 1000: it needs ~15 ms a change)
#   PREPARE=1   only build the workloads (projects, bundles, SQL files)
#
# Every tool writes a new file with SQLite's defaults: rollback journal
# (journal_mode=DELETE) and synchronous=FULL. cairn-apply never changes a
# file's journal mode, sets synchronous=FULL so a committed migration
# survives a power cut, and while it holds its run lock keeps the rollback
# journal between transactions (journal_mode=PERSIST on its connection; the
# file is in DELETE mode again when it ends). PERSIST has the same crash
# safety as DELETE and no fewer fsyncs; it saves creating and deleting the
# journal file at every commit. So the CLI runs twice: as the issue's
# baseline (SQLite's defaults) and with the same PERSIST journal, which
# shows what cairn-apply costs on top of SQLite with its journal choice
# taken away. Nobody is allowed a cheaper durability setting. dbmate's Go
# driver sets synchronous=NORMAL (one fsync fewer per commit); it runs
# twice, as shipped and with the URL parameter _sync=FULL that gives it the
# others' durability (strace: 4 fsyncs a migration, as the CLI; cairn-apply
# makes 5, one of them a directory sync with nothing to write).
#
# Workloads, N one-table migrations ("CREATE TABLE t_i (id integer primary
# key, v text)", down "DROP TABLE t_i"):
#   apply     new file, one transaction per migration; the sqlite3 baseline adds
#             one bookkeeping INSERT to each transaction
#   atomic    cairn-apply --atomic vs the sqlite3 CLI with everything in one transaction
#   noop      nothing pending with N applied (bundle verification included), against
#             the sqlite3 CLI reading the bookkeeping table of the same file
#   rollback  cairn-apply rollback --to 0 vs the sqlite3 CLI running the down
#             scripts, one transaction each with one bookkeeping UPDATE
# Results: markdown tables in $BENCH_DIR/results-N.md (wall time, CPU time
# and peak RSS per tool; nothing pending through hyperfine).
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/cairn-bench-apply}
RUNS=${RUNS:-3}
SQITCH_MAX=${SQITCH_MAX:-1000}
PATH="$SRC/bin:$PATH"
export CAIRN_TEMPLATE_DIR="$SRC/templates"
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com

command -v hyperfine >/dev/null || { echo "bench: needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "bench: needs the sqlite3 CLI" >&2; exit 2; }
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"

DBMATE=${DBMATE:-$BENCH_DIR/tools/node_modules/.bin/dbmate}
if ! test -x "$DBMATE" && command -v npm >/dev/null; then
	mkdir -p tools && (cd tools && npm install --no-audit --no-fund dbmate >npm.log 2>&1) || true
fi
test -x "$DBMATE" || DBMATE=
SQITCH=$(command -v sqitch || true)
if test -n "$SQITCH" && ! perl -MDBD::SQLite -e 1 2>/dev/null; then
	echo "bench: sqitch needs DBD::SQLite (apt-get install libdbd-sqlite3-perl); skipping it" >&2
	SQITCH=
fi
test -f ci.key || cairn keygen --no-passphrase ci >/dev/null 2>&1

# make_workload N: project, bundle, and the same SQL for every other tool.
make_workload() {
	n=$1
	d=w$n
	test -f "$d/bundle.tar.gz" && return 0
	rm -rf "$d" && mkdir -p "$d" && cd "$d"
	git init -q p
	(cd p && cairn init >/dev/null)
	sed -i -e 's/^version_style: .*/version_style: sequence/' -e 's/^drivers: .*/drivers: [sqlite]/' \
		p/cairn.yaml
	mkdir -p dbmate sqitch/deploy sqitch/revert
	printf '[core]\n\tengine = sqlite\n\tplan_file = sqitch.plan\n\ttop_dir = .\n' >sqitch/sqitch.conf
	printf '%%syntax-version=1.0.0\n%%project=bench\n\n' >sqitch/sqitch.plan
	echo "CREATE TABLE bk (version text primary key, name text, checksum text, applied_at text, state text);" >cli-each.sql
	cp cli-each.sql cli-one.sql
	echo "BEGIN;" >>cli-one.sql
	: >cli-down.sql
	i=1
	while test $i -le "$n"; do
		v=$(printf '%05d' $i)
		up="CREATE TABLE t_$v (id integer primary key, v text);"
		down="DROP TABLE t_$v;"
		mkdir -p "p/migrations/${v}_t$v"
		printf '%s\n' "$up" >"p/migrations/${v}_t$v/up.sql"
		printf '%s\n' "$down" >"p/migrations/${v}_t$v/down.sql"
		ins="INSERT INTO bk VALUES ('$v', '${v}_t$v', 'sha256:0000000000000000000000000000000000000000000000000000000000000000', strftime('%Y-%m-%dT%H:%M:%SZ'), 'applied');"
		printf 'BEGIN;\n%s\n%s\nCOMMIT;\n' "$up" "$ins" >>cli-each.sql
		printf '%s\n%s\n' "$up" "$ins" >>cli-one.sql
		printf 'BEGIN;\n%s\nUPDATE bk SET state = '"'"'rolled_back'"'"' WHERE version = '"'"'%s'"'"';\nCOMMIT;\n' \
			"$down" "$v" >"down.$v"
		printf -- '-- migrate:up\n%s\n\n-- migrate:down\n%s\n' "$up" "$down" >"dbmate/${v}_t$v.sql"
		printf '%s\n' "$up" >"sqitch/deploy/t$v.sql"
		printf '%s\n' "$down" >"sqitch/revert/t$v.sql"
		printf 't%s 2026-11-22T00:00:00Z Bench <bench@example.com> # t%s\n' "$v" "$v" >>sqitch/sqitch.plan
		i=$((i + 1))
	done
	echo "COMMIT;" >>cli-one.sql
	# down scripts newest first
	ls down.* | sort -r | xargs cat >>cli-down.sql
	rm -f down.*
	git -C p add -A && git -C p commit -q -m "$n migrations"
	(cd p && cairn build --sign ../../ci.key -o ../bundle.tar.gz >/dev/null 2>&1)
	cd ..
}

. "$SRC/bench/lib-bench.sh"

for n in ${*:-1000 5000}; do
	make_workload "$n"
	test -n "${PREPARE:-}" && continue
	d=$BENCH_DIR/w$n
	R=$BENCH_DIR/results-$n.md
	key="--key $BENCH_DIR/ci.pub"
	fresh="rm -f $d/x.db $d/x.db-journal $d/sqitch.db"
	for f in each down; do
		{ echo "PRAGMA journal_mode=PERSIST;"; cat "$d/cli-$f.sql"; } >"$d/cli-$f-persist.sql"
	done
	: >"$T"
	{
	echo "## $n migrations ($RUNS interleaved runs each; $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
	} >"$R"
	echo "== $n: apply to a new file, one transaction per migration"
	r=1
	while test $r -le "$RUNS"; do
		timed "sqlite3 CLI (same SQL + 1 bookkeeping INSERT per transaction)" "$fresh" "sqlite3 $d/x.db <$d/cli-each.sql"
		timed "sqlite3 CLI, same, journal_mode=PERSIST" "$fresh" "sqlite3 $d/x.db <$d/cli-each-persist.sql"
		timed "cairn-apply apply" "$fresh" "cairn-apply apply $d/bundle.tar.gz --env bench --db sqlite:$d/x.db $key"
		if test -n "$DBMATE"; then
			timed "dbmate up (its default: synchronous=NORMAL)" "$fresh" "$DBMATE --url sqlite:$d/x.db --migrations-dir $d/dbmate --no-dump-schema up"
			timed "dbmate up, sqlite:...?_sync=FULL (the others' durability)" "$fresh" "$DBMATE --url 'sqlite:$d/x.db?_sync=FULL' --migrations-dir $d/dbmate --no-dump-schema up"
		fi
		if test -n "$SQITCH" && test "$n" -le "$SQITCH_MAX"; then
			timed "sqitch deploy" "$fresh" "cd $d/sqitch && sqitch deploy --quiet db:sqlite:$d/x.db"
		fi
		r=$((r + 1))
	done
	summary "### Apply $n one-table migrations to a new file" >>"$R"
	echo "== $n: everything in one transaction"
	r=1
	while test $r -le "$RUNS"; do
		timed "sqlite3 CLI, one transaction" "$fresh" "sqlite3 $d/x.db <$d/cli-one.sql"
		timed "cairn-apply apply --atomic" "$fresh" "cairn-apply apply $d/bundle.tar.gz --atomic --env bench --db sqlite:$d/x.db $key"
		r=$((r + 1))
	done
	summary "### --atomic: $n migrations in one transaction" >>"$R"
	echo "== $n: roll back everything"
	rm -f "$d/x.db" && cairn-apply apply "$d/bundle.tar.gz" --env bench --db "sqlite:$d/x.db" $key >/dev/null
	cp "$d/x.db" "$d/applied-cairn.db"
	rm -f "$d/z.db" && sqlite3 "$d/z.db" <"$d/cli-each.sql"
	cp "$d/z.db" "$d/applied-cli.db"
	r=1
	while test $r -le "$RUNS"; do
		timed "sqlite3 CLI, down scripts (1 transaction + 1 bookkeeping UPDATE each)" "rm -f $d/z.db-journal; cp $d/applied-cli.db $d/z.db" "sqlite3 $d/z.db <$d/cli-down.sql"
		timed "sqlite3 CLI, same, journal_mode=PERSIST" "rm -f $d/z.db-journal; cp $d/applied-cli.db $d/z.db" "sqlite3 $d/z.db <$d/cli-down-persist.sql"
		timed "cairn-apply rollback --to 0" "cp $d/applied-cairn.db $d/x.db" "cairn-apply rollback --db sqlite:$d/x.db --to 0"
		r=$((r + 1))
	done
	summary "### Roll back all $n" >>"$R"
	echo "== $n: nothing pending"
	cp "$d/applied-cairn.db" "$d/x.db"
	set -- -n "cairn-apply apply, nothing pending (bundle verification included)" \
		"cairn-apply apply $d/bundle.tar.gz --env bench --db sqlite:$d/x.db $key" \
		-n "cairn-apply verify (verification alone)" "cairn-apply verify $d/bundle.tar.gz $key" \
		-n "sqlite3 CLI, reading the books (its schema load included)" \
		"sqlite3 $d/x.db 'SELECT count(*) FROM cairn_migrations'"
	if test -n "$DBMATE"; then
		rm -f "$d/y.db" && "$DBMATE" --url "sqlite:$d/y.db" --migrations-dir "$d/dbmate" --no-dump-schema up >/dev/null
		set -- "$@" -n "dbmate up, nothing pending" "$DBMATE --url sqlite:$d/y.db --migrations-dir $d/dbmate --no-dump-schema up"
	fi
	hyperfine -N --warmup 3 --runs 40 --export-markdown "$R.noop" "$@" >/dev/null
	{ echo; echo "### Nothing pending, $n applied (hyperfine, 40 runs)"; echo; cat "$R.noop"; } >>"$R"
	rm -f "$R.noop"
	/usr/bin/time -f "%M" -o "$BENCH_DIR/.t" cairn-apply apply "$d/bundle.tar.gz" --env bench --db "sqlite:$d/x.db" $key >/dev/null
	echo "peak RSS, nothing pending: $(( $(cat "$BENCH_DIR/.t") / 1024 )) MiB" >>"$R"
	echo "== results for $n: $R"
	cat "$R"
done
