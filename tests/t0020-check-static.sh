#!/bin/sh
test_description='cairn check: static rules on one tree, each bad input with its message'
. "$(dirname "$0")/test-lib.sh"

M=migrations

# fresh_project NAME: a project with two good migrations, committed. The
# static rules are tested here on edits of committed migrations, so nothing
# counts as released (release_refs: []); the history rules are t01xx.
fresh_project() {
	rm -rf "$1" && test_create_project "$1" &&
	sed -i -e "/^  - refs\//d" -e "s/^release_refs:.*/release_refs: []/" "$1/cairn.yaml" &&
	test_migration "$1" 20260101000000_users &&
	test_migration "$1" 20260102000000_orders &&
	test_commit "$1" base
}

test_expect_success 'a clean tree exits 0 and says so' '
	fresh_project p &&
	(cd p && cairn check >../out 2>../err) &&
	test ! -s out &&
	test_grep "2 migrations checked" err
'

test_expect_success 'duplicate version, missing dependency and a cycle: all in one run' '
	fresh_project p &&
	test_migration p 20260102000000_orders_again &&
	test_migration p 20260103000000_a &&
	test_migration p 20260104000000_b &&
	printf "requires: [20260104000000_b]\n" >p/$M/20260103000000_a/migration.yaml &&
	printf "requires: [20260103000000_a, 20260105000000_nowhere]\n" >p/$M/20260104000000_b/migration.yaml &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "^$M/20260102000000_orders_again: error: duplicate-version: version 20260102000000 is used by both" out &&
	test_grep "^$M/20260104000000_b/migration.yaml:1: error: requires-unknown: requires .20260105000000_nowhere." out &&
	test_grep "error: dependency-cycle: dependency cycle: 20260103000000_a -> 20260104000000_b -> 20260103000000_a" out &&
	test_grep "^$M/20260103000000_a/migration.yaml:1: error: requires-later" out
'

test_expect_success 'the same findings come from the index and from a commit' '
	(cd p &&
	 test_must_fail --exit=1 cairn check >../wt &&
	 git add -A &&
	 test_must_fail --exit=1 cairn check --staged >../idx &&
	 git commit -q -m bad &&
	 test_must_fail --exit=1 cairn check --ref HEAD >../commit) &&
	test_grep "error: duplicate-version" wt &&
	test_grep "error: requires-unknown" wt &&
	test_grep "error: dependency-cycle" wt &&
	test_grep "error: requires-later" wt &&
	test_cmp wt idx &&
	test_cmp wt commit
'

test_expect_success 'JSON output holds every finding' '
	(cd p && test_must_fail cairn check --format json >../out.json) &&
	python3 -c "
import json,sys
d=json.load(open(\"out.json\"))
rules={f[\"rule\"] for f in d[\"findings\"]}
assert {\"duplicate-version\",\"requires-unknown\",\"dependency-cycle\"} <= rules, rules
assert d[\"errors\"] >= 4 and d[\"source\"] == \"work tree\"
f=[x for x in d[\"findings\"] if x[\"rule\"]==\"requires-unknown\"][0]
assert f[\"path\"].endswith(\"b/migration.yaml\") and f[\"line\"]==1 and f[\"severity\"]==\"error\", f
"
'

# check_rule SETUP RULE PATTERN: a fresh project, SETUP run in it, then check
# must fail with a finding matching PATTERN.
check_rule() {
	fresh_project p &&
	(cd p && eval "$1") &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "$2" out
}

test_expect_success 'bad directory names' '
	check_rule "mkdir $M/create_users && echo x >$M/create_users/up.sql" \
		"^$M/create_users: error: bad-name: migration directory .create_users. does not start with a version number; rename it" &&
	check_rule "mkdir $M/20260105000000_Add_Thing && echo x >$M/20260105000000_Add_Thing/up.sql" \
		"bad-name: .*upper-case" &&
	check_rule "mkdir $M/20260105000000 && echo x >$M/20260105000000/up.sql" \
		"bad-name: .*needs ._. and a name" &&
	check_rule "echo x >$M/V1__init.sql" \
		"^$M/V1__init.sql: error: bad-name: SQL files belong in a migration directory"
'

test_expect_success 'a version that is not a timestamp in a timestamp project' '
	check_rule "test_migration . 0003_seq" \
		"^$M/0003_seq: error: version-style: version 0003 is not a UTC timestamp" &&
	check_rule "test_migration . 20261341000000_bad_month" "version-style"
'

test_expect_success 'unknown keys in migration.yaml, with a did-you-mean' '
	check_rule "printf \"description: x\nrequries: [a]\n\" >$M/20260102000000_orders/migration.yaml" \
		"^$M/20260102000000_orders/migration.yaml:2: error: unknown-key: unknown key .requries.; did you mean .requires.?"
'

test_expect_success 'unknown keys in cairn.yaml' '
	check_rule "echo \"odering: strict\" >>cairn.yaml" \
		"^cairn.yaml:[0-9]*: error: unknown-key: unknown key .odering.; did you mean .ordering.?"
'

test_expect_success 'YAML syntax errors name line and column' '
	check_rule "printf \"description: x\nrequires: [a, b\ntransaction: true\n\" >$M/20260102000000_orders/migration.yaml" \
		"^$M/20260102000000_orders/migration.yaml:[34]: error: yaml-syntax: YAML syntax error: .* (column [0-9]*)$"
'

test_expect_success 'a mapping expected, something else found' '
	check_rule "printf -- \"- a\n- b\n\" >$M/20260102000000_orders/migration.yaml" \
		"^$M/20260102000000_orders/migration.yaml:1: error: not-a-mapping: expected a mapping (key: value), found a list" &&
	check_rule "printf \"just text\n\" >cairn.yaml" \
		"^cairn.yaml:1: error: not-a-mapping"
'

test_expect_success 'wrong value types' '
	check_rule "printf \"transaction: maybe\n\" >$M/20260102000000_orders/migration.yaml" \
		"migration.yaml:1: error: bad-value: .transaction. must be true, false, or a map of drivers such as {postgres: false}, not .maybe." &&
	check_rule "printf \"requires: {a: b}\n\" >$M/20260102000000_orders/migration.yaml" \
		"bad-value: .requires. must be a list of strings, not a mapping" &&
	check_rule "printf \"lock_timeout: forever\n\" >$M/20260102000000_orders/migration.yaml" \
		"bad-value: .lock_timeout. must be a duration"
'

test_expect_success 'YAML aliases are refused' '
	check_rule "printf \"requires: &r [a]\nenvironments: *r\n\" >$M/20260102000000_orders/migration.yaml" \
		"yaml-syntax: YAML anchors are not allowed"
'

test_expect_success 'missing up.sql' '
	check_rule "rm $M/20260102000000_orders/up.sql" \
		"^$M/20260102000000_orders: error: missing-up: missing up.sql"
'

test_expect_success 'missing down.sql without irreversible, and fine with it' '
	check_rule "rm $M/20260102000000_orders/down.sql" \
		"^$M/20260102000000_orders: error: missing-down: missing down.sql .*set irreversible: true" &&
	echo "irreversible: true" >p/$M/20260102000000_orders/migration.yaml &&
	(cd p && cairn check)
'

test_expect_success 'a per-driver variant covers its driver only' '
	fresh_project p &&
	mv p/$M/20260102000000_orders/down.sql p/$M/20260102000000_orders/down.postgres.sql &&
	(cd p && test_must_fail cairn check >../out) &&
	test_grep "missing-down: missing down.sql (or down.sqlite.sql for driver sqlite)" out &&
	test_grep ! "driver postgres" out
'

test_expect_success 'requires naming an unknown or a higher-versioned migration' '
	check_rule "echo \"requires: [nope]\" >$M/20260102000000_orders/migration.yaml" \
		"requires-unknown: requires .nope., which is not a migration of this project" &&
	check_rule "echo \"requires: [20260102000000]\" >$M/20260101000000_users/migration.yaml" \
		"^$M/20260101000000_users/migration.yaml:1: error: requires-later: requires .20260102000000_orders. (version 20260102000000), which is not earlier"
'

test_expect_success 'a migration requiring itself' '
	check_rule "echo \"requires: [20260102000000_orders]\" >$M/20260102000000_orders/migration.yaml" \
		"requires-self"
'

test_expect_success 'variants for unknown drivers' '
	check_rule "echo x >$M/20260102000000_orders/up.mysql.sql" \
		"^$M/20260102000000_orders/up.mysql.sql: error: unknown-driver: up.mysql.sql is a variant for driver .mysql., which cairn does not know" &&
	check_rule "echo x >$M/20260102000000_orders/up.postgress.sql" \
		"unknown-driver: .*did you mean .postgres.?"
'

test_expect_success 'empty up.sql (white space and comments only)' '
	check_rule "printf \"  -- nothing\n/* here */\n\" >$M/20260102000000_orders/up.sql" \
		"^$M/20260102000000_orders/up.sql: error: empty-up: up.sql holds no SQL"
'

test_expect_success 'NUL bytes in SQL, with the line' '
	check_rule "printf \"SELECT 1;\nSELECT \\000;\n\" >$M/20260102000000_orders/up.sql" \
		"^$M/20260102000000_orders/up.sql:2: error: nul-byte: NUL byte at offset 17"
'

test_expect_success 'invalid UTF-8 in SQL, with the line' '
	check_rule "printf \"SELECT 1;\n\n-- caf\\351\n\" >$M/20260102000000_orders/down.sql" \
		"^$M/20260102000000_orders/down.sql:3: error: invalid-utf8: invalid UTF-8 at offset 17 (byte 0xe9)"
'

test_expect_success 'symlinks in migrations/ are refused' '
	check_rule "ln -s ../20260101000000_users/up.sql $M/20260102000000_orders/linked.sql" \
		"^$M/20260102000000_orders/linked.sql: error: symlink: symbolic links are refused" &&
	check_rule "ln -s 20260101000000_users $M/20260103000000_alias" \
		"^$M/20260103000000_alias: error: symlink"
'

test_expect_success 'symlinks are refused in the index and in commits too' '
	(cd p && git add -A && test_must_fail cairn check --staged >../out) &&
	test_grep "error: symlink" out &&
	(cd p && git commit -q -m link && test_must_fail cairn check --ref HEAD >../out) &&
	test_grep "error: symlink" out
'

test_expect_success 'a data file name a bundle cannot hold is refused at check time' '
	fresh_project p &&
	d=p/$M/20260101000000_users/data && mkdir -p "$d" &&
	echo 1 >"$d/$(printf "caf\303\251.csv")" &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "error: bundle-name: data file name .data/caf.*csv. has a character that is not ASCII" out &&
	fresh_project p &&
	mkdir -p "$d" && echo 1 >"$d/$(printf "a\tb.csv")" &&
	(cd p && test_must_fail --exit=1 cairn check >../out 2>../err) &&
	test_grep "error: bundle-name: .*a control character" out &&
	fresh_project p &&
	mkdir -p "$d" && echo 1 >"$d/plain.csv" &&
	(cd p && cairn check >../out 2>../err)
'

test_expect_success 'files over the size cap' '
	check_rule "sed -i \"s/^max_file_size:.*/max_file_size: 1k/\" cairn.yaml && head -c 2000 /dev/zero | tr \"\\0\" x >$M/20260102000000_orders/up.sql" \
		"^$M/20260102000000_orders/up.sql: error: file-too-large: .*over the limit of 1024.*max_file_size"
'

test_expect_success 'the size cap holds for blobs read from git' '
	(cd p && git add -A && test_must_fail cairn check --staged >../out) &&
	test_grep "file-too-large" out
'

test_expect_success 'a misspelt file is an error, another file a warning' '
	check_rule "mv $M/20260102000000_orders/down.sql $M/20260102000000_orders/donw.sql" \
		"unknown-file: unknown file .donw.sql. in a migration; did you mean .down.sql.?" &&
	fresh_project p && echo notes >p/$M/20260102000000_orders/NOTES.txt &&
	(cd p && cairn check >../out) &&
	test_grep "warning: unknown-file" out
'

test_expect_success 'batch with transaction: false is refused' '
	check_rule "printf \"kind: batch\ntransaction: false\n\" >$M/20260102000000_orders/migration.yaml" \
		"batch-transaction"
'

test_expect_success 'a bad cairn.yaml value is reported with its line' '
	check_rule "sed -i \"s/^version_style:.*/version_style: weekly/\" cairn.yaml" \
		"^cairn.yaml:[0-9]*: error: bad-value: .version_style. must be .timestamp. or .sequence., not .weekly."
'

test_expect_success 'usage errors' '
	fresh_project p &&
	(cd p && test_expect_code 2 cairn check --format xml 2>../err) &&
	test_grep "text or json" err &&
	(cd p && test_expect_code 2 cairn check --staged --ref HEAD 2>../err) &&
	(cd p && test_expect_code 6 cairn check --ref no-such-rev 2>../err) &&
	test_grep "cannot resolve .no-such-rev." err
'

test_done
