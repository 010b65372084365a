#!/bin/sh
# Benchmark (issue #4): `cairn build` of 5,000 migrations against the same
# work done by standard tools in the same run: `tar czf` of the migrations
# plus `openssl dgst -sha256` over every file. Budget: cairn <= 1.5x.
# Usage: sh bench/bundle-build.sh [N]   (from the repository, after 'make')
# Prints the figures; exits 1 when over budget. Needs git, python3, openssl.
set -e
N=${1:-5000}
src=$(cd "$(dirname "$0")/.." && pwd)
cairn="$src/bin/cairn"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
git init -q -b main p
cd p
"$cairn" init --name bench >/dev/null
python3 - "$N" <<'PY'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = "migrations/%014d_table_%d" % (20260101000000 + i, i)
    os.makedirs(d)
    with open(d + "/up.sql", "w") as f:
        f.write("CREATE TABLE t_%d (\n  id integer PRIMARY KEY,\n  name text NOT NULL,\n"
                "  created_at timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP\n);\n"
                "CREATE INDEX t_%d_name ON t_%d (name);\n" % (i, i, i))
    with open(d + "/down.sql", "w") as f:
        f.write("DROP TABLE t_%d;\n" % i)
    if i % 10 == 0:
        with open(d + "/migration.yaml", "w") as f:
            f.write("description: table number %d\n" % i)
PY
git add -A && git commit -q -m "$N migrations" && git gc -q
files=$(find migrations -type f | wc -l)

now() { date +%s.%N; }
best_cairn=999999 best_tools=999999
for run in 1 2 3; do
	t0=$(now)
	"$cairn" build -o "$work/b.tar.gz" 2>/dev/null >/dev/null
	t1=$(now)
	tar czf "$work/t.tar.gz" migrations
	find migrations -type f -print0 | xargs -0 openssl dgst -sha256 >/dev/null
	t2=$(now)
	best_cairn=$(echo "$t1 $t0 $best_cairn" | awk '{d=$1-$2; print (d<$3)?d:$3}')
	best_tools=$(echo "$t2 $t1 $best_tools" | awk '{d=$1-$2; print (d<$3)?d:$3}')
done
ratio=$(echo "$best_cairn $best_tools" | awk '{printf "%.2f", $1/$2}')
echo "build: $N migrations, $files files, $(stat -c %s "$work/b.tar.gz") bytes"
echo "cairn build:                              ${best_cairn}s (best of 3)"
echo "tar czf + openssl dgst -sha256 (same run): ${best_tools}s (best of 3)"
echo "ratio: $ratio (budget 1.5)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }'
