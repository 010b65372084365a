#!/bin/sh
test_description='the test library catches tests that cannot fail: broken chains, empty bodies, test_grep on a missing file, sanitizer reports'
. "$(dirname "$0")/test-lib.sh"

# probe NAME: NAME.sh holds test_expect_success lines (written by the test);
# probe runs them as a script of their own, with this library, and leaves
# its output in NAME.out and its exit code in NAME.rc.
probe() {
	{
		printf '#!/bin/sh\n. "%s/test-lib.sh"\n' "$TEST_DIRECTORY" &&
		cat "$1.sh" &&
		echo test_done
	} >"probe-$1.sh" &&
	{ sh "probe-$1.sh" >"$1.out" 2>&1; echo $? >"$1.rc"; }
}

# probe_fails NAME REASON: the probe failed its one test for REASON
probe_fails() {
	probe "$1" &&
	echo 1 >one && test_cmp one "$1.rc" &&
	test_grep "^not ok 1 - " "$1.out" &&
	test_grep "0 passed, 1 failed" "$1.out" &&
	test_grep "$2" "$1.out"
}

test_expect_success 'a sound body passes, and runs once' '
	cat >sound.sh <<-\EOF &&
	test_expect_success "sound" "
		echo run >>runs &&
		{ sleep 0.1 & } &&
		pid=\$! &&
		for i in 1 2; do
			echo \$i >>loop || return 1
		done &&
		cat >doc <<-EOT &&
		hello
		EOT
		test_grep hello doc &&
		test_grep ! -e -x doc &&
		if test -f doc; then echo yes; else false; fi | grep yes &&
		{ false || echo recovered; } &&
		wait \$pid
	"
	test_expect_success "once" "
		echo run >expect && test_cmp expect runs &&
		printf \"1\n2\n\" >expect && test_cmp expect loop
	"
	EOF
	probe sound &&
	echo 0 >zero && test_cmp zero sound.rc &&
	test_grep "^ok 1 - sound" sound.out &&
	test_grep "^ok 2 - once" sound.out &&
	test_grep "2 passed, 0 failed" sound.out
'

test_expect_success 'a line ending in ";" is a broken chain' '
	cat >semicolon.sh <<-\EOF &&
	test_expect_success "dropped" "
		false;
		true
	"
	EOF
	probe_fails semicolon "BUG in the test: broken &&-chain"
'

test_expect_success 'the broken chain is reported even when the body passes' '
	cat >passes.sh <<-\EOF &&
	test_expect_success "passes" "
		echo a >a;
		test_grep a a
	"
	EOF
	probe_fails passes "BUG in the test: broken &&-chain"
'

test_expect_success 'a background job that ends a line is a broken chain' '
	cat >amp.sh <<-\EOF &&
	test_expect_success "amp" "
		sleep 0.1 &
		pid=\$! &&
		wait \$pid
	"
	EOF
	probe_fails amp "BUG in the test: broken &&-chain"
'

test_expect_success 'a final "|| true" is a broken chain' '
	cat >ortrue.sh <<-\EOF &&
	test_expect_success "or true" "
		false &&
		false || true
	"
	EOF
	probe_fails ortrue "BUG in the test: broken &&-chain"
'

test_expect_success 'a run-away here-doc is a broken chain' '
	cat >heredoc.sh <<-\EOF &&
	test_expect_success "heredoc" "
		cat >x <<-EOT &&
		  x
		  EOT
		true
	"
	EOF
	probe_fails heredoc "BUG in the test: broken &&-chain"
'

test_expect_success 'a subshell ending in "; true" drops its status' '
	# (split, or this very body would be the bug)
	printf "%s\n" "test_expect_success subshell \"" \
		"(cd . && false; tru""e) &&" "echo ok" "\"" >subshell.sh &&
	probe_fails subshell "BUG in the test: a subshell ends in"
'

test_expect_success 'a body that asserts nothing fails' '
	cat >empty.sh <<-\EOF &&
	test_expect_success "empty" "
		# a comment
		:
		true
	"
	EOF
	probe_fails empty "BUG in the test: the body asserts nothing"
'

test_expect_success 'test_grep ! fails on a missing file, test_grep too' '
	cat >grepmissing.sh <<-\EOF &&
	test_expect_success "grep ! missing" "
		test_grep ! pattern no-such-file
	"
	EOF
	probe_fails grepmissing "test_grep: no file .no-such-file." &&
	cat >grepmissing2.sh <<-\EOF &&
	test_expect_success "grep missing" "
		test_grep pattern no-such-file
	"
	EOF
	probe_fails grepmissing2 "test_grep: no file .no-such-file."
'

test_expect_success 'test_grep ! -e PATTERN FILE looks for PATTERN in FILE' '
	cat >grepe.sh <<-\EOF &&
	test_expect_success "grep ! -e" "
		echo seckey_sign >syms &&
		test_grep ! -e seckey_sign syms
	"
	EOF
	probe_fails grepe "test_grep: grep -e seckey_sign syms found a match" &&
	echo "-x" >dash &&
	test_grep -x dash &&
	test_grep -F -e "-x" dash &&
	test_grep ! -e "-y" dash &&
	test_must_fail test_grep -e "-y" dash 2>err &&
	test_grep "found no match" err
'

test_expect_success 'test_expect_success wants a title and a body' '
	cat >args.sh <<-\EOF &&
	test_expect_success "no body"
	EOF
	probe_fails args "BUG in the test: test_expect_success takes a title and a body"
'

test_expect_success 'test_must_fail and test_expect_code count a signal as a crash' '
	test_must_fail --exit=3 sh -c "exit 3" &&
	test_must_fail test_must_fail sh -c "kill -ABRT \$\$" 2>err &&
	test_grep "died by signal 6" err &&
	test_must_fail test_expect_code 1 sh -c "kill -ABRT \$\$" 2>err &&
	test_grep "exit 134, wanted 1" err
'

test_expect_success 'test_sigkill tells a killed job from a finished one, and fails on a failed one' '
	{ sleep 30 & } && pid=$! &&
	test_sigkill $pid && test "$killed" = t &&
	{ true & } && pid=$! && sleep 0.2 &&
	test_sigkill $pid && test -z "$killed" &&
	{ sh -c "exit 3" & } && pid=$! && sleep 0.2 &&
	test_must_fail test_sigkill $pid 2>err &&
	test_grep "ended with status 3" err
'

test_expect_success 'the caller'"'"'s sanitizer options are kept; abort_on_error=1 wins' '
	cat >san.sh <<-\EOF &&
	test_expect_success "options" "
		echo \$ASAN_OPTIONS >../asan && echo \$UBSAN_OPTIONS >../ubsan
	"
	EOF
	(
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:exitcode=9 &&
		UBSAN_OPTIONS=abort_on_error=0 &&
		export ASAN_OPTIONS UBSAN_OPTIONS &&
		probe san
	) &&
	echo detect_leaks=1:detect_leaks=0:abort_on_error=0:exitcode=9:abort_on_error=1 >expect &&
	test_cmp expect asan &&
	echo print_stacktrace=1:abort_on_error=0:halt_on_error=1:abort_on_error=1 >expect &&
	test_cmp expect ubsan
'

# A real UBSan report, in a build like SANITIZE=undefined: the process must
# end by SIGABRT, so that test_must_fail cannot take it for a clean failure.
cat >ub.c <<\EOF
#include <limits.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	int x = INT_MAX - 1 + argc;
	(void)argv;
	printf("%d\n", x + 1); /* signed overflow */
	return 0;
}
EOF
if cc -fsanitize=undefined -fno-sanitize-recover=all -o ub ub.c 2>cc.err; then
	test_expect_success 'an undefined-behaviour report ends the process by a signal' '
		test_must_fail test_must_fail ./ub 2>err &&
		test_grep "runtime error: signed integer overflow" err &&
		test_grep "died by signal 6" err &&
		test_must_fail test_expect_code 1 ./ub 2>err &&
		test_grep "exit 134, wanted 1" err
	'
elif test "$CI" = true; then
	test_expect_success 'a UBSan build of a small program (CI has the compiler)' '
		cat cc.err && false
	'
else
	say "# skipped: no UBSan runtime for cc here ($(head -n 1 cc.err))"
fi

test_done
