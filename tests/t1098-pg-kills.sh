#!/bin/sh
test_description='cairn-apply killed on PostgreSQL at moments found in pg_stat_activity: mid-COPY, between and inside batches, in a callback, inside a transaction: false script; and its session terminated by the server mid-COPY. After each: the books say what the catalog holds, the rerun (after the repair troubleshooting.md says) finishes, history --verify holds'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT
pg_start

# wait_stmt DB PATTERN: until cairn-apply's session runs a statement
# matching PATTERN (ILIKE); its backend pid in $stmt_pid.
wait_stmt() {
	n=0 &&
	while :; do
		stmt_pid=$(pg_sql -d "$1" -c "select pid from pg_stat_activity where application_name = 'cairn-apply' and state = 'active' and query ilike '$2' limit 1") &&
		test -z "$stmt_pid" || return 0
		n=$((n + 1)) &&
		test $n -lt 1000 &&
		sleep 0.02 || { echo >&2 "wait_stmt: no statement like $2 after 20 s"; return 1; }
	done
}

# apply_bg BUNDLE ENV: cairn-apply apply in the background, its pid in $pid.
apply_bg() {
	{ cairn-apply apply "$1" --env "$2" >out 2>&1 & } &&
	pid=$!
}

# kill_on DB PATTERN: SIGKILL $pid once its session runs a statement
# matching PATTERN; it must have been running still.
kill_on() {
	wait_stmt "$1" "$2" &&
	test_sigkill $pid &&
	test -n "$killed"
}

# terminate_mid DB PATTERN CMD...: CMD in the background (its output in
# out and err, its exit code in rc); once its session runs a statement
# matching PATTERN the server ends that session (pg_terminate_backend).
# CMD must end with an error of its own, not a signal.
terminate_mid() {
	db=$1 pat=$2 &&
	shift 2 &&
	{ { "$@" >out 2>err; echo $? >rc; } & } &&
	pid=$! &&
	wait_stmt "$db" "$pat" &&
	pg_sql -d "$db" -c "select pg_terminate_backend($stmt_pid)" >/dev/null &&
	wait $pid &&
	test "$(cat rc)" != 0 && test "$(cat rc)" -lt 128
}

# gone DB: until no session of cairn-apply is left (a killed client's
# backend ends when it next reads from the socket, or finishes its query).
gone() {
	n=0 &&
	while test "$(pg_sql -d "$1" -c "select count(*) from pg_stat_activity where application_name = 'cairn-apply'")" != 0; do
		n=$((n + 1)) &&
		test $n -lt 1000 &&
		sleep 0.02 || { echo >&2 "gone: cairn-apply's session still there after 20 s"; return 1; }
	done
}

# books DB: "VERSION|STATE" of each row of the books, by version.
books() {
	pg_sql -d "$1" -c "select version || '|' || state from cairn.cairn_migrations order by version"
}

# schema DB: what the catalog holds of each migration's work, one line
# each, the way the books would say it: VERSION|applied when it is all
# there, nothing when none of it is, VERSION|PARTIAL otherwise.
schema() {
	has_() { test "$(pg_sql -d "$1" -c "select to_regclass('public.$2') is not null")" = t; }
	one_() { # VERSION PARTS-THERE PARTS
		if test "$2" = "$3"; then echo "$1|applied"; elif test "$2" != 0; then echo "$1|PARTIAL"; fi
	}
	n=0; has_ "$1" items && n=1; one_ 0001 $n 1
	n=0; has_ "$1" big && n=$((1 + $(pg_sql -d "$1" -c "select (count(*) = 2000)::int from big")))
	one_ 0002 $n 2
	n=0; has_ "$1" items && n=$(pg_sql -d "$1" -c "select (count(*) filter (where v = 0) = 0)::int from items")
	one_ 0003 $n 1
	n=0; has_ "$1" nt_a && n=1; has_ "$1" nt_b && n=$((n + 1)); one_ 0004 $n 2
}

# agree DB: the books and the catalog say the same, and the audit chain
# holds.
agree() {
	books "$1" >books.out &&
	schema "$1" >schema.out &&
	test_cmp books.out schema.out &&
	cairn-apply history --verify --db "postgresql:///$1?host=$PGHOST" >verify.out 2>&1 ||
	{ cat verify.out; return 1; }
}

test_expect_success 'setup: a COPY load slowed by a trigger, a batch backfill, a transaction: false script' '
	apply_project p &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" p/cairn.yaml &&
	apply_mig p 0001_items "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL DEFAULT 0);
INSERT INTO items (id) SELECT g FROM generate_series(1, 1000) g;" "DROP TABLE items;" &&
	apply_mig p 0002_big "CREATE TABLE big (id int, name text);
CREATE FUNCTION big_slow() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_sleep(0.002); RETURN NEW; END \$\$;
CREATE TRIGGER big_slow BEFORE INSERT ON big FOR EACH ROW EXECUTE FUNCTION big_slow();
COPY big FROM '"'"'data/big.csv'"'"' WITH (FORMAT csv);
DROP TRIGGER big_slow ON big;
DROP FUNCTION big_slow();" "DROP TABLE big;" &&
	mkdir -p p/migrations/0002_big/data &&
	seq 1 2000 | sed "s/.*/&,name &/" >p/migrations/0002_big/data/big.csv &&
	apply_mig p 0003_backfill "UPDATE items SET v = 1
WHERE id IN (SELECT id FROM items WHERE v = 0 ORDER BY id LIMIT 100)
  AND (SELECT pg_sleep(0.3)) IS NOT NULL;" - "kind: batch
irreversible: true" &&
	apply_mig p 0004_notx "CREATE TABLE nt_a (x int);
SELECT pg_sleep(CASE WHEN to_regclass('"'"'public.notx_fast'"'"') IS NULL THEN 30 ELSE 0 END) /* notx */;
CREATE TABLE nt_b (x int);" "DROP TABLE nt_b; DROP TABLE nt_a;" "transaction: false" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	pg_fresh_db app &&
	DB="postgresql:///app?host=$PGHOST" &&
	cairn keygen --no-passphrase dba >/dev/null 2>&1 &&
	apply_project q &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" q/cairn.yaml &&
	apply_mig q 0001_a "CREATE TABLE cb_log (v text); CREATE TABLE a (x int);" "DROP TABLE a; DROP TABLE cb_log;" &&
	apply_mig q 0002_b "CREATE TABLE b (x int);" "DROP TABLE b;" &&
	mkdir -p q/migrations/callbacks &&
	echo "INSERT INTO cb_log SELECT '"'"'x'"'"' FROM pg_sleep(1) /* cb */;" >q/migrations/callbacks/after_each.sql &&
	apply_build q "$TRASH_DIRECTORY/q.tar.gz" &&
	pg_fresh_db term && pg_fresh_db cb &&
	cat >cairn-apply.yaml <<-EOF
	environments:
	  dev:
	    database: { dsn: "$DB" }
	    builders: [ci.pub]
	    admins: [dba.pub]
	  term:
	    database: { dsn: "postgresql:///term?host=$PGHOST" }
	    builders: [ci.pub]
	  cb:
	    database: { dsn: "postgresql:///cb?host=$PGHOST" }
	    builders: [ci.pub]
	EOF
'

test_expect_success 'SIGKILL mid-COPY: the load is in neither the books nor the catalog (the next run loads it whole: test 3)' '
	apply_bg b.tar.gz dev &&
	kill_on app "copy big from%" &&
	gone app &&
	books app >got &&
	echo "0001|applied" >want &&
	test_cmp want got &&
	agree app &&
	test -z "$(pg_sql -d app -c "select to_regclass('"'"'big'"'"')")"
'

test_expect_success 'SIGKILL inside a batch of a backfill, two or more committed before it: the books count exactly the rows the table holds (the next run resumes it: test 4)' '
	apply_bg b.tar.gz dev &&
	n=0 &&
	until test "$(pg_sql -d app -c "select coalesce((select batches from cairn.cairn_migrations where version = '"'"'0003'"'"'), 0) >= 2")" = t; do
		n=$((n + 1)) && test $n -lt 1000 && sleep 0.02 || return 1
	done &&
	kill_on app "update items set v = 1%" &&
	gone app &&
	pg_sql -d app -c "select state, rows_changed = (select count(*) from items where v = 1), rows_changed < 1000 from cairn.cairn_migrations where version = '"'"'0003'"'"'" >got &&
	echo "in_progress|t|t" >want &&
	test_cmp want got &&
	pg_sql -d app -c "select count(*) from big" >got &&
	echo 2000 >want && test_cmp want got
'

test_expect_success 'SIGKILL inside a transaction: false script: apply refuses (exit 5) until a repair; then it finishes' '
	apply_bg b.tar.gz dev &&
	kill_on app "%/* notx */%" &&
	pg_sql -d app -c "select pg_cancel_backend($stmt_pid)" >/dev/null &&
	gone app &&
	pg_sql -d app -c "select count(*) from items where v = 0" >got &&
	echo 0 >want && test_cmp want got &&
	pg_sql -d app -c "select state from cairn.cairn_migrations where version = '"'"'0004'"'"'" >got &&
	test_grep -v "^applied$" got &&
	test "$(pg_sql -d app -c "select to_regclass('"'"'nt_a'"'"') is not null, to_regclass('"'"'nt_b'"'"') is null")" = "t|t" &&
	test_expect_code 5 cairn-apply apply b.tar.gz --env dev >out 2>err &&
	test_grep "0004_notx did not finish: a run stopped at statement 2 of its up script, outside a transaction" err &&
	test_grep "1 migration failed or did not finish in an earlier run" err &&
	test "$(pg_sql -d app -c "select to_regclass('"'"'nt_b'"'"') is null")" = t &&
	pg_sql -d app -c "drop table nt_a" -c "create table public.notx_fast ()" &&
	cairn override b.tar.gz --env dev --key dba.key --allow repair --comment "nt_a dropped by hand" >/dev/null 2>&1 &&
	cairn-apply repair --env dev --bundle b.tar.gz 0004 --mark-rolled-back >out 2>&1 &&
	books app >got &&
	printf "0001|applied\n0002|applied\n0003|applied\n0004|rolled_back\n" >want &&
	test_cmp want got &&
	cairn-apply apply b.tar.gz --env dev >out 2>&1 &&
	agree app
'

test_expect_success 'the server ends the session mid-COPY (pg_terminate_backend): cairn-apply fails, the books and the catalog agree, the rerun finishes' '
	terminate_mid term "copy big from%" cairn-apply apply b.tar.gz --env term &&
	test_grep "migration 0002_big failed: migrations/0002_big/up.sql:4: 57P01: terminating connection due to administrator command" err &&
	test_grep "next: the server ended the session, not the migration at fault" err &&
	test_grep ! "releasing the advisory lock" err &&
	test "$(cat rc)" = 1 &&
	books term >got &&
	echo "0001|applied" >want &&
	test_cmp want got &&
	agree term &&
	pg_sql -d term -c "create table public.notx_fast ()" &&
	cairn-apply apply b.tar.gz --env term >out 2>&1 &&
	books term >got &&
	printf "0001|applied\n0002|applied\n0003|applied\n0004|applied\n" >want &&
	test_cmp want got &&
	agree term
'

# cb_state: the books of cb and what the callback and the migrations left.
cb_state() {
	pg_sql -d cb -c "select coalesce(string_agg(version || '|' || state, ',' order by version), '')
		from cairn.cairn_migrations" \
		-c "select (to_regclass('public.a') is not null)::int, (to_regclass('public.b') is not null)::int,
		        case when to_regclass('public.cb_log') is null then -1 else 0 end" >state &&
	if test "$(sed -n 2p state | cut -d"|" -f3)" = 0; then
		pg_sql -d cb -c "select count(*) from public.cb_log" >>state
	fi
}

test_expect_success 'SIGKILL in the second migration'\''s after_each callback: the first stays applied with its callback, the second is in neither the books nor the catalog; the rerun runs it and its callback once' '
	apply_bg q.tar.gz cb &&
	n=0 &&
	until test "$(pg_sql -d cb -c "select to_regclass('"'"'cairn.cairn_migrations'"'"') is not null and exists (select 1 from cairn.cairn_migrations where version = '"'"'0002'"'"') is false and exists (select 1 from cairn.cairn_migrations where version = '"'"'0001'"'"')" 2>/dev/null)" = t; do
		n=$((n + 1)) && test $n -lt 1000 && sleep 0.02 || return 1
	done &&
	kill_on cb "%/* cb */%" &&
	gone cb &&
	cb_state &&
	printf "0001|applied\n1|0|0\n1\n" >want &&
	test_cmp want state &&
	cairn-apply history --verify --db "postgresql:///cb?host=$PGHOST" >out 2>&1 &&
	cairn-apply apply q.tar.gz --env cb >out 2>&1 &&
	cb_state &&
	printf "0001|applied,0002|applied\n1|1|0\n2\n" >want &&
	test_cmp want state &&
	pg_sql -d cb -c "select count(*) from cairn.cairn_audit where action = '"'"'apply'"'"' and detail like '"'"'%callback=after_each.sql;%outcome=ok%'"'"'" >got &&
	echo 2 >want && test_cmp want got &&
	cairn-apply history --verify --db "postgresql:///cb?host=$PGHOST" >out 2>&1
'

test_expect_success 'the server ends the session mid-rollback: the operator reads the 57P01, not the lock release; the migration stays applied with its table' '
	apply_project r &&
	sed -i -e "s/^drivers: .*/drivers: [postgres]/" r/cairn.yaml &&
	apply_mig r 0001_r "CREATE TABLE r1 (x int);" "SELECT pg_sleep(30) /* slowdown */; DROP TABLE r1;" &&
	apply_build r "$TRASH_DIRECTORY/r.tar.gz" &&
	pg_fresh_db rb &&
	cat >>cairn-apply.yaml <<-EOF &&
	  rb:
	    database: { dsn: "postgresql:///rb?host=$PGHOST" }
	    builders: [ci.pub]
	EOF
	cairn-apply apply r.tar.gz --env rb >out 2>&1 &&
	terminate_mid rb "%slowdown%" cairn-apply rollback --env rb --to 0 &&
	test_grep "57P01" err &&
	test_grep ! "releasing the advisory lock" err &&
	books rb >got &&
	echo "0001|applied" >want &&
	test_cmp want got &&
	test "$(pg_sql -d rb -c "select to_regclass('"'"'public.r1'"'"') is not null")" = t &&
	cairn-apply history --verify --db "postgresql:///rb?host=$PGHOST" >out 2>&1
'

test_done
