#!/bin/sh
test_description='real histories as they are: no-op placeholders, 20-digit sequence versions, the style guessed by init'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

M=migrations

test_expect_success 'an empty or comment-only up.sql is an error without noop' '
	apply_project p &&
	apply_table p 0001_users &&
	apply_mig p 0002_skipped "-- kept from Flyway: version 2 was skipped" "-- nothing to undo" &&
	apply_mig p 0003_blank "" " " &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$M/0002_skipped/up.sql: error: empty-up: up.sql holds no SQL; write the change, or say noop: true" out &&
	test_grep "^$M/0003_blank/up.sql: error: empty-up" out
'

test_expect_success 'noop: true in migration.yaml allows it, and quiets the empty down' '
	printf "noop: true\n" >p/$M/0002_skipped/migration.yaml &&
	printf "noop: true\n" >p/$M/0003_blank/migration.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep ! "empty-up\|empty-down" out &&
	test_grep "3 migrations checked, 0 warnings" err
'

test_expect_success 'noop: true on an up.sql that holds SQL is an error' '
	printf "noop: true\n" >p/$M/0001_users/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$M/0001_users/migration.yaml: error: noop-not-empty: migration.yaml says noop: true, but every up script holds SQL" out &&
	rm p/$M/0001_users/migration.yaml &&
	printf "noop: maybe\n" >p/$M/0002_skipped/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "migration.yaml:1: error: bad-value: .noop. must be true or false" out &&
	printf "noop: true\n" >p/$M/0002_skipped/migration.yaml
'

test_expect_success 'allow_noop: true in cairn.yaml allows every placeholder' '
	rm p/$M/0002_skipped/migration.yaml p/$M/0003_blank/migration.yaml &&
	printf "allow_noop: true\n" >>p/cairn.yaml &&
	(cd p && cairn check >../out 2>../err) &&
	test_grep ! "empty-up" out &&
	sed -i "s/^allow_noop: true/allow_noop: 2/" p/cairn.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "cairn.yaml:.*bad-value: .allow_noop. must be true or false" out &&
	sed -i "/^allow_noop:/d" p/cairn.yaml &&
	printf "noop: true\n" >p/$M/0002_skipped/migration.yaml &&
	printf "noop: true\n" >p/$M/0003_blank/migration.yaml
'

test_expect_success 'no-op migrations build and apply, recorded like any other' '
	apply_build p "$TRASH_DIRECTORY/noop.tar.gz" &&
	cairn-apply apply noop.tar.gz --env dev --db sqlite:noop.db $KEY >out 2>err &&
	test "$(q noop.db "SELECT group_concat(version || \":\" || state, \" \") FROM (SELECT * FROM cairn_migrations ORDER BY version)")" = "0001:applied 0002:applied 0003:applied" &&
	test "$(q noop.db "SELECT group_concat(name) FROM sqlite_master WHERE name LIKE '"'"'t\\_%'"'"' ESCAPE '"'"'\\'"'"'")" = "t_0001_users" &&
	cairn-apply rollback --db sqlite:noop.db --last 3 >out 2>err &&
	test "$(q noop.db "SELECT count(*) FROM sqlite_master WHERE name LIKE '"'"'t\\_%'"'"' ESCAPE '"'"'\\'"'"'")" = 0
'

test_expect_success 'a 20-digit version in a timestamp project names version_style: sequence' '
	test_create_project ts &&
	test_migration ts 20190502140000000001_pop_style &&
	(cd ts && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$M/20190502140000000001_pop_style: error: version-style: version 20190502140000000001 is not a UTC timestamp YYYYMMDDHHMMSS, and cairn.yaml says version_style: timestamp; if the project numbers its migrations otherwise, set version_style: sequence in cairn.yaml" out &&
	test_grep ! "rename" out &&
	sed -i "s/^version_style: .*/version_style: sequence/" ts/cairn.yaml &&
	(cd ts && cairn check >../out 2>../err) &&
	test ! -s out
'

# Versions above 2^64 (18446744073709551616) and of several widths: they
# must order as numbers through check, list, build, apply, rollback and --to.
test_expect_success 'versions above 2^64 work end to end on SQLite' '
	apply_project big &&
	apply_table big 20190502140000000001_a &&
	apply_table big 99999999999999999999_b &&
	apply_table big 100000000000000000000_c &&
	apply_table big 18446744073709551617000_d &&
	(cd big && cairn check >../out 2>../err) &&
	(cd big && cairn list) >out &&
	awk "{print \$1}" out | grep -v "^VERSION" | grep . >versions &&
	printf "%s\n" 20190502140000000001 99999999999999999999 100000000000000000000 18446744073709551617000 >expect &&
	test_cmp expect versions &&
	apply_build big "$TRASH_DIRECTORY/big.tar.gz" &&
	cairn-apply apply big.tar.gz --env dev --db sqlite:big.db $KEY --to 100000000000000000000 >out 2>err &&
	test_grep "big.db is at version 100000000000000000000" out &&
	test "$(q big.db "SELECT name FROM sqlite_master WHERE name LIKE '"'"'t\\_%'"'"' ESCAPE '"'"'\\'"'"' ORDER BY name" | tr "\n" " ")" = "t_100000000000000000000_c t_20190502140000000001_a t_99999999999999999999_b " &&
	cairn-apply apply big.tar.gz --env dev --db sqlite:big.db $KEY >out 2>err &&
	test_grep "at version 18446744073709551617000" out &&
	cairn-apply rollback --db sqlite:big.db --to 99999999999999999999 >out 2>err &&
	test_grep "rolled back 100000000000000000000_c" out &&
	test "$(q big.db "SELECT version FROM cairn_migrations WHERE state = '"'"'applied'"'"' ORDER BY length(version), version" | tr "\n" " ")" = "20190502140000000001 99999999999999999999 " &&
	test "$(q big.db "SELECT count(*) FROM sqlite_master WHERE name IN ('"'"'t_100000000000000000000_c'"'"', '"'"'t_18446744073709551617000_d'"'"')")" = 0 &&
	cairn-apply history --db sqlite:big.db --verify >out 2>err &&
	test_grep "audit chain intact" out
'

test_expect_success 'cairn init guesses the style from the files already there' '
	mkdir -p g1/$M/0001_a g1/$M/0002_b &&
	(cd g1 && cairn init >../out) &&
	test_grep "^version_style: sequence$" g1/cairn.yaml &&
	test_grep "version_style: sequence, guessed from the 2 numbered names" out &&
	mkdir -p g2/$M && touch g2/$M/20190502140000_a.up.sql g2/$M/20190502140000_a.down.sql &&
	(cd g2 && cairn init >../out) &&
	test_grep "^version_style: timestamp$" g2/cairn.yaml &&
	mkdir -p g3/$M && touch g3/$M/20190502140000000001_a.up.sql g3/$M/20190502140000_b.up.sql &&
	(cd g3 && cairn init >../out) &&
	test_grep "^version_style: sequence$" g3/cairn.yaml &&
	mkdir -p g4/$M && touch g4/$M/V1.2__a.sql g4/$M/V20190502140000__b.sql &&
	(cd g4 && cairn init >../out) &&
	test_grep "^version_style: sequence$" g4/cairn.yaml &&
	mkdir g5 && (cd g5 && cairn init >../out) &&
	test_grep "^version_style: timestamp$" g5/cairn.yaml &&
	test_grep ! "guessed" out &&
	mkdir -p g6/$M/0001_a && (cd g6 && cairn init --style timestamp >../out) &&
	test_grep "^version_style: timestamp$" g6/cairn.yaml &&
	mkdir -p g7/db/migrations && touch g7/db/migrations/0001_a.sql &&
	(cd g7 && cairn init >../out) &&
	test_grep "^version_style: sequence$" g7/cairn.yaml &&
	test_grep "guessed from the 1 numbered names in db/migrations/" out &&
	mkdir -p g8/$M/2019-05-02-140000_a g8/$M/2019-05-03-140000_b &&
	(cd g8 && cairn init >../out) &&
	test_grep "^version_style: timestamp$" g8/cairn.yaml
'

test_done
