#!/bin/sh
# cairn-apply adopt at scale (issue #19): a project of N one-table
# migrations, a history table of another tool holding every one of them,
# and the time adopt takes to read, match and record them.
#
#   bench/adopt.sh [N...]            (default: 20000)
#
# Environment:
#   BENCH_DIR  work directory (default /tmp/cairn-bench-adopt)
#   OLD        another cairn-apply to time beside this one (e.g. main's)
#
# Tools: dbmate (schema_migrations, a row per version, no checksum) and
# Flyway (flyway_schema_history, a CRC32 per row checked against the
# bundle's script). Each adopt runs on a fresh copy of the database: once
# with --dry-run (read and match only), once for real (the books written).
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/cairn-bench-adopt}
PATH="$SRC/bin:$PATH"
export CAIRN_TEMPLATE_DIR="$SRC/templates"
export GIT_AUTHOR_NAME=Bench GIT_AUTHOR_EMAIL=bench@example.com
export GIT_COMMITTER_NAME=Bench GIT_COMMITTER_EMAIL=bench@example.com
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"
test -f ci.pub || cairn keygen --no-passphrase ci >/dev/null 2>&1

for N in ${@:-20000}; do
	if ! test -f "p$N.tar.gz"; then
		rm -rf "p$N" && git init -q "p$N" && (cd "p$N" && cairn init >/dev/null) &&
		sed -i -e 's/^version_style: .*/version_style: sequence/' \
			-e 's/^drivers: .*/drivers: [sqlite]/' "p$N/cairn.yaml"
		python3 - "$N" "p$N/migrations" <<'PY'
import os, sys, zlib
n, d = int(sys.argv[1]), sys.argv[2]
fly = open("fly.sql", "w")
dbm = open("dbmate.sql", "w")
fly.write("CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, installed_by VARCHAR(100) NOT NULL, installed_on TEXT NOT NULL DEFAULT '', execution_time INT NOT NULL, success BOOLEAN NOT NULL);\nBEGIN;\n")
dbm.write("CREATE TABLE schema_migrations (version varchar(128) PRIMARY KEY);\nBEGIN;\n")
for i in range(1, n + 1):
    v = "%06d" % i
    m = os.path.join(d, v + "_t")
    os.makedirs(m)
    up = "CREATE TABLE t_%d (id integer primary key, v text);\n" % i
    open(os.path.join(m, "up.sql"), "w").write(up)
    open(os.path.join(m, "down.sql"), "w").write("DROP TABLE t_%d;\n" % i)
    c = 0
    for l in up.encode().splitlines():
        c = zlib.crc32(l, c)
    c = c - 2**32 if c >= 2**31 else c
    fly.write("INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) VALUES (%d, '%s', 't', 'SQL', 'V%s__t.sql', %d, 'ops', 1, 1);\n" % (i, v, v, c))
    dbm.write("INSERT INTO schema_migrations VALUES ('%s');\n" % v)
fly.write("COMMIT;\n")
dbm.write("COMMIT;\n")
PY
		git -C "p$N" add -A && git -C "p$N" commit -q -m m
		(cd "p$N" && cairn build --sign ../ci.key -o "../p$N.tar.gz" >/dev/null)
		rm -f "fly$N.db" "dbmate$N.db"
		sqlite3 "fly$N.db" <fly.sql && sqlite3 "dbmate$N.db" <dbmate.sql
	fi
	for bin in "$SRC/bin/cairn-apply" ${OLD:-}; do
		for tool in dbmate flyway; do
			db=$( [ $tool = flyway ] && echo "fly$N.db" || echo "dbmate$N.db")
			for mode in --dry-run ""; do
				cp "$db" run.db
				/usr/bin/time -f "%e s wall, %M KiB peak RSS" -o t.out \
					"$bin" adopt --from $tool --db sqlite:run.db "p$N.tar.gz" --key ci.pub $mode >adopt.out 2>&1 ||
					{ tail -3 adopt.out; }
				echo "N=$N $bin $tool ${mode:-write}: $(cat t.out) ($(tail -1 adopt.out | cut -c1-60))"
			done
		done
	done
done
