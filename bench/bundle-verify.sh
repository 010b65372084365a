#!/bin/sh
# Benchmark (issue #4): `cairn-apply verify` of a bundle carrying 1 GiB of
# seed data, against `gzip -dc BUNDLE | openssl dgst -sha256` on the same
# file (the same work done by standard tools). Budget: time <= 1.3x, peak
# RSS <= 64 MiB. Usage: sh bench/bundle-verify.sh [MiB]  (after 'make')
# Needs git, openssl, GNU time (/usr/bin/time). Uses ~4 GiB of /tmp.
set -e
MIB=${1:-1024}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
git init -q -b main p
cd p
"$src/bin/cairn" init --name seed >/dev/null
m=migrations/20260101000000_seed
mkdir -p $m/data
printf 'CREATE TABLE seed (line text);\n' >$m/up.sql
printf 'DROP TABLE seed;\n' >$m/down.sql
# base64 text: compresses about as well as a real CSV dump does (~75%)
head -c $((MIB * 1024 * 1024 / 4 * 3)) /dev/urandom | base64 -w 100 >$m/data/seed.csv
git add -A && git commit -q -m seed
"$src/bin/cairn" keygen --no-passphrase "$work/ci" >/dev/null 2>&1
"$src/bin/cairn" build --sign "$work/ci.key" -o "$work/b.tar.gz" >/dev/null 2>&1
cd "$work"
size=$(stat -c %s p/$m/data/seed.csv)
rm -rf p

now() { date +%s.%N; }
best_apply=999999 best_tools=999999 rss=0
for run in 1 2 3; do
	t0=$(now)
	/usr/bin/time -f %M -o rss.txt "$src/bin/cairn-apply" verify b.tar.gz --key ci.pub >/dev/null
	t1=$(now)
	gzip -dc b.tar.gz | openssl dgst -sha256 >/dev/null
	t2=$(now)
	best_apply=$(echo "$t1 $t0 $best_apply" | awk '{d=$1-$2; print (d<$3)?d:$3}')
	best_tools=$(echo "$t2 $t1 $best_tools" | awk '{d=$1-$2; print (d<$3)?d:$3}')
	rss=$(awk -v r="$rss" '{ print ($1 > r) ? $1 : r }' rss.txt)
done
ratio=$(echo "$best_apply $best_tools" | awk '{printf "%.2f", $1/$2}')
echo "verify: data file of $size bytes, bundle of $(stat -c %s b.tar.gz) bytes"
echo "cairn-apply verify:                       ${best_apply}s (best of 3), peak RSS $((rss / 1024)) MiB"
echo "gzip -dc | openssl dgst -sha256 (same run): ${best_tools}s (best of 3)"
echo "ratio: $ratio (budget 1.3); peak RSS budget 64 MiB"
awk -v r="$ratio" -v m="$rss" 'BEGIN { exit !(r <= 1.3 && m <= 65536) }'
