#!/bin/sh
test_description='check --staged keeps the SQLite linter'"'"'s replayed database in .git/cairn/lint-cache, keyed by the earlier migrations'
. "$(dirname "$0")/test-lib.sh"

M=migrations
CACHE=.git/cairn/lint-cache

# A project as cairn init writes it (drivers: [sqlite, postgres]), two
# migrations committed, a third staged that inserts into t's column b,
# which the first migration does not make: SQLite says so (sqlite-error).
test_expect_success 'setup' '
	test_create_project p &&
	git -C p checkout -q -b main &&
	sed -i -e "s/^version_style:.*/version_style: sequence/" p/cairn.yaml &&
	grep -q "^drivers: \[sqlite, postgres\]" p/cairn.yaml &&
	test_migration p 0001_t "CREATE TABLE t (a integer);" &&
	test_migration p 0002_u "CREATE TABLE u (a integer);" &&
	test_commit p base &&
	test_migration p 0009_ins "INSERT INTO t (b) VALUES (1);" "DELETE FROM t;" &&
	git -C p add -A
'

# staged_check OUT: check --staged, its findings in OUT and the cache's
# line in OUT.cache; exit code 1 (the sqlite-error finding) or 0.
staged_check() {
	(cd p && CAIRN_LINT_CACHE_VERBOSE=1 cairn check --staged >"../$1" 2>"../$1.err")
	rc=$?
	grep "lint cache" "$1.err" >"$1.cache"
	test $rc -le 1
}

# recache FILE SQL: runs SQL on the database a cache file holds and writes
# it back, its catalog made again and a header whose checksum matches: a
# cache file cairn wrote itself would look the same.
recache() {
	python3 - "$1" "$2" <<-\EOF
	import sqlite3, sys, zlib
	path, sql = sys.argv[1], sys.argv[2]
	data = open(path, "rb").read()
	head, body = data[:104], data[104:]
	tail = body[-18:]
	catlen = int(body[-37:-27])
	db = body[:-18 - 39 - catlen]
	c = sqlite3.connect(":memory:")
	c.deserialize(db)
	c.executescript(sql)
	cat = b""
	for t, name, tbl, s in c.execute("SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY rowid"):
	    flag = b"0"
	    if t == "table" and c.execute("SELECT EXISTS (SELECT 1 FROM \"%s\")" % name).fetchone()[0]:
	        flag = b"1"
	    kind = {"table": b"t", "index": b"i", "view": b"v", "trigger": b"r"}[t]
	    cat += kind + flag + b"\0".join(x.encode() for x in (name, tbl, s or "")) + b"\0"
	body = c.serialize() + cat + b"\ncairn-lint-catalog %010d %08x" % (len(cat), zlib.crc32(cat)) + tail
	key = head.split(b" ")[2]
	out = b"cairn-lint-cache 3 " + key + b" " + b"%08x" % zlib.crc32(body) + head[92:]
	assert len(out) == 104
	open(path, "wb").write(out + body)
	EOF
}

test_expect_success 'a cold run replays the earlier migrations and stores the database' '
	rm -rf p/$CACHE &&
	staged_check cold &&
	test_grep "0009_ins/up.sql:1:.*sqlite-error: .*no column named b" cold &&
	test_grep "0 migrations from the cache, 2 stored" cold.cache &&
	ls p/$CACHE >files &&
	test_line_count = 1 files &&
	grep -q "^[0-9a-f]\{64\}\.db$" files &&
	head -c 19 p/$CACHE/$(cat files) >magic &&
	printf "cairn-lint-cache 3 " >want &&
	test_cmp want magic &&
	cp p/$CACHE/$(cat files) saved.db
'

test_expect_success 'a warm run loads it, replays nothing, finds the same' '
	staged_check warm &&
	test_cmp cold warm &&
	test_grep "2 migrations from the cache (the objects the scripts reach), 0 stored" warm.cache &&
	ls p/$CACHE >files2 &&
	test_cmp files files2 &&
	cmp saved.db p/$CACHE/$(cat files)
'

test_expect_success 'the warm run reads the database from the file: a database with t.b in it is believed' '
	recache p/$CACHE/$(cat files) "ALTER TABLE t ADD COLUMN b integer;" &&
	staged_check planted &&
	test_grep "2 migrations from the cache" planted.cache &&
	! grep sqlite-error planted &&
	cp saved.db p/$CACHE/$(cat files)
'

test_expect_success 'an earlier migration edited in a commit changes the key: the lint sees the edit' '
	printf "CREATE TABLE t (a integer, b integer);\n" >p/$M/0001_t/up.sql &&
	git -C p commit -q -m "t gets b" $M/0001_t/up.sql &&
	staged_check edited &&
	test_grep "0 migrations from the cache, 2 stored" edited.cache &&
	! grep sqlite-error edited &&
	ls p/$CACHE >files3 &&
	test_line_count = 2 files3 &&
	printf "CREATE TABLE t (a integer);\n" >p/$M/0001_t/up.sql &&
	git -C p commit -q -m "t loses b" $M/0001_t/up.sql &&
	staged_check back &&
	test_grep "2 migrations from the cache (the objects the scripts reach), 0 stored" back.cache &&
	test_grep "sqlite-error: .*no column named b" back
'

test_expect_success 'a migration committed after the cached ones: the cached prefix, then the rest replayed' '
	test_migration p 0003_v "ALTER TABLE t ADD COLUMN b integer;" &&
	git -C p add $M/0003_v && git -C p commit -q -m v $M/0003_v &&
	staged_check added &&
	test_grep "2 migrations from the cache, 3 stored" added.cache &&
	! grep sqlite-error added &&
	git -C p rm -q -r $M/0003_v && git -C p commit -q -m "no v" $M/0003_v &&
	staged_check back2 &&
	test_grep "2 migrations from the cache (the objects the scripts reach), 0 stored" back2.cache &&
	test_grep "sqlite-error" back2
'

test_expect_success 'at most two files are kept, the newest' '
	ls p/$CACHE >files4 &&
	test_line_count = 2 files4 &&
	grep -q "^$(cat files)$" files4
'

test_expect_success 'a truncated, damaged or foreign cache file is ignored: replayed from scratch (the subset reads only the catalog: damage elsewhere is found when the whole is needed)' '
	f=p/$CACHE/$(cat files) &&
	head -c $(($(wc -c <saved.db) / 2)) saved.db >"$f" &&
	staged_check trunc &&
	test_grep "0 migrations from the cache, 2 stored" trunc.cache &&
	test_cmp cold trunc &&
	cmp saved.db "$f" &&
	python3 -c "import sys; b=bytearray(open(sys.argv[1],\"rb\").read()); b[len(b) - 500]^=1; open(sys.argv[1],\"wb\").write(b)" "$f" &&
	staged_check flipped &&
	test_grep "2 migrations from the cache (the objects the scripts reach)" flipped.cache &&
	test_cmp cold flipped &&
	cp saved.db "$f" &&
	python3 -c "import sys; b=bytearray(open(sys.argv[1],\"rb\").read()); b[len(b) - 70]^=1; open(sys.argv[1],\"wb\").write(b)" "$f" &&
	staged_check flipped_cat &&
	test_grep "0 migrations from the cache, 2 stored" flipped_cat.cache &&
	test_cmp cold flipped_cat &&
	cp saved.db "$f" &&
	python3 -c "import sys; b=bytearray(open(sys.argv[1],\"rb\").read()); b[len(b) - 500]^=1; open(sys.argv[1],\"wb\").write(b)" "$f" &&
	test_migration p 0010_schema "SELECT count(*) FROM sqlite_schema;" "SELECT 1;" &&
	git -C p add -A &&
	staged_check flipped_whole &&
	test_grep "0 migrations from the cache, 2 stored" flipped_whole.cache &&
	git -C p rm -q -r --cached $M/0010_schema && rm -r p/$M/0010_schema &&
	cmp saved.db "$f" &&
	recache "$f" "CREATE TABLE pad (x); INSERT INTO pad VALUES (zeroblob(20000));" &&
	python3 - "$f" <<-\EOF &&
	import sys, zlib
	b = open(sys.argv[1], "rb").read()
	body = b[104:]
	catlen = int(body[-37:-27])
	cut = len(body) - 18 - 39 - catlen
	body = body[:cut - 1024] + body[cut:]   # a page short, with a checksum that matches
	h = b[:84] + b"%08x" % zlib.crc32(body) + b[92:104]
	open(sys.argv[1], "wb").write(h + body)
	EOF
	staged_check shortdb &&
	test_grep "2 migrations from the cache (the objects the scripts reach)" shortdb.cache &&
	test_cmp cold shortdb &&
	test_migration p 0010_schema "SELECT count(*) FROM sqlite_schema;" "SELECT 1;" &&
	git -C p add -A &&
	staged_check shortdb_whole &&
	test_grep "0 migrations from the cache, 2 stored" shortdb_whole.cache &&
	test_grep "0009_ins/up.sql:1:.*sqlite-error: .*no column named b" shortdb_whole &&
	git -C p rm -q -r --cached $M/0010_schema && rm -r p/$M/0010_schema &&
	head -c 100 /dev/urandom >"$f" &&
	staged_check garbage &&
	test_grep "0 migrations from the cache, 2 stored" garbage.cache &&
	test_cmp cold garbage &&
	: >"$f" &&
	staged_check empty &&
	test_cmp cold empty
'

test_expect_success 'CAIRN_NO_LINT_CACHE=1 neither reads nor writes it' '
	rm -rf p/$CACHE &&
	(cd p && CAIRN_NO_LINT_CACHE=1 CAIRN_LINT_CACHE_VERBOSE=1 cairn check --staged >../off 2>../off.err; test $? = 1) &&
	test_cmp cold off &&
	! grep "lint cache" off.err &&
	test ! -e p/$CACHE
'

test_expect_success 'build and plain check never use it (build always replays)' '
	staged_check cold2 &&
	recache p/$CACHE/$(cat files) "ALTER TABLE t ADD COLUMN b integer;" &&
	staged_check planted2 && ! grep sqlite-error planted2 &&
	cp -r p/$CACHE cache.before &&
	test_commit p ins &&
	(cd p && CAIRN_LINT_CACHE_VERBOSE=1 test_must_fail --exit=1 cairn build -o ../b.tgz >../build 2>../build.err) &&
	test_grep "sqlite-error: .*no column named b" build.err &&
	! grep "lint cache" build.err &&
	(cd p && CAIRN_LINT_CACHE_VERBOSE=1 test_must_fail --exit=1 cairn check >../plain 2>../plain.err) &&
	test_grep "sqlite-error: .*no column named b" plain &&
	! grep "lint cache" plain.err &&
	diff -r cache.before p/$CACHE
'

test_done
