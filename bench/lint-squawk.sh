#!/bin/sh
# cairn lint against Squawk (issue #18) on the same files, run on demand,
# never by make check:
#   sh bench/lint-squawk.sh [WORKDIR] [ROUNDS] [RUNS]   (default: build/bench-history 3 3)
# The files: the up.sql of every migration of bench/history.sh's repository
# (10,000; built here as history.sh builds it when WORKDIR has none), and
# tests/lint/*.sql (realistic PostgreSQL migrations) copied 200 times.
# Squawk 2.66 from npm into the cache t0910 uses. Both lint every file as
# running in a transaction (cairn's default; squawk --assume-in-transaction),
# timed by bench/alternate.py: hyperfine in alternating rounds, the load
# average printed at each round's start.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$SRC/build/bench-history}
ROUNDS=${2:-3}
RUNS=${3:-3}
CAIRN=$SRC/bin/cairn
SQUAWK_VERSION=2.66.0
SQUAWK_DIR=${CAIRN_SQUAWK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn/squawk-$SQUAWK_VERSION}
SQUAWK=$SQUAWK_DIR/node_modules/.bin/squawk
command -v hyperfine >/dev/null || { apt-get update -q && apt-get install -y -q hyperfine; }
test -x "$CAIRN" || make -C "$SRC" >/dev/null
test -x "$SQUAWK" || npm install --prefix "$SQUAWK_DIR" --no-save "squawk-cli@$SQUAWK_VERSION" >/dev/null
export GIT_CONFIG_NOSYSTEM=1 LC_ALL=C BENCH_IGNORE_FAILURE=1

mkdir -p "$WORK"
cd "$WORK"
if ! test -d big/.git; then
	git init -q -b main big
	python3 "$SRC/bench/gen-history.py" 100000 10000 10000 | git -C big fast-import --quiet --done
	git -C big repack -adq
	git -C big checkout -q -f main
fi
rm -rf lint-files lint-corpus
mkdir -p lint-files lint-corpus
# the up scripts alone: no cairn.yaml, so both read plain PostgreSQL files
git -C big archive main migrations | tar -x -C lint-files --wildcards '*/up.sql'
i=0
while test $i -lt 200; do
	for f in "$SRC"/tests/lint/*.sql; do
		cp "$f" "lint-corpus/$i-$(basename "$f")"
	done
	i=$((i + 1))
done
echo "files: $(ls lint-files/migrations | wc -l) up.sql, $(ls lint-corpus | wc -l) corpus files; $("$SQUAWK" --version)"
"$CAIRN" lint --format json lint-files/migrations >cairn-history.json || true
"$SQUAWK" --assume-in-transaction --reporter json 'lint-files/migrations/*/up.sql' >squawk-history.json || true
python3 -c "import json,sys; print('findings: cairn', len(json.load(open('cairn-history.json'))['findings']), 'squawk', len(json.load(open('squawk-history.json'))))"
python3 "$SRC/bench/alternate.py" lint-history "$ROUNDS" "$RUNS" "" \
	"cairn=$CAIRN lint $WORK/lint-files/migrations" \
	"squawk=$SQUAWK --assume-in-transaction $WORK/lint-files/migrations/*/up.sql"
python3 "$SRC/bench/alternate.py" lint-corpus "$ROUNDS" "$RUNS" "" \
	"cairn=$CAIRN lint $WORK/lint-corpus" \
	"squawk=$SQUAWK --assume-in-transaction $WORK/lint-corpus/*.sql"
