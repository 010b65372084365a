#!/bin/sh
test_description='cairn build is reproducible: two clones, two clocks, one set of bytes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/fixtures/project.sh"

FIX="$TEST_DIRECTORY/fixtures"

# A faked clock: an LD_PRELOAD shim whose time(), gettimeofday() and
# clock_gettime(CLOCK_REALTIME) say $FAKE_TIME (seconds since the epoch).
test_expect_success 'setup: a faked clock' '
	cat >fakeclock.c <<-\EOF &&
	#define _GNU_SOURCE
	#include <stdlib.h>
	#include <sys/time.h>
	#include <time.h>
	static time_t fake(void) { const char *s = getenv("FAKE_TIME"); return s ? (time_t)atoll(s) : 0; }
	time_t time(time_t *t) { time_t v = fake(); if (t) *t = v; return v; }
	int gettimeofday(struct timeval *tv, void *tz) { (void)tz; tv->tv_sec = fake(); tv->tv_usec = 0; return 0; }
	int clock_gettime(clockid_t id, struct timespec *ts) { (void)id; ts->tv_sec = fake(); ts->tv_nsec = 0; return 0; }
	EOF
	cc -shared -fPIC -o fakeclock.so fakeclock.c &&
	FAKE_TIME=86400 LD_PRELOAD=$PWD/fakeclock.so date -u +%Y-%m-%d >d &&
	test "$(cat d)" = 1970-01-02
'

# at_time T CMD...: runs CMD with the clock at T
at_time() {
	t=$1; shift
	FAKE_TIME=$t LD_PRELOAD="$TRASH_DIRECTORY/fakeclock.so" \
		ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" "$@"
}

test_expect_success 'setup: a project, two clones of it, a key' '
	fixture_project origin &&
	git clone -q origin one &&
	git clone -q origin "two with a space" &&
	# the same remote, reached with other credentials: they never reach the manifest
	git -C one remote set-url origin https://alice:pw1@git.example.com/acme/fix.git &&
	git -C "two with a space" remote set-url origin https://git.example.com/acme/fix.git &&
	cp "$FIX/keys/test.key" test.key && chmod 600 test.key
'

test_expect_success 'two clones, built years apart, with different umasks and zones: identical bytes' '
	(cd one && umask 022 && TZ=UTC at_time 1800000000 cairn build --sign ../test.key -o ../a.tar.gz 2>/dev/null) &&
	touch "two with a space/cairn.yaml" &&
	(cd "two with a space" && umask 077 && TZ=Asia/Tokyo at_time 2000000000 cairn build --sign ../test.key -o ../b.tar.gz 2>/dev/null) &&
	cmp a.tar.gz b.tar.gz
'

test_expect_success 'the clock really was faked, and does not leak into the bundle' '
	tar tzvf a.tar.gz --full-time >list &&
	test_grep "2026-01-02 03:04:05" list &&
	test_grep ! 2027 list && test_grep ! 2033 list
'

test_expect_success 'the same commit gives the golden bundle (tests/fixtures/golden.tar.gz)' '
	cmp a.tar.gz "$FIX/golden.tar.gz"
'

test_expect_success 'build, then sign, gives the same bytes as build --sign' '
	(cd one && cairn build -o ../unsigned.tar.gz 2>/dev/null) &&
	test_must_fail cmp -s unsigned.tar.gz a.tar.gz &&
	at_time 1900000000 cairn sign unsigned.tar.gz --key test.key >/dev/null 2>&1 &&
	cmp unsigned.tar.gz a.tar.gz
'

test_expect_success 'signing again with the same key changes nothing' '
	cp a.tar.gz again.tar.gz &&
	cairn sign again.tar.gz --key test.key 2>/dev/null &&
	cmp again.tar.gz a.tar.gz
'

test_expect_success 'names past ustar (pax extended headers) are reproducible too' '
	long=$(printf "%0150d" 0 | tr 0 x).csv &&
	mkdir -p one/migrations/20260102000000_index_accounts_email/data &&
	echo "a,b" >"one/migrations/20260102000000_index_accounts_email/data/$long" &&
	git -C one add -A && git -C one commit -q -m long &&
	git clone -q one three && git -C three remote set-url origin https://git.example.com/acme/fix.git &&
	(cd one && at_time 1800000000 cairn build -o ../l1.tar.gz 2>/dev/null) &&
	(cd three && at_time 1900000000 cairn build -o ../l2.tar.gz 2>/dev/null) &&
	cmp l1.tar.gz l2.tar.gz &&
	python3 -c "
import tarfile
t = tarfile.open(\"l1.tar.gz\")
m = [m for m in t.getmembers() if m.name.endswith(\"$long\")][0]
assert m.pax_headers.get(\"path\", \"\").endswith(\"$long\"), m.pax_headers
assert set(m.pax_headers) == {\"path\"}, m.pax_headers
" &&
	cairn inspect l1.tar.gz >out && test_grep "data/$long" out &&
	git -C one reset -q --hard HEAD~1
'

test_expect_success 'a new commit gives a new bundle id; the same migrations at a new commit still differ' '
	git -C one commit -q --allow-empty -m empty &&
	(cd one && cairn build -o ../c.tar.gz 2>/dev/null) &&
	cairn inspect a.tar.gz | sed -n "s/^id *//p" >id.a &&
	cairn inspect c.tar.gz | sed -n "s/^id *//p" >id.c &&
	test_must_fail test_cmp id.a id.c
'

test_done
