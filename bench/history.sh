#!/bin/sh
# Benchmarks of issue #3 (history checks), run on demand, never by make check:
#   sh bench/history.sh [WORKDIR]        (default: build/bench-history)
# Builds (once, then reuses) a repository of 10,000 migrations and 100,000
# commits with git fast-import, then times with hyperfine:
#   1. cairn check --staged with one new migration staged    (target: median <= 100 ms)
#   2. cairn check --pre-receive for a push of 10 commits     (target: <= 200 ms)
#   3. cairn list (provenance of all 10,000) against
#      git log --name-status --format=%H -- migrations/       (target: <= 1.5x)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$SRC/build/bench-history}
CAIRN=$SRC/bin/cairn
command -v hyperfine >/dev/null || { apt-get update -q && apt-get install -y -q hyperfine; }
test -x "$CAIRN" || make -C "$SRC" >/dev/null
export GIT_CONFIG_NOSYSTEM=1 HOME="$WORK" LC_ALL=C

mkdir -p "$WORK"
cd "$WORK"
if ! test -d big/.git; then
	rm -rf big
	git init -q -b main big
	python3 "$SRC/bench/gen-history.py" 100000 10000 10000 | git -C big fast-import --quiet --done
	git -C big repack -adq
	git -C big checkout -q -f main
fi
echo "repository: $(git -C big rev-list --count main) commits, $(git -C big ls-tree main migrations/ | wc -l) migrations, $(git -C big tag | wc -l) tags"

# 1. pre-commit: one new migration staged on main
git -C big reset -q --hard main
git -C big clean -q -fd
mkdir -p big/migrations/00010001_bench_new
echo "CREATE TABLE bench_new (id integer);" >big/migrations/00010001_bench_new/up.sql
echo "DROP TABLE bench_new;" >big/migrations/00010001_bench_new/down.sql
git -C big add -A
(cd big && "$CAIRN" check --staged)
hyperfine -N --warmup 3 --runs 20 --export-json staged.json \
	"$CAIRN -C $WORK/big check --staged"

# 2. pre-receive: a bare server at main~10 receiving the last 10 commits
rm -rf server.git
git clone -q --bare big server.git
old=$(git -C big rev-parse main~10)
new=$(git -C big rev-parse main)
echo "$old $new refs/heads/main" >push.txt
(cd server.git && git update-ref refs/heads/main "$old" && "$CAIRN" check --pre-receive <../push.txt)
hyperfine --warmup 3 --runs 20 --export-json pre-receive.json \
	"$CAIRN -C $WORK/server.git check --pre-receive <$WORK/push.txt"
git -C big reset -q --hard main
git -C big clean -q -fd

# 3. provenance of every migration against git log on the same repository
hyperfine --warmup 1 --runs 5 --export-json list.json \
	"$CAIRN -C $WORK/big list >/dev/null" \
	"git -C $WORK/big log --name-status --format=%H -- migrations/ >/dev/null"
