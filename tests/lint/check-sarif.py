#!/usr/bin/env python3
"""check-sarif.py SCHEMA FILE: FILE is SARIF 2.1.0 that GitHub code scanning takes.

1. valid against SCHEMA (tests/fixtures/sarif/sarif-2.1.0-rtm.5.json,
   draft-04) with Debian's python3-jsonschema;
2. within code scanning's upload limits (GitHub's "SARIF support for code
   scanning": at most 10 MB gzip-compressed, 20 runs per file, 25,000
   results and 25,000 rules per run, 1,000 locations per result, 20 tags
   per rule, 100 tool extensions per run);
3. what code scanning reads to place and name a result: version 2.1.0, a
   tool.driver.name, unique rule ids, each result's ruleId with a ruleIndex
   that points at that rule, a message text, a level it knows, and a
   physical location whose artifactLocation.uri is a URI reference
   (RFC 3986: no space or other byte left unencoded), relative to the
   repository's root or a file:// URI, with startLine and startColumn >= 1.
Prints each problem and exits 1 when there is one.
"""
import gzip, json, re, sys

import jsonschema

URI = re.compile(r"^(file://)?[A-Za-z0-9\-._~/%!$&'()*+,;=:@]*$")
PCT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def main():
    schema = json.load(open(sys.argv[1]))
    raw = open(sys.argv[2], "rb").read()
    doc = json.loads(raw)
    bad = []
    v = jsonschema.Draft4Validator(schema)
    for e in sorted(v.iter_errors(doc), key=lambda e: list(e.path)):
        bad.append("schema: %s: %s" % ("/".join(map(str, e.path)), e.message))
    if len(gzip.compress(raw)) > 10 * 1024 * 1024:
        bad.append("over 10 MB gzip-compressed")
    if doc.get("version") != "2.1.0":
        bad.append("version is not 2.1.0")
    runs = doc.get("runs", [])
    if not 1 <= len(runs) <= 20:
        bad.append("%d runs (1 to 20)" % len(runs))
    for run in runs:
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            bad.append("no tool.driver.name")
        rules = driver.get("rules", [])
        ids = [r.get("id") for r in rules]
        if len(set(ids)) != len(ids):
            bad.append("rule ids are not unique")
        if len(rules) > 25000 or len(run.get("results", [])) > 25000:
            bad.append("over 25,000 rules or results in a run")
        if len(run.get("tool", {}).get("extensions", [])) > 100:
            bad.append("over 100 tool extensions")
        for r in rules:
            if len(r.get("properties", {}).get("tags", [])) > 20:
                bad.append("rule %s: over 20 tags" % r.get("id"))
            if not r.get("shortDescription", {}).get("text"):
                bad.append("rule %s: no shortDescription" % r.get("id"))
        for i, res in enumerate(run.get("results", [])):
            where = "result %d (%s)" % (i, res.get("ruleId"))
            ri = res.get("ruleIndex")
            if res.get("ruleId") not in ids or ri is None or ids[ri] != res["ruleId"]:
                bad.append("%s: ruleId/ruleIndex do not name a rule of the driver" % where)
            if not res.get("message", {}).get("text"):
                bad.append("%s: no message text" % where)
            if res.get("level", "warning") not in ("error", "warning", "note", "none"):
                bad.append("%s: level %r" % (where, res.get("level")))
            locs = res.get("locations", [])
            if not 1 <= len(locs) <= 1000:
                bad.append("%s: %d locations" % (where, len(locs)))
            for loc in locs:
                pl = loc.get("physicalLocation", {})
                uri = pl.get("artifactLocation", {}).get("uri", "")
                reg = pl.get("region", {})
                if not uri or not URI.match(uri) or PCT.search(uri):
                    bad.append("%s: uri %r is not a URI reference" % (where, uri))
                if uri.startswith("/") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri) and not uri.startswith("file://"):
                    bad.append("%s: uri %r is neither relative nor file://" % (where, uri))
                if reg.get("startLine", 0) < 1 or reg.get("startColumn", 1) < 1:
                    bad.append("%s: region %r" % (where, reg))
    for b in bad:
        print(b)
    sys.exit(1 if bad else 0)


main()
