#!/bin/sh
test_description='a signal to the applier while a host hook or a backup command runs stops that command with it: nothing outlives the run, the books match the schema (SQLite)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

test_expect_success 'setup: a table, then a destructive migration (it takes a backup); a FIFO the commands block on' '
	apply_project p &&
	apply_mig p 0001_users "CREATE TABLE users (id integer primary key, note text);
INSERT INTO users VALUES (1, '"'"'a'"'"');" "DROP TABLE users;" &&
	apply_build p "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_mig p 0002_drop_note "ALTER TABLE users DROP COLUMN note;" \
		"ALTER TABLE users ADD COLUMN note text;" &&
	apply_build p "$TRASH_DIRECTORY/v2.tar.gz" &&
	mkfifo go
'

# blocked_cmd NAME: a shell command that writes its pid to NAME.pid, blocks
# on the FIFO go, then touches NAME.done
blocked_cmd() {
	echo "echo \$\$ >$1.pid; read x <go; touch $1.done"
}

# signal_when_blocked NAME SIG CMD...: runs CMD; once the command NAME
# blocks, SIG goes to CMD; its exit code goes to rc, its time to secs.
signal_when_blocked() {
	name=$1 sig=$2 && shift 2 &&
	rm -f $name.pid $name.done &&
	{ "$@" >out 2>err & } &&
	vpid=$! &&
	n=0 &&
	while test ! -s $name.pid && test $n -lt 200; do sleep 0.05; n=$((n + 1)); done &&
	test -s $name.pid &&
	start=$(date +%s) &&
	kill -$sig $vpid &&
	{ wait $vpid; echo $? >rc; } &&
	echo $(( $(date +%s) - start )) >secs
}

# gone NAME: the command NAME started is no longer running (gone, or a
# zombie for init to reap) within 3 s, and never got past its FIFO
gone() {
	pid=$(cat $1.pid) && n=0 &&
	while ps -o stat= -p $pid >state && grep -q "^[^Z]" state && test $n -lt 60; do
		sleep 0.05; n=$((n + 1))
	done &&
	{ ps -o stat= -p $pid >state || test $? = 1; } &&
	test_grep ! "^[^Z]" state &&
	{ echo x >go & } && fpid=$! && sleep 0.2 &&
	kill $fpid 2>/dev/null; wait $fpid 2>/dev/null;
	test ! -e $1.done
}

for sig in TERM:143 INT:130 HUP:129; do
	code=${sig#*:} sig=${sig%:*}
	test_expect_success "SIG$sig while the before hook runs: it is stopped, exit $code, nothing applied; the next run applies" '
		rm -f db* &&
		apply_config "hooks: { before: \"$(blocked_cmd before)\", timeout: 60s }" &&
		signal_when_blocked before '$sig' cairn-apply apply v1.tar.gz --env dev &&
		test "$(cat rc)" = '$code' &&
		test "$(cat secs)" -lt 5 &&
		test_grep "interrupted by SIG'$sig' while the before hook ran: the before hook was stopped: nothing was applied; the database is unchanged" err &&
		gone before &&
		test -z "$(q db "SELECT name FROM sqlite_master")" &&
		apply_config "" &&
		cairn-apply apply v1.tar.gz --env dev >out &&
		test "$(q db "SELECT state FROM cairn_migrations")" = applied
	'
done

test_expect_success 'SIGKILL while the before hook runs: the hook goes with the applier' '
	rm -f db* &&
	apply_config "hooks: { before: \"$(blocked_cmd before)\", timeout: 60s }" &&
	signal_when_blocked before KILL cairn-apply apply v1.tar.gz --env dev &&
	test "$(cat rc)" = 137 &&
	gone before &&
	test -z "$(q db "SELECT name FROM sqlite_master")"
'

test_expect_success 'SIGTERM while the after hook runs: it is stopped, a warning; the migration stays applied and recorded' '
	rm -f db* &&
	apply_config "hooks: { after: \"$(blocked_cmd after)\", timeout: 60s }" &&
	signal_when_blocked after TERM cairn-apply apply v1.tar.gz --env dev &&
	test "$(cat rc)" = 0 &&
	test_grep "warning: interrupted by SIGTERM while the after hook ran: the after hook was stopped" err &&
	gone after &&
	test "$(q db "SELECT state FROM cairn_migrations")" = applied &&
	test "$(q db "SELECT count(*) FROM users")" = 1 &&
	cairn-apply history --db sqlite:db --verify >out
'

test_expect_success 'SIGTERM while the backup command runs: it is stopped, the destructive migration never ran, exit 143' '
	apply_config "backup: { command: \"$(blocked_cmd backup)\" }" &&
	signal_when_blocked backup TERM cairn-apply apply v2.tar.gz --env dev &&
	test "$(cat rc)" = 143 &&
	test "$(cat secs)" -lt 5 &&
	gone backup &&
	q db "PRAGMA table_info(users)" >cols && test_grep "|note|" cols &&
	test "$(q db "SELECT count(*) FROM cairn_migrations WHERE version = \"0002\" AND state = \"applied\"")" = 0 &&
	cairn-apply history --db sqlite:db --verify >out &&
	apply_config "" &&
	cairn-apply apply v2.tar.gz --env dev >out &&
	q db "PRAGMA table_info(users)" >cols && test_grep ! "|note|" cols
'

test_done
