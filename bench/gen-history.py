#!/usr/bin/env python3
"""Writes a git fast-import stream: a cairn project grown over COMMITS
commits, MIGRATIONS of which add a migration (the others change application
code), with a v* tag every TAG_EVERY commits.

    gen-history.py COMMITS MIGRATIONS TAG_EVERY | git fast-import --quiet
"""
import sys

commits, migrations, tag_every = (int(a) for a in sys.argv[1:4])
out = sys.stdout.buffer
every = max(1, commits // migrations)
authors = [("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com"),
           ("Edsger Dijkstra", "ew@example.com"), ("Barbara Liskov", "bl@example.com")]
t0 = 1700000000
mig = 0
mark = 0


def data(b):
    out.write(b"data %d\n" % len(b))
    out.write(b)
    out.write(b"\n")


cfg = b"name: bench\nmigrations: migrations\nversion_style: sequence\nrelease_refs:\n  - refs/heads/main\n  - refs/tags/v*\nordering: strict\n"
for i in range(commits):
    name, email = authors[i % len(authors)]
    t = t0 + i * 60
    out.write(b"commit refs/heads/main\n")
    mark += 1
    out.write(b"mark :%d\n" % mark)
    out.write(b"author %s <%s> %d +0000\n" % (name.encode(), email.encode(), t))
    out.write(b"committer %s <%s> %d +0000\n" % (name.encode(), email.encode(), t))
    if i == 0:
        data(b"initial")
        out.write(b"M 100644 inline cairn.yaml\n")
        data(cfg)
    elif i % every == 1 and mig < migrations:
        mig += 1
        d = b"migrations/%08d_change_%d" % (mig, mig)
        data(b"migration %d" % mig)
        out.write(b"M 100644 inline %s/up.sql\n" % d)
        data(b"CREATE TABLE t%d (id integer primary key, note text);\n" % mig)
        out.write(b"M 100644 inline %s/down.sql\n" % d)
        data(b"DROP TABLE t%d;\n" % mig)
        if mig % 10 == 0:
            out.write(b"M 100644 inline %s/migration.yaml\n" % d)
            data(b"description: change %d\n" % mig)
    else:
        data(b"app change %d" % i)
        out.write(b"M 100644 inline src/app%d.c\n" % (i % 50))
        data(b"int v = %d;\n" % i)
    if tag_every and i and i % tag_every == 0:
        out.write(b"reset refs/tags/v%d.0\nfrom :%d\n\n" % (i // tag_every, mark))
# fill up to the exact count of migrations
out.write(b"done\n")
sys.stderr.write("%d commits, %d migrations\n" % (commits, mig))
