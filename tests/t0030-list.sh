#!/bin/sh
test_description='cairn list: apply order, from the work tree or a commit'
. "$(dirname "$0")/test-lib.sh"

test_expect_success 'setup: migrations whose requires reorder them' '
	test_create_project p &&
	test_migration p 20260101000000_a &&
	test_migration p 20260102000000_b &&
	test_migration p 20260103000000_c &&
	test_migration p 20260104000000_d &&
	printf "description: the c one\nrequires: [20260101000000_a]\n" >p/migrations/20260103000000_c/migration.yaml &&
	printf "requires: [20260102000000, 20260103000000_c]\ntransaction: false\n" >p/migrations/20260104000000_d/migration.yaml &&
	test_commit p one
'

test_expect_success 'list prints apply order with description and requires' '
	(cd p && cairn list >../list) &&
	sed -e "s/  introduced [0-9a-f]\{12\} by A U Thor <author@example.com> on 20[0-9-]*T[0-9:]*Z\$//" list >out &&
	cat >expect <<-\EOF &&
	20260101000000  a
	20260102000000  b
	20260103000000  c  the c one  (requires 20260101000000_a)
	20260104000000  d  (requires 20260102000000_b 20260103000000_c)  [no transaction]
	EOF
	test_cmp expect out
'

test_expect_success 'ties are broken by version, not by requires order' '
	test_migration p 20260100000000_early &&
	printf "requires: [20260100000000]\n" >p/migrations/20260102000000_b/migration.yaml &&
	(cd p && cairn list | cut -d" " -f1 >../out) &&
	printf "%s\n" 20260100000000 20260101000000 20260102000000 20260103000000 20260104000000 >expect &&
	test_cmp expect out
'

test_expect_success 'requires can reorder past the version order' '
	rm -rf q && test_create_project q &&
	test_migration q 20260101000000_x &&
	test_migration q 20260102000000_y &&
	test_migration q 20260103000000_z &&
	printf "requires: [20260101000000_x]\n" >q/migrations/20260103000000_z/migration.yaml &&
	printf "requires: [20260103000000_z]\n" >q/migrations/20260102000000_y/migration.yaml &&
	(cd q && test_must_fail cairn list >../out 2>../err) &&
	test_grep "requires-later" err &&
	test_grep "the order above may be wrong" err
'

test_expect_success 'list --ref reads a commit, not the work tree' '
	(cd p && cairn list --ref HEAD | cut -d" " -f1 >../out) &&
	printf "%s\n" 20260101000000 20260102000000 20260103000000 20260104000000 >expect &&
	test_cmp expect out
'

test_expect_success 'list --format json' '
	(cd p && cairn list --ref HEAD --format json >../out.json) &&
	python3 -c "
import json
d=json.load(open(\"out.json\"))
m=d[\"migrations\"]
assert [x[\"version\"] for x in m]==[\"20260101000000\",\"20260102000000\",\"20260103000000\",\"20260104000000\"]
assert m[3][\"requires\"]==[\"20260102000000_b\",\"20260103000000_c\"]
assert m[3][\"transaction\"] is False and m[2][\"description\"]==\"the c one\"
assert d[\"source\"].startswith(\"commit \")
"
'

test_expect_success 'a project in a subdirectory of the repository' '
	git init -q mono && mkdir -p mono/services/db &&
	(cd mono/services/db && cairn init >/dev/null) &&
	test_migration mono/services/db 20260101000000_a &&
	test_commit mono x &&
	(cd mono/services/db && cairn list --ref HEAD >../../../out && cairn check --ref HEAD) &&
	test_grep "^20260101000000  a" out
'

test_done
