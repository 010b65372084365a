#!/bin/sh
# A long soak of tests/t0355-crash-verbs.sh: SIGKILL and SIGTERM at random
# moments of rollback (several steps) and baseline on SQLite, ROUNDS rounds
# each (default 200; make check runs 8). Every round must leave the schema
# and the books in agreement, the chain intact, and the next run finishing.
#
#   bench/crash-verbs-soak.sh [ROUNDS]
#
# Not part of make check: at 200 rounds it runs for about 15 minutes on two
# cores. Run it after changing apply/rollback.c, apply/repair.c, the
# SQLite driver's locking or cmd/db-ctx.c's signal handling.
set -e
cd "$(dirname "$0")/../tests"
CAIRN_CRASH_ROUNDS=${1:-200} exec sh t0355-crash-verbs.sh -v
