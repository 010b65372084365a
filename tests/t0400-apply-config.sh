#!/bin/sh
test_description='cairn-apply config: the applier config file, its errors, precedence and masking'
. "$(dirname "$0")/test-lib.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT

# keyid FILE: the key id as DESIGN.md defines it, with openssl alone
keyid() {
	openssl pkey -pubin -in "$1" -outform DER | tail -c 32 | sha256sum | cut -c1-16
}

test_expect_success 'setup: keys and a three-environment config' '
	mkdir -p site/keys &&
	for k in ci alice bob carol dba staging-applier; do
		openssl genpkey -algorithm ed25519 -out site/keys/$k.key 2>/dev/null &&
		openssl pkey -in site/keys/$k.key -pubout -out site/keys/$k.pub || return 1
	done &&
	cat >site/cairn-apply.yaml <<-\EOC
	defaults:
	  builders: [keys/ci.pub]
	  lock_timeout: 10s
	environments:
	  dev:
	    database: { dsn: "sqlite:dev.db" }
	  staging:
	    database: { dsn_env: STAGING_DSN }
	    approvals: 1
	    approvers: [keys/alice.pub, keys/bob.pub]
	  prod:
	    database: { dsn_file: secrets/prod.dsn }
	    approvals: 2
	    approvers: [keys/alice.pub, keys/bob.pub, keys/carol.pub]
	    after: staging
	    receipts_from: [keys/staging-applier.pub]
	    admins: [keys/dba.pub]
	    revoked:
	      - {key: keys/bob.pub, since: 2026-11-01T00:00:00Z}
	    lock_timeout: 2m
	EOC
'

test_expect_success 'the merged settings for prod, each with its origin' '
	cairn-apply config --config site/cairn-apply.yaml --env prod >out 2>err &&
	test ! -s err &&
	test_grep "^config  *site/cairn-apply.yaml  (flag --config)$" out &&
	test_grep "^environment  *prod  (flag --env)$" out &&
	test_grep "^database  *dsn_file site/secrets/prod.dsn \[missing\]  (file site/cairn-apply.yaml:12:27)$" out &&
	test_grep "^lock_timeout  *2m  (file site/cairn-apply.yaml:20:19)$" out &&
	test_grep "^approvals  *2 of 3 approvers  (file site/cairn-apply.yaml:13:16)$" out &&
	test_grep "^after  *staging  (file site/cairn-apply.yaml:15:12)$" out &&
	test_grep "^builders  *$(keyid site/keys/ci.pub)  keys/ci.pub  (file site/cairn-apply.yaml:2:14)$" out &&
	test_grep "^ *$(keyid site/keys/carol.pub)  keys/carol.pub" out &&
	test_grep "^receipts_from  *$(keyid site/keys/staging-applier.pub)  keys/staging-applier.pub" out &&
	test_grep "^admins  *$(keyid site/keys/dba.pub)  keys/dba.pub" out &&
	test_grep "^revoked  *$(keyid site/keys/bob.pub)  keys/bob.pub  since 2026-11-01T00:00:00Z" out
'

test_expect_success 'key ids are the first 16 hex digits of sha256 of the raw key' '
	cairn-apply config --config site/cairn-apply.yaml --env dev --format json >out.json &&
	python3 -c "
import json, sys
d = json.load(open(\"out.json\"))
assert d[\"builders\"][0][\"key_id\"] == sys.argv[1], d[\"builders\"]
assert d[\"builders\"][0][\"origin\"] == \"site/cairn-apply.yaml:2:14\"
" "$(keyid site/keys/ci.pub)"
'

test_expect_success 'the config file: --config, else CAIRN_APPLY_CONFIG, else ./cairn-apply.yaml' '
	(cd site && cairn-apply config --env dev >../out) &&
	test_grep "^config  *cairn-apply.yaml  (default)$" out &&
	test_grep "^database  *dsn sqlite:dev.db  (file cairn-apply.yaml:6:22)$" out &&
	CAIRN_APPLY_CONFIG=site/cairn-apply.yaml cairn-apply config --env dev >out &&
	test_grep "^config  *site/cairn-apply.yaml  (env CAIRN_APPLY_CONFIG)$" out &&
	sed -e "s/lock_timeout: 10s/lock_timeout: 7s/" site/cairn-apply.yaml >site/other.yaml &&
	CAIRN_APPLY_CONFIG=site/cairn-apply.yaml cairn-apply config --config site/other.yaml --env dev >out 2>err &&
	test_grep "^config  *site/other.yaml  (flag --config)$" out &&
	test_grep "^lock_timeout  *7s" out
'

test_expect_success 'no config anywhere says how to name one (exit 6)' '
	test_expect_code 6 cairn-apply config --env dev 2>err &&
	test_grep "cairn-apply: no config: .\./cairn-apply.yaml. does not exist; pass --config FILE or set CAIRN_APPLY_CONFIG" err &&
	test_expect_code 6 cairn-apply config --config nowhere.yaml --env dev 2>err &&
	test_grep "cannot read the config .nowhere.yaml. (from --config)" err
'

test_expect_success 'precedence: flags beat CAIRN_* variables, which beat the file, which beats defaults' '
	C=site/cairn-apply.yaml &&
	cairn-apply config --config $C --env staging >out &&
	test_grep "^database  *dsn_env STAGING_DSN \[not set\]  (file $C:8:26)$" out &&
	test_grep "^lock_timeout  *10s  (file $C:3:17)$" out &&
	CAIRN_ENV=staging CAIRN_DB=sqlite:env.db CAIRN_LOCK_TIMEOUT=5s \
		cairn-apply config --config $C >out &&
	test_grep "^environment  *staging  (env CAIRN_ENV)$" out &&
	test_grep "^database  *dsn sqlite:env.db  (env CAIRN_DB)$" out &&
	test_grep "^lock_timeout  *5s  (env CAIRN_LOCK_TIMEOUT)$" out &&
	CAIRN_ENV=staging CAIRN_DB=sqlite:env.db CAIRN_LOCK_TIMEOUT=5s \
		cairn-apply config --config $C --env dev --db sqlite:flag.db --lock-timeout 250ms >out &&
	test_grep "^environment  *dev  (flag --env)$" out &&
	test_grep "^database  *dsn sqlite:flag.db  (flag --db)$" out &&
	test_grep "^lock_timeout  *250ms  (flag --lock-timeout)$" out &&
	printf "environments:\n  dev: {builders: [site/keys/ci.pub]}\n" >bare.yaml &&
	cairn-apply config --config bare.yaml --env dev >out &&
	test_grep "^lock_timeout  *15s  (default built-in)$" out &&
	test_grep "^database  *none: pass --db DSN or set CAIRN_DB$" out
'

test_expect_success 'the trust policy cannot be changed from the environment' '
	CAIRN_APPROVALS=0 CAIRN_BUILDERS=x cairn-apply config --config site/cairn-apply.yaml --env prod >out &&
	test_grep "^approvals  *2 of 3" out
'

test_expect_success 'secrets are masked: a password in a DSN shows as ****' '
	CAIRN_DB="postgres://app:hunter2@db:5432/shop?sslmode=require&password=hunter3" \
		cairn-apply config --config site/cairn-apply.yaml --env prod >out &&
	test_grep "^database  *dsn postgres://app:\*\*\*\*@db:5432/shop?sslmode=require&password=\*\*\*\*  (env CAIRN_DB)$" out &&
	test_grep ! hunter out &&
	cairn-apply config --config site/cairn-apply.yaml --env prod --format json \
		--db "host=db dbname=shop password=hunter2" >out &&
	test_grep "\"value\":\"host=db dbname=shop password=\*\*\*\*\"" out &&
	test_grep ! hunter out
'

test_expect_success 'dsn_env and dsn_file show the name, never the secret' '
	mkdir -p site/secrets &&
	echo "postgres://app:hunter2@db/shop" >site/secrets/prod.dsn &&
	chmod 600 site/secrets/prod.dsn &&
	cairn-apply config --config site/cairn-apply.yaml --env prod >out &&
	test_grep "^database  *dsn_file site/secrets/prod.dsn \[exists\]" out &&
	STAGING_DSN="postgres://app:hunter2@db/shop" \
		cairn-apply config --config site/cairn-apply.yaml --env staging --format json >out &&
	test_grep "\"database\":{\"kind\":\"dsn_env\",\"value\":\"STAGING_DSN\",\"state\":\"set\"" out &&
	test_grep ! hunter out
'

test_expect_success 'a password written in the config is refused, masked in the message' '
	printf "environments:\n  prod:\n    builders: [site/keys/ci.pub]\n    database: {dsn: \"postgres://app:hunter2@db/shop\"}\n" >pw.yaml &&
	test_expect_code 6 cairn-apply config --config pw.yaml --env prod >out 2>err &&
	test_grep "^pw.yaml:4:21: error: .dsn. holds a password (.postgres://app:\*\*\*\*@db/shop.); secrets never sit in the config: name them with dsn_env or dsn_file" err &&
	test_grep "cairn-apply: .pw.yaml. has 1 error; fix it and run again" err &&
	test_grep ! hunter err &&
	test ! -s out
'

test_expect_success 'unknown keys, wrong types and bad references: every one, with line and column' '
	cat >bad.yaml <<-\EOC &&
	defaults:
	  builder: [site/keys/ci.pub]
	environments:
	  dev:
	    database: { dns: "sqlite:x.db" }
	    builders: site/keys/ci.pub
	  staging:
	    approvals: 3
	    approvers: [site/keys/alice.pub, site/keys/alice.pub]
	    lock_timeout: soon
	    after: prdo
	    builders: [site/keys/ci.pub]
	  prod:
	    approvals: two
	    approvers: [site/keys/missing.pub, site/keys/alice.key]
	    revoked: [{key: site/keys/bob.pub, since: yesterday}]
	    builders: [site/keys/ci.pub]
	EOC
	test_expect_code 6 cairn-apply config --config bad.yaml --env dev 2>err &&
	cat >expect <<-\EOE &&
	bad.yaml:2:3: error: unknown key '"'"'builder'"'"' in defaults; did you mean '"'"'builders'"'"'?
	bad.yaml:4:3: warning: environment '"'"'dev'"'"' names no builders: every bundle will be refused there (add '"'"'builders: [keys/ci.pub]'"'"')
	bad.yaml:5:17: error: unknown key '"'"'dns'"'"' in database; did you mean '"'"'dsn'"'"'?
	bad.yaml:6:15: error: '"'"'builders'"'"' must be a list of public key files, not '"'"'site/keys/ci.pub'"'"'
	bad.yaml:8:16: error: environment '"'"'staging'"'"' needs 3 approvals but names 1 distinct approver; add approvers or lower approvals
	bad.yaml:9:38: warning: '"'"'approvers'"'"' names key
	bad.yaml:10:19: error: '"'"'lock_timeout'"'"' must be a duration such as 30s, 5m or 250ms, not '"'"'soon'"'"'
	bad.yaml:11:12: error: '"'"'after'"'"' names '"'"'prdo'"'"', which is not an environment here; did you mean '"'"'prod'"'"'?
	bad.yaml:14:16: error: '"'"'approvals'"'"' must be a whole number (how many approvers must sign), not '"'"'two'"'"'
	bad.yaml:15:17: error: in '"'"'approvers'"'"': cannot open '"'"'site/keys/missing.pub'"'"': No such file or directory
	bad.yaml:15:40: error: in '"'"'approvers'"'"': '"'"'site/keys/alice.key'"'"' is a private key; name its public half (the .pub file) here, and keep the private key off this host
	bad.yaml:16:47: error: '"'"'since'"'"' must be a UTC time such as 2026-11-01T00:00:00Z, not '"'"'yesterday'"'"'
	EOE
	grep -v "^cairn-apply:" err | sed -e "s/\(names key\).*/\1/" >actual &&
	test_cmp expect actual &&
	test_grep "cairn-apply: .bad.yaml. has 10 errors; fix them and run again" err
'

test_expect_success 'an after cycle is reported once' '
	printf "defaults: {builders: [site/keys/ci.pub], approvers: [site/keys/alice.pub]}\nenvironments:\n  a: {after: c}\n  b: {after: a}\n  c: {after: b}\n" >cyc.yaml &&
	test_expect_code 6 cairn-apply config --config cyc.yaml --env a 2>err &&
	test_grep "^cyc.yaml:3:14: error: .after. makes a cycle: a -> c -> b -> a$" err &&
	test_line_count = 2 err
'

test_expect_success 'YAML syntax errors and aliases name the line' '
	printf "environments:\n  dev: [1,\n" >syn.yaml &&
	test_expect_code 6 cairn-apply config --config syn.yaml --env dev 2>err &&
	test_grep "^syn.yaml:3:" err &&
	printf "environments:\n  dev: &d {builders: [site/keys/ci.pub]}\n  prod: *d\n" >alias.yaml &&
	test_expect_code 6 cairn-apply config --config alias.yaml --env dev 2>err &&
	test_grep "^alias.yaml:2:8: error: YAML anchors are not allowed" err
'

test_expect_success 'a key file that is not an Ed25519 public key is refused by line' '
	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:1024 2>/dev/null | openssl pkey -pubout >rsa.pub &&
	echo "not a key" >junk.pub &&
	printf "environments:\n  dev:\n    builders: [rsa.pub, junk.pub]\n" >k.yaml &&
	test_expect_code 6 cairn-apply config --config k.yaml --env dev 2>err &&
	test_grep "^k.yaml:3:16: error: in .builders.: .rsa.pub. is not an Ed25519 key" err &&
	test_grep "^k.yaml:3:25: error: in .builders.: .junk.pub. is not a PEM public key" err
'

test_expect_success 'key paths resolve against the config file, not the working directory' '
	mkdir -p elsewhere &&
	(cd elsewhere && cairn-apply config --config ../site/cairn-apply.yaml --env dev >out) &&
	test_grep "^builders  *$(keyid site/keys/ci.pub)" elsewhere/out
'

test_expect_success 'warnings do not stop it' '
	printf "environments:\n  dev: {database: {dsn: \"sqlite:x.db\"}}\n" >warn.yaml &&
	cairn-apply config --config warn.yaml --env dev >out 2>err &&
	test_grep "^warn.yaml:2:3: warning: environment .dev. names no builders: every bundle will be refused there" err &&
	test_grep "^builders  *none$" out
'

test_expect_success 'usage errors: no environment, unknown environment, bad values (exit 2)' '
	test_expect_code 2 cairn-apply config --config site/cairn-apply.yaml 2>err &&
	test_grep "no environment named: pass --env ENV or set CAIRN_ENV (.dev., .staging., .prod. in .site/cairn-apply.yaml.)" err &&
	test_grep "^usage: cairn-apply config --env ENV" err &&
	test_expect_code 2 cairn-apply config --config site/cairn-apply.yaml --env prd 2>err &&
	test_grep "environment .prd. is not in .site/cairn-apply.yaml.; did you mean .prod.?" err &&
	test_expect_code 2 cairn-apply config --config site/cairn-apply.yaml --env dev --lock-timeout soon 2>err &&
	test_grep "\-\-lock-timeout must be a duration" err &&
	CAIRN_LOCK_TIMEOUT=later test_expect_code 2 cairn-apply config --config site/cairn-apply.yaml --env dev 2>err &&
	test_grep "CAIRN_LOCK_TIMEOUT must be a duration such as 30s, 5m or 250ms, not .later.; fix or unset it" err &&
	test_expect_code 2 cairn-apply config --config site/cairn-apply.yaml --env dev --db "user:pw@mysql" 2>err &&
	test_grep "\-\-db: .user:pw@mysql. is not a DSN" err &&
	test_expect_code 2 cairn-apply config --frob 2>err &&
	test_grep "unknown option .--frob." err &&
	test_expect_code 2 cairn-apply config --env 2>err &&
	test_grep "option .--env. needs a value" err &&
	test_expect_code 2 cairn-apply config --format yaml 2>err
'

test_done
