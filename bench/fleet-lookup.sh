#!/bin/sh
# Result matching at scale (issue #21): fleet-merge, report and fleet
# --resume over result files of N targets (every 7th failed, then a second
# file where those were applied), with the cairn-apply given (default this
# tree's), so that two builds can be compared on the same files:
#
#   bench/fleet-lookup.sh [CAIRN_APPLY] [N...]     (default N: 10000 40000)
#
# The --resume run finds every target applied and starts none: it measures
# reading the targets and the results and matching them, nothing else.
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
CA=${1:-$SRC/bin/cairn-apply}
CA=$(cd "$(dirname "$CA")" && pwd)/$(basename "$CA")
test $# -gt 0 && shift
D=${BENCH_DIR:-/tmp/cairn-bench-fleet-lookup}
rm -rf "$D" && mkdir -p "$D" && cd "$D"
PATH="$SRC/bin:$PATH"
cairn keygen --no-passphrase ci >/dev/null 2>&1
git init -q p
(cd p && cairn init >/dev/null && mkdir -p migrations/0001_t &&
 echo "CREATE TABLE t (id integer);" >migrations/0001_t/up.sql &&
 echo "DROP TABLE t;" >migrations/0001_t/down.sql &&
 sed -i -e 's/^version_style: .*/version_style: sequence/' -e 's/^drivers: .*/drivers: [sqlite]/' \
	-e '/^release_refs:/,/^$/c\
release_refs: []\
' cairn.yaml)
git -C p add -A
git -C p -c user.name=bench -c user.email=bench@example.com commit -q -m m
(cd p && cairn build --sign ../ci.key -o ../b.tar.gz >/dev/null 2>&1)
for n in ${*:-10000 40000}; do
	python3 - "$n" <<-\PY
	import json, sys
	n = int(sys.argv[1])
	def line(i, o):
	    return json.dumps({"target": "t%06d" % i, "dsn": "sqlite:t%d.db" % i, "from": None,
	                       "to": "0001", "outcome": o, "exit": 1 if o == "failed" else 0,
	                       "duration_ms": 12, "error": None, "bundle": "sha256:ab",
	                       "env": "bench", "shard": None, "time": "2026-12-04T00:00:00Z"}) + "\n"
	with open("r%d.jsonl" % n, "w") as f:
	    f.writelines(line(i, "failed" if i % 7 == 0 else "applied") for i in range(n))
	with open("r%db.jsonl" % n, "w") as f:
	    f.writelines(line(i, "applied") for i in range(0, n, 7))
	with open("t%d.txt" % n, "w") as f:
	    f.writelines("t%06d sqlite:t%d.db\n" % (i, i) for i in range(n))
	PY
	"$CA" fleet-merge "r$n.jsonl" "r${n}b.jsonl" -o "m$n.jsonl" 2>/dev/null || true
	load=$(cut -d" " -f1 /proc/loadavg)
	/usr/bin/time -f "%e %M" -o tm "$CA" fleet-merge "r$n.jsonl" "r${n}b.jsonl" -o /dev/null 2>/dev/null || true
	/usr/bin/time -f "%e %M" -o tr "$CA" report "r$n.jsonl" "r${n}b.jsonl" >/dev/null
	/usr/bin/time -f "%e %M" -o ts "$CA" fleet b.tar.gz --env bench --key ci.pub --targets "t$n.txt" \
		--resume "m$n.jsonl" --result o.jsonl 2>/dev/null
	echo "N=$n load=$load: fleet-merge $(cut -d" " -f1 tm) s ($(cut -d" " -f2 tm) KiB)," \
		"report $(cut -d" " -f1 tr) s ($(cut -d" " -f2 tr) KiB)," \
		"fleet --resume $(cut -d" " -f1 ts) s ($(cut -d" " -f2 ts) KiB)"
done
