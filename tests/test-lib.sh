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
# Sanitizer builds: fail loudly, and leaks count (LeakSanitizer).
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

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

test_eval_() {
	if test -n "$verbose"; then
		(eval "set -e; $1") 2>&1
	else
		(eval "$1") >"$TRASH_DIRECTORY/.test-out" 2>&1
	fi
}

test_expect_success() {
	test_count=$((test_count + 1))
	cd "$TRASH_DIRECTORY" || exit 1
	if test_eval_ "$2"; then
		test_success=$((test_success + 1))
		say "ok $test_count - $1"
	else
		test_failure=$((test_failure + 1))
		say "not ok $test_count - $1"
		if test -z "$verbose" && test -f "$TRASH_DIRECTORY/.test-out"; then
			sed -e 's/^/#   /' "$TRASH_DIRECTORY/.test-out" | tail -n 40
		fi
		printf '%s\n' "$2" | sed -e 's/^/#	/'
	fi
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

test_cmp() {
	diff -u "$1" "$2"
}

# test_grep PATTERN FILE (grep, but shows the file when it fails)
test_grep() {
	neg=
	if test "$1" = "!"; then neg=t; shift; fi
	if test -n "$neg"; then
		if grep -e "$1" "$2" >/dev/null; then
			echo >&2 "test_grep: '$1' found in $2:"; cat >&2 "$2"; return 1
		fi
		return 0
	fi
	if ! grep -e "$1" "$2" >/dev/null; then
		echo >&2 "test_grep: '$1' not found in $2:"; cat >&2 "$2"; return 1
	fi
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
