#!/bin/sh
test_description='W3C trace context on PostgreSQL: the session'"'"'s application_name carries the traceparent'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

test_expect_success 'setup: a migration that records the session'"'"'s application_name' '
	pg_fresh_db app &&
	pg_project p &&
	apply_mig p 0001_seen "CREATE TABLE seen AS SELECT current_setting('"'"'application_name'"'"') AS app;" \
		"DROP TABLE seen;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz"
'

test_expect_success 'with TRACEPARENT: cairn/<traceparent>, and the JSON lines carry it' '
	TRACEPARENT=$TP cairn-apply apply v1.tar.gz --env dev --db "$DB" $KEY --log-format json >out &&
	test "$(pg_sql -d app -c "select app from seen")" = "cairn/$TP" &&
	test_grep "\"event\":\"done\",\"traceparent\":\"$TP\"" out
'

test_expect_success 'without it: cairn-apply; a DSN that names its own application_name keeps it' '
	cairn-apply rollback --db "$DB" --last 1 >out &&
	cairn-apply apply v1.tar.gz --env dev --db "$DB" $KEY >out &&
	test "$(pg_sql -d app -c "select app from seen")" = cairn-apply &&
	cairn-apply rollback --db "$DB" --last 1 >out &&
	TRACEPARENT=$TP cairn-apply apply v1.tar.gz --env dev --db "$DB&application_name=deploy-42" $KEY >out &&
	test "$(pg_sql -d app -c "select app from seen")" = deploy-42
'

test_done
