# Test library in the style of git's t/test-lib.sh. A test script sets
# test_description, sources this file, runs test_expect_success blocks and
# ends with test_done. Each script gets its own trash directory.
#
#   test_expect_success 'title' '
#       cmd1 &&
#       cmd2
#   '
#
# test_must_fail CMD counts a crash (signal, 126/127) as a failure, never as
# the failure the test expected. Run a script with -v to see its output.
#
# Like git's, the library first runs each body as "(exit 117) && BODY": with
# every command joined by && (or ||, |) nothing runs and the status is 117;
# anything else means a command whose failure the test would drop (a line
# ending in ";" or "&", a final "|| true"), a bug in the test, so the test
# fails. Start a background process as "{ cmd & } &&". A body with no
# command (empty, comments, ":" or "true" alone) asserts nothing and fails
# too, and so does a subshell ending in "; true" (the check cannot see into
# a subshell). TEST_CHAIN_LINT=0 turns the chain check off (for debugging only).

TEST_DIRECTORY=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIRECTORY/.." && pwd)
TEST_NAME=$(basename "$0" .sh)
TRASH_DIRECTORY="$TEST_DIRECTORY/trash.$TEST_NAME"
PATH="$SRC_DIR/bin:$PATH"
export PATH SRC_DIR TEST_DIRECTORY
export CAIRN_TEMPLATE_DIR="$SRC_DIR/templates"
# a stable, private git identity and config for every test
export GIT_AUTHOR_NAME='A U Thor' GIT_AUTHOR_EMAIL='author@example.com'
export GIT_COMMITTER_NAME='C O Mitter' GIT_COMMITTER_EMAIL='committer@example.com'
export GIT_CONFIG_NOSYSTEM=1 HOME="$TRASH_DIRECTORY" XDG_CONFIG_HOME="$TRASH_DIRECTORY/.config"
export TZ=UTC LC_ALL=C NO_COLOR=1
unset CAIRN_APPLY_CONFIG CAIRN_KEY_PASSPHRASE CAIRN_LIBPQ
# Sanitizer builds: leaks count (LeakSanitizer), and any report ends the
# process by SIGABRT, which test_must_fail and test_expect_code count as a
# crash. Without abort_on_error, UBSan exits 1 and ASan with whatever
# exitcode the caller chose: a test expecting a failure would pass. What the
# caller set is kept (later options win, so the defaults go first and the
# two that must hold go last).
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}:halt_on_error=1:abort_on_error=1"

verbose=
for arg in "$@"; do
	case "$arg" in
	-v|--verbose) verbose=t ;;
	esac
done

test_count=0
test_success=0
test_failure=0

rm -rf "$TRASH_DIRECTORY"
mkdir -p "$TRASH_DIRECTORY" || exit 1
cd "$TRASH_DIRECTORY" || exit 1
git config --global init.defaultBranch main
git config --global user.name 'A U Thor'
git config --global user.email 'author@example.com'
git config --global protocol.file.allow always

say() { printf '%s\n' "$*"; }

LF='
'

test_eval_() {
	if test -n "$verbose"; then
		(eval "$1") 2>&1
	else
		(eval "$1") >"$TRASH_DIRECTORY/.test-out" 2>&1
	fi
}

# Why the body $1 is a bug in the test, or nothing. The chain check runs
# the body with (exit 117) in front, traced (set -x): nothing of a sound
# body runs, so the trace shows "exit 117" and the final echo alone, and
# the status is 117. A body whose chain breaks after a background job
# could make "wait" answer 117; it still shows in the trace. The output
# goes to files, not a pipe, so that a background process started by a
# broken body cannot hold the check up.
test_lint_() {
	if test -z "$(printf '%s\n' "$1" | sed -e 's/^[[:space:]]*#.*//' \
		-e 's/^[[:space:]]*\(true\|:\)\{0,1\}[[:space:]]*$//' | tr -d ' \t\n')"; then
		echo "the body asserts nothing"
	elif printf '%s\n' "$1" | grep -q -E ';[[:space:]]*(true|:)[[:space:]]*[)]'; then
		echo "a subshell ends in '; true': its status is dropped"
	elif test "${TEST_CHAIN_LINT:-1}" != 0 && {
		(eval "set -x; (exit 117) && $1$LF${LF}echo OK-\$?") \
			>"$TRASH_DIRECTORY/.chain-lint" 2>"$TRASH_DIRECTORY/.chain-trace" </dev/null
		test "$(tail -n 1 "$TRASH_DIRECTORY/.chain-lint")" != "OK-117" ||
		grep -v -q -E '^[+]+ (exit 117|echo OK-117)$' "$TRASH_DIRECTORY/.chain-trace"
	}; then
		echo "broken &&-chain or run-away here-doc: with '(exit 117) &&' in front, the body ran" \
			"$(grep -v -E '^[+]+ (exit 117|echo OK-117)$' "$TRASH_DIRECTORY/.chain-trace" |
				head -n 1) and ended $(tail -n 1 "$TRASH_DIRECTORY/.chain-lint")"
	fi
	rm -f "$TRASH_DIRECTORY/.chain-lint" "$TRASH_DIRECTORY/.chain-trace"
}

# BUG: a mistake in the test script itself; the test fails with it.
test_bug_=

test_expect_success() {
	test_count=$((test_count + 1))
	cd "$TRASH_DIRECTORY" || exit 1
	if test $# -ne 2; then
		test_bug_="test_expect_success takes a title and a body, not $# arguments"
	else
		test_bug_=$(test_lint_ "$2")
		cd "$TRASH_DIRECTORY" || exit 1
	fi
	# a buggy body still runs, so that the tests after it find its setup
	if test_eval_ "$2" && test -z "$test_bug_"; then
		test_success=$((test_success + 1))
		say "ok $test_count - $1"
	else
		test_failure=$((test_failure + 1))
		say "not ok $test_count - $1"
		if test -z "$verbose" && test -f "$TRASH_DIRECTORY/.test-out"; then
			sed -e 's/^/#   /' "$TRASH_DIRECTORY/.test-out" | tail -n 40
		fi
		if test -n "$test_bug_"; then say "# BUG in the test: $test_bug_"; fi
		printf '%s\n' "$2" | sed -e 's/^/#	/'
	fi
	rm -f "$TRASH_DIRECTORY/.test-out"
}

# Runs CMD, which must fail cleanly: non-zero, and not by a crash.
# test_must_fail [--exit=N] CMD...
test_must_fail() {
	want=
	case "$1" in
	--exit=*) want=${1#--exit=}; shift ;;
	esac
	"$@"
	code=$?
	if test $code -eq 0; then
		echo >&2 "test_must_fail: command succeeded: $*"
		return 1
	elif test $code -gt 128 && test $code -le 192; then
		echo >&2 "test_must_fail: died by signal $((code - 128)): $*"
		return 1
	elif test $code -eq 126 || test $code -eq 127; then
		echo >&2 "test_must_fail: not run ($code): $*"
		return 1
	elif test -n "$want" && test $code -ne "$want"; then
		echo >&2 "test_must_fail: exit $code, wanted $want: $*"
		return 1
	fi
	return 0
}

# test_expect_code N CMD...: exactly exit code N.
test_expect_code() {
	want=$1
	shift
	"$@"
	code=$?
	if test $code -ne "$want"; then
		echo >&2 "test_expect_code: exit $code, wanted $want: $*"
		return 1
	fi
	return 0
}

# test_sigkill PID: SIGKILL to the background job PID, then reaps it.
# $killed is then "t" when the kill ended it (status 137), empty when it
# had already exited 0 (a finished job not yet reaped takes signals too,
# so kill's own status says nothing); any other status fails.
test_sigkill() {
	kill -9 "$1" 2>/dev/null
	wait "$1"
	test_sigkill_status=$?
	case $test_sigkill_status in
	137) killed=t ;;
	0) killed= ;;
	*) echo >&2 "test_sigkill: job $1 ended with status $test_sigkill_status"; return 1 ;;
	esac
}

test_cmp() {
	diff -u "$1" "$2"
}

# test_grep [!] [GREP_OPTION...] PATTERN FILE: grep (or, with "!", grep
# finds nothing), showing FILE when it fails. With just PATTERN FILE the
# pattern may start with "-". FILE must exist either way: a missing file or
# a grep error (status 2) is a failure, never "not found".
test_grep() {
	neg=
	if test "$1" = "!"; then neg=t; shift; fi
	if test $# -lt 2; then
		echo >&2 "test_grep: BUG: a pattern and a file are needed: test_grep $*"; return 1
	fi
	eval "test_grep_file_=\${$#}"
	if ! test -f "$test_grep_file_"; then
		echo >&2 "test_grep: no file '$test_grep_file_' (test_grep ${neg:+! }$*)"; return 1
	fi
	if test $# -eq 2; then set -- -e "$1" "$2"; fi
	grep "$@" >/dev/null
	test_grep_code_=$?
	if test $test_grep_code_ -gt 1; then
		echo >&2 "test_grep: grep $* failed ($test_grep_code_)"; return 1
	elif test -n "$neg" && test $test_grep_code_ -eq 0; then
		echo >&2 "test_grep: grep $* found a match in $test_grep_file_:"; cat >&2 "$test_grep_file_"; return 1
	elif test -z "$neg" && test $test_grep_code_ -ne 0; then
		echo >&2 "test_grep: grep $* found no match in $test_grep_file_:"; cat >&2 "$test_grep_file_"; return 1
	fi
	return 0
}

test_line_count() {
	n=$(wc -l <"$3" | tr -d ' ')
	if ! test "$n" "$1" "$2"; then
		echo >&2 "test_line_count: $n lines, expected $1 $2 in $3:"; cat >&2 "$3"; return 1
	fi
}

# A fresh git repository with a cairn project in it, at $1.
test_create_project() {
	git init -q "$1" &&
	(cd "$1" && cairn init >/dev/null)
}

# test_migration DIR VERSION_SLUG [UP_SQL [DOWN_SQL]]: writes a migration.
test_migration() {
	mkdir -p "$1/migrations/$2" &&
	printf '%s\n' "${3:-CREATE TABLE t_$2 (id integer);}" >"$1/migrations/$2/up.sql" &&
	printf '%s\n' "${4:-DROP TABLE t_$2;}" >"$1/migrations/$2/down.sql"
}

test_commit() {
	git -C "$1" add -A && git -C "$1" commit -q -m "${2:-commit}"
}

# Commands (such as lib-pg.sh's pg_stop) that must run before the trash
# directory goes; a helper library prepends to it.
test_at_done=

test_done() {
	if test -n "$test_at_done"; then eval "$test_at_done"; test_at_done=; fi
	say "# $TEST_NAME: $test_success passed, $test_failure failed"
	echo "$test_success $test_failure" >"$TEST_DIRECTORY/.result.$TEST_NAME"
	cd "$TEST_DIRECTORY" || exit 1
	if test $test_failure -eq 0 && test -z "$KEEP_TRASH"; then
		rm -rf "$TRASH_DIRECTORY"
	fi
	test $test_failure -eq 0
	exit $?
}
