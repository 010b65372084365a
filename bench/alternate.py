#!/usr/bin/env python3
# Before/after figures in the same run: hyperfine in alternating rounds
# (the commands' order reversed every other round), so that a machine
# shared with other work weighs on both sides alike. Prints, per command,
# the median of the round means, their range, the best run, and the median
# user and system CPU; and the load average at each round's start.
#
#   bench/alternate.py NAME ROUNDS RUNS PREPARE 'LABEL=COMMAND'...
#
# PREPARE is hyperfine's --prepare command ("" for none); BENCH_IGNORE_FAILURE=1
# times commands that exit non-zero (a linter with findings). The JSON of each
# round goes to $BENCH_OUT/NAME (default /tmp/cairn-bench-alternate).
import json, os, statistics, subprocess, sys

if len(sys.argv) < 6:
    sys.exit("usage: alternate.py NAME ROUNDS RUNS PREPARE 'LABEL=COMMAND'...")
name, rounds, runs, prep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
cmds = [a.split('=', 1) for a in sys.argv[5:]]
out = os.path.join(os.environ.get('BENCH_OUT', '/tmp/cairn-bench-alternate'), name)
os.makedirs(out, exist_ok=True)
res, loads = {}, []
for r in range(rounds):
    order = cmds if r % 2 == 0 else cmds[::-1]
    args = ['hyperfine', '-N', '--warmup', '2', '--runs', str(runs),
            '--export-json', f'{out}/r{r}.json']
    if prep:
        args += ['--prepare', prep]
    if os.environ.get('BENCH_IGNORE_FAILURE'):
        args += ['-i']  # linters exit 1 on findings
    for label, c in order:
        args += ['-n', label, c]
    loads.append(open('/proc/loadavg').read().split()[0])
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    for x in json.load(open(f'{out}/r{r}.json'))['results']:
        res.setdefault(x['command'], []).append(x)
print(f'## {name}: {rounds} alternating rounds x {runs} runs; '
      f'load (1 min) at round starts: {" ".join(loads)}')
for label, _ in cmds:
    rs = res[label]
    means = [x['mean'] * 1000 for x in rs]
    print(f'{label}: median {statistics.median(means):.1f} ms '
          f'(round means {min(means):.1f}-{max(means):.1f}), '
          f'best run {min(x["min"] for x in rs) * 1000:.1f} ms, '
          f'user {statistics.median([x["user"] * 1000 for x in rs]):.1f} ms, '
          f'sys {statistics.median([x["system"] * 1000 for x in rs]):.1f} ms')
