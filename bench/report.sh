#!/bin/sh
# 'cairn-apply report' at fleet scale (issue #21): N databases (default
# 5,000), each with its status JSON, and the N receipt copies of the
# bundle a 'cairn-apply fleet --receipt-dir' run writes (one receipt
# each, plus the approval they all carry), and one audit trail. The report
# is timed over all of them, as text and as HTML, with its peak RSS.
#
#   bench/report.sh [N]            (default: 5000)
#
# Environment: BENCH_DIR (default /tmp/cairn-bench-report); APPLY (default
# bin/cairn-apply) is the binary timed, so that an older build can be
# measured on the same inputs (APPLY=/path/to/old/cairn-apply). The
# fleet's applies are real (SQLite, one migration, parallel 2); the status
# JSONs are one real 'cairn-apply status --format json' with the database
# name replaced, N times (running status N times measures status, not the
# report). REUSE=1 keeps the inputs of a previous run in BENCH_DIR.
set -e
cd "$(dirname "$0")/.."
SRC=$(pwd)
PATH="$SRC/bin:$PATH"
APPLY=${APPLY:-$SRC/bin/cairn-apply}
BENCH_DIR=${BENCH_DIR:-/tmp/cairn-bench-report}
N=${1:-5000}

if test "${REUSE:-0}" != 1 || ! test -f "$BENCH_DIR/done$N"; then
	rm -rf "$BENCH_DIR"
	mkdir -p "$BENCH_DIR"
	cd "$BENCH_DIR"
	cairn keygen --no-passphrase ci >/dev/null 2>&1
	cairn keygen --no-passphrase alice >/dev/null 2>&1
	cairn keygen --no-passphrase applier >/dev/null 2>&1
	git init -q p
	(cd p && cairn init >/dev/null &&
	 sed -i -e 's/^version_style: .*/version_style: sequence/' -e 's/^drivers: .*/drivers: [sqlite]/' \
		-e '/^release_refs:/,/^$/c\
release_refs: []\
' cairn.yaml)
	for i in 1 2; do
		mkdir -p "p/migrations/000${i}_t$i"
		echo "CREATE TABLE t$i (id integer primary key);" >"p/migrations/000${i}_t$i/up.sql"
		echo "DROP TABLE t$i;" >"p/migrations/000${i}_t$i/down.sql"
	done
	git -C p add -A
	git -C p -c user.name=bench -c user.email=bench@example.com commit -q -m migrations
	(cd p && cairn build --sign ../ci.key -o ../b.tar.gz >/dev/null 2>&1)
	cairn promote b.tar.gz --to bench --key alice.key >/dev/null 2>&1
	mkdir dbs receipts status
	seq 1 "$N" | sed 's|.*|t& sqlite:dbs/t&.db|' >targets
	cairn-apply fleet b.tar.gz --env bench --key ci.pub --targets targets --parallel 2 \
		--receipt-key applier.key --receipt-dir receipts --result fleet.jsonl \
		--log-format json >/dev/null
	cairn-apply status --db sqlite:dbs/t1.db --key ci.pub --format json >status1.json
	cairn-apply history --db sqlite:dbs/t1.db --format json >history1.json
	seq 1 "$N" | while read -r j; do
		sed "s|\"dbs/t1\.db\"|\"dbs/t$j.db\"|" status1.json >"status/t$j.json"
	done
	touch "done$N"
fi
cd "$BENCH_DIR"
echo "inputs: $(ls status | wc -l) status JSONs, $(ls receipts | wc -l) receipt copies, 1 fleet result, 1 audit trail"
for f in text html; do
	/usr/bin/time -f "%e %M" -o t.$f "$APPLY" report status/*.json receipts/* fleet.jsonl history1.json \
		--format "$f" >out.$f
	echo "report --format $f: $(cut -d' ' -f1 t.$f) s wall, $(cut -d' ' -f2 t.$f) KiB peak RSS, $(wc -c <out.$f) bytes"
done
echo "receipt lines in the text: $(grep -c '^    receipt: ' out.text)"
