# Helpers for cairn import's tests (t06xx): a cairn project around another
# tool's migrations, and the schema compared with applying the originals by
# hand. Source after test-lib.sh and lib-apply.sh.

# import_project DIR: a git repository with a sequence-style SQLite project
# (apply_project), where the tool's files are then written.
import_project() {
	apply_project "$1"
}

# schema DB: the user's schema in a SQLite file, cairn's tables left out,
# one line per object, sorted.
schema() {
	sqlite3 "$1" "SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(replace(replace(sql, char(10), ' '), '  ', ' '), '') FROM sqlite_master WHERE name NOT LIKE 'cairn%' AND name NOT LIKE 'sqlite_%' ORDER BY type, name"
}

# import_apply DIR BUNDLE DB: commits DIR, builds BUNDLE, applies it to DB.
import_apply() {
	apply_build "$1" "$TRASH_DIRECTORY/$2" &&
	cairn-apply apply "$TRASH_DIRECTORY/$2" --env dev --db "sqlite:$TRASH_DIRECTORY/$3" $KEY >"$TRASH_DIRECTORY/apply.out" 2>&1 ||
	{ cat "$TRASH_DIRECTORY/apply.out"; false; }
}

# The real sqitch's user, for the tests that run it (t0840, t0880).
SQITCH_FULLNAME="Ann Example"
SQITCH_EMAIL="ann@example.com"
export SQITCH_FULLNAME SQITCH_EMAIL

# sqitch_put FILE SQL: replaces sqitch's template line "-- XXX Add DDLs
# here." with SQL.
sqitch_put() {
	sed -i "s|^-- XXX Add DDLs here.|$2|" "$1"
}

# books DB: cairn's rows, "version:state" in version order.
books() {
	q "$1" "SELECT group_concat(version || ':' || state, ' ') FROM (SELECT * FROM cairn_migrations ORDER BY version)"
}

# flyway_crc FILE: Flyway's checksum, computed apart from cairn: CRC32 over
# the file's lines without their ends, as a signed 32-bit integer.
flyway_crc() {
	python3 -c 'import sys, zlib
d = open(sys.argv[1], "rb").read()
d = d[3:] if d.startswith(b"\xef\xbb\xbf") else d
c = 0
for l in d.splitlines(): c = zlib.crc32(l, c)
print(c - 2**32 if c >= 2**31 else c)' "$1"
}
