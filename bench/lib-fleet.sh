# Shared by bench/fleet.sh and bench/fleet-pg.sh: the fleet's workload.
#
#   fleet_project DRIVER    (in the current directory, with $M set)
#
# makes a key pair ci.key/ci.pub, a git project p/ of M migrations of one
# table each (version_style sequence, drivers [DRIVER]) and its signed
# bundle b.tar.gz.
fleet_project() {
	cairn keygen --no-passphrase ci >/dev/null 2>&1
	git init -q p
	(cd p && cairn init >/dev/null &&
	 sed -i -e 's/^version_style: .*/version_style: sequence/' -e "s/^drivers: .*/drivers: [$1]/" \
		-e '/^release_refs:/,/^$/c\
release_refs: []\
' cairn.yaml)
	i=1
	while test $i -le "$M"; do
		v=$(printf %04d $i)
		mkdir -p "p/migrations/${v}_t$i"
		echo "CREATE TABLE t$i (id integer primary key, v text);" >"p/migrations/${v}_t$i/up.sql"
		echo "DROP TABLE t$i;" >"p/migrations/${v}_t$i/down.sql"
		i=$((i + 1))
	done
	git -C p add -A
	git -C p -c user.name=bench -c user.email=bench@example.com commit -q -m migrations
	(cd p && cairn build --sign ../ci.key -o ../b.tar.gz >/dev/null 2>&1)
}

# fleet_check DIR N: how many of DIR/t1.db .. DIR/tN.db do not have M
# migrations applied in their books and M tables of their own (sqlite3)
fleet_check() {
	bad=0
	j=1
	while test $j -le "$2"; do
		got=$(sqlite3 "$1/t$j.db" "SELECT (SELECT count(*) FROM cairn_migrations WHERE state = 'applied') || ' ' || (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 't%' AND name NOT LIKE 'cairn%')")
		test "$got" = "$M $M" || bad=$((bad + 1))
		j=$((j + 1))
	done
	echo "$bad"
}
