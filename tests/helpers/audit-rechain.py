#!/usr/bin/env python3
"""audit-rechain.py DB [SQL]...: what an attacker who can write a SQLite
database does to hide an edit: runs each SQL statement, then renumbers
cairn_audit from 1, recomputes every prev_hash and hash with cairn's
(unkeyed) encoding (apply/audit.c), and points cairn_migrations.audit_hash
at the new hashes."""
import hashlib, sqlite3, sys

FIELDS = ["seq", "at", "actor", "action", "version", "from_version", "to_version",
          "bundle_id", "environment", "detail", "prev_hash"]


def row_hash(r):
    h = hashlib.sha256(b"cairn-audit-v1\n")
    for f in FIELDS:
        v = str(r[f] if r[f] is not None else "").encode()
        h.update(str(len(v)).encode() + b":" + v + b"\n")
    return h.hexdigest()


db = sqlite3.connect(sys.argv[1])
db.row_factory = sqlite3.Row
for sql in sys.argv[2:]:
    db.execute(sql)
rows = [dict(r) for r in db.execute("SELECT * FROM cairn_audit ORDER BY seq")]
prev = "0" * 64
remap = {}
for i, r in enumerate(rows, 1):
    old = r["hash"]
    r["seq"] = i
    r["prev_hash"] = prev
    r["hash"] = row_hash(r)
    remap[old] = r["hash"]
    prev = r["hash"]
db.execute("DELETE FROM cairn_audit")
for r in rows:
    db.execute("INSERT INTO cairn_audit (%s) VALUES (%s)" % (",".join(r), ",".join("?" * len(r))),
               list(r.values()))
for old, new in remap.items():
    db.execute("UPDATE cairn_migrations SET audit_hash = ? WHERE audit_hash = ?", (new, old))
db.commit()
