# What the lint tests share (t0900, t0920): reading cairn lint's json.

# has JSON RULE [LINE [TEXT]]: a finding of RULE (at LINE, its message
# holding TEXT) in cairn's json; "has ! ..." for none.
has() {
	python3 - "$@" <<-\PY
	import json, sys
	a = sys.argv[1:]
	neg = a[0] == "!"
	if neg:
	    a = a[1:]
	f = json.load(open(a[0]))["findings"]
	hit = [x for x in f if x["rule"] == a[1] and
	       (len(a) < 3 or x["line"] == int(a[2])) and
	       (len(a) < 4 or a[3] in x["message"])]
	if bool(hit) == neg:
	    print("findings:", json.dumps(f, indent=1))
	    sys.exit(1)
	PY
}
