#!/bin/sh
test_description='cairn-apply adopt of a dbmate database killed (SIGKILL) or its power cut before a chosen write or sync (tests/helpers/powercut.c): nothing adopted or all of it, the schema untouched, the chain intact; a rerun finishes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-import.sh"

CUT="$SRC_DIR/build/tests/powercut.so"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
export ASAN_OPTIONS

test_expect_success 'setup: the real dbmate applied two of three migrations; a whole adopt traced' '
	test -f "$CUT" &&
	import_project p &&
	mkdir -p p/db/migrations &&
	n=1 && for t in users orders notes
	do
		printf -- "-- migrate:up\nCREATE TABLE $t (id integer PRIMARY KEY);\n\n-- migrate:down\nDROP TABLE $t;\n" \
			>p/db/migrations/2024010${n}120000_$t.sql && n=$((n + 1)) || return 1
	done &&
	mkdir mid && cp p/db/migrations/20240101120000_users.sql p/db/migrations/20240102120000_orders.sql mid/ &&
	DATABASE_URL="sqlite:$TRASH_DIRECTORY/pristine" dbmate --no-dump-schema --migrations-dir mid up >dbmate.out 2>&1 &&
	(cd p && cairn import --from dbmate >../import.out 2>&1) &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	schema pristine >schema.before &&
	for on in write sync
	do
		cp pristine db &&
		POWERCUT_ON=$on POWERCUT_TRACE="$TRASH_DIRECTORY/trace.$on" LD_PRELOAD="$CUT" \
			cairn-apply adopt --from dbmate --db sqlite:db b.tar.gz $KEY --env prod >out 2>err &&
		test "$(books db)" = "20240101120000:applied 20240102120000:applied" || return 1
	done &&
	wc -l trace.write trace.sync >&2
'

# stopped_at HOW ON N: adopt stopped before the Nth call ON (kill: exit
# 137; cut: exit 99); the schema untouched, the books none or all, the
# chain intact; a rerun adopts all
stopped_at() {
	powercut_run $1 $2 $3 cairn-apply adopt --from dbmate --db sqlite:db b.tar.gz $KEY --env prod &&
	test "$(q db "PRAGMA integrity_check")" = ok &&
	schema db >schema.after && test_cmp schema.before schema.after &&
	if test -n "$(q db "SELECT name FROM sqlite_master WHERE name = 'cairn_migrations'")"
	then
		got=$(books db)
	else
		got=
	fi &&
	case "$got" in
	""|"20240101120000:applied 20240102120000:applied") echo "${got:-none}" >>outcomes ;;
	*) echo "adopted partly after a $1 before $2 $3: $got"; return 1 ;;
	esac &&
	if test -n "$got"; then cairn-apply history --db sqlite:db --verify >/dev/null; fi &&
	{
		cairn-apply adopt --from dbmate --db sqlite:db b.tar.gz $KEY --env prod >out 2>err ||
		test_grep "nothing to adopt\|already" err
	} &&
	test "$(books db)" = "20240101120000:applied 20240102120000:applied" &&
	cairn-apply history --db sqlite:db --verify >/dev/null
}

for how in kill cut
do
	for on in write sync
	do
		test_expect_success "$how before the Nth $on, 8 spread over the adopt: none or all adopted, a rerun finishes" '
			powercut_rounds '"$how $on"' 8
		'
	done
done

test_expect_success 'some rounds left nothing adopted, some all' '
	sort outcomes | uniq -c >&2 &&
	test_grep "^none$" outcomes
'

test_done
