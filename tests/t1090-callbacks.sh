#!/bin/sh
test_description='SQL callbacks inside the bundle (issue #20): built, signed and hashed, run around the migrations on SQLite'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-attack.sh"

sq="'"

test_expect_success 'setup: a project without callbacks builds a format 1 bundle' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	tar xzf v1.tar.gz -O --wildcards "*/manifest.yaml" >m1 &&
	test_grep "^format: cairn-bundle/1$" m1 &&
	test_grep ! "^callbacks:" m1
'

test_expect_success 'callbacks are built into the bundle: format 2, listed with their sha256, hashed in SHA256SUMS' '
	apply_log_callbacks p before_migrate before_each after_migrate on_error &&
	apply_table p 0002_orders &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	tar tzf v2.tar.gz | sed "s,^[^/]*/,," >members &&
	tail -n 4 members >last4 &&
	cat >want <<-\EOF &&
	migrations/callbacks/after_migrate.sql
	migrations/callbacks/before_each.sql
	migrations/callbacks/before_migrate.sql
	migrations/callbacks/on_error.sql
	EOF
	test_cmp want last4 &&
	tar xzf v2.tar.gz -O --wildcards "*/manifest.yaml" >m2 &&
	test_grep "^format: cairn-bundle/2$" m2 &&
	sum=$(sha256sum <p/migrations/callbacks/before_each.sql | cut -d" " -f1) &&
	test_grep "^    sha256: $sum$" m2 &&
	tar xzf v2.tar.gz -O --wildcards "*/SHA256SUMS" >sums &&
	test_grep "^$sum  migrations/callbacks/before_each.sql$" sums &&
	cairn verify v2.tar.gz --key ci.pub >out &&
	cairn inspect v2.tar.gz >insp &&
	test_grep "^SQL callbacks (4):" insp &&
	test_grep "^  before_each.sql  sha256:$sum" insp
'

test_expect_success 'a file in migrations/callbacks/ that is not a callback is an error of the check' '
	echo "SELECT 1;" >p/migrations/callbacks/before_evrything.sql &&
	(cd p && test_must_fail cairn check >../out 2>&1) &&
	test_grep "before_evrything.sql.*bad-name: not a callback" out &&
	rm p/migrations/callbacks/before_evrything.sql
'

test_expect_success 'plan shows the callbacks and when they run' '
	apply_config "" &&
	cairn-apply plan v2.tar.gz --env dev >plan &&
	test_grep "^callback before_migrate: migrations/callbacks/before_migrate.sql (sha256:[0-9a-f]*) once, before the first pending migration" plan &&
	test_grep "^callback before_each: migrations/callbacks/before_each.sql" plan &&
	cairn-apply plan v2.tar.gz --env dev --format json >plan.json &&
	test_grep "\"callbacks\":\[{\"name\":\"before_migrate\"" plan.json
'

test_expect_success 'apply runs before_migrate once, before_each in each migration, after_migrate last, each in the audit' '
	cairn-apply apply v2.tar.gz --env dev >out &&
	q db "SELECT what FROM cb_log ORDER BY rowid" >log &&
	printf "before_migrate\nbefore_each\nbefore_each\nafter_migrate\n" >want &&
	test_cmp want log &&
	q db "SELECT action, version FROM cairn_audit WHERE action IN (${sq}callback$sq, ${sq}apply$sq) ORDER BY seq" >rows &&
	printf "callback|\napply|0001\napply|0002\ncallback|\n" >want &&
	test_cmp want rows &&
	sum=$(sha256sum <p/migrations/callbacks/before_each.sql | cut -d" " -f1) &&
	q db "SELECT count(*) FROM cairn_audit WHERE action = ${sq}apply$sq AND detail LIKE $sq%callback=before_each.sql; sha256=$sum; outcome=ok%$sq" >n &&
	echo 2 >want && test_cmp want n &&
	q db "SELECT detail FROM cairn_audit WHERE action = ${sq}callback$sq ORDER BY seq" >cb &&
	test_grep "^callback=before_migrate.sql; sha256=[0-9a-f]*; outcome=ok; policy: " cb &&
	test_grep "^callback=after_migrate.sql; sha256=[0-9a-f]*; outcome=ok; policy: " cb &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'nothing runs when nothing is pending' '
	cairn-apply apply v2.tar.gz --env dev >out &&
	test_grep "nothing to apply" out &&
	q db "SELECT count(*) FROM cb_log" >n && echo 4 >want && test_cmp want n
'

test_expect_success 'a failing after_each rolls its migration back: table absent, books unchanged; on_error runs' '
	echo "INSERT INTO no_such_table VALUES (1);" >p/migrations/callbacks/after_each.sql &&
	apply_table p 0003_items &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	q db "SELECT version, state FROM cairn_migrations ORDER BY version" >books.before &&
	test_expect_code 1 cairn-apply apply v3.tar.gz --env dev >out 2>err &&
	test_grep "callback after_each (sha256:[0-9a-f]*) failed: migrations/callbacks/after_each.sql:1: " err &&
	q db "SELECT count(*) FROM sqlite_master WHERE name = ${sq}t_0003_items$sq" >n &&
	echo 0 >want && test_cmp want n &&
	q db "SELECT version, state FROM cairn_migrations WHERE state = ${sq}applied$sq ORDER BY version" >books.after &&
	test_cmp books.before books.after &&
	q db "SELECT what FROM cb_log ORDER BY rowid" >log &&
	tail -n 2 log >last &&
	printf "before_migrate\non_error\n" >want && test_cmp want last &&
	q db "SELECT detail FROM cairn_audit WHERE action = ${sq}callback$sq ORDER BY seq DESC LIMIT 1" >cb &&
	test_grep "^callback=on_error.sql; sha256=[0-9a-f]*; outcome=ok; policy: " cb &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'a failing on_error does not hide the original error, and is in the audit' '
	echo "INSERT INTO nowhere VALUES (1);" >p/migrations/callbacks/on_error.sql &&
	apply_build p "$TRASH_DIRECTORY/v4.tar.gz" &&
	test_expect_code 1 cairn-apply apply v4.tar.gz --env dev >out 2>err &&
	test_grep "callback after_each (sha256:[0-9a-f]*) failed" err &&
	test_grep ! "nowhere" err &&
	q db "SELECT detail FROM cairn_audit WHERE action = ${sq}callback$sq ORDER BY seq DESC LIMIT 1" >cb &&
	test_grep "^callback=on_error.sql; sha256=[0-9a-f]*; outcome=failed: callback on_error (sha256:[0-9a-f]*) failed: migrations/callbacks/on_error.sql:1: .*nowhere" cb
'

test_expect_success 'a tampered callback member is refused (exit 3), nothing written' '
	bundle_rewrite v2.tar.gz forged.tar.gz \
		"m[\"migrations/callbacks/before_each.sql\"] = b\"DROP TABLE t_0001_users;\\n\"" &&
	test_expect_code 3 cairn-apply apply forged.tar.gz --env dev --db sqlite:fresh 2>err &&
	test_grep "refusing .forged.tar.gz.*the sha256 of .migrations/callbacks/before_each.sql. differs from manifest.yaml" err &&
	test ! -e fresh
'

# The unchanged-file path reads no member: what refuses a callback
# rewritten together with SHA256SUMS there is the manifest's parse, which
# compares each file, the callbacks last, with SHA256SUMS (issue #14).
test_expect_success 'a tampered callback, its file planted as verified before, nothing pending: still refused (exit 3)' '
	mkdir nocfg &&
	(
		cd nocfg &&
		cairn-apply apply ../v2.tar.gz --env dev --db sqlite:k.db $KEY >out &&
		test_grep "^applied 2 migrations" out &&
		h=$(sha256sum ../forged.tar.gz | cut -d" " -f1) &&
		q k.db "INSERT INTO cairn_bundle_files VALUES ($sq$h$sq, ${sq}x$sq, ${sq}x$sq)" &&
		cp k.db k.before &&
		test_expect_code 3 cairn-apply apply ../forged.tar.gz --env dev --db sqlite:k.db $KEY 2>err &&
		test_grep "refusing bundle .../forged.tar.gz.: member .SHA256SUMS.: the sha256 of .migrations/callbacks/before_each.sql. differs from manifest.yaml" err &&
		cmp k.before k.db &&
		cairn-apply apply ../v2.tar.gz --env dev --db sqlite:k.db $KEY >out &&
		test_grep "nothing to apply" out
	)
'

test_expect_success 'a callback member the manifest does not list is refused (exit 3)' '
	echo "DROP TABLE t_0001_users;" >extra.sql &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" v1.tar.gz added.tar.gz --repack \
		migrations/callbacks/before_each.sql extra.sql &&
	test_expect_code 3 cairn-apply apply added.tar.gz --env dev --db sqlite:fresh 2>err &&
	test_grep "migrations/callbacks/before_each.sql.*not listed in SHA256SUMS" err &&
	test ! -e fresh
'

test_expect_success 'a bundle of a format this applier does not read is refused by its message (what an applier of format 1 does with format 2)' '
	bundle_rewrite v2.tar.gz f3u.tar.gz \
		"m[\"manifest.yaml\"] = m[\"manifest.yaml\"].replace(b\"format: cairn-bundle/2\", b\"format: cairn-bundle/4\")" &&
	bundle_resign f3u.tar.gz f3.tar.gz "$TRASH_DIRECTORY/ci" &&
	test_expect_code 3 cairn-apply verify f3.tar.gz --key ci.pub >out 2>err &&
	test_grep "unknown bundle format (this cairn reads cairn-bundle/1, cairn-bundle/2 and cairn-bundle/3; a newer cairn made this bundle?)" err
'

test_expect_success 'sign and promote rewrite a format 2 bundle with its callbacks' '
	(cd "$TRASH_DIRECTORY" && cairn keygen --no-passphrase bob >/dev/null 2>&1) &&
	cp v2.tar.gz s2.tar.gz &&
	cairn sign s2.tar.gz --key bob.key >out 2>&1 &&
	cairn promote s2.tar.gz --to dev --key bob.key >out 2>&1 &&
	tar tzf s2.tar.gz | grep -c "/migrations/callbacks/" >n && echo 4 >want && test_cmp want n &&
	cairn-apply verify s2.tar.gz --key ci.pub >out &&
	cairn-apply verify s2.tar.gz --key bob.pub >out
'

test_expect_success 'a format 1 bundle (no callbacks) is still applied, and runs no callback' '
	cairn-apply apply v1.tar.gz --env dev --db sqlite:old >out &&
	q old "SELECT state FROM cairn_migrations" >st && echo applied >want && test_cmp want st &&
	q old "SELECT count(*) FROM cairn_audit WHERE action = ${sq}callback$sq" >n &&
	echo 0 >want && test_cmp want n
'

test_done
