#!/usr/bin/env python3
# Where a command's peak RSS falls: the command's resident set read from
# /proc/PID/statm as fast as this loop goes (one sample every ~30 us on
# the benchmarks' VM; the sampler takes a CPU of its own) until it exits.
# Prints the peak, when it came (share of the run), and the RSS at each
# tenth of the run: a peak at 99 % is the run's end (what the plan and
# the exit hold), one near 40 % the bundle's parse and the books' read
# beside it (issue #14; docs/benchmarks.md, "Issue #14 at stop 32").
# Threads' resident pages are the process's; children are not followed.
#
#   bench/rss-trace.py COMMAND [ARG...]
import os, subprocess, sys, time

if len(sys.argv) < 2:
    sys.exit('usage: rss-trace.py COMMAND [ARG...]')
page_kib = os.sysconf('SC_PAGE_SIZE') // 1024
t0 = time.monotonic()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
path = '/proc/%d/statm' % p.pid
samples = []
while p.poll() is None:
    try:
        with open(path) as f:
            samples.append((time.monotonic() - t0, int(f.read().split()[1]) * page_kib))
    except (OSError, IndexError, ValueError):
        break
end = time.monotonic() - t0
if not samples:
    sys.exit('rss-trace: the command ended before a sample')
at, peak = max(samples, key=lambda s: s[1])
tenths = []
for k in range(1, 10):
    before = [r for (t, r) in samples if t <= end * k / 10]
    tenths.append(str(before[-1]) if before else '-')
print('peak %d KiB at %.0f%% (%.0f of %.0f ms), %d samples; at each tenth: %s; exit %d'
      % (peak, 100 * at / end, at * 1000, end * 1000, len(samples), ' '.join(tenths), p.returncode))
