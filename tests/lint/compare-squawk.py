#!/usr/bin/env python3
"""Every Squawk finding on the corpus has a cairn finding on the same
statement (the Squawk line inside the statement's lines) with the same
rule (cairn's json names each rule's Squawk name). Prints what is missing;
exits 1 if anything is. Usage: compare-squawk.py SQUAWK.json CAIRN.json"""
import json
import sys

# Squawk rules whose finding cairn gives under another rule on that statement.
ALSO = {
    # Squawk asks NOT VALID of UNIQUE and PRIMARY KEY too, which cannot take
    # it; cairn's rules for those say to build the index CONCURRENTLY first
    "constraint-missing-not-valid": {"unique-constraint", "primary-key"},
    # CIC in a transaction: cairn's error says it cannot run at all there
    "prefer-robust-stmts": {"concurrent-in-transaction"},
}
# Known, deliberate differences: (file, 1-based line, squawk rule) -> why.
EXPECTED = {
    ("types.sql", 8, "require-lock-timeout"):
        "CREATE DOMAIN locks no table; cairn asks for lock_timeout where a table lock is taken",
    ("types.sql", 8, "require-statement-timeout"):
        "the same statement: nothing slow runs",
    ("transactions.sql", 1, "require-lock-timeout"):
        "CREATE INDEX CONCURRENTLY waits for SHARE UPDATE EXCLUSIVE, which blocks"
        " no reads or writes; cairn keeps lock-timeout for locks that do",
    ("transactions.sql", 1, "require-statement-timeout"):
        "the same statement, and a concurrent build is long by design",
}

squawk = json.load(open(sys.argv[1]))
cairn = json.load(open(sys.argv[2]))["findings"]
missing = 0
for s in squawk:
    name = s["file"].rsplit("/", 1)[-1]
    line = s["line"] + 1
    rule = s["rule_name"]
    ok = any(c["path"].rsplit("/", 1)[-1] == name and
             c["statement"]["line"] <= line <= c["statement"]["end_line"] and
             (c["squawk"] == rule or c["rule"] in ALSO.get(rule, ()))
             for c in cairn)
    if ok:
        print("found   %s:%d %s" % (name, line, rule))
    elif (name, line, rule) in EXPECTED:
        print("differs %s:%d %s: %s" % (name, line, rule, EXPECTED[(name, line, rule)]))
    else:
        print("MISSING %s:%d %s: %s" % (name, line, rule, s["message"]))
        missing += 1
print("%d squawk findings, %d missing in cairn's" % (len(squawk), missing))
sys.exit(1 if missing else 0)
