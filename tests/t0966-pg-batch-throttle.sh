#!/bin/sh
test_description='throttled batch migrations on PostgreSQL (issue #22): cairn.batch_size, the time budget and resume, the lag read from pg_stat_replication (no standby: 0) or the config query, in ms or bytes'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"
. "$TEST_DIRECTORY/lib-pg.sh"

pg_start_app

# config [LINE]: environment dev on the app database, LINE added.
config() {
	pg_config "$1"
}

# mig DIR BATCH: 2,000 rows, and a backfill reading cairn.batch_size.
mig() {
	pg_project "$1" &&
	apply_mig "$1" 0001_items "CREATE TABLE items (id bigint primary key, price integer, cents integer);
INSERT INTO items (id, price) SELECT g, g % 97 FROM generate_series(1, 2000) g;" "DROP TABLE items;" &&
	apply_mig "$1" 0002_backfill "UPDATE items SET cents = price * 100
WHERE id IN (SELECT id FROM items WHERE cents IS NULL ORDER BY id
             LIMIT current_setting('cairn.batch_size')::int);" - \
		"kind: batch
irreversible: true
batch: $2"
}

row() {
	pg_sql -d app -c "select state || '|' || batches || '|' || rows_changed from cairn_migrations where version = '0002'"
}

test_expect_success 'size through cairn.batch_size; no standby: the lag is 0 and nothing waits' '
	pg_fresh_db app &&
	mig p "{size: 250, max_replication_lag: 1s}" &&
	apply_build p "$TRASH_DIRECTORY/b.tar.gz" &&
	config &&
	cairn-apply apply b.tar.gz --env dev >out 2>err &&
	! grep "standby lags" out &&
	row >s && echo "applied|8|2000" >expect && test_cmp expect s &&
	pg_sql -d app -c "select count(*) from items where cents = price * 100" >n &&
	echo 2000 >expect && test_cmp expect n
'

test_expect_success 'the time budget stops with exit 8, the next runs resume to the end' '
	pg_fresh_db app &&
	mig d "{size: 20, pause: 100ms, max_duration: 700ms}" &&
	apply_build d "$TRASH_DIRECTORY/d.tar.gz" &&
	test_expect_code 8 cairn-apply apply d.tar.gz --env dev >out 2>err &&
	test_grep "stopped at its time budget after" err &&
	r1=$(pg_sql -d app -c "select rows_changed from cairn_migrations where version = '"'"'0002'"'"'") &&
	f1=$(pg_sql -d app -c "select count(*) from items where cents is not null") &&
	echo "stopped at $r1 rows" &&
	test "$r1" = "$f1" && test "$r1" -gt 0 && test "$r1" -lt 2000 &&
	pg_sql -d app -c "select state from cairn_migrations where version = '"'"'0002'"'"'" >s &&
	echo in_progress >expect && test_cmp expect s &&
	n=0 && rc=8 &&
	while test $rc = 8 && test $n -lt 40; do
		rc=0 && cairn-apply apply d.tar.gz --env dev >out 2>err || rc=$? &&
		n=$((n + 1))
	done &&
	test $rc = 0 &&
	row >s && echo "applied|100|2000" >expect && test_cmp expect s &&
	pg_sql -d app -c "select count(*) from items where cents = price * 100" >n &&
	echo 2000 >expect && test_cmp expect n &&
	cairn-apply history --env dev --verify >/dev/null
'

test_expect_success 'a lagging standby (the config query) holds the batches back, logged as events' '
	pg_fresh_db app &&
	mig l "{size: 1000, max_replication_lag: 200ms}" &&
	apply_build l "$TRASH_DIRECTORY/l.tar.gz" &&
	pg_sql -d app -c "create table fake_lag (ms bigint); insert into fake_lag values (5000)" &&
	config "replication_lag_query: \"SELECT ms FROM fake_lag\"" &&
	{ (sleep 2.5 && pg_sql -d app -c "update fake_lag set ms = 0" >/dev/null) & } &&
	bg=$! &&
	cairn-apply apply l.tar.gz --env dev --log-format json >out 2>err &&
	wait $bg &&
	grep "\"event\":\"lag-wait\"" out >waits &&
	test_grep "\"lag_ms\":5000" waits &&
	test $(wc -l <waits) -ge 2 &&
	row >s && echo "applied|2|2000" >expect && test_cmp expect s
'

test_expect_success 'a bound in bytes: pg_wal_lsn_diff with no standby is 0; replication_lag_bytes_query holds the batches back' '
	pg_fresh_db app &&
	mig b "{size: 1000, max_replication_lag: 16MB}" &&
	apply_build b "$TRASH_DIRECTORY/lb.tar.gz" &&
	config "replication_lag_query: \"SELECT 999999\"" &&
	cairn-apply apply lb.tar.gz --env dev --log-format json >out 2>err &&
	! grep "lag-wait" out &&
	row >s && echo "applied|2|2000" >expect && test_cmp expect s &&
	pg_fresh_db app &&
	pg_sql -d app -c "create table fake_lag (bytes bigint); insert into fake_lag values (20000000)" &&
	config "replication_lag_bytes_query: \"SELECT bytes FROM fake_lag\"" &&
	{ (sleep 2.5 && pg_sql -d app -c "update fake_lag set bytes = 1000" >/dev/null) & } &&
	bg=$! &&
	cairn-apply apply lb.tar.gz --env dev --log-format json >out 2>err &&
	wait $bg &&
	grep "\"event\":\"lag-wait\"" out >waits &&
	test_grep "\"lag_bytes\":20000000" waits &&
	! grep "lag_ms" waits &&
	test $(wc -l <waits) -ge 2 &&
	row >s && echo "applied|2|2000" >expect && test_cmp expect s &&
	pg_sql -d app -c "select count(*) from items where cents = price * 100" >n &&
	echo 2000 >expect && test_cmp expect n
'

# standby_start: a real standby of the test server (pg_basebackup -R),
# port 5433 on the same socket directory; standby_stop stops it (test
# bodies run in a subshell: the script stops it too, after the test).
standby_stop() {
	if test -d "$pg_dir/standby"; then
		$pg_as "$PG_BINDIR/pg_ctl" -D "$pg_dir/standby" -m immediate -w stop >/dev/null 2>&1 || :
	fi
}
standby_start() {
	$pg_as sh -c "echo 'local replication all trust' >>'$pg_dir/data/pg_hba.conf'" &&
	pg_sql -d postgres -c "select pg_reload_conf()" >/dev/null &&
	$pg_as "$PG_BINDIR/pg_basebackup" -h "$pg_dir" -U cairn -D "$pg_dir/standby" -R -X stream &&
	$pg_as sh -c "printf 'port = 5433\nwal_receiver_status_interval = 1s\n' >>'$pg_dir/standby/postgresql.conf'" &&
	$pg_as "$PG_BINDIR/pg_ctl" -D "$pg_dir/standby" -l "$pg_dir/standby.log" -w -t 60 start >/dev/null
}

test_expect_success 'a real standby (pg_basebackup -R) whose replay is paused: the bound in bytes waits for it' '
	pg_fresh_db app &&
	mig rs "{size: 1000, max_replication_lag: 1MB}" &&
	apply_build rs "$TRASH_DIRECTORY/rs.tar.gz" &&
	config &&
	standby_start &&
	n=0 &&
	until test "$(pg_sql -d postgres -c "select count(*) from pg_stat_replication where state = '"'"'streaming'"'"'")" = 1; do
		n=$((n + 1)) && test $n -lt 100 && sleep 0.1 || return 1
	done &&
	"$PSQL" -X -q -At -p 5433 -d postgres -c "select pg_wal_replay_pause()" &&
	pg_sql -d app -c "create table junk as select g, repeat(md5(g::text), 4) as x from generate_series(1, 40000) g" &&
	n=0 &&
	until test "$(pg_sql -d postgres -c "select coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0) > 1048576 from pg_stat_replication")" = t; do
		n=$((n + 1)) && test $n -lt 100 && sleep 0.1 || return 1
	done &&
	{ (sleep 2.5 && "$PSQL" -X -q -At -p 5433 -d postgres -c "select pg_wal_replay_resume()" >/dev/null) & } &&
	bg=$! &&
	cairn-apply apply rs.tar.gz --env dev --log-format json >out 2>err &&
	wait $bg &&
	grep "\"event\":\"lag-wait\"" out >waits &&
	sed -n "1s/.*\"lag_bytes\":\([0-9]*\).*/\1/p" waits >lag &&
	echo "first lag read: $(cat lag) bytes" &&
	test "$(cat lag)" -gt 1048576 &&
	test $(wc -l <waits) -ge 2 &&
	row >s && echo "applied|2|2000" >expect && test_cmp expect s &&
	"$PSQL" -X -q -At -p 5433 -d app -c "select count(*) from junk" >j &&
	echo 40000 >expect && test_cmp expect j &&
	standby_stop
'
standby_stop

test_expect_success 'max_duration bounds the wait for a standby' '
	pg_fresh_db app &&
	mig w "{size: 1000, max_replication_lag: 200ms, max_duration: 1500ms}" &&
	apply_build w "$TRASH_DIRECTORY/w.tar.gz" &&
	pg_sql -d app -c "create table fake_lag (ms bigint); insert into fake_lag values (5000)" &&
	config "replication_lag_query: \"SELECT ms FROM fake_lag\"" &&
	test_expect_code 8 cairn-apply apply w.tar.gz --env dev >out 2>err &&
	test_grep "stopped at its time budget after 0 batches" err &&
	pg_sql -d app -c "select count(*) from items where cents is not null" >n &&
	echo 0 >expect && test_cmp expect n
'

test_done
