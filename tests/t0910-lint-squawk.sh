#!/bin/sh
test_description='cairn lint finds every finding of Squawk 2.66 on the same corpus'
# Squawk (npm squawk-cli, pinned) in a cache directory outside the trash
# (test-lib.sh moves HOME there); make deps installs it in the same place.
# Never skipped under CI.
SQUAWK_VERSION=2.66.0
SQUAWK_DIR=${CAIRN_SQUAWK_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cairn/squawk-$SQUAWK_VERSION}
. "$(dirname "$0")/test-lib.sh"
squawk="$SQUAWK_DIR/node_modules/.bin/squawk"
if ! test -x "$squawk"; then
	mkdir -p "$SQUAWK_DIR" &&
	npm install --silent --no-audit --no-fund --prefix "$SQUAWK_DIR" \
		"squawk-cli@$SQUAWK_VERSION" >/dev/null 2>&1
fi
if ! "$squawk" --version 2>/dev/null | grep -q "squawk $SQUAWK_VERSION"; then
	if test "$CI" = true; then
		say "squawk $SQUAWK_VERSION could not be installed in $SQUAWK_DIR (npm install squawk-cli@$SQUAWK_VERSION)"
		exit 1
	fi
	say "# SKIP $TEST_NAME: squawk $SQUAWK_VERSION not installed (make deps, or npm install --prefix $SQUAWK_DIR squawk-cli@$SQUAWK_VERSION)"
	test_done
fi

CORPUS="$TEST_DIRECTORY/lint"

test_expect_success 'setup: the corpus in a project with every rule on' '
	mkdir c && cp "$CORPUS"/*.sql c/ &&
	printf "lint: {all: warning, not-rerunnable: off}\n" >c/cairn.yaml
'

# cairn runs a migration in a transaction unless told otherwise, so Squawk
# is told the same; not-rerunnable is cairn's prefer-robust-stmts for
# migrations outside one.
test_expect_success 'squawk and cairn on the corpus: cairn has each squawk finding' '
	(cd c && { "$squawk" --assume-in-transaction --reporter json *.sql >../squawk.json; test $? -le 1; }) &&
	test -s squawk.json &&
	(cd c && cairn lint --format json *.sql >../cairn.json) &&
	python3 "$CORPUS/compare-squawk.py" squawk.json cairn.json >report &&
	cat report &&
	test_grep "^found   columns.sql:1 adding-field-with-default" report &&
	test_grep "^found   constraints.sql:9 constraint-missing-not-valid" report &&
	test $(grep -c "^found" report) -ge 45
'

test_expect_success 'the corpus of safe forms: neither squawk nor cairn reports anything' '
	(cd c && "$squawk" --assume-in-transaction --reporter json safe.sql >../squawk.json) &&
	test "$(cat squawk.json)" = "[]" &&
	(cd c && cairn lint --format json safe.sql >../cairn.json) &&
	test_grep "\"findings\":\[\]" cairn.json
'

test_expect_success 'what cairn knows and squawk does not: a table created in the same migration' '
	printf "%s\n" "CREATE TABLE t (id bigint);" "CREATE INDEX t_id ON t (id);" \
		"ALTER TABLE t ADD CONSTRAINT t_pos CHECK (id > 0);" >c/new.sql &&
	(cd c && { "$squawk" --reporter json new.sql >../squawk.json; test $? -le 1; } &&
	 cairn lint --format json new.sql >../cairn.json) &&
	test_grep "require-concurrent-index-creation" squawk.json &&
	test_grep ! "index-not-concurrent" cairn.json &&
	test_grep ! "constraint-not-valid" cairn.json
'

test_done
