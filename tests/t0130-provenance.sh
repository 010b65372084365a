#!/bin/sh
test_description='provenance: the commit, author and date that introduced each migration'
. "$(dirname "$0")/test-lib.sh"

M=migrations

# commit_as NAME DATE MESSAGE: commit everything as that author at that date
commit_as() {
	git -C p add -A &&
	GIT_AUTHOR_NAME="$1" GIT_AUTHOR_EMAIL="$(echo "$1" | tr "A-Z " "a-z.")@example.com" \
	GIT_AUTHOR_DATE="$2" git -C p commit -q -m "$3"
}

test_expect_success 'setup: migrations by different people, one through a merge' '
	test_create_project p &&
	test_migration p 20260101000000_a && commit_as "Ada Lovelace" "2026-01-01T10:00:00Z" a &&
	test_migration p 20260102000000_b && commit_as "Grace Hopper" "2026-01-02T11:30:00Z" b &&
	git -C p checkout -q -b feature &&
	test_migration p 20260103000000_c && commit_as "Alan Turing" "2026-01-03T12:00:00Z" c &&
	echo "-- touched later" >>p/$M/20260101000000_a/down.sql &&
	commit_as "Someone Else" "2026-01-04T00:00:00Z" "edit a" &&
	git -C p checkout -q main &&
	GIT_AUTHOR_DATE="2026-01-05T00:00:00Z" git -C p merge -q --no-ff -m merge feature
'

test_expect_success 'list shows who introduced each migration, not who touched it last' '
	a=$(git -C p log --format=%h --abbrev=12 --diff-filter=A -- $M/20260101000000_a/up.sql) &&
	c=$(git -C p log --format=%h --abbrev=12 --diff-filter=A -- $M/20260103000000_c/up.sql) &&
	(cd p && cairn list >../out) &&
	test_grep "^20260101000000  a  introduced $a by Ada Lovelace <ada.lovelace@example.com> on 2026-01-01T10:00:00Z$" out &&
	test_grep "^20260102000000  b  introduced [0-9a-f]\{12\} by Grace Hopper <grace.hopper@example.com> on 2026-01-02T11:30:00Z$" out &&
	test_grep "^20260103000000  c  introduced $c by Alan Turing <alan.turing@example.com> on 2026-01-03T12:00:00Z$" out
'

test_expect_success 'the provenance agrees with git log for every migration' '
	(cd p && cairn list --format json >../out.json) &&
	for d in 20260101000000_a 20260102000000_b 20260103000000_c; do
		git -C p log --format="%H %an <%ae>" --diff-filter=A -- $M/$d/up.sql >>expect || return 1
	done &&
	python3 -c "
import json
d=json.load(open(\"out.json\"))
for m in d[\"migrations\"]:
    p=m[\"provenance\"]
    print(p[\"commit\"], p[\"author\"])
" >got &&
	test_cmp expect got
'

test_expect_success 'uncommitted migrations say so, in text and JSON' '
	test_migration p 20260106000000_d &&
	(cd p && cairn list >../out && cairn list --format json >../out.json) &&
	test_grep "^20260106000000  d  uncommitted$" out &&
	python3 -c "
import json
d=json.load(open(\"out.json\"))
assert d[\"migrations\"][-1][\"provenance\"] is None
assert len(d[\"migrations\"][0][\"provenance\"][\"commit\"])==40
"
'

test_expect_success 'list --ref: provenance as of that commit' '
	(cd p && cairn list --ref HEAD~1 >../out) &&
	test_line_count = 2 out &&
	test_grep "20260102000000  b  introduced" out
'

test_expect_success 'deleted and added again: the newest introduction counts' '
	rm -rf p/$M/20260106000000_d &&
	git -C p rm -q -r $M/20260102000000_b && commit_as "X" "2026-01-07T00:00:00Z" rm &&
	test_migration p 20260102000000_b && commit_as "Back Again" "2026-01-08T00:00:00Z" readd &&
	(cd p && cairn list >../out) &&
	test_grep "20260102000000  b  introduced [0-9a-f]* by Back Again <back.again@example.com> on 2026-01-08T00:00:00Z" out
'

test_expect_success 'one commit adding several, removing one: each added one is found' '
	test_migration p 20260109000000_e && test_migration p 20260109000001_f &&
	test_migration p 20260109000002_g && commit_as "Multi" "2026-01-09T00:00:00Z" efg &&
	git -C p rm -q -r $M/20260109000001_f &&
	test_migration p 20260109000003_h && test_migration p 20260100000000_early &&
	commit_as "Mixed" "2026-01-10T00:00:00Z" mixed &&
	(cd p && cairn list >../out) &&
	test_grep "20260109000000  e  introduced [0-9a-f]* by Multi" out &&
	test_grep "20260109000002  g  introduced [0-9a-f]* by Multi" out &&
	test_grep "20260109000003  h  introduced [0-9a-f]* by Mixed" out &&
	test_grep "20260100000000  early  introduced [0-9a-f]* by Mixed" out &&
	test_grep ! "_f\|  f  " out
'

test_expect_success 'a migration that only a merge commit adds is introduced by the merge' '
	git -C p checkout -q -b side && test_migration p 20260111000000_side && commit_as "Side" "2026-01-11T00:00:00Z" side &&
	git -C p checkout -q main &&
	git -C p merge -q --no-ff --no-commit side &&
	test_migration p 20260112000000_evil &&
	git -C p add -A && GIT_AUTHOR_NAME="Merger" GIT_AUTHOR_DATE="2026-01-12T00:00:00Z" git -C p commit -q -m "merge with an extra" &&
	merge=$(git -C p rev-parse --short=12 HEAD) &&
	(cd p && cairn list >../out) &&
	test_grep "20260112000000  evil  introduced $merge by Merger" out &&
	test_grep "20260111000000  side  introduced [0-9a-f]* by Side" out
'

test_expect_success 'a project in a subdirectory' '
	git init -q mono && mkdir mono/db && (cd mono/db && cairn init >/dev/null) &&
	test_migration mono/db 20260101000000_a && test_commit mono a &&
	(cd mono/db && cairn list >../../out) &&
	test_grep "20260101000000  a  introduced [0-9a-f]\{12\} by A U Thor <author@example.com>" out
'

test_done
