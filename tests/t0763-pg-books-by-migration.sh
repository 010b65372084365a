#!/bin/sh
test_description='a signed migration that turns on cairn'"'"'s own books (PostgreSQL): DELETE or UPDATE of their rows, a trigger, an index, a rule, a temp table shadowing them, refused within the run (issue #15, pgguard15)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start
unset CAIRN_ENV CAIRN_DB CAIRN_APPLY_CONFIG CAIRN_CHECKPOINT CAIRN_CHECKPOINT_KEY

# the books and the catalog as PostgreSQL has them: the audit rows up to
# seq $2 (a refused run appends its own row for the failure)
state() {
	bk $1 "select version || '|' || state || '|' || checksum from cairn.cairn_migrations order by version" &&
	bk $1 "select seq || '|' || hash from cairn.cairn_audit where seq <= $2 order by seq" &&
	bk $1 "select c.relname || '|' || c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('public', 'cairn') order by 1" &&
	bk $1 "select tgname from pg_trigger where not tgisinternal order by 1" &&
	bk $1 "select rulename from pg_rules order by 1"
}

# try NAME SQL [YAML]: a bundle whose 0002 creates t_mine then runs SQL,
# applied on a fresh database at 0001
try() {
	pg_fresh_db "$1" &&
	apply_at_0001 "$1" postgres "$(pg_dsn "$1")" "CREATE TABLE t_mine (id int);
$2" "$3"
}

# Before pgguard15 each of these applied with exit 0 (or, for the temp
# table, left cairn's books as they were only because cairn writes them
# schema-qualified): the audit rows gone, a state rewritten, a trigger
# that rewrites every later audit row. Only the next run's chain check or
# history --verify found it. Now the driver compares the books before and
# after the script (drivers/pg-guard.c) and refuses before COMMIT.
for case in \
	"del|DELETE FROM cairn.cairn_audit;|deleted rows of cairn.cairn_audit" \
	"upd|UPDATE cairn.cairn_migrations SET state = 'rolled_back';|updated rows of cairn.cairn_migrations" \
	"ins|INSERT INTO cairn.cairn_audit SELECT * FROM cairn.cairn_audit LIMIT 0; INSERT INTO cairn.cairn_migrations (version, name, checksum, state) SELECT '0009', name, checksum, state FROM cairn.cairn_migrations;|inserted rows into cairn.cairn_migrations" \
	"trig|CREATE FUNCTION evil() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN DELETE FROM cairn.cairn_audit WHERE seq < NEW.seq; RETURN NEW; END \$\$; CREATE TRIGGER evil AFTER INSERT ON cairn.cairn_audit FOR EACH ROW EXECUTE FUNCTION evil();|put a trigger on cairn.cairn_audit" \
	"idx|CREATE INDEX evil ON cairn.cairn_audit (seq);|created or dropped an index on cairn.cairn_audit" \
	"rule|CREATE RULE evil AS ON INSERT TO cairn.cairn_audit DO INSTEAD NOTHING;|put a rule on cairn.cairn_audit" \
	"temp|CREATE TEMP TABLE cairn_audit (LIKE cairn.cairn_audit);|created a temporary table or view shadowing cairn.cairn_audit" \
	"owner|CREATE ROLE cairn_evil_owner; ALTER TABLE cairn.cairn_audit OWNER TO cairn_evil_owner;|changed the owner of cairn.cairn_audit" \
	"grant|GRANT ALL ON cairn.cairn_audit TO PUBLIC;|granted or revoked privileges on cairn.cairn_audit" \
	"check|DO \$\$ BEGIN EXECUTE 'ALTER TABLE cairn.cairn_audit ADD CONSTRAINT evil CHECK (seq < 3) NOT VALID'; END \$\$;|added, dropped or validated a constraint on or referencing cairn.cairn_audit" \
	"fk|CREATE TABLE t_ref (v text REFERENCES cairn.cairn_migrations (version));|added, dropped or validated a constraint on or referencing cairn.cairn_migrations" \
	"excl|DO \$\$ BEGIN EXECUTE 'ALTER TABLE cairn.cairn_audit ADD CONSTRAINT evil EXCLUDE USING btree (seq WITH =)'; END \$\$;|added, dropped or validated a constraint on or referencing cairn.cairn_audit" \
	"default|ALTER TABLE cairn.cairn_audit ALTER COLUMN environment SET DEFAULT 'prod';|changed a column default of cairn.cairn_audit" \
	"comment|COMMENT ON TABLE cairn.cairn_audit IS 'nothing to see';|put a comment or security label on cairn.cairn_audit" \
	"rls|ALTER TABLE cairn.cairn_audit ENABLE ROW LEVEL SECURITY;|turned row level security on or off for cairn.cairn_audit" \
	"forcerls|ALTER TABLE cairn.cairn_audit FORCE ROW LEVEL SECURITY;|turned row level security on or off for cairn.cairn_audit" \
	"srr|SET session_replication_role = replica;|set session_replication_role or track_counts, which hide writes to cairn.cairn_audit" \
	"nocount|SET LOCAL track_counts = off; DELETE FROM cairn.cairn_audit WHERE seq > 1; RESET track_counts;|changed the rows of cairn.cairn_audit"
do
	name=${case%%|*} rest=${case#*|} sql=${rest%%|*} what=${rest#*|}
	test_expect_success "a migration that does $name on cairn's books: refused before COMMIT, books and catalog unchanged" '
		try $name "$sql" &&
		n=$(bk $name "select count(*) from cairn.cairn_audit") &&
		state $name $n >before &&
		test_expect_code 1 cairn-apply apply $name.tar.gz --env dev --db "postgresql:///$name?host=$PGHOST" $KEY >out 2>err &&
		test_grep "migrations/0002_x/up.sql:.*a script may not write, alter, drop or put a trigger on cairn.s books: it $what" err &&
		test_grep "rolled back with the migration" err &&
		state $name $n >after &&
		test_cmp before after &&
		! grep t_mine after &&
		test "$(bk $name "select version || state from cairn.cairn_migrations order by version")" = 0001applied &&
		cairn-apply history --verify --db "postgresql:///$name?host=$PGHOST" >out 2>err
	'
done

# transaction: false: each statement commits on its own, so the books are
# compared after each one (their content: the transaction's statistics
# reset at each commit). What the statement did to them has committed: the
# run stops there (exit 5, the migration marked failed), nothing after it
# runs, and the chain check names the damage.
test_expect_success 'transaction: false: a statement that deletes audit rows stops the run at once; the chain check names it' '
	try nontx "DELETE FROM cairn.cairn_audit WHERE seq >= 2;
CREATE TABLE t_after (id int);" "transaction: false" &&
	test_expect_code 5 cairn-apply apply nontx.tar.gz --env dev --db "postgresql:///nontx?host=$PGHOST" $KEY >out 2>err &&
	test_grep "up.sql:2: .*it changed the rows of cairn.cairn_audit (it had committed before cairn could look: the run stops here)" err &&
	test "$(bk nontx "select count(*) from pg_class where relname = '"'"'t_after'"'"'")" = 0 &&
	test "$(bk nontx "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = failed &&
	test_expect_code 1 cairn-apply history --verify --db "postgresql:///nontx?host=$PGHOST" >out 2>err &&
	test_grep "audit chain broken: migration 0001: the audit row that recorded its last change .* is missing" err &&
	test_expect_code 5 cairn-apply apply nontx.tar.gz --env dev --db "postgresql:///nontx?host=$PGHOST" $KEY >out 2>err &&
	test_grep "the books were changed outside cairn-apply" err
'

# pgguard15b: the books' facts the snapshot did not hold. An operator's
# trigger that keeps cairn_audit append-only, disabled by a migration
# (the trigger count stays the same); the owner, privileges, constraints
# (a CHECK that blocks cairn's later rows, a foreign key from a table of
# the script's that pins them, an EXCLUDE), a column default, a comment,
# FORCE ROW LEVEL SECURITY and session_replication_role (which skips
# triggers) above (the CHECK and EXCLUDE through DO ... EXECUTE, past
# cairn check's contract-only rule, as an insider would). Each applied with exit 0 on the code before, but ENABLE
# ROW LEVEL SECURITY (relrowsecurity was compared) and the EXCLUDE (its
# index was counted), which were refused with another message.
test_expect_success 'a migration that disables the operator'"'"'s append-only trigger on cairn_audit: refused before COMMIT' '
	try distrig "ALTER TABLE cairn.cairn_audit DISABLE TRIGGER USER;" &&
	bk distrig "CREATE FUNCTION no_rewrite() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION '"'"'append only'"'"'; END \$\$; CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON cairn.cairn_audit FOR EACH ROW EXECUTE FUNCTION no_rewrite()" &&
	n=$(bk distrig "select count(*) from cairn.cairn_audit") &&
	state distrig $n >before &&
	test_expect_code 1 cairn-apply apply distrig.tar.gz --env dev --db "postgresql:///distrig?host=$PGHOST" $KEY >out 2>err &&
	test_grep "up.sql:.*it enabled or disabled a trigger of cairn.cairn_audit (refused before COMMIT" err &&
	state distrig $n >after &&
	test_cmp before after &&
	test "$(bk distrig "select tgenabled from pg_trigger where tgname = '"'"'append_only'"'"'")" = O &&
	cairn-apply history --verify --db "postgresql:///distrig?host=$PGHOST" >out 2>err
'

# transaction: false (pgguard15b): the rows are fingerprinted by count and
# xmin, not read whole; an UPDATE of an old row that keeps every count
# is still seen, and so are the catalog facts
test_expect_success 'transaction: false: an UPDATE of an old row'"'"'s state (counts unchanged) stops the run after it' '
	try nontxupd "CREATE TABLE t_before (id int);
UPDATE cairn.cairn_migrations SET state = '"'"'rolled_back'"'"' WHERE version = '"'"'0001'"'"';
CREATE TABLE t_after (id int);" "transaction: false" &&
	test_expect_code 5 cairn-apply apply nontxupd.tar.gz --env dev --db "postgresql:///nontxupd?host=$PGHOST" $KEY >out 2>err &&
	test_grep "up.sql:3: .*it changed the rows of cairn.cairn_migrations (it had committed before cairn could look: the run stops here)" err &&
	test "$(bk nontxupd "select count(*) from pg_class where relname = '"'"'t_after'"'"'")" = 0 &&
	test "$(bk nontxupd "select count(*) from pg_class where relname = '"'"'t_before'"'"'")" = 1 &&
	test "$(bk nontxupd "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = failed
'

# attack15h: the running migration's own row is left out of the xmin sums
# (cairn rewrites its progress before each statement) and compared by its
# content instead, every column but statement: a script that marks itself
# applied (or changes its checksum or down script) is still seen.
test_expect_success 'transaction: false: an UPDATE of the running migration'"'"'s own row stops the run after it' '
	try nontxself "UPDATE cairn.cairn_migrations SET state = '"'"'applied'"'"', checksum = '"'"'forged'"'"' WHERE version = '"'"'0002'"'"';
CREATE TABLE t_after (id int);" "transaction: false" &&
	test_expect_code 5 cairn-apply apply nontxself.tar.gz --env dev --db "postgresql:///nontxself?host=$PGHOST" $KEY >out 2>err &&
	test_grep "up.sql:2: .*it changed the rows of cairn.cairn_migrations (it had committed" err &&
	test "$(bk nontxself "select count(*) from pg_class where relname = '"'"'t_after'"'"'")" = 0 &&
	test "$(bk nontxself "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = failed
'

test_expect_success 'transaction: false: a GRANT on cairn_audit to PUBLIC stops the run after it' '
	try nontxgrant "GRANT ALL ON cairn.cairn_audit TO PUBLIC;
CREATE TABLE t_after (id int);" "transaction: false" &&
	test_expect_code 5 cairn-apply apply nontxgrant.tar.gz --env dev --db "postgresql:///nontxgrant?host=$PGHOST" $KEY >out 2>err &&
	test_grep "up.sql:2: .*it granted or revoked privileges on cairn.cairn_audit (it had committed" err &&
	test "$(bk nontxgrant "select count(*) from pg_class where relname = '"'"'t_after'"'"'")" = 0 &&
	test "$(bk nontxgrant "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = failed
'

# a script over 1 MiB streams (drivers/pg-stream.c): the books are
# compared once it ran, before COMMIT
test_expect_success 'a streamed script (over 1 MiB) that deletes audit rows: refused before COMMIT' '
	big=$(awk "BEGIN { for (i = 0; i < 40000; i++) print \"INSERT INTO t_mine VALUES (1);\" }") &&
	try big "$big
DELETE FROM cairn.cairn_audit;" &&
	n=$(bk big "select count(*) from cairn.cairn_audit") &&
	state big $n >before &&
	test_expect_code 1 cairn-apply apply big.tar.gz --env dev --db "postgresql:///big?host=$PGHOST" $KEY >out 2>err &&
	test_grep "a script may not write, alter, drop or put a trigger on cairn.s books: it deleted rows of cairn.cairn_audit" err &&
	state big $n >after &&
	test_cmp before after &&
	! grep t_mine after &&
	cairn-apply history --verify --db "postgresql:///big?host=$PGHOST" >out 2>err
'

test_expect_success 'the same statements on tables of its own run' '
	try own "CREATE TABLE my_audit (seq int); CREATE INDEX ON my_audit (seq); DELETE FROM my_audit; CREATE TEMP TABLE my_batch (x int); INSERT INTO my_batch VALUES (1);" &&
	cairn-apply apply own.tar.gz --env dev --db "postgresql:///own?host=$PGHOST" $KEY >out 2>err &&
	test "$(bk own "select state from cairn.cairn_migrations where version = '"'"'0002'"'"'")" = applied &&
	cairn-apply history --verify --db "postgresql:///own?host=$PGHOST" >out 2>err
'

test_done
