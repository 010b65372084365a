#!/usr/bin/env python3
"""hostile-statements.py IN OUT N SIZE: IN's manifest and SHA256SUMS, then
N approval statements of SIZE bytes (each with a .sig), then IN's
migration members: a bundle that piles up statements nobody signed."""
import gzip, io, sys, tarfile

src, dst, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
tin = tarfile.open(src, "r:gz")
members = [(t, tin.extractfile(t).read()) for t in tin.getmembers()]
top = members[0][0].name.split("/")[0]
raw = open(dst, "wb")
gzf = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=1)
tout = tarfile.open(fileobj=gzf, mode="w", format=tarfile.USTAR_FORMAT)


def add(name, data):
    ti = tarfile.TarInfo(top + "/" + name)
    ti.size = len(data)
    ti.mode = 0o644
    ti.mtime = 1700000000
    tout.addfile(ti, io.BytesIO(data))


for t, data in members:
    rel = t.name.split("/", 1)[1]
    if rel in ("manifest.yaml", "SHA256SUMS"):
        add(rel, data)
body = b"type: approval\n" + b"#" * max(0, size - 15)
sig = b"A" * 86 + b"==\n"
for i in range(n):
    base = "approvals/dev-%016x" % i
    add(base + ".sig", sig)
    add(base + ".yaml", body)
for t, data in members:
    rel = t.name.split("/", 1)[1]
    if rel.startswith("migrations/"):
        add(rel, data)
tout.close()
gzf.close()
raw.close()
