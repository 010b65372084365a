#!/bin/sh
# Promotion dev -> staging -> prod with four keys, as docs/promotion.md
# tells it:
#
#   ci        CI's build key: signs the bundle it builds
#   alice     an approver
#   bob       an approver
#   applier   the staging applier's receipt key: proof that a bundle ran
#
# CI builds and signs; the dev and staging hosts apply with receipts; alice
# approves for staging, alice and bob for prod; one file (the bundle, which
# carries every statement) goes to the air-gapped prod host, which applies
# it. Each step that the policy refuses is shown too.
#
#   examples/promotion.sh [WORKDIR]      (default: build/promotion)
set -eu
SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-$SRC/build/promotion}
PATH="$SRC/bin:$PATH"
export CAIRN_TEMPLATE_DIR="$SRC/templates"
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-CI}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-ci@example.com}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-CI}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-ci@example.com}"
unset CAIRN_APPLY_CONFIG CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
	step() { printf '\n== %s\n' "$*"; }
fi
# refused CMD...: the policy must refuse it (exit 3); its messages are shown.
refused() {
	if "$@"; then
		echo "promotion.sh: expected a refusal: $*" >&2
		exit 1
	else
		code=$?
		if [ "$code" -ne 3 ]; then
			echo "promotion.sh: expected exit 3, got $code: $*" >&2
			exit 1
		fi
		echo "(refused, exit 3, as it should be)"
	fi
}

rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"

step "keys: each person or machine makes its own; only the .pub files travel"
mkdir -p secrets/ci secrets/alice secrets/bob secrets/applier pub
for who in ci alice bob applier; do
	(cd secrets/$who && cairn keygen --no-passphrase $who)
	cp secrets/$who/$who.pub pub/
done

step "CI: the project in git, built and signed"
git init -q -b main shop
cp "$SRC/examples/shop/cairn.yaml" shop/
mkdir -p shop/migrations
cp -R "$SRC/examples/shop/migrations/"* shop/migrations/
git -C shop add -A
git -C shop commit -q -m "shop schema"
mkdir -p ci
(cd shop && cairn build --sign ../secrets/ci/ci.key -o ../ci/shop.tar.gz)

step "the applier hosts' config: one entry per environment"
mkdir -p hosts/keys
cp pub/*.pub hosts/keys/
cat >hosts/cairn-apply.yaml <<'EOF'
defaults:
  builders: [keys/ci.pub]
environments:
  dev:
    database: { dsn: "sqlite:dev.db" }
  staging:
    database: { dsn: "sqlite:staging.db" }
    approvals: 1
    approvers: [keys/alice.pub, keys/bob.pub]
  prod:
    database: { dsn_file: prod.dsn }
    approvals: 2
    approvers: [keys/alice.pub, keys/bob.pub]
    after: staging
    receipts_from: [keys/applier.pub]
EOF
cp ci/shop.tar.gz hosts/
cd hosts
cairn-apply config --env prod

step "dev: built by CI is all dev asks; apply, with a receipt"
cairn-apply apply shop.tar.gz --env dev --receipt-key ../secrets/applier/applier.key

step "staging refuses a bundle nobody approved"
refused cairn-apply apply shop.tar.gz --env staging

step "alice approves it for staging; staging applies it and signs a receipt"
cairn promote shop.tar.gz --to staging --key ../secrets/alice/alice.key --comment "QA passed"
cairn-apply apply shop.tar.gz --env staging --receipt-key ../secrets/applier/applier.key

step "prod wants two approvers: one is not enough"
cairn promote shop.tar.gz --to prod --key ../secrets/alice/alice.key --comment "release 1"
refused cairn-apply verify shop.tar.gz --env prod

step "alice approving again replaces her approval: still one of two"
cairn promote shop.tar.gz --to prod --key ../secrets/alice/alice.key --comment "release 1, checked twice"
refused cairn-apply verify shop.tar.gz --env prod

step "bob approves too"
cairn promote shop.tar.gz --to prod --key ../secrets/bob/bob.key --expires 7d
cairn inspect shop.tar.gz

step "carry one file to the air-gapped prod host"
cd "$WORK"
mkdir -p prod-host/keys
cp pub/ci.pub pub/alice.pub pub/bob.pub pub/applier.pub prod-host/keys/
cp hosts/cairn-apply.yaml prod-host/
echo "sqlite:prod.db" >prod-host/prod.dsn
chmod 600 prod-host/prod.dsn
cp hosts/shop.tar.gz prod-host/   # the one file that moves
cd prod-host
cairn-apply verify shop.tar.gz --env prod
cairn-apply plan shop.tar.gz --env prod >/dev/null
cairn-apply apply shop.tar.gz --env prod

step "the audit trail names the statements that let it in"
cairn-apply history --db sqlite:prod.db
cairn-apply history --db sqlite:prod.db --verify
