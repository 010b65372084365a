#!/bin/sh
test_description='cairn-apply apply: a bundle file verified whole and applied is recorded in the books; the next apply of the same bytes reads no migration member it does not run'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-attack.sh"

test_expect_success 'setup: three migrations, a signed bundle, and that bundle with 0003 changed' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_table p 0002_items &&
	apply_table p 0003_orders &&
	apply_build p "$TRASH_DIRECTORY/v3.tar.gz" &&
	mkdir x &&
	tar -xzf v3.tar.gz -C x &&
	tar -tzf v3.tar.gz >list &&
	top=$(ls x) &&
	echo "DROP TABLE t_0001_users;" >>"x/$top/migrations/0003_orders/up.sql" &&
	(cd x && tar --format=posix --no-recursion -czf ../changed.tar.gz -T ../list) &&
	test_expect_code 3 cairn-apply verify changed.tar.gz $KEY 2>err &&
	test_grep "0003_orders/up.sql.: sha256 does not match" err
'

test_expect_success 'the first apply records the file it verified whole' '
	cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	test_grep "^applied 3 migrations" out &&
	q db1 "SELECT sha256 FROM cairn_bundle_files" >got &&
	sha256sum v3.tar.gz | cut -d" " -f1 >want &&
	test_cmp want got &&
	q db1 "SELECT bundle_id FROM cairn_bundle_files" >got &&
	q db1 "SELECT DISTINCT bundle_id FROM cairn_migrations" >want &&
	test_cmp want got
'

test_expect_success 'the same file again: nothing to apply, nothing written' '
	cp db1 before &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	test_grep "nothing to apply: db1 is at version 0003" out &&
	cmp before db1
'

test_expect_success 'plan and apply --dry-run record nothing' '
	cp db1 before &&
	q before "DELETE FROM cairn_bundle_files" &&
	cp before d.db &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:d.db --dry-run $KEY >out &&
	cmp before d.db &&
	cairn-apply plan v3.tar.gz --env dev --db sqlite:d.db $KEY >out &&
	cmp before d.db
'

test_expect_success 'rolled back, then the recorded file again: its members are read, checked and run' '
	cp db1 db3 &&
	cairn-apply rollback --db sqlite:db3 --last 1 >out &&
	q db3 "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_0003_orders'"'"'" >n &&
	echo 0 >zero && test_cmp zero n &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:db3 $KEY >out &&
	test_grep "^applied 1 migration; db3 is at version 0003" out &&
	q db3 "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_0003_orders'"'"'" >n &&
	echo 1 >one && test_cmp one n &&
	q db3 "SELECT state FROM cairn_migrations WHERE version = '"'"'0003'"'"'" >state &&
	echo applied >want && test_cmp want state &&
	q db3 "SELECT count(*) FROM cairn_bundle_files" >n && test_cmp one n
'

# What a hash planted in the books can do (docs/design.md, "An unchanged
# bundle file"): a changed file whose migrations are all applied ends with
# nothing to do, since none of its members is read; anything that would
# run is read first, checked, and refused.
test_expect_success 'a planted hash: a changed file with nothing pending has nothing to do; none of it is read' '
	cp db1 planted.db &&
	h=$(sha256sum changed.tar.gz | cut -d" " -f1) &&
	q planted.db "INSERT INTO cairn_bundle_files VALUES ('"'"'$h'"'"', '"'"'x'"'"', '"'"'x'"'"')" &&
	cairn-apply apply changed.tar.gz --env dev --db sqlite:planted.db $KEY >out &&
	test_grep "nothing to apply" out &&
	test_expect_code 3 cairn-apply apply changed.tar.gz --env dev --db sqlite:db1 $KEY 2>err &&
	test_grep "0003_orders/up.sql.: sha256 does not match" err
'

test_expect_success 'a planted hash: a changed file with a migration to run is refused before it runs' '
	cp db1 pending.db &&
	cairn-apply rollback --db sqlite:pending.db --last 1 >out &&
	h=$(sha256sum changed.tar.gz | cut -d" " -f1) &&
	q pending.db "INSERT INTO cairn_bundle_files VALUES ('"'"'$h'"'"', '"'"'x'"'"', '"'"'x'"'"')" &&
	q pending.db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows.before &&
	test_expect_code 3 cairn-apply apply changed.tar.gz --env dev --db sqlite:pending.db $KEY 2>err &&
	test_grep "changed since it was verified" err &&
	test_grep "0003_orders/up.sql.: sha256 does not match" err &&
	q pending.db "SELECT version, state FROM cairn_migrations ORDER BY version" >rows &&
	test_cmp rows.before rows &&
	q pending.db "SELECT count(*) FROM t_0001_users" >n &&
	echo 0 >zero && test_cmp zero n &&
	q pending.db "SELECT count(*) FROM sqlite_master WHERE name = '"'"'t_0003_orders'"'"'" >n &&
	test_cmp zero n
'

test_expect_success 'under the applier config too: the policy is checked, the members are not read' '
	cat >cairn-apply.yaml <<-EOC &&
	environments:
	  dev:
	    database: { dsn: "sqlite:$TRASH_DIRECTORY/cfg.db" }
	    builders: [$TRASH_DIRECTORY/ci.pub]
	  other:
	    database: { dsn: "sqlite:$TRASH_DIRECTORY/cfg.db" }
	    builders: [$TRASH_DIRECTORY/other.pub]
	EOC
	(cd "$TRASH_DIRECTORY" && cairn keygen --no-passphrase other >/dev/null 2>&1) &&
	cairn-apply apply v3.tar.gz --config cairn-apply.yaml --env dev >out &&
	test_grep "^applied 3 migrations" out &&
	q cfg.db "SELECT sha256 FROM cairn_bundle_files" >got &&
	sha256sum v3.tar.gz | cut -d" " -f1 >want &&
	test_cmp want got &&
	h=$(sha256sum changed.tar.gz | cut -d" " -f1) &&
	q cfg.db "INSERT INTO cairn_bundle_files VALUES ('"'"'$h'"'"', '"'"'x'"'"', '"'"'x'"'"')" &&
	cairn-apply apply changed.tar.gz --config cairn-apply.yaml --env dev >out &&
	test_grep "nothing to apply" out &&
	test_expect_code 3 cairn-apply apply v3.tar.gz --config cairn-apply.yaml --env other 2>err &&
	test_grep "build signature by unknown key" err
'

test_expect_success 'another file of the same bundle (repacked) is verified whole, then recorded too' '
	top=$(ls x) &&
	git -C p show HEAD:migrations/0003_orders/up.sql >"x/$top/migrations/0003_orders/up.sql" &&
	(cd x && tar --format=posix --no-recursion -czf ../repacked.tar.gz -T ../list) &&
	! cmp -s v3.tar.gz repacked.tar.gz &&
	cairn-apply apply repacked.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	test_grep "nothing to apply" out &&
	q db1 "SELECT count(*) FROM cairn_bundle_files" >n &&
	echo 2 >two && test_cmp two n
'

# The manifest's parse compares each file with SHA256SUMS as it goes
# (issue #14); on this path, where no member is read, that comparison and
# cross_check are what find a SHA256SUMS rewritten to match a changed
# member. A planted hash must not make such a file pass: at the first and
# at the last file of the bundle, and with an entry added.
test_expect_success 'a planted hash: SHA256SUMS that differs from the signed manifest is still refused, nothing read' '
	bundle_rewrite v3.tar.gz first.tar.gz "m[\"migrations/0001_users/up.sql\"] += b\"-- x\\n\"" &&
	last=$(tar -tzf v3.tar.gz | sed -n "s|^[^/]*/\(migrations/0003_orders/.*\)|\1|p" | sort | tail -1) &&
	bundle_rewrite v3.tar.gz last.tar.gz "m[\"$last\"] += b\"-- x\\n\"" &&
	bundle_rewrite v3.tar.gz added.tar.gz "m[\"migrations/0003_orders/zz.sql\"] = b\"-- x\\n\"" &&
	for f in first last added
	do
		cp db1 $f.db &&
		h=$(sha256sum $f.tar.gz | cut -d" " -f1) &&
		q $f.db "INSERT INTO cairn_bundle_files VALUES ('"'"'$h'"'"', '"'"'x'"'"', '"'"'x'"'"')" &&
		cp $f.db $f.before &&
		test_expect_code 3 cairn-apply apply $f.tar.gz --env dev --db sqlite:$f.db $KEY >out 2>err.$f &&
		cmp $f.before $f.db || return 1
	done &&
	test_grep "refusing bundle .first.tar.gz.: member .SHA256SUMS.: the sha256 of .migrations/0001_users/up.sql. differs from manifest.yaml.s" err.first &&
	test_grep "refusing bundle .last.tar.gz.: member .SHA256SUMS.: the sha256 of .$last. differs from manifest.yaml.s" err.last &&
	test_grep "refusing bundle .added.tar.gz.: member .SHA256SUMS.: lists .migrations/0003_orders/zz.sql., which manifest.yaml does not" err.added
'

test_expect_success 'the recorded file, its manifest parsed as it streams: drift in the books at the first and the last migration is still found' '
	h=$(sha256sum v3.tar.gz | cut -d" " -f1) &&
	q db1 "SELECT count(*) FROM cairn_bundle_files WHERE sha256 = '"'"'$h'"'"'" >n &&
	test "$(cat n)" = 1 &&
	for v in 0001 0003; do
		cp db1 drift-$v &&
		q drift-$v "UPDATE cairn_migrations SET checksum = '"'"'sha256:00'"'"' WHERE version = '"'"'$v'"'"'" &&
		cp drift-$v drift-$v.before &&
		test_expect_code 5 cairn-apply apply v3.tar.gz --env dev --db sqlite:drift-$v $KEY >out 2>err &&
		test_grep "the books were changed outside cairn-apply" err &&
		test_grep "$v" err &&
		cmp drift-$v.before drift-$v || return 1
	done &&
	q drift-0003 "SELECT checksum FROM cairn_migrations WHERE version = '"'"'0003'"'"'" >got &&
	echo sha256:00 >want &&
	test_cmp want got
'

test_expect_success 'the table dropped: the next apply verifies the whole bundle and records it again' '
	q db1 "DROP TABLE cairn_bundle_files" &&
	cairn-apply apply v3.tar.gz --env dev --db sqlite:db1 $KEY >out &&
	test_grep "nothing to apply" out &&
	q db1 "SELECT sha256 FROM cairn_bundle_files" >got &&
	sha256sum v3.tar.gz | cut -d" " -f1 >want &&
	test_cmp want got
'

test_done
