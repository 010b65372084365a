#!/bin/sh
test_description='a validly signed, forged streamed SQLite script: COMMIT, END, SAVEPOINT and RELEASE inside it, or bytes that differ from the manifest, commit nothing (issue #15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-attack.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT

# load_sql FILE MIB: MIB MiB of 200-row INSERTs into t (ids from 0),
# appended to FILE
load_sql() {
	python3 - "$1" "$2" <<-\PY
	import sys
	row = "(%d, 'row %d padding padding padding padding padding padding padding padding')"
	target = int(sys.argv[2]) << 20
	with open(sys.argv[1], "a") as f:
	    n = i = 0
	    try:
	        i = int(open(sys.argv[1] + ".next").read())
	    except OSError:
	        pass
	    while n < target:
	        s = "INSERT INTO t (id, v) VALUES " + ",\n".join(row % (j, j) for j in range(i, i + 200)) + ";\n"
	        i += 200
	        n += len(s)
	        f.write(s)
	    open(sys.argv[1] + ".next", "w").write(str(i))
	PY
}

# script FILE TRICK: 2 MiB of INSERTs (past the 1 MiB streaming threshold),
# TRICK, then 1 MiB more; FILE.line is TRICK's first line
script() {
	rm -f "$1" "$1.next" &&
	load_sql "$1" 2 &&
	echo $(($(wc -l <"$1") + 1)) >"$1.line" &&
	printf "%s\n" "$2" >>"$1" &&
	load_sql "$1" 1
}

# the catalog, the bookkeeping rows and the data of SQLite database $1
state() {
	q "$1" "SELECT type, name, sql FROM sqlite_master ORDER BY name;
		SELECT version, state, checksum, bundle_id FROM cairn_migrations ORDER BY version;
		SELECT count(*) FROM t"
}

# the newest audit row of database $1 records 0002's failed apply, and the
# chain holds
failed_recorded() {
	test "$(q "$1" "SELECT action || '|' || version FROM cairn_audit ORDER BY seq DESC LIMIT 1")" = "apply-failed|0002" &&
	cairn-apply history --db "sqlite:$1" --verify >out &&
	test_grep "intact" out
}

test_expect_success 'setup: a signed bundle with a streamed load; the database at 0001' '
	apply_project p &&
	apply_mig p 0001_t "CREATE TABLE t (id integer primary key, v text);" "DROP TABLE t;" &&
	mkdir -p p/migrations/0002_load &&
	script p/migrations/0002_load/up.sql "" &&
	echo "DELETE FROM t;" >p/migrations/0002_load/down.sql &&
	apply_build p "$TRASH_DIRECTORY/good.tar.gz" &&
	cairn-apply apply good.tar.gz --to 0001 --env dev --db sqlite:db $KEY >out &&
	test_grep "applied 1 migration" out &&
	state db >before
'

# forged TRICK NAME: the bundle with 0002's up.sql made of the load around
# TRICK, manifest matched and signed with the CI key; applying it fails
# (exit 1) naming the file and TRICK's line; the database is unchanged
forged() {
	script "$2.sql" "$1" &&
	bundle_forge_member good.tar.gz "$2.tar.gz" migrations/0002_load/up.sql "$2.sql" ci &&
	cairn-apply verify "$2.tar.gz" $KEY >out &&
	test_expect_code 1 cairn-apply apply "$2.tar.gz" --env dev --db sqlite:db $KEY >out 2>"$2.err" &&
	test_grep "migrations/0002_load/up.sql:$(cat "$2.sql.line"): .*a streamed script may not end or start a transaction (refused before it ran)" "$2.err" &&
	state db >after &&
	test_cmp before after &&
	failed_recorded db
}

test_expect_success 'COMMIT; more DDL; BEGIN; in a signed streamed script: refused at the COMMIT, nothing committed' '
	forged "COMMIT;
CREATE TABLE evil (x);
BEGIN;" commit &&
	test "$(q db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'evil'"'"'")" = 0
'

test_expect_success 'END; then DDL: refused at the END' '
	forged "END;
CREATE TABLE evil (x);" end
'

test_expect_success 'ROLLBACK; then DDL, and BEGIN IMMEDIATE alone: refused' '
	forged "ROLLBACK;
CREATE TABLE evil (x);" rollback &&
	forged "BEGIN IMMEDIATE;" begin
'

test_expect_success 'SAVEPOINT, DDL, RELEASE (which commits when no transaction is open), then an error: all rolled back' '
	script sp.sql "SAVEPOINT s;
CREATE TABLE evil (x);
INSERT INTO t VALUES (-1, '"'"'savepoint'"'"');
RELEASE s;
RELEASE SAVEPOINT s2;" &&
	bundle_forge_member good.tar.gz sp.tar.gz migrations/0002_load/up.sql sp.sql ci &&
	test_expect_code 1 cairn-apply apply sp.tar.gz --env dev --db sqlite:db $KEY >out 2>err &&
	test_grep "migrations/0002_load/up.sql:$(($(cat sp.sql.line) + 4)): .*no such savepoint: s2" err &&
	state db >after &&
	test_cmp before after &&
	failed_recorded db &&
	test "$(q db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'evil'"'"'")" = 0
'

test_expect_success 'a member whose bytes differ from the signed manifest only after its first 10 MiB: refused, nothing applied' '
	rm -f big.sql big.sql.next &&
	load_sql big.sql 12 &&
	cp big.sql p/migrations/0002_load/up.sql &&
	apply_build p "$TRASH_DIRECTORY/big.tar.gz" &&
	python3 -c "import sys
b = bytearray(open(sys.argv[1], \"rb\").read())
i = b.index(b\"padding\", 11 << 20)
b[i] = ord(\"P\")
open(sys.argv[1], \"wb\").write(b)" big.sql &&
	test_expect_code 1 cmp big.sql p/migrations/0002_load/up.sql >diff &&
	test_grep "differ: \(byte\|char\) 1[0-9]\{7\}," diff &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" big.tar.gz swapped.tar.gz --repack \
		migrations/0002_load/up.sql big.sql &&
	test_expect_code 3 cairn-apply apply swapped.tar.gz --env dev --db sqlite:db $KEY >out 2>err &&
	test_grep "refusing bundle .swapped.tar.gz.: member .migrations/0002_load/up.sql.: sha256 does not match SHA256SUMS" err &&
	bundle_rewrite big.tar.gz sums.tar.gz "m[\"migrations/0002_load/up.sql\"] = open(\"big.sql\", \"rb\").read()" &&
	test_expect_code 3 cairn-apply apply sums.tar.gz --env dev --db sqlite:db $KEY >out 2>err &&
	test_grep "refusing bundle .sums.tar.gz.: member .SHA256SUMS.: the sha256 of .migrations/0002_load/up.sql. differs from manifest.yaml.s" err &&
	state db >after &&
	test_cmp before after &&
	test "$(q db "SELECT count(*) FROM cairn_audit WHERE action = '"'"'apply-failed'"'"'")" = 5
'

# Past BUNDLE_TEXT_KEEP (16 MiB) the member is read again from the file when
# it runs; a before hook swaps the file after verification (t0757's way),
# one byte changed in its last statement, so the hash fails only at the end,
# after the SAVEPOINT ... RELEASE and its DDL ran.
test_expect_success 'SAVEPOINT, DDL, RELEASE, then bytes that differ from the manifest at the end: rolled back, nothing applied' '
	sed -i -e "s/^max_file_size: .*/max_file_size: 64MiB/" p/cairn.yaml &&
	script p/migrations/0002_load/up.sql "" &&
	apply_build p "$TRASH_DIRECTORY/good64.tar.gz" &&
	rm -f sp17.sql sp17.sql.next &&
	load_sql sp17.sql 2 &&
	printf "SAVEPOINT s;\nCREATE TABLE evil (x);\nRELEASE s;\n" >>sp17.sql &&
	load_sql sp17.sql 15 &&
	echo "INSERT INTO t VALUES (-1, '"'"'last'"'"');" >>sp17.sql &&
	bundle_forge_member good64.tar.gz sp17.tar.gz migrations/0002_load/up.sql sp17.sql ci &&
	sed "s/(-1, /(-7, /" sp17.sql >sp17x.sql &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" sp17.tar.gz sp17x.tar.gz --repack \
		migrations/0002_load/up.sql sp17x.sql &&
	cp sp17.tar.gz victim.tar.gz &&
	cairn-apply apply good64.tar.gz --to 0001 --env dev --db sqlite:db2 $KEY >out &&
	state db2 >before2 &&
	cat >cairn-apply.yaml <<-EOF &&
	environments:
	  dev:
	    database: { dsn: "sqlite:db2" }
	    builders: [ci.pub]
	    hooks: { before: "cat $TRASH_DIRECTORY/sp17x.tar.gz >$TRASH_DIRECTORY/victim.tar.gz" }
	EOF
	test_expect_code 1 cairn-apply apply victim.tar.gz --env dev >out 2>err &&
	test_grep "changed since it was verified (sha256 differs)" err &&
	state db2 >after2 &&
	test_cmp before2 after2 &&
	failed_recorded db2 &&
	test "$(q db2 "SELECT count(*) FROM sqlite_master WHERE name = '"'"'evil'"'"'")" = 0 &&
	rm cairn-apply.yaml
'

test_expect_success 'the good bundle still applies: the tricks changed nothing' '
	cairn-apply apply good.tar.gz --env dev --db sqlite:db $KEY >out &&
	test_grep "applied 1 migration" out &&
	test "$(q db "SELECT count(*) FROM t")" -gt 20000
'

test_done
