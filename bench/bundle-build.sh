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
import datetime, os, sys
n = int(sys.argv[1])
t0 = datetime.datetime(2026, 1, 1)
for i in range(n):
    v = (t0 + datetime.timedelta(minutes=i)).strftime("%Y%m%d%H%M%S")
    d = "migrations/%s_table_%d" % (v, i)
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
git add -A && git -c gc.auto=0 commit -q -m "$N migrations" && git gc -q
files=$(find migrations -type f | wc -l)

now() { date +%s.%N; }
best_cairn=999999 best_tools=999999
for run in 1 2 3; do
	t0=$(now)
	"$cairn" build -o "$work/b.tar.gz" 2>"$work/build.err" >/dev/null || { cat "$work/build.err"; exit 2; }
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
# for the record (no budget): verifying that bundle, 10,000 small members
"$cairn" keygen --no-passphrase "$work/k" >/dev/null 2>&1
"$cairn" sign "$work/b.tar.gz" --key "$work/k.key" >/dev/null 2>&1
t0=$(now)
"$src/bin/cairn-apply" verify "$work/b.tar.gz" --key "$work/k.pub" >/dev/null
t1=$(now)
gzip -dc "$work/b.tar.gz" | openssl dgst -sha256 >/dev/null
t2=$(now)
echo "cairn-apply verify of it: $(echo "$t1 $t0" | awk '{print $1-$2}')s; gzip -dc | openssl dgst: $(echo "$t2 $t1" | awk '{print $1-$2}')s"
awk -v r="$ratio" 'BEGIN { exit !(r <= 1.5) }'
