#!/bin/sh
test_description='the trust policy: every refusal, by rule, end to end on SQLite'
. "$(dirname "$0")/test-lib.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT PROD_DSN

# repack IN OUT [ADD_NAME ADD_FILE]... [-DROP_NAME]...: rewrites a bundle's
# tarball with members added, replaced or dropped, in a bundle's order.
repack() {
	src=$1 dst=$2 &&
	shift 2 &&
	python3 "$TEST_DIRECTORY/helpers/bundle-rewrite.py" "$src" "$dst" --repack "$@"
}

test_expect_success 'setup: keys, a project, two bundles, the applier config' '
	mkdir -p keys &&
	for k in ci alice bob carol eve stg dba; do
		cairn keygen --no-passphrase keys/$k >/dev/null 2>&1 || return 1
	done &&
	test_create_project p &&
	test_migration p 20260101000000_users &&
	test_migration p 20260102000000_orders &&
	test_commit p v1 &&
	(cd p && cairn build --sign ../keys/ci.key -o ../v1.tar.gz >/dev/null 2>&1) &&
	test_migration p 20260103000000_items &&
	test_commit p v2 &&
	(cd p && cairn build --sign ../keys/ci.key -o ../v2.tar.gz >/dev/null 2>&1) &&
	(cd p && cairn build --sign ../keys/eve.key -o ../eve.tar.gz >/dev/null 2>&1) &&
	cat >cairn-apply.yaml <<-\EOF &&
	defaults:
	  builders: [keys/ci.pub]
	  admins: [keys/dba.pub]
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	  staging:
	    database: { dsn: "sqlite:staging.db" }
	    approvers: [keys/alice.pub, keys/bob.pub, keys/carol.pub]
	  prod:
	    database: { dsn_env: PROD_DSN }
	    approvals: 2
	    approvers: [keys/alice.pub, keys/bob.pub, keys/carol.pub]
	    after: staging
	    receipts_from: [keys/stg.pub]
	    revoked:
	      - {key: keys/carol.pub, since: 2020-01-01T00:00:00Z}
	EOF
	cairn-apply config --env prod >/dev/null
'

test_expect_success 'dev: a build by CI is enough; the audit row names it' '
	cp v2.tar.gz b.tar.gz &&
	cairn-apply apply b.tar.gz --env dev >out &&
	test_grep "applied 3 migrations; dev.db is at version 20260103000000" out &&
	sqlite3 dev.db "SELECT detail FROM cairn_audit WHERE seq = 1" >detail &&
	test_grep "policy: build signatures/[0-9a-f]*.yaml (ci [0-9a-f]*)" detail
'

test_expect_success 'a build by a key that is not a builder is refused (exit 3)' '
	test_expect_code 3 cairn-apply apply eve.tar.gz --env dev 2>err &&
	test_grep "refusing .eve.tar.gz. for .dev.: build: build signature by unknown key" err &&
	test_grep "the database is unchanged" err
'

test_expect_success 'staging: no approval, refused before the database is opened' '
	test_expect_code 3 cairn-apply apply b.tar.gz --env staging 2>err &&
	test_grep "refusing .b.tar.gz. for .staging.: approvals: .staging. needs 1 approval by distinct approvers (keys/alice.pub, keys/bob.pub, keys/carol.pub), the bundle carries 0" err &&
	test ! -f staging.db
'

test_expect_success 'an approval for another environment does not count, and is named' '
	cairn promote b.tar.gz --to dev --key keys/alice.key -o t.tar.gz 2>/dev/null >/dev/null &&
	test_expect_code 3 cairn-apply verify t.tar.gz --env staging 2>err &&
	test_grep "approvals: .staging. needs 1 approval.*carries 0; .approvals/dev-[0-9a-f]*.yaml. approves .dev., not .staging." err
'

test_expect_success 'an approval by someone who is not an approver does not count' '
	cairn promote b.tar.gz --to staging --key keys/eve.key -o t.tar.gz 2>/dev/null >/dev/null &&
	test_expect_code 3 cairn-apply verify t.tar.gz --env staging 2>err &&
	test_grep "approvals/staging-[0-9a-f]*.yaml. is signed by [0-9a-f]*, not an approver of .staging." err
'

test_expect_success 'an expired approval does not count' '
	cairn promote b.tar.gz --to staging --key keys/bob.key --expires 1s -o t.tar.gz 2>/dev/null >/dev/null &&
	sleep 2 &&
	test_expect_code 3 cairn-apply verify t.tar.gz --env staging 2>err &&
	test_grep "approvals/staging-[0-9a-f]*.yaml. by keys/bob.pub ([0-9a-f]*) expired at 20" err
'

test_expect_success 'a statement by a revoked key counts for nothing, and is named' '
	cairn promote b.tar.gz --to staging --key keys/carol.key -o t.tar.gz 2>/dev/null >/dev/null &&
	cairn-apply verify t.tar.gz --env staging >out &&
	test_expect_code 3 cairn-apply verify t.tar.gz --env prod 2>err &&
	test_grep "after: .prod. comes after .staging., and the bundle carries 0 of the 1 approval" err &&
	test_grep "note: ignored: .approvals/staging-[0-9a-f]*.yaml. is signed by keys/carol.pub ([0-9a-f]*) at 20[0-9T:-]*Z, and that key is revoked since 2020-01-01T00:00:00Z (cairn-apply.yaml:17:15)" err
'

test_expect_success 'staging: approved by alice, applied, a receipt added' '
	cairn promote b.tar.gz --to staging --key keys/alice.key 2>/dev/null >/dev/null &&
	cairn-apply apply b.tar.gz --env staging --receipt-key keys/stg.key >out 2>err &&
	test_grep "applied 3 migrations" out &&
	test_grep "receipt for .staging. added to .b.tar.gz.: approvals/staging-receipt-[0-9a-f]*.yaml" err &&
	tar xzf b.tar.gz -O --wildcards "*/approvals/staging-receipt-*.yaml" >r.yaml &&
	test_grep "^type: receipt$" r.yaml &&
	test_grep "^environment: staging$" r.yaml &&
	test_grep "^database: staging.db$" r.yaml &&
	test_grep ! "sqlite:" r.yaml
'

test_expect_success 'a receipt is added only to the bundle that was verified: a file swapped during the run gets none' '
	cat >swap.yaml <<-\EOF &&
	defaults:
	  builders: [keys/ci.pub]
	environments:
	  swap:
	    database: { dsn: "sqlite:swap.db" }
	    hooks:
	      after: "cp v1.tar.gz s.tar.gz"
	EOF
	cp v2.tar.gz s.tar.gz &&
	test_expect_code 6 cairn-apply apply s.tar.gz --config swap.yaml --env swap \
		--receipt-key keys/stg.key >out 2>err &&
	test_grep "applied 3 migrations" out &&
	test_grep "no receipt was added: .s.tar.gz. is no longer the bundle that was verified" err &&
	test_cmp v1.tar.gz s.tar.gz &&
	test "$(sqlite3 swap.db "SELECT count(*) FROM cairn_migrations WHERE state = \"applied\"")" = 3
'

test_expect_success 'a receipt key readable by others is refused, before the apply' '
	cp keys/stg.key loose.key && chmod 644 loose.key &&
	test_expect_code 6 cairn-apply apply b.tar.gz --env staging --receipt-key loose.key 2>err &&
	test_grep "cannot use --receipt-key: receipt key .loose.key. is readable by others; run .chmod 600 loose.key." err &&
	test_grep "nothing was applied: the database is unchanged" err
'

test_expect_success 'prod: one approval of two is refused' '
	cairn promote b.tar.gz --to prod --key keys/alice.key 2>/dev/null >/dev/null &&
	PROD_DSN=sqlite:prod.db test_expect_code 3 cairn-apply apply b.tar.gz --env prod 2>err &&
	test_grep "approvals: .prod. needs 2 approvals by distinct approvers .*, the bundle carries 1" err &&
	test ! -f prod.db
'

test_expect_success 'plan enforces the policy too' '
	PROD_DSN=sqlite:prod.db test_expect_code 3 cairn-apply plan b.tar.gz --env prod 2>err &&
	test_grep "approvals: .prod. needs 2" err
'

test_expect_success 'prod: the database variable must be set' '
	cairn promote b.tar.gz --to prod --key keys/bob.key 2>/dev/null >/dev/null &&
	test_expect_code 6 cairn-apply apply b.tar.gz --env prod 2>err &&
	test_grep "the environment variable .PROD_DSN. (dsn_env at cairn-apply.yaml:11:26) is not set" err
'

test_expect_success 'prod: two approvals, the staging approval and its receipt: applied' '
	PROD_DSN=sqlite:prod.db cairn-apply verify b.tar.gz --env prod >out &&
	test_grep "ok for .prod." out &&
	test_grep "approvals/staging-receipt-[0-9a-f]*.yaml: receipt by" out &&
	PROD_DSN=sqlite:prod.db cairn-apply apply b.tar.gz --env prod >out &&
	test_grep "applied 3 migrations" out &&
	sqlite3 prod.db "SELECT detail FROM cairn_audit WHERE seq = 1" >detail &&
	test_grep "approval approvals/prod-[0-9a-f]*.yaml (alice" detail &&
	test_grep "approval approvals/prod-[0-9a-f]*.yaml (bob" detail &&
	test_grep "approval approvals/staging-[0-9a-f]*.yaml (alice" detail &&
	test_grep "receipt approvals/staging-receipt-[0-9a-f]*.yaml (stg" detail &&
	cairn-apply history --db sqlite:prod.db --verify >out &&
	test_grep "audit chain intact" out
'

test_expect_success 'no approval for the after environment, no receipt: both named' '
	cp v2.tar.gz fresh.tar.gz &&
	cairn promote fresh.tar.gz --to prod --key keys/alice.key 2>/dev/null >/dev/null &&
	cairn promote fresh.tar.gz --to prod --key keys/bob.key 2>/dev/null >/dev/null &&
	test_expect_code 3 cairn-apply verify fresh.tar.gz --env prod 2>err &&
	test_grep "after: .prod. comes after .staging., and the bundle carries 0 of the 1 approval .staging. needs; promote it to .staging. first" err &&
	test_grep "receipt: no receipt by a receipts_from key (keys/stg.pub): nothing shows the bundle ran in .staging." err
'

test_expect_success 'an admin override waives the receipt; a non-admin one is refused' '
	cairn promote fresh.tar.gz --to staging --key keys/alice.key 2>/dev/null >/dev/null &&
	cairn override fresh.tar.gz --env prod --key keys/alice.key --allow no-receipt -o nonadmin.tar.gz 2>/dev/null >/dev/null &&
	test_expect_code 3 cairn-apply verify nonadmin.tar.gz --env prod 2>err &&
	test_grep "override-not-admin: .approvals/prod-override-[0-9a-f]*.yaml. is an override signed by keys/alice.pub" err &&
	cairn override fresh.tar.gz --env prod --key keys/dba.key --allow no-receipt 2>/dev/null >/dev/null &&
	cairn-apply verify fresh.tar.gz --env prod >out &&
	test_grep "approvals/prod-override-[0-9a-f]*.yaml: override by [0-9a-f]* (dba): counts" out
'

test_expect_success 'an override for staging does not help prod' '
	cp v2.tar.gz o.tar.gz &&
	cairn promote o.tar.gz --to staging --key keys/alice.key 2>/dev/null >/dev/null &&
	cairn promote o.tar.gz --to prod --key keys/alice.key 2>/dev/null >/dev/null &&
	cairn promote o.tar.gz --to prod --key keys/bob.key 2>/dev/null >/dev/null &&
	cairn override o.tar.gz --env staging --key keys/dba.key --allow no-receipt 2>/dev/null >/dev/null &&
	test_expect_code 3 cairn-apply verify o.tar.gz --env prod 2>err &&
	test_grep "receipt: no receipt" err
'

test_expect_success 'an approval made for another bundle is refused, naming it' '
	cp v1.tar.gz other.tar.gz &&
	cairn promote other.tar.gz --to staging --key keys/bob.key 2>/dev/null >/dev/null &&
	mkdir -p x && tar xzf other.tar.gz -C x --strip-components=1 --wildcards "*/approvals/*" &&
	name=$(cd x && ls approvals/*.yaml) && base=${name%.yaml} &&
	repack b.tar.gz moved.tar.gz $base.yaml x/$base.yaml $base.sig x/$base.sig &&
	test_expect_code 3 cairn-apply verify moved.tar.gz --env staging 2>err &&
	test_grep "wrong-bundle: .$base.yaml. names bundle sha256:[0-9a-f]*..., not this bundle" err
'

test_expect_success 'an edited approval is refused as forged' '
	mkdir -p y && tar xzf b.tar.gz -C y --strip-components=1 --wildcards "*/approvals/prod-*" &&
	name=$(cd y && ls approvals/prod-*.yaml | head -n 1) &&
	sed -e "s/^environment: prod$/environment: prod\ncomment: sneaky/" y/$name >edited.yaml &&
	repack b.tar.gz forged.tar.gz $name edited.yaml &&
	test_expect_code 3 cairn-apply verify forged.tar.gz --env prod 2>err &&
	test_grep "bad-signature: .$name. (approval by .*): bad signature; it was altered or forged" err
'

test_expect_success 'an older bundle than the database has is refused (rollback attack)' '
	test_expect_code 3 cairn-apply apply v1.tar.gz --env dev 2>err &&
	test_grep "older-bundle: the database already has version 20260103000000, newer than this bundle.s newest (20260102000000)" err &&
	test_expect_code 3 cairn-apply plan v1.tar.gz --env dev 2>err &&
	test_grep "older-bundle" err
'

test_expect_success 'an admin override allows the older bundle, and the audit says so' '
	cp v1.tar.gz old.tar.gz &&
	cairn override old.tar.gz --env dev --key keys/dba.key --allow older-bundle --comment "INC-9" 2>/dev/null >/dev/null &&
	cairn-apply verify old.tar.gz --env dev >out &&
	cairn-apply apply old.tar.gz --env dev >out 2>err &&
	test_grep "nothing to apply" out
'

test_expect_success '--key and --config are exclusive; --key mode skips the policy' '
	test_expect_code 2 cairn-apply apply b.tar.gz --env dev --config cairn-apply.yaml --key keys/ci.pub 2>err &&
	test_grep "\-\-key and --config are exclusive" err &&
	cp v2.tar.gz k.tar.gz &&
	cairn-apply apply k.tar.gz --env scratch --db sqlite:scratch.db --key keys/ci.pub >out &&
	test_grep "applied 3 migrations" out
'

test_expect_success 'repair under the policy needs an admin override on the bundle' '
	test_create_project q &&
	printf "lint: {sqlite-error: off}\n" >>q/cairn.yaml &&
	test_migration q 20260201000000_half &&
	printf "transaction: false\n" >q/migrations/20260201000000_half/migration.yaml &&
	printf "CREATE TABLE half (id integer);\nINSERT INTO nowhere VALUES (1);\n" >q/migrations/20260201000000_half/up.sql &&
	test_commit q half &&
	(cd q && cairn build --sign ../keys/ci.key -o ../half.tar.gz >/dev/null 2>&1) &&
	sed -e "s/dev.db/half.db/" cairn-apply.yaml >half.yaml &&
	test_expect_code 5 cairn-apply apply half.tar.gz --env dev --config half.yaml >out 2>err &&
	test_expect_code 2 cairn-apply repair --env dev --config half.yaml 20260201000000 --mark-rolled-back 2>err &&
	test_grep "missing --bundle BUNDLE" err &&
	test_expect_code 3 cairn-apply repair --env dev --config half.yaml --bundle half.tar.gz 20260201000000 --mark-rolled-back 2>err &&
	test_grep "override: .repair. in .dev. needs an override statement allowing repair, signed by an admin (admins: keys/dba.pub)" err &&
	cairn override half.tar.gz --env dev --key keys/dba.key --allow repair --comment "dropped half by hand" 2>/dev/null >/dev/null &&
	sqlite3 half.db "DROP TABLE half" &&
	cairn-apply repair --env dev --config half.yaml --bundle half.tar.gz 20260201000000 --mark-rolled-back >out &&
	test_grep "repaired 20260201000000: marked rolled back" out &&
	sqlite3 half.db "SELECT detail FROM cairn_audit WHERE action = '"'"'repair'"'"'" >detail &&
	test_grep "override approvals/dev-override-[0-9a-f]*.yaml (dba" detail
'

test_expect_success 'repair --accept-checksum under the policy needs an admin override too, and the audit names it' '
	test_create_project r &&
	sed -i -e "/^release_refs:/,/^\$/c\\
release_refs: []\\
" r/cairn.yaml &&
	test_migration r 20260301000000_ddl &&
	test_commit r ddl &&
	(cd r && cairn build --sign ../keys/ci.key -o ../r1.tar.gz >/dev/null 2>&1) &&
	sed -e "s/dev.db/drift.db/" cairn-apply.yaml >drift.yaml &&
	cairn-apply apply r1.tar.gz --env dev --config drift.yaml >out 2>err &&
	printf "%s\n" "-- re-released with a comment" "CREATE TABLE t_20260301000000_ddl (id integer);" >r/migrations/20260301000000_ddl/up.sql &&
	test_commit r comment &&
	(cd r && cairn build --sign ../keys/ci.key -o ../r2.tar.gz >/dev/null 2>&1) &&
	test_expect_code 5 cairn-apply apply r2.tar.gz --env dev --config drift.yaml >out 2>err &&
	test_grep "accept-checksum" err &&
	test_expect_code 3 cairn-apply repair r2.tar.gz --env dev --config drift.yaml 20260301000000 --accept-checksum --reason "comment only" 2>err &&
	test_grep "needs an override statement allowing repair, signed by an admin" err &&
	cairn override r2.tar.gz --env dev --key keys/dba.key --allow repair --comment "comment-only re-release" 2>/dev/null >/dev/null &&
	cairn-apply repair r2.tar.gz --env dev --config drift.yaml 20260301000000 --accept-checksum --reason "comment only" >out &&
	test_grep "repaired 20260301000000: drift accepted" out &&
	sqlite3 drift.db "SELECT detail FROM cairn_audit WHERE action = '"'"'repair'"'"'" >detail &&
	test_grep "accept-checksum: .* why: comment only" detail &&
	test_grep "override approvals/dev-override-[0-9a-f]*.yaml (dba" detail &&
	cairn-apply apply r2.tar.gz --env dev --config drift.yaml >out 2>err &&
	test_grep "nothing to apply" out
'

test_expect_success 'no config and no --key: nothing is trusted, refused' '
	mkdir -p nocfg &&
	(cd nocfg && test_expect_code 3 cairn-apply apply ../v2.tar.gz --env dev --db sqlite:x.db 2>../err) &&
	test_grep "no builder key is trusted: pass --key PUB, or name the applier.s config with --config FILE" err &&
	test ! -e nocfg/x.db &&
	(cd nocfg && CAIRN_APPLY_CONFIG=../cairn-apply.yaml cairn-apply verify ../v2.tar.gz --env dev >../out) &&
	test_grep "ok for .dev." out
'

test_expect_success 'a receipt says the whole bundle ran: not with --to or --dry-run' '
	test_expect_code 2 cairn-apply apply b.tar.gz --env staging --to 20260101000000 --receipt-key keys/stg.key 2>err &&
	test_grep "\-\-receipt-key says the whole bundle ran here: it cannot go with --to" err &&
	test_expect_code 2 cairn-apply apply b.tar.gz --env staging --dry-run --receipt-key keys/stg.key 2>err &&
	test_grep "cannot go with --dry-run" err
'

test_expect_success 'cairn verify --config --env runs the same policy' '
	cairn verify b.tar.gz --config cairn-apply.yaml --env prod >out &&
	test_grep "^b.tar.gz: ok for .prod." out &&
	cairn verify fresh.tar.gz --config cairn-apply.yaml --env staging >out &&
	test_grep "ok for .staging." out &&
	test_expect_code 3 cairn verify v1.tar.gz --config cairn-apply.yaml --env prod 2>err &&
	test_grep "^cairn: refusing .v1.tar.gz. for .prod.: approvals:" err &&
	test_expect_code 2 cairn verify b.tar.gz --env prod --key keys/ci.pub 2>err &&
	test_grep "exclusive" err
'

test_done
