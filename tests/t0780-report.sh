#!/bin/sh
test_description='cairn-apply report: three environments and a fleet run as text, JSON and an HTML page rendered by headless Chromium (issue #21)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

test_expect_success 'setup: dev at v2, staging at v1 (one pending), prod drifted, and a fleet with a failure' '
	apply_project shop &&
	apply_table shop 0001_users &&
	apply_table shop 0002_orders &&
	apply_build shop "$TRASH_DIRECTORY/v1.tar.gz" &&
	apply_table shop 0003_items &&
	apply_build shop "$TRASH_DIRECTORY/v2.tar.gz" &&
	cairn-apply apply v1.tar.gz --env dev --db sqlite:dev.db $KEY >/dev/null &&
	cairn-apply apply v2.tar.gz --env dev --db sqlite:dev.db $KEY >/dev/null &&
	cairn-apply apply v1.tar.gz --env staging --db sqlite:staging.db $KEY >/dev/null &&
	cairn-apply apply v2.tar.gz --env prod --db sqlite:prod.db $KEY >/dev/null &&
	apply_mig shop 0001_users "CREATE TABLE t_0001_users (id integer primary key, v text, w text);" "DROP TABLE t_0001_users;" &&
	apply_build shop "$TRASH_DIRECTORY/drift.tar.gz" &&
	cairn-apply status v2.tar.gz --db sqlite:dev.db $KEY --format json >dev.json &&
	cairn-apply status v2.tar.gz --db sqlite:staging.db $KEY --format json >staging.json &&
	test_expect_code 5 cairn-apply status drift.tar.gz --db sqlite:prod.db $KEY --format json >prod.json &&
	printf "t1 sqlite:t1.db\nt2 sqlite:t2.db\nt3 sqlite:t3.db\n" >targets &&
	sqlite3 t2.db "CREATE TABLE t_0002_orders (x int)" &&
	test_expect_code 1 cairn-apply fleet v2.tar.gz --env dev $KEY --targets targets --result fleet.jsonl >/dev/null 2>&1
'

test_expect_success 'setup: a reader of the tables of a DOM' '
	cat >dom_tables.py <<-\EOF
	from html.parser import HTMLParser
	class _P(HTMLParser):
	    def __init__(self):
	        super().__init__(); self.tables = {}; self.ids = {}; self.t = None; self.row = None; self.cell = None
	    def handle_starttag(self, tag, a):
	        a = dict(a)
	        if tag == "table":
	            self.t = a.get("id") or a.get("class"); self.tables.setdefault(self.t, []); self.ids.setdefault(self.t, [])
	        if tag == "tr": self.row = []; self.ids[self.t].append(a.get("data-database-id"))
	        if tag in ("td", "th"): self.cell = ""
	    def handle_data(self, d):
	        if self.cell is not None: self.cell += d
	    def handle_endtag(self, tag):
	        if tag in ("td", "th") and self.row is not None: self.row.append(self.cell.strip()); self.cell = None
	        if tag == "tr": self.tables[self.t].append(self.row); self.row = None
	def tables(path):
	    """Each table (by id, else class): its rows of stripped cell texts; and
	    the data-database-id of each row, table by table."""
	    p = _P(); p.feed(open(path).read())
	    return p.tables, p.ids
	EOF
'

test_expect_success 'text: each environment, its version, pending and drift; the fleet failure; releases' '
	cairn-apply report dev.json staging.json prod.json fleet.jsonl >out &&
	test_grep "^dev  *dev.db  *0003  *0  *0  *0  sha256:" out &&
	test_grep "^staging  *staging.db  *0002  *1  *0  *0  sha256:" out &&
	test_grep "^    pending: 0003_items$" out &&
	test_grep "^prod  *prod.db  *0003  *0  *1  *0  sha256:" out &&
	test_grep "^    drifted: 0001_users$" out &&
	test_grep "^fleet fleet.jsonl: 3 targets: 2 applied, 0 current, 1 failed, 0 not started$" out &&
	test_grep "^    t2 failed (exit 1): migration 0002_orders failed" out &&
	test_grep "^    dev  *sha256:[0-9a-f]\{12\}  2 migrations, first applied" out &&
	test_grep "^    dev  *sha256:[0-9a-f]\{12\}  1 migration, first applied" out
'

test_expect_success 'json: the same data' '
	cairn-apply report dev.json staging.json prod.json fleet.jsonl --format json >r.json &&
	v1=$(tar -xzOf v1.tar.gz manifest.yaml >/dev/null 2>&1; sqlite3 staging.db "SELECT bundle_id FROM cairn_migrations LIMIT 1") &&
	python3 - r.json "$v1" <<-\EOF
	import json, sys
	r = json.load(open(sys.argv[1]))
	env = {e["environment"]: e for e in r["environments"]}
	assert sorted(env) == ["dev", "prod", "staging"], env
	assert env["staging"]["version"] == "0002" and env["staging"]["pending"] == 1
	assert env["staging"]["pending_migrations"] == "0003_items"
	assert env["staging"]["bundle"] == sys.argv[2], (env["staging"]["bundle"], sys.argv[2])
	assert env["prod"]["drifted"] == 1 and env["dev"]["drifted"] == 0
	f = r["fleets"][0]
	assert (f["targets"], f["applied"], f["failed"]) == (3, 2, 1), f
	assert f["failed_targets"][0]["target"] == "t2" and f["failed_targets"][0]["exit"] == 1
	rel = [x for x in r["releases"] if x["environment"] == "staging"]
	assert len(rel) == 1 and rel[0]["migrations"] == 2, rel
	rel = [x for x in r["releases"] if x["environment"] == "prod"]
	assert len(rel) == 1 and rel[0]["migrations"] == 3, rel
	EOF
'

test_expect_success 'environments in promotion order (dev, staging, prod), then by database, whatever the inputs order' '
	cairn-apply apply v1.tar.gz --env prod --db sqlite:aprod.db $KEY >/dev/null &&
	cairn-apply status v2.tar.gz --db sqlite:aprod.db $KEY --format json >aprod.json &&
	cairn-apply report prod.json staging.json aprod.json dev.json --format json >ord.json &&
	python3 - ord.json <<-\EOF &&
	import json, sys
	r = json.load(open(sys.argv[1]))
	got = [(e["environment"], e["database"].split("/")[-1]) for e in r["environments"]]
	want = [("dev", "dev.db"), ("staging", "staging.db"), ("prod", "aprod.db"), ("prod", "prod.db")]
	assert got == want, got
	EOF
	cairn-apply report prod.json staging.json aprod.json dev.json -o ord.html &&
	python3 - ord.html <<-\EOF
	import sys
	sys.path.insert(0, ".")
	from dom_tables import tables
	t, _ = tables(sys.argv[1])
	got = [(row[0], row[1].split("/")[-1]) for row in t["environments"][1:] if len(row) > 1]
	want = [("dev", "dev.db"), ("staging", "staging.db"), ("prod", "aprod.db"), ("prod", "prod.db")]
	assert got == want, got
	EOF
'

test_expect_success 'an input that is neither is a usage error naming it' '
	echo "hello: world" >other.yaml &&
	test_expect_code 2 cairn-apply report dev.json other.yaml 2>err &&
	test_grep "other.yaml: not the JSON of .cairn-apply status --format json." err
'

test_expect_success 'html: one self-contained page; headless Chromium renders it; the DOM holds the picture' '
	cairn-apply report dev.json staging.json prod.json fleet.jsonl -o report.html &&
	! grep -E -i "(src|href)=|https?:|@import|url\(|<script" report.html &&
	HOME="$TRASH_DIRECTORY" timeout 120 chromium --headless --no-sandbox --disable-gpu \
		--dump-dom "file://$TRASH_DIRECTORY/report.html" >dom.html 2>chromium.err &&
	python3 - dom.html <<-\EOF &&
	import sys
	from html.parser import HTMLParser
	class P(HTMLParser):
	    def __init__(self):
	        super().__init__(); self.rows = []; self.row = None; self.cell = None; self.cls = None
	    def handle_starttag(self, tag, a):
	        a = dict(a)
	        if tag == "tr": self.row = []; self.cls = a.get("class")
	        if tag in ("td", "th"): self.cell = ""
	    def handle_data(self, d):
	        if self.cell is not None: self.cell += d
	    def handle_endtag(self, tag):
	        if tag in ("td", "th") and self.row is not None: self.row.append(self.cell); self.cell = None
	        if tag == "tr": self.rows.append((self.cls, self.row)); self.row = None
	p = P(); p.feed(open(sys.argv[1]).read())
	rows = {r[0]: (c, r) for c, r in p.rows if r and r[0] in ("dev", "staging", "prod") and len(r) == 6}
	assert rows["dev"][0] == "ok" and rows["dev"][1][2] == "0003", rows["dev"]
	assert rows["staging"][0] == "warn" and "0003_items" in rows["staging"][1][4], rows["staging"]
	assert rows["prod"][0] == "bad" and "0001_users" in rows["prod"][1][3], rows["prod"]
	failed = [r for c, r in p.rows if r and r[0] == "t2"]
	assert failed and failed[0][1] == "failed", p.rows
	EOF
	HOME="$TRASH_DIRECTORY" timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1200,700 \
		--screenshot="$TRASH_DIRECTORY/report.png" "file://$TRASH_DIRECTORY/report.html" >/dev/null 2>&1 &&
	python3 - report.png <<-\EOF
	import struct, sys, zlib
	data = open(sys.argv[1], "rb").read()
	assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
	w, h = struct.unpack(">II", data[16:24])
	assert (w, h) == (1200, 700), (w, h)
	assert len(data) > 10000, len(data)
	EOF
'

test_expect_success 'setup: an approved v1 with a receipt on staging2, the audit trails of dev and staging2' '
	cairn keygen --no-passphrase alice >/dev/null 2>&1 &&
	cairn keygen --no-passphrase applier >/dev/null 2>&1 &&
	cairn promote v1.tar.gz --to staging --key alice.key -o v1s.tar.gz >/dev/null 2>&1 &&
	cp v1s.tar.gz rs.tar.gz &&
	cairn-apply apply rs.tar.gz --env staging --db sqlite:staging2.db $KEY --receipt-key applier.key >/dev/null 2>&1 &&
	cairn-apply status --db sqlite:staging2.db $KEY --format json >staging2.json &&
	cairn-apply history --db sqlite:dev.db --format json >dev-h.json &&
	cairn-apply history --db sqlite:staging2.db --format json >staging2-h.json
'

test_expect_success 'bundles and receipts: what brought staging2 there, its approval and receipt; pending from the newest bundle' '
	cairn-apply report staging2.json rs.tar.gz v2.tar.gz dev-h.json staging2-h.json >out &&
	v1=$(sqlite3 staging2.db "SELECT DISTINCT bundle_id FROM cairn_migrations") &&
	test "$(sqlite3 staging2.db "SELECT count(*) FROM sqlite_master WHERE name = '\''t_0003_items'\''")" = 0 &&
	test_grep "^staging  *staging2.db  *0002  *1  *0  *0  $(echo $v1 | cut -c1-19) shop-0002$" out &&
	test_grep ! "approval: alice" out &&
	test_grep "^    receipt: applier (key [0-9a-f]\{16\}, valid) .* on staging2.db$" out &&
	test_grep "^    pending: 0003_items$" out &&
	test_grep "^    shop-0003  sha256:[0-9a-f]\{12\}  built .*, 3 migrations, integrity only  (v2.tar.gz)$" out &&
	cairn-apply report staging2.json rs.tar.gz v2.tar.gz $KEY >out &&
	test_grep "3 migrations, trusted builder" out &&
	test_grep "^    approval: alice (key [0-9a-f]\{16\}, valid) .* (by time: no audit trail given)$" out
'

test_expect_success 'a receipt for another database is not shown for this one, nor an approval signed after the apply' '
	cairn-apply status --db sqlite:staging.db $KEY --format json >st-plain.json &&
	sed "s/\"applied_at\":\"[^\"]*\"/\"applied_at\":\"2099-01-01T00:00:00Z\"/g" st-plain.json >st-late.json &&
	sed "s/\"applied_at\":\"[^\"]*\"/\"applied_at\":\"2000-01-01T00:00:00Z\"/g" st-plain.json >st-early.json &&
	test_grep "2099-01-01" st-late.json &&
	cairn-apply report st-late.json rs.tar.gz >out &&
	test_grep "^staging  *staging.db " out &&
	test_grep "^    approval: alice" out &&
	test_grep ! "receipt: applier" out &&
	cairn-apply report st-early.json rs.tar.gz >out &&
	test_grep "^staging  *staging.db " out &&
	test_grep ! "approval: alice" out
'

test_expect_success 'evolution over time from the audit trails, counted as the audit tables hold it' '
	cairn-apply report dev-h.json staging2-h.json rs.tar.gz v2.tar.gz --format json >r.json &&
	v1=$(sqlite3 staging2.db "SELECT DISTINCT bundle_id FROM cairn_migrations") &&
	dev_v1=$(sqlite3 dev.db "SELECT count(*) FROM cairn_audit WHERE action = '\''apply'\'' AND bundle_id = '\''$v1'\''") &&
	dev_all=$(sqlite3 dev.db "SELECT count(*) FROM cairn_audit WHERE action = '\''apply'\''") &&
	test "$dev_v1" = 2 && test "$dev_all" = 3 &&
	python3 - r.json "$v1" <<-\EOF
	import json, sys
	r = json.load(open(sys.argv[1]))
	ev = {(e["environment"], e["bundle"]): e for e in r["evolution"]}
	assert ev[("dev", sys.argv[2])]["applied"] == 2 and ev[("dev", sys.argv[2])]["databases"] == 1, ev
	assert ev[("staging", sys.argv[2])]["applied"] == 2, ev
	assert ev[("staging", sys.argv[2])]["bundle_name"] == "shop-0002", ev
	other = [e for k, e in ev.items() if k[0] == "dev" and k[1] != sys.argv[2]]
	assert len(other) == 1 and other[0]["applied"] == 1 and other[0]["bundle_name"] == "shop-0003", ev
	assert [e["first_at"] for e in r["evolution"]] == sorted(e["first_at"] for e in r["evolution"])
	assert sorted(b["name"] for b in r["bundles"]) == ["shop-0002", "shop-0003"], r["bundles"]
	EOF
'

test_expect_success 'a history JSON without rows, or a corrupt bundle, is refused naming it' '
	echo "{\"rows\": 3}" >bad-h.json &&
	test_expect_code 2 cairn-apply report bad-h.json 2>err &&
	test_grep "bad-h.json: not the JSON of .cairn-apply history --format json." err &&
	head -c 300 v2.tar.gz >cut.tar.gz &&
	test_expect_code 3 cairn-apply report cut.tar.gz 2>err &&
	test_grep "refusing bundle .cut.tar.gz.: " err
'

test_expect_success 'html with bundles, statements and evolution: Chromium renders it with no console message; the screenshot' '
	cairn-apply report dev.json staging.json prod.json staging2.json fleet.jsonl rs.tar.gz v2.tar.gz \
		dev-h.json staging2-h.json $KEY -o full.html &&
	! grep -E -i "(src|href)=|https?:|@import|url\(|<script" full.html &&
	HOME="$TRASH_DIRECTORY" timeout 120 chromium --headless --no-sandbox --disable-gpu \
		--enable-logging=stderr --v=0 --dump-dom "file://$TRASH_DIRECTORY/full.html" >dom.html 2>chromium.err &&
	! grep -i "CONSOLE" chromium.err &&
	python3 - dom.html <<-\EOF &&
	import sys
	sys.path.insert(0, ".")
	from dom_tables import tables
	class P: pass
	p = P(); p.tables, _ = tables(sys.argv[1])
	envs = [r for r in p.tables["environments"] if r[1] == "staging2.db"]
	assert len(envs) == 1, p.tables["environments"]
	assert "0003_items" in envs[0][4], envs
	# staging2-h.json: that apply ran without a policy, so no approval counted
	assert "shop-0002" in envs[0][5] and "approval by alice" not in envs[0][5], envs
	assert "receipt by applier (valid)" in envs[0][5], envs
	assert "on staging2.db" in envs[0][5], envs
	b = p.tables["bundles"][1:]
	assert sorted(r[0] for r in b) == ["shop-0002", "shop-0003"] and all(r[4] == "trusted" for r in b), b
	ev = p.tables["evolution"][1:]
	assert len(ev) == 3 and sorted(r[3] for r in ev) == ["1", "2", "2"], ev
	EOF
	HOME="$TRASH_DIRECTORY" timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1200,900 \
		--hide-scrollbars --screenshot="$TRASH_DIRECTORY/full.png" "file://$TRASH_DIRECTORY/full.html" >/dev/null 2>&1 &&
	python3 - full.png <<-\EOF
	import struct, sys
	data = open(sys.argv[1], "rb").read()
	assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
	assert struct.unpack(">II", data[16:24]) == (1200, 900)
	assert len(data) > 20000, len(data)
	EOF
'

test_expect_success 'setup: v1 approved for prod by alice and by bob, only alice an approver; applied under the policy' '
	cairn keygen --no-passphrase bob >/dev/null 2>&1 &&
	cairn promote v1.tar.gz --to prod --key alice.key -o ab.tar.gz >/dev/null 2>&1 &&
	cairn promote ab.tar.gz --to prod --key bob.key >/dev/null 2>&1 &&
	test "$(tar -tzf ab.tar.gz | grep -c "/approvals/.*\.yaml$")" = 2 &&
	mkdir pol &&
	cat >pol/cairn-apply.yaml <<-EOF &&
	environments:
	  prod:
	    database: { dsn: "sqlite:$TRASH_DIRECTORY/prodp.db" }
	    builders: [$TRASH_DIRECTORY/ci.pub]
	    approvers: [$TRASH_DIRECTORY/alice.pub]
	EOF
	(cd pol && cairn-apply apply ../ab.tar.gz --env prod >/dev/null 2>&1) &&
	test "$(sqlite3 prodp.db "SELECT count(*) FROM cairn_migrations WHERE state = '\''applied'\''")" = 2 &&
	sqlite3 prodp.db "SELECT detail FROM cairn_audit WHERE action = '\''apply'\''" >details &&
	test "$(grep -c "; approval approvals/prod-[0-9a-f]*\.yaml (alice [0-9a-f]*)" details)" = 2 &&
	test_grep ! "bob" details &&
	cairn-apply status --db sqlite:prodp.db $KEY --format json >prodp.json &&
	cairn-apply history --db sqlite:prodp.db --format json >prodp-h.json
'

test_expect_success 'the approvals shown are those the audit trail says counted at apply time' '
	cairn-apply report prodp.json ab.tar.gz >out &&
	test_grep "^prod  *prodp.db  *0002 " out &&
	test_grep "^    approval: alice (key [0-9a-f]\{16\}, valid) .* (by time: no audit trail given)$" out &&
	test_grep "^    approval: bob" out &&
	cairn-apply report prodp.json ab.tar.gz prodp-h.json >out &&
	test_grep "^    approval: alice (key [0-9a-f]\{16\}, valid) [0-9TZ:-]*$" out &&
	test_grep ! "approval: bob" out &&
	cairn-apply report prodp.json ab.tar.gz prodp-h.json --format json >r.json &&
	python3 - r.json <<-\EOF &&
	import json, sys
	r = json.load(open(sys.argv[1]))
	e = [x for x in r["environments"] if x["database"] == "prodp.db"][0]
	st = [s for s in e["statements"] if s["type"] == "approval"]
	assert [s["signer"] for s in st] == ["alice"] and st[0]["counted"] == "audit", st
	EOF
	cairn-apply report prodp.json ab.tar.gz prodp-h.json -o ab.html &&
	grep "approval by alice (valid) [0-9TZ:-]*</li>" ab.html &&
	! grep "approval by bob" ab.html &&
	cairn-apply report prodp.json ab.tar.gz -o ab-time.html &&
	grep "approval by alice (valid) [0-9TZ:-]* <span class=\"muted\">(by time: no audit trail given)</span>" ab-time.html
'

test_expect_success 'a trail whose apply named no approval (no policy) shows none as counted' '
	cairn-apply report staging2.json rs.tar.gz staging2-h.json >out &&
	test_grep "^staging  *staging2.db " out &&
	test_grep ! "approval: alice" out &&
	test_grep "^    receipt: applier" out
'

test_expect_success 'report - reads one input from stdin, its kind sniffed' '
	cairn-apply report prodp.json ab.tar.gz prodp-h.json >want &&
	cairn-apply report - ab.tar.gz prodp-h.json <prodp.json >out &&
	test_cmp want out &&
	cairn-apply report prodp.json ab.tar.gz - <prodp-h.json >out &&
	test_cmp want out &&
	cairn-apply report prodp.json - prodp-h.json <ab.tar.gz >out 2>err &&
	sed "s/(-)\$/(ab.tar.gz)/" out >out2 &&
	test_cmp want out2 &&
	test_grep "(-)\$" out &&
	cairn-apply report - <fleet.jsonl >out &&
	test_grep "^fleet -: 3 targets: 2 applied" out &&
	test_expect_code 2 cairn-apply report - - <prodp.json 2>err &&
	test_grep "stdin can be read once" err &&
	echo "hello: world" | test_expect_code 2 cairn-apply report - 2>err &&
	test_grep "^cairn-apply: -: not the JSON of" err
'

test_expect_success 'setup: two staging databases, pa brought by v1 then v2, pb by v1; their status and trails' '
	cairn-apply apply v1.tar.gz --env staging --db sqlite:pa.db $KEY >/dev/null &&
	cairn-apply apply v1.tar.gz --env staging --db sqlite:pb.db $KEY >/dev/null &&
	cairn-apply apply v2.tar.gz --env staging --db sqlite:pa.db $KEY >/dev/null &&
	for d in pa pb; do
		cairn-apply status v2.tar.gz --db sqlite:$d.db $KEY --format json >$d.json &&
		cairn-apply history --db sqlite:$d.db --format json >$d-h.json || return 1
	done
'

# the id a database's first identity row holds
db_id() {
	sqlite3 "$1" "SELECT detail FROM cairn_audit WHERE action = 'identity' ORDER BY seq LIMIT 1" |
		sed -n "s/.*; id=\([0-9a-f]*\).*/\1/p"
}

test_expect_success 'history and status JSON name the database: its id from the books, its DSN, its identity' '
	ida=$(db_id pa.db) && idb=$(db_id pb.db) &&
	test ${#ida} = 32 && test ${#idb} = 32 && test "$ida" != "$idb" &&
	python3 - pa-h.json pa.json "$ida" <<-\EOF
	import json, sys
	h = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
	assert h["database_id"] == sys.argv[3] == s["database_id"], (h["database_id"], s["database_id"])
	assert h["database"] == "pa.db" and h["environment"] == "staging" and h["project"] == "shop", h
	assert h["target"] is None and h["rows"][0]["action"] == "identity", h
	EOF
'

test_expect_success 'per database: which bundle brought it where and when, each trail joined to its status by id, in any order' '
	cairn-apply report pa.json pb.json pa-h.json pb-h.json --format json >r1.json &&
	cairn-apply report pa.json pb.json pb-h.json pa-h.json --format json >r2.json &&
	cairn-apply report pb.json pa.json pb-h.json pa-h.json --format json >r3.json &&
	sed /generated/d r1.json >r1 && sed /generated/d r2.json >r2 && test_cmp r1 r2 &&
	python3 - r1.json r3.json "$(db_id pa.db)" "$(db_id pb.db)" \
		"$(sqlite3 pb.db "SELECT DISTINCT bundle_id FROM cairn_migrations")" <<-\EOF &&
	import json, sys
	for f in sys.argv[1:3]:
	    r = json.load(open(f))
	    del r["generated"]
	    t = {x["database_id"]: x for x in r["trails"]}
	    assert len(r["trails"]) == 2 and [x["database"] for x in r["trails"]] == ["pa.db", "pb.db"], r["trails"]
	    a, b = t[sys.argv[3]], t[sys.argv[4]]
	    assert a["status"] == "pa.json" and b["status"] == "pb.json", (a, b)
	    assert [(h["bundle_name"], h["from"], h["to"], h["applied"]) for h in a["hops"]] == \
	        [("shop-0002", None, "0002", 2), ("shop-0003", "0002", "0003", 1)] or \
	        [(h["from"], h["to"], h["applied"]) for h in a["hops"]] == [(None, "0002", 2), ("0002", "0003", 1)], a
	    assert a["hops"][0]["bundle"] == sys.argv[5] and a["hops"][1]["bundle"] != sys.argv[5], a
	    assert [(h["from"], h["to"], h["applied"], h["bundle"]) for h in b["hops"]] == [(None, "0002", 2, sys.argv[5])], b
	    envs = {e["database"]: e for e in r["environments"]}
	    assert envs["pa.db"]["trail"] == "pa-h.json" and envs["pb.db"]["trail"] == "pb-h.json", envs
	    assert envs["pa.db"]["database_id"] == sys.argv[3], envs
	EOF
	cairn-apply report pa.json pb.json pa-h.json pb-h.json >t1 &&
	cairn-apply report pa.json pb.json pb-h.json pa-h.json >t2 &&
	test_cmp t1 t2 &&
	test_grep "^    staging pa.db  id [0-9a-f]\{12\}  with its status$" t1 &&
	test_grep "^      .* staging    0002 -> 0003  sha256:[0-9a-f]\{12\}  applied 1, rolled back 0, failed 0$" t1
'

test_expect_success 'a trail of a database already given is refused naming both' '
	test_expect_code 2 cairn-apply report pa.json pa-h.json pb-h.json pa-h.json 2>err &&
	test_grep "pa-h.json: the audit trail of the database pa.db again (pa-h.json has it)" err &&
	# books from before ids: the hash of the identity row, which databases made
	# alike in one second share, tells them apart with the name of the database
	old=$(printf "%064d" 7) &&
	for d in pa pb; do
		sed "s/\"database_id\":\"[0-9a-f]*\"/\"database_id\":\"$old\"/" $d-h.json >$d-old.json &&
		sed "s/\"database_id\":\"[0-9a-f]*\"/\"database_id\":\"$old\"/" $d.json >$d-olds.json || return 1
	done &&
	cairn-apply report pb-olds.json pa-olds.json pa-old.json pb-old.json --format json >old.json &&
	python3 -c "import json; r=json.load(open(\"old.json\")); assert sorted((t[\"database\"], t[\"status\"]) for t in r[\"trails\"])==[(\"pa.db\",\"pa-olds.json\"),(\"pb.db\",\"pb-olds.json\")], r[\"trails\"]" &&
	test_expect_code 2 cairn-apply report pa-old.json pa-old.json 2>err &&
	test_grep "again" err
'

test_expect_success 'html: Chromium shows a row per run of each database, the same whatever the order of the trails' '
	cairn-apply report pa.json pb.json pa-h.json pb-h.json -o t1.html &&
	cairn-apply report pa.json pb.json pb-h.json pa-h.json -o t2.html &&
	for i in 1 2; do
		HOME="$TRASH_DIRECTORY" timeout 120 chromium --headless --no-sandbox --disable-gpu \
			--dump-dom "file://$TRASH_DIRECTORY/t$i.html" >dom$i.html 2>chromium.err || return 1
	done &&
	python3 - dom1.html dom2.html "$(db_id pa.db)" "$(db_id pb.db)" <<-\EOF
	import sys
	sys.path.insert(0, ".")
	from dom_tables import tables
	doms = []
	for f in sys.argv[1:3]:
	    t, ids = tables(f)
	    # each row led by its data-database-id
	    rows = {k: [[i] + r for i, r in zip(ids[k], v)] for k, v in t.items()}
	    tr = rows["trails"][1:]
	    doms.append((tr, rows["environments"]))
	    ida, idb = sys.argv[3], sys.argv[4]
	    # pa: two runs (the first row spans them), pb: one
	    assert [r[0] for r in tr] == [ida, ida, idb], tr
	    assert tr[0][1:4] == ["staging", "pa.db", ida[:12]] and tr[0][5] == "none \u2192 0002" and tr[0][7] == "2", tr
	    assert tr[1][1].startswith("sha256:") and tr[1][2] == "0002 \u2192 0003" and tr[1][4] == "1", tr
	    assert tr[2][1:3] == ["staging", "pb.db"] and tr[2][5] == "none \u2192 0002", tr
	    env = {r[2]: r for r in rows["environments"][1:]}
	    assert env["pa.db"][0] == ida and env["pa.db"][7].startswith("2 steps, last "), env
	    assert env["pb.db"][0] == idb and env["pb.db"][7].startswith("1 step, last "), env
	assert doms[0] == doms[1]
	EOF
'

test_done
