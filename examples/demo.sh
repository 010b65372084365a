#!/bin/sh
# The README's first command ends here: build a real git repository from
# examples/shop the way a team would have grown it (commits, a release tag,
# a feature branch), then run cairn on it.
#
#   examples/demo.sh [WORKDIR]      (default: build/demo)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$SRC/build/demo}
PATH="$SRC/bin:$PATH"
export CAIRN_TEMPLATE_DIR="$SRC/templates"
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-Demo Developer}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-dev@example.com}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-Demo Developer}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-dev@example.com}"

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
git init -q -b main shop
cd shop

step "a new project: cairn init, then the first two migrations"
cp "$SRC/examples/shop/cairn.yaml" .
mkdir -p migrations
cp -R "$SRC/examples/shop/migrations/20261101090000_create_customers" migrations/
cp -R "$SRC/examples/shop/migrations/20261102090000_create_products" migrations/
git add -A && git commit -q -m "customers and products"
cairn check

step "release v1.0"
git tag v1.0

step "a feature branch adds orders and an index"
git checkout -q -b feature/orders
cp -R "$SRC/examples/shop/migrations/20261110090000_create_orders" migrations/
cp -R "$SRC/examples/shop/migrations/20261115090000_index_orders_by_customer" migrations/
git add -A
cairn check --staged
git commit -q -m "orders, indexed by customer"
git checkout -q main
git merge -q --no-ff -m "merge feature/orders" feature/orders

step "cairn new: the next migration's directory"
dir=$(cairn new "add customer phone")
echo "$dir"
echo "ALTER TABLE customers ADD COLUMN phone TEXT;" >"$dir/up.sql"
echo "ALTER TABLE customers DROP COLUMN phone;" >"$dir/down.sql"
# ALTER TABLE waits for an ACCESS EXCLUSIVE lock: give up rather than queue
# every query on customers behind it (cairn lint: lock-timeout)
echo "lock_timeout: 5s" >"$dir/migration.yaml"
git add -A && git commit -q -m "customer phone"

step "cairn check (the work tree)"
cairn check

step "cairn list: apply order"
cairn list

step "cairn list --ref v1.0: what was released"
cairn list --ref v1.0

step "cairn keygen: CI's signing key (encrypted; the passphrase comes from the environment)"
export CAIRN_KEY_PASSPHRASE="demo passphrase"
cairn keygen "$WORK/ci"

step "cairn build --sign: a reproducible, signed bundle of main, read from git, never the work tree"
bundle=$(cairn build --sign "$WORK/ci.key" -o "$WORK/shop.tar.gz")
tar tzvf "$bundle"

step "cairn inspect: what the bundle holds"
cairn inspect --key "$WORK/ci.pub" "$bundle"
unset CAIRN_KEY_PASSPHRASE

# What follows runs on the host that reaches the database: it needs only the
# bundle and the builder's public key, never the repository.
step "cairn-apply verify: what the air-gapped host checks before anything runs"
cairn-apply verify "$bundle" --key "$WORK/ci.pub"
cd "$WORK"

step "cairn-apply plan: what would run, in order, with the SQL (changes nothing)"
cairn-apply plan shop.tar.gz --env dev --db sqlite:shop.db --key ci.pub

step "cairn-apply preflight: will apply go through? (changes nothing)"
cairn-apply preflight shop.tar.gz --env dev --db sqlite:shop.db --key ci.pub

step "cairn-apply apply: verify, lock, apply each migration in its own transaction"
cairn-apply apply shop.tar.gz --env dev --db sqlite:shop.db --key ci.pub --metrics-file shop.prom
sed -n '/^cairn_apply_runs_total.*success/p; /^cairn_apply_migrations_applied_total/p' shop.prom

step "cairn-apply status and history --verify"
cairn-apply status shop.tar.gz --db sqlite:shop.db --key ci.pub
cairn-apply history --db sqlite:shop.db --verify

printf '\nThe demo repository is in %s/shop; the database is %s/shop.db\n' "$WORK" "$WORK"
