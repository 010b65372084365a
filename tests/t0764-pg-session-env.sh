#!/bin/sh
test_description='libpq'"'"'s environment (PGOPTIONS, PGSERVICE, PGTARGETSESSIONATTRS, PGDATABASE) and a search_path set on the role: where cairn-apply writes its books and what a session does are the DSN'"'"'s (issue #15, attack15g)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# the schema of each table named t_* or cairn_*, as the catalog has them
where() {
	bk $1 "select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind = 'r' and (c.relname like 't\_%' or c.relname like 'cairn\_%') order by 1"
}

# the bundle: 0001 creates t_0001_a; 0002 a parent and a child table with a
# foreign key, and a child row whose parent does not exist
test_expect_success 'setup: a bundle whose 0002 breaks a foreign key' '
	pg_project p &&
	apply_table p 0001_a &&
	apply_mig p 0002_fk "CREATE TABLE t_parent (id int PRIMARY KEY);
CREATE TABLE t_child (pid int REFERENCES t_parent);
INSERT INTO t_child VALUES (42);" "DROP TABLE t_child; DROP TABLE t_parent;" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz"
'

# Before attack15g libpq took PGOPTIONS from the environment for a DSN that
# names no options: a CI variable moved every unqualified table of the
# migrations into a schema of its choice, or turned off every trigger,
# foreign keys included, for the whole run (session_replication_role).
test_expect_success 'PGOPTIONS -c search_path=evil,public: the migrations'"'"' tables land where the DSN says' '
	pg_fresh_db sp &&
	bk sp "CREATE SCHEMA evil" &&
	PGOPTIONS="-c search_path=evil,public" \
		cairn-apply apply b.tar.gz --to 0001 --env dev --db "postgresql:///sp?host=$PGHOST" $KEY >out 2>err &&
	where sp >actual &&
	cat >expect <<-\EOF &&
	cairn.cairn_audit
	cairn.cairn_migrations
	public.t_0001_a
	EOF
	test_cmp expect actual
'

test_expect_success 'PGOPTIONS -c session_replication_role=replica: the foreign key still holds (exit 1, 0002 rolled back)' '
	pg_fresh_db rr &&
	PGOPTIONS="-c session_replication_role=replica" \
		test_expect_code 1 cairn-apply apply b.tar.gz --env dev --db "postgresql:///rr?host=$PGHOST" $KEY >out 2>err &&
	test_grep "violates foreign key constraint" err &&
	test "$(bk rr "select count(*) from pg_class where relname = '"'"'t_child'"'"'")" = 0 &&
	test "$(bk rr "select version || state from cairn.cairn_migrations order by version")" = 0001applied
'

test_expect_success 'PGOPTIONS -c default_transaction_read_only=on: ignored, the run writes' '
	pg_fresh_db ro &&
	PGOPTIONS="-c default_transaction_read_only=on" \
		cairn-apply apply b.tar.gz --to 0001 --env dev --db "postgresql:///ro?host=$PGHOST" $KEY >out 2>err &&
	test "$(bk ro "select version || state from cairn.cairn_migrations")" = 0001applied
'

test_expect_success 'options named in the DSN are the DSN'"'"'s choice and still apply' '
	pg_fresh_db dso &&
	bk dso "CREATE SCHEMA app" &&
	PGOPTIONS="-c search_path=evil" \
		cairn-apply apply b.tar.gz --to 0001 --env dev \
		--db "host=$PGHOST dbname=dso options='"'"'-c search_path=app'"'"'" $KEY >out 2>err &&
	where dso >actual &&
	test_grep "^app.t_0001_a$" actual
'

# Before: PGSERVICE named a service whose file (PGSERVICEFILE) gave another
# database, and the books and migrations of the DSN went there.
test_expect_success 'PGSERVICE naming a service the DSN does not: refused, neither database touched' '
	pg_fresh_db svc_a &&
	pg_fresh_db svc_b &&
	cat >services.conf <<-EOF &&
	[other]
	dbname=svc_b
	EOF
	PGSERVICEFILE="$PWD/services.conf" PGSERVICE=other \
		test_expect_code 6 cairn-apply apply b.tar.gz --to 0001 --env dev --db "host=$PGHOST" $KEY >out 2>err &&
	test_grep "PGSERVICE is set (.other.) but the DSN names no service" err &&
	test_grep "name service=other in the DSN or unset PGSERVICE" err &&
	test -z "$(where svc_a)" &&
	test -z "$(where svc_b)" &&
	PGSERVICEFILE="$PWD/services.conf" PGSERVICE=other \
		cairn-apply apply b.tar.gz --to 0001 --env dev --db "host=$PGHOST service=other" $KEY >out 2>err &&
	test "$(bk svc_b "select version || state from cairn.cairn_migrations")" = 0001applied
'

test_expect_success 'PGDATABASE and PGHOST do not move a DSN that names its database and host' '
	pg_fresh_db named &&
	pg_fresh_db elsewhere &&
	PGDATABASE=elsewhere PGHOST=/nonexistent \
		cairn-apply apply b.tar.gz --to 0001 --env dev --db "postgresql:///named?host=$PGHOST" $KEY >out 2>err &&
	test "$(bk named "select version || state from cairn.cairn_migrations")" = 0001applied &&
	test -z "$(where elsewhere)"
'

test_expect_success 'PGTARGETSESSIONATTRS=read-only does not stop a writing run on the primary' '
	pg_fresh_db tsa &&
	PGTARGETSESSIONATTRS=read-only \
		cairn-apply apply b.tar.gz --to 0001 --env dev --db "postgresql:///tsa?host=$PGHOST" $KEY >out 2>err &&
	test "$(bk tsa "select version || state from cairn.cairn_migrations")" = 0001applied
'

# A role whose search_path puts a schema of an attacker's before pg_catalog
# (ALTER ROLE ... SET search_path, which a migration of the role itself can
# run for the next session): cairn's own statements call functions by name.
# Before attack15g, a look-alike pg_try_advisory_lock in that schema said
# yes to every runner, and two runs overlapped.
test_expect_success 'setup: the run lock'"'"'s key, read from pg_locks while a slow run holds it' '
	pg_project slow &&
	apply_mig slow 0001_sleep "SELECT pg_sleep(3);" "SELECT 1;" &&
	apply_build slow "$TRASH_DIRECTORY/slow.tar.gz" &&
	pg_fresh_db keydb &&
	{ cairn-apply apply slow.tar.gz --env dev --db "postgresql:///keydb?host=$PGHOST" $KEY >slow.out 2>&1 & } &&
	slow=$! &&
	n=0 &&
	while key=$(bk postgres "select (l.classid::bigint << 32) | l.objid::bigint from pg_locks l where l.locktype = '"'"'advisory'"'"' and l.granted") &&
	      test -z "$key"; do
		n=$((n + 1)) && test $n -lt 250 && sleep 0.02 || break
	done &&
	wait $slow &&
	test -n "$key" &&
	echo "$key" >key
'

test_expect_success 'search_path "evil, pg_catalog" on the role: a look-alike pg_try_advisory_lock does not let a second runner in' '
	key=$(cat key) &&
	pg_fresh_db lk &&
	bk lk "CREATE ROLE runner LOGIN SUPERUSER" &&
	bk lk "CREATE SCHEMA evil" &&
	bk lk "CREATE FUNCTION evil.pg_try_advisory_lock(bigint) RETURNS boolean LANGUAGE sql AS '"'"'SELECT true'"'"'" &&
	bk lk "CREATE FUNCTION evil.pg_advisory_unlock(bigint) RETURNS boolean LANGUAGE sql AS '"'"'SELECT true'"'"'" &&
	bk lk "ALTER ROLE runner SET search_path = evil, pg_catalog, public" &&
	test "$(PGUSER=runner pg_sql -d lk -c "select pg_try_advisory_lock(1)")" = t &&
	{ PGAPPNAME=holder "$PSQL" -X -q -d lk -c "select pg_advisory_lock($key)" -c "select pg_sleep(20)" >/dev/null 2>&1 & } &&
	holder=$! &&
	n=0 &&
	while test "$(bk lk "select count(*) from pg_locks where locktype = '"'"'advisory'"'"' and granted")" = 0; do
		n=$((n + 1)) && test $n -lt 500 && sleep 0.02 || break
	done &&
	PGUSER=runner test_expect_code 4 cairn-apply apply b.tar.gz --to 0001 --lock-timeout 0 --env dev \
		--db "postgresql:///lk?host=$PGHOST" $KEY >out 2>err &&
	test_grep "another runner holds the lock" err &&
	test -z "$(where lk)" &&
	bk postgres "select pg_terminate_backend(pid) from pg_stat_activity where application_name = '"'"'holder'"'"'" >/dev/null &&
	{ wait $holder; true; }
'

# A shadow of the books in the schema the role'"'"'s search_path names first:
# cairn reads and writes its own (every statement names schema cairn).
test_expect_success 'search_path "evil, public" on the role, with evil.cairn_migrations claiming 0001: cairn reads and writes its own books' '
	pg_fresh_db sh &&
	bk sh "CREATE ROLE shadow LOGIN SUPERUSER" &&
	bk sh "CREATE SCHEMA evil" &&
	bk sh "CREATE TABLE evil.cairn_migrations (LIKE pg_catalog.pg_class)" &&
	bk sh "CREATE TABLE public.cairn_migrations (version text, state text)" &&
	bk sh "INSERT INTO public.cairn_migrations VALUES ('"'"'0001'"'"', '"'"'applied'"'"')" &&
	bk sh "ALTER ROLE shadow IN DATABASE sh SET search_path = evil, public" &&
	PGUSER=shadow cairn-apply apply b.tar.gz --to 0001 --env dev --db "postgresql:///sh?host=$PGHOST" $KEY >out 2>err &&
	test "$(bk sh "select version || state from cairn.cairn_migrations")" = 0001applied &&
	test "$(bk sh "select count(*) from evil.cairn_migrations")" = 0 &&
	test "$(bk sh "select version || state from public.cairn_migrations")" = 0001applied &&
	PGUSER=shadow cairn-apply status --db "postgresql:///sh?host=$PGHOST" >out 2>err &&
	test_grep "0001" out
'

test_done
