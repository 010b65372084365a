#!/bin/sh
test_description='W3C trace context: a valid TRACEPARENT is carried into every JSON log line of apply and preflight; an invalid one is ignored'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01

test_expect_success 'setup: a bundle with a destructive migration (a backup event) and a failing one' '
	apply_project p &&
	apply_mig p 0001_users "CREATE TABLE users (id integer primary key, note text);" "DROP TABLE users;" &&
	apply_mig p 0002_drop_note "ALTER TABLE users DROP COLUMN note;" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0003_bad "INSERT INTO nowhere VALUES (1);" "SELECT 1;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz"
'

test_expect_success 'apply --log-format json: every line carries the traceparent' '
	TRACEPARENT=$TP cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY --log-format json >out &&
	test_line_count -ge 5 out &&
	grep -c . out >lines &&
	grep -c "\"traceparent\":\"$TP\"" out >traced &&
	test_cmp lines traced &&
	test_grep "\"event\":\"backup\",\"traceparent\":\"$TP\"" out &&
	q db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'" >n &&
	echo 2 >want && test_cmp want n
'

test_expect_success 'a failed run: the error line carries it too' '
	test_expect_code 1 env TRACEPARENT=$TP cairn-apply apply v2.tar.gz --env dev --db sqlite:db $KEY \
		--log-format json >out 2>err &&
	test_grep "\"event\":\"error\",\"traceparent\":\"$TP\",\"exit\":1" out &&
	grep -c . out >lines &&
	grep -c "\"traceparent\":\"$TP\"" out >traced &&
	test_cmp lines traced
'

test_expect_success 'preflight --log-format json carries it' '
	TRACEPARENT=$TP cairn-apply preflight v1.tar.gz --env dev --db sqlite:db $KEY --log-format json >out &&
	test_grep "^{\"event\":\"preflight\",\"traceparent\":\"$TP\"," out
'

test_expect_success 'an invalid traceparent (bad version, zero ids, upper case, wrong length) is ignored' '
	for bad in \
		ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 \
		00-00000000000000000000000000000000-00f067aa0ba902b7-01 \
		00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01 \
		00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01 \
		00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1 \
		"$TP-extra"
	do
		TRACEPARENT=$bad cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY \
			--log-format json >out &&
		test_grep ! traceparent out || return 1
	done
'

test_expect_success 'without TRACEPARENT the lines are as before' '
	cairn-apply apply v1.tar.gz --env dev --db sqlite:db $KEY --log-format json >out &&
	test_grep ! traceparent out
'

test_done
