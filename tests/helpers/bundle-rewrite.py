#!/usr/bin/env python3
"""Rewrites a bundle's tarball, members back in a bundle's order.

bundle-rewrite.py IN OUT --repack [ADD_NAME ADD_FILE]... [-DROP_NAME]...
    members added, replaced or dropped; nothing else changes.
bundle-rewrite.py IN OUT --code PYTHON
    runs PYTHON with m, a dict of member name (below the top directory) to
    bytes, then writes SHA256SUMS again for what the members became, as a
    forger would; statements are left as they are.
"""
import gzip, hashlib, io, sys, tarfile

RANKS = ["manifest.yaml", "SHA256SUMS", "signatures/", "approvals/", "migrations/"]


def rank(n):
    for r, p in enumerate(RANKS):
        if n == p or (p.endswith("/") and n.startswith(p)):
            return r
    return 9


def main():
    src, dst, mode, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    tin = tarfile.open(src, "r:gz")
    m = {}
    top = None
    for t in tin.getmembers():
        top = t.name.split("/")[0]
        m[t.name.split("/", 1)[1]] = tin.extractfile(t).read()
    if mode == "--repack":
        i = 0
        while i < len(args):
            if args[i].startswith("-"):
                m.pop(args[i][1:], None)
                i += 1
            else:
                m[args[i]] = open(args[i + 1], "rb").read()
                i += 2
    else:
        exec(args[0], {"m": m})
        sums = b""
        for n in sorted(m):
            if n == "SHA256SUMS" or n.startswith(("signatures/", "approvals/")):
                continue
            sums += hashlib.sha256(m[n]).hexdigest().encode() + b"  " + n.encode() + b"\n"
        m["SHA256SUMS"] = sums
    # no file name in the gzip header (tarfile's "w:gz" writes one): a
    # bundle never has one, and the reader refuses it
    raw = open(dst, "wb")
    gzf = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0)
    tout = tarfile.open(fileobj=gzf, mode="w", format=tarfile.USTAR_FORMAT)
    for n in sorted(m, key=lambda n: (rank(n), n)):
        ti = tarfile.TarInfo(top + "/" + n)
        ti.size = len(m[n])
        ti.mode = 0o644
        ti.mtime = 1700000000
        tout.addfile(ti, io.BytesIO(m[n]))
    tout.close()
    gzf.close()
    raw.close()


main()
