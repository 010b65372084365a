#!/bin/sh
test_description='cairn lint --format sarif: valid SARIF 2.1.0 (its JSON schema) that GitHub code scanning takes'
. "$(dirname "$0")/test-lib.sh"

SCHEMA="$TEST_DIRECTORY/fixtures/sarif/sarif-2.1.0-rtm.5.json"
# Debian's python3-jsonschema is for Debian's python3; a python3 earlier
# on PATH (pyenv) may have its own
PY=python3
python3 -c "import jsonschema" 2>/dev/null || PY=/usr/bin/python3

# check FILE: the schema and code scanning's constraints (check-sarif.py)
check() {
	"$PY" "$TEST_DIRECTORY/lint/check-sarif.py" "$SCHEMA" "$1"
}

test_expect_success 'the validator is there (python3-jsonschema, in the Makefile DEB_TEST list)' '
	"$PY" -c "import jsonschema" &&
	grep -q "python3-jsonschema" "$SRC_DIR/Makefile"
'

test_expect_success 'the validator is not vacuous: it refuses what code scanning would' '
	printf "%s\n" "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"x\",\"rules\":[{\"id\":\"a\",\"shortDescription\":{\"text\":\"a\"}}]}},\"results\":[{\"ruleId\":\"a\",\"ruleIndex\":0,\"level\":\"warning\",\"message\":{\"text\":\"m\"},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":\"my dir/up.sql\"},\"region\":{\"startLine\":0}}}]}]}]}" >bad.json &&
	test_must_fail check bad.json >out &&
	test_grep "uri .my dir/up.sql. is not a URI reference" out &&
	test_grep "region" out &&
	printf "%s\n" "{\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"x\"}},\"results\":[{\"ruleId\":\"a\",\"level\":\"fatal\",\"message\":{}}]}]}" >bad2.json &&
	test_must_fail check bad2.json >out &&
	test_grep "schema: runs/0/results/0/level" out &&
	test_grep "ruleId/ruleIndex do not name a rule" out
'

test_expect_success 'the lint corpus: every finding, valid' '
	test_expect_code 1 cairn lint --format sarif "$TEST_DIRECTORY"/lint/*.sql >corpus.json 2>/dev/null &&
	python3 -c "import json; r=json.load(open(\"corpus.json\"))[\"runs\"][0][\"results\"]; assert len(r) > 30, len(r)" &&
	check corpus.json
'

test_expect_success 'a project: migration paths relative to its root, valid' '
	test_create_project p &&
	test_migration p 20260101000000_users "CREATE TABLE users (id bigint PRIMARY KEY, email text);" &&
	test_migration p 20260102000000_idx "CREATE INDEX users_email ON users (email);" &&
	test_commit p v1 &&
	(cd p && cairn lint --format sarif >../p.json 2>/dev/null) &&
	python3 -c "import json; r=json.load(open(\"p.json\"))[\"runs\"][0][\"results\"]; u={x[\"locations\"][0][\"physicalLocation\"][\"artifactLocation\"][\"uri\"] for x in r}; assert u=={\"migrations/20260102000000_idx/up.sql\"}, u" &&
	check p.json
'

test_expect_success 'a path with a space and a #, and an absolute path: percent-encoded, file:// for the absolute one' '
	mkdir "my dir" &&
	printf "CREATE INDEX i ON t (a);\n" >"my dir/x#1.sql" &&
	cairn lint --format sarif "my dir/x#1.sql" "$PWD/my dir/x#1.sql" >sp.json 2>/dev/null &&
	grep -o "\"uri\":\"[^\"]*\"" sp.json | sort -u >uris &&
	printf "%s\n" "\"uri\":\"file://$PWD/my%20dir/x%231.sql\"" "\"uri\":\"my%20dir/x%231.sql\"" | sort >expect &&
	test_cmp expect uris &&
	check sp.json
'

test_expect_success 'no finding: still a valid log with one run' '
	printf "CREATE TABLE t (id bigint);\n" >clean.sql &&
	cairn lint --format sarif clean.sql >clean.json &&
	python3 -c "import json; d=json.load(open(\"clean.json\")); assert d[\"runs\"][0][\"results\"]==[]" &&
	check clean.json
'

test_done
