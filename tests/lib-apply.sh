# Helpers for the applier's end-to-end tests (t03xx): a real git project,
# a real signing key, real bundles built by 'cairn build', real SQLite files.
# Source after test-lib.sh.

# apply_key: a passphrase-less signing key pair ci.key / ci.pub in the trash
# directory, made once per script.
apply_key() {
	test -f "$TRASH_DIRECTORY/ci.pub" ||
	(cd "$TRASH_DIRECTORY" && cairn keygen --no-passphrase ci >/dev/null 2>&1)
}

# apply_project DIR: a git repository with a cairn project using sequence
# versions (0001, 0002...), SQLite only. These tests rewrite migrations on
# main to make drifted or broken bundles, which the history rules rightly
# refuse; history is tested in t01xx, so nothing counts as released here.
apply_project() {
	git init -q "$1" &&
	(cd "$1" && cairn init >/dev/null) &&
	sed -i -e 's/^version_style: .*/version_style: sequence/' \
		-e 's/^drivers: .*/drivers: [sqlite]/' \
		-e '/^release_refs:/,/^$/c\
release_refs: []\
' "$1/cairn.yaml" &&
	# the applier's tests build migrations that fail on SQLite on purpose;
	# the checker's SQLite linter (which replays them) would refuse them
	printf 'lint: {sqlite-error: off, sqlite-syntax: off}\n' >>"$1/cairn.yaml"
}

# apply_mig DIR NAME UP [DOWN [MIGRATION_YAML]]: writes a migration; DOWN
# "-" leaves down.sql out.
apply_mig() {
	mkdir -p "$1/migrations/$2" &&
	printf '%s\n' "$3" >"$1/migrations/$2/up.sql" &&
	if test "${4:--}" != "-"; then printf '%s\n' "$4" >"$1/migrations/$2/down.sql"; fi &&
	if test -n "$5"; then printf '%s\n' "$5" >"$1/migrations/$2/migration.yaml"; fi
}

# apply_table DIR NAME: a migration that creates table t_NAME, reversibly.
apply_table() {
	apply_mig "$1" "$2" "CREATE TABLE t_$2 (id integer primary key, v text);" "DROP TABLE t_$2;"
}

# apply_log_callbacks DIR NAME...: SQL callbacks NAME.sql that each add
# their name to table cb_log (before_migrate creates it first).
apply_log_callbacks() {
	cb_dir="$1/migrations/callbacks" &&
	shift &&
	mkdir -p "$cb_dir" &&
	for cb in "$@"
	do
		if test "$cb" = before_migrate
		then
			printf "CREATE TABLE IF NOT EXISTS cb_log (what text); INSERT INTO cb_log VALUES ('%s');\n" \
				"$cb" >"$cb_dir/$cb.sql"
		else
			printf "INSERT INTO cb_log VALUES ('%s');\n" "$cb" >"$cb_dir/$cb.sql"
		fi || return 1
	done
}

# powercut_run HOW ON N CMD...: CMD run on db, a fresh copy of pristine,
# and stopped by tests/helpers/powercut.c ($CUT) before the Nth call ON
# (HOW kill: SIGKILL, exit 137; cut: the power cut, exit 99).
powercut_run() {
	cp pristine db && rm -f db-journal &&
	if test $1 = kill; then pr_want=137; else pr_want=99; fi &&
	pr_how=$1 pr_on=$2 pr_at=$3 && shift 3 &&
	test_expect_code $pr_want env POWERCUT_DB="$TRASH_DIRECTORY/db" POWERCUT_ON=$pr_on \
		POWERCUT_AT=$pr_at POWERCUT_HOW=$pr_how LD_PRELOAD="$CUT" "$@" >out 2>err
}

# powercut_rounds HOW ON ROUNDS: the caller's stopped_at HOW ON N for
# ROUNDS values of N spread evenly over the calls in trace.ON (a whole
# run traced by tests/helpers/powercut.c).
powercut_rounds() {
	pr_total=$(wc -l <trace.$2) && pr_i=1 &&
	while test $pr_i -le $3
	do
		stopped_at $1 $2 $(( (pr_total * pr_i + $3 - 1) / $3 )) || return 1
		pr_i=$((pr_i + 1))
	done
}

# apply_half_project DIR OUT: a project for both drivers whose 0002_half
# (transaction: false) fails on its second statement, after 0001_a; its
# signed bundle in OUT. The row it leaves failed needs an operator.
apply_half_project() {
	apply_project "$1" &&
	sed -i -e "s/^drivers: .*/drivers: [sqlite, postgres]/" "$1/cairn.yaml" &&
	apply_table "$1" 0001_a &&
	apply_mig "$1" 0002_half "CREATE TABLE half (x int);
INSERT INTO nowhere VALUES (1);" "DROP TABLE half;" "transaction: false" &&
	apply_build "$1" "$2"
}

# apply_build DIR OUT: commits everything in DIR and builds a signed bundle.
apply_build() {
	apply_key &&
	git -C "$1" add -A &&
	{ git -C "$1" diff --cached --quiet || git -C "$1" commit -q -m "migrations"; } &&
	(cd "$1" && cairn build --sign "$TRASH_DIRECTORY/ci.key" -o "$2" >/dev/null 2>&1 ||
	 cairn build --sign "$TRASH_DIRECTORY/ci.key" -o "$2")
}

# q DB SQL: one query through the sqlite3 CLI.
q() {
	sqlite3 "$1" "$2"
}

KEY="--key $TRASH_DIRECTORY/ci.pub"

# lock_hold FILE SECONDS: another process (flock, whose pid goes to
# $holder) holds an flock on FILE for SECONDS; returns once it does.
lock_hold() {
	rm -f "$1.held" &&
	{ flock -o "$1" sh -c ': >"$0.held" && exec sleep "$1"' "$1" "$2" & } &&
	holder=$! &&
	lock_n=0 &&
	while test ! -e "$1.held"; do
		lock_n=$((lock_n + 1)) &&
		test $lock_n -lt 1000 &&
		sleep 0.01 || { echo >&2 "lock_hold: no lock on $1 after 10 s"; return 1; }
	done
}

# lock_release: the holder must still be there, so the lock was held all
# along; it is ended and reaped.
lock_release() {
	kill "$holder" || { echo >&2 "lock_release: the lock holder $holder had already gone"; return 1; }
	wait "$holder"
	return 0
}

# apply_config LINE: ./cairn-apply.yaml with environment dev on sqlite:db,
# built by ci.pub, and LINE (a key of the environment) in it.
apply_config() {
	cat >cairn-apply.yaml <<-EOF
	environments:
	  dev:
	    database: { dsn: "sqlite:db" }
	    builders: [ci.pub]
	    $1
	EOF
}

# phase_project DIR: a sequence project for both drivers (the linter reads
# generic up scripts that run on PostgreSQL), nothing released. Its
# scripts use PostgreSQL's ALTER COLUMN, which SQLite's linter refuses
# (t0920 tests that): sqlite-alter is off here.
phase_project() {
	apply_project "$1" &&
	sed -i -e 's/^drivers: .*/drivers: [sqlite, postgres]/' \
		-e 's/^lint: {\(.*\)}$/lint: {\1, sqlite-alter: off}/' "$1/cairn.yaml" &&
	grep -q "sqlite-alter: off" "$1/cairn.yaml"
}

# phase_setup DSN: keys/ci, keys/alice, keys/eve, and ./cairn-apply.yaml
# with environment prod on DSN, built by ci, one approval by alice (the
# phase tests of issue #22: t0950 on SQLite, t0965 on PostgreSQL).
phase_setup() {
	mkdir -p keys &&
	for k in ci alice eve; do
		cairn keygen --no-passphrase keys/$k >/dev/null 2>&1 || return 1
	done &&
	cat >cairn-apply.yaml <<-EOF
	defaults:
	  builders: [keys/ci.pub]
	environments:
	  prod:
	    database: { dsn: "$1" }
	    approvals: 1
	    approvers: [keys/alice.pub]
	EOF
}

# swap_down_rechain DB VERSION SQL: what an attacker who can write the
# SQLite database DB does (issue #15): VERSION's stored down script becomes
# SQL, its audit row's down=sha256: follows, and the whole chain is
# recomputed with the unkeyed hash (helpers/audit-rechain.py), so that
# history --verify still passes. Prints SQL's sha256.
swap_down_rechain() {
	_sha=$(printf "%s" "$3" | sha256sum | cut -d" " -f1) &&
	python3 "$TEST_DIRECTORY/helpers/audit-rechain.py" "$1" \
		"UPDATE cairn_migrations SET down_sql = '$3' WHERE version = '$2'" \
		"UPDATE cairn_audit SET detail = replace(detail, substr(detail, instr(detail, 'down=sha256:'), 76), 'down=sha256:$_sha') WHERE seq = (SELECT max(seq) FROM cairn_audit WHERE version = '$2')" &&
	echo "$_sha"
}

# fleet_signal_started SIG BUNDLE: a fleet of the targets in ktargets, two
# at a time, applying BUNDLE (--result rk.jsonl, JSON events to kevents);
# once its second target (k1) started, SIG goes to it. Its exit code goes
# to the file fleet.rc.
fleet_signal_started() {
	rm -f rk.jsonl kevents &&
	{ cairn-apply fleet "$2" --env dev $KEY --targets ktargets --parallel 2 \
		--result rk.jsonl --log-format json >kevents 2>kerr & } &&
	fleet_pid=$! &&
	fleet_n=0 &&
	until grep -q "\"target-start\",\"target\":\"k1\"" kevents 2>/dev/null; do
		fleet_n=$((fleet_n + 1)) && test $fleet_n -lt 500 && sleep 0.02 || return 1
	done &&
	sleep 0.3 &&
	kill -$1 $fleet_pid &&
	{ wait $fleet_pid; echo $? >fleet.rc; }
}

# apply_many DIR N: N migrations 0001_m1.. in DIR, each a table t_NAME
# and one row in it, reversibly (the crash tests, t035x)
apply_many() {
	_i=1 && while test $_i -le $2; do
		_n=$(printf "%04d_m%d" $_i $_i) &&
		apply_mig "$1" $_n "CREATE TABLE t_$_n (id integer primary key, v text);
INSERT INTO t_$_n (v) VALUES ('$_n');" "DROP TABLE t_$_n;" || return 1
		_i=$((_i + 1))
	done
}

# destructive_json FILE: status --format json's destructive field (issue
# #18): a line "needed approvals ok has-message", then one per statement
# "version migration rule file:line what"; "none" without the field.
destructive_json() {
	python3 -c "
import json, sys
d = json.load(open(sys.argv[1])).get(\"destructive\")
if d is None:
    print(\"none\")
else:
    print(d[\"approvals_needed\"], d[\"approvals\"], d[\"ok\"], d[\"message\"] is not None)
    for s in d[\"statements\"]:
        print(s[\"version\"], s[\"migration\"], s[\"rule\"], \"%s:%d\" % (s[\"file\"], s[\"line\"]), s[\"what\"])
" "$1"
}

# load_sql FILE MIB [HEAD] [TAIL] [FIRST_ID]: FILE holds HEAD (a line), MIB
# MiB of 200-row INSERTs into t (ids from FIRST_ID, else 0), then TAIL (a
# line); ./load.line is TAIL's line, ./load.n the number of INSERTs (in
# the current directory: not beside FILE, which may be in a migration). A row
# is $load_row (a Python format of its id, twice) where the script sets it:
# the PostgreSQL tests put a ';' inside each row's string, for the splitter.
load_sql() {
	python3 - "$1" "$2" "${3-}" "${4-}" "${5:-0}" \
		"${load_row:-(%d, 'row %d padding padding padding padding padding padding padding padding')}" <<-\PY
	import sys
	path, mib, head, tail, first, row = sys.argv[1:7]
	target = int(mib) << 20
	lines = k = n = 0
	i = int(first)
	with open(path, "w") as f:
	    if head:
	        f.write(head + "\n")
	        lines += 1
	    while n < target:
	        s = "INSERT INTO t (id, v) VALUES " + ",\n".join(row % (j, j) for j in range(i, i + 200)) + ";\n"
	        i += 200
	        k += 1
	        n += len(s)
	        lines += s.count("\n")
	        f.write(s)
	    f.write(tail + "\n" if tail else "")
	open("load.line", "w").write(str(lines + 1))
	open("load.n", "w").write(str(k))
	PY
}

# apply_at_0001 NAME DRIVER DSN UP [YAML]: a project pNAME for DRIVER
# (sqlite or postgres) whose 0001_a makes a table and whose 0002_x runs UP
# (down: SELECT 1; migration.yaml: YAML), its signed bundle NAME.tar.gz,
# applied to DSN up to 0001 only: a database a test then applies 0002 to.
apply_at_0001() {
	rm -rf "p$1" &&
	apply_project "p$1" &&
	sed -i -e "s/^drivers: .*/drivers: [$2]/" "p$1/cairn.yaml" &&
	apply_table "p$1" 0001_a &&
	apply_mig "p$1" 0002_x "$4" "SELECT 1;" "$5" &&
	apply_build "p$1" "$TRASH_DIRECTORY/$1.tar.gz" &&
	cairn-apply apply "$1.tar.gz" --to 0001 --env dev --db "$3" $KEY >out
}
