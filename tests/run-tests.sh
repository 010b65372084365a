#!/bin/sh
# Runs every test: the C unit tests, the fuzz corpora replays, and the shell
# end-to-end scripts (tests/t[0-9]*.sh), then prints "N passed, N failed".
# Exits non-zero when anything failed. TESTS='t0001*' narrows the scripts.
cd "$(dirname "$0")" || exit 2
rm -f .result.*
passed=0
failed=0
failed_names=

count() {
	# $1 = passed, $2 = failed, $3 = name
	passed=$((passed + $1))
	failed=$((failed + $2))
	if test "$2" -ne 0; then failed_names="$failed_names $3"; fi
}

for t in ../build/tests/test-*; do
	test -x "$t" || continue
	name=$(basename "$t")
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^ok ' || true
	p=$(printf '%s\n' "$out" | grep -c '^ok ')
	f=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if test $rc -ne 0 && test "$f" -eq 0; then f=1; echo "not ok - $name exited $rc"; fi
	echo "# $name: $p passed, $f failed"
	count "$p" "$f" "$name"
done

for t in ../build/tests/fuzz-*-replay; do
	test -x "$t" || continue
	name=$(basename "$t" -replay)
	corpus="fuzz/corpus/${name#fuzz-}"
	if "$t" "$corpus" >/dev/null 2>.fuzz-out; then
		echo "# $name: corpus replayed ($(ls "$corpus" | wc -l) inputs)"
		count 1 0 "$name"
	else
		cat .fuzz-out
		echo "not ok - $name corpus replay"
		count 0 1 "$name"
	fi
	rm -f .fuzz-out
done

for t in ${TESTS:-t[0-9]*.sh}; do
	case "$t" in *.sh) ;; *) t="$t.sh" ;; esac
	for s in $t; do
		test -f "$s" || continue
		sh "$s"
		name=$(basename "$s" .sh)
		if test -f ".result.$name"; then
			read p f <".result.$name"
			count "$p" "$f" "$name"
		else
			echo "not ok - $name did not finish"
			count 0 1 "$name"
		fi
	done
done
rm -f .result.*
if test -n "$failed_names"; then echo "# failed:$failed_names"; fi
echo "$passed passed, $failed failed"
test "$failed" -eq 0
