#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apply/adopt.h"
#include "../lib/error.h"
#include "../verify/bundle.h"
#include "books-flags.h"
#include "cairn-apply.h"
#include "policy-gate.h"

const struct cmd cmd_adopt_desc = {
	"adopt", cmd_adopt,
	"take over another migration tool's bookkeeping on a database",
	"cairn-apply adopt --from TOOL --db DSN BUNDLE [--env ENV] [--key PUB]... [--config FILE] [--registry R] [--dry-run] [--lock-timeout D]",
	"Reads which migrations TOOL applied to the database from its history\n"
	"table, matches each to a migration of BUNDLE (by version, and by checksum\n"
	"where TOOL keeps one: Flyway's CRC32, sqitch's SHA-1, Prisma's SHA-256,\n"
	"computed from the bundle's up script), and records them as applied in\n"
	"cairn's books, with an 'adopt' audit row each naming TOOL's row, in one\n"
	"transaction under the run lock. Their SQL is not run, and TOOL's table is\n"
	"left as it is. A failed or dirty row, a version the bundle does not have,\n"
	"or a checksum that differs refuses the whole adoption, listing every\n"
	"difference. Refused too when cairn already keeps books here. 'plan'\n"
	"afterwards shows only what is really pending.\n"
	"\n"
	"TOOL: flyway (flyway_schema_history), golang-migrate (schema_migrations),\n"
	"dbmate (schema_migrations), goose (goose_db_version), sqitch\n"
	"(sqitch.changes on PostgreSQL; on SQLite, changes in its registry file\n"
	"beside the database: sqitch.db for prod.db), pop (schema_migration), diesel\n"
	"(__diesel_schema_migrations), prisma (_prisma_migrations).\n"
	"\n"
	"Options:\n"
	"   --from TOOL       the tool whose books are taken over\n"
	"   --db DSN          the database: sqlite:PATH, postgres://...\n"
	"   --env ENV         the environment: recorded as the database's identity\n"
	"                     (default: the one the database records)\n"
	"   --key PUB         trust builds signed by this public key (repeatable)\n"
	"   --config FILE     the applier's config (the bundle must meet ENV's policy)\n"
	"   --registry R      TOOL's table as the tool was told to name it: TABLE, or\n"
	"                     SCHEMA.TABLE on PostgreSQL (flyway, golang-migrate,\n"
	"                     dbmate, goose, pop; not diesel or prisma, whose names are\n"
	"                     fixed); sqitch: its registry, a schema on PostgreSQL, a\n"
	"                     file's name or path on SQLite (default: sqitch)\n"
	"   --dry-run         show what would be adopted; write nothing\n"
	"   --lock-timeout D  wait up to D for another runner (default 15s)\n"
	"\n"
	"Exit status: 0, 2 usage, 3 the bundle is refused, 4 lock not obtained,\n"
	"5 TOOL's history differs from the bundle (or is not there, or cairn already\n"
	"keeps books here), 6 the database cannot be used.\n",
};

static void print_plan(const struct adopt_plan *p, const struct apply_set *set, int dry_run,
		       const char *db)
{
	size_t i;

	printf("adopt: %s's %s on %s, bundle %s (%s)\n", p->tool, p->table, db, set->bundle_name,
	       set->bundle_id);
	for (i = 0; i < p->n; i++)
		printf("  %-6s %s  <- %s\n", p->nproblems ? "match" : "adopt", p->items[i].m->name,
		       p->items[i].source);
	for (i = 0; i < p->nproblems; i++)
		printf("  DIFF   %s\n", p->problems[i]);
	if (p->nproblems)
		return;
	printf("%zu %sadopted as applied (their SQL not run), %zu left to apply\n", p->n,
	       dry_run ? "would be " : "", p->pending);
}

int cmd_adopt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'F' },
		{ "db", required_argument, NULL, 'd' },
		{ "env", required_argument, NULL, 'e' },
		{ "key", required_argument, NULL, 'k' },
		{ "config", required_argument, NULL, 'C' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "lock-timeout", required_argument, NULL, 'l' },
		{ "registry", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tool = NULL, *registry = NULL, *dsn = NULL, *env = NULL, *config = NULL, *lock_flag = NULL;
	const char *db_flag, **keys;
	struct apply_policy ap;
	struct apply_ctx ctx;
	struct apply_set set;
	struct apply_opts o;
	struct adopt_plan plan;
	unsigned long long lock_ms = 15000;
	size_t nkeys = 0;
	int dry = 0, c, rc = EXIT_OK;
	char *builders = NULL;

	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&set, 0, sizeof(set));
	memset(&plan, 0, sizeof(plan));
	keys = xcalloc((size_t)argc, sizeof(*keys));
	while (rc == EXIT_OK && (c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'F': tool = optarg; break;
		case 'd': dsn = optarg; break;
		case 'e': env = optarg; break;
		case 'k': keys[nkeys++] = optarg; break;
		case 'C': config = optarg; break;
		case 'n': dry = 1; break;
		case 'r': registry = optarg; break;
		case 'l':
			lock_flag = optarg;
			rc = parse_lock_timeout(&cmd_adopt_desc, optarg, &lock_ms);
			break;
		default:
			rc = usage_error(&cmd_adopt_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc != EXIT_OK)
		goto out;
	db_flag = dsn;
	if (optind + 1 != argc)
		rc = usage_error(&cmd_adopt_desc, optind < argc ? "expected one BUNDLE"
							       : "missing BUNDLE");
	else if (!tool)
		rc = usage_error(&cmd_adopt_desc, "missing --from TOOL (%s)", adopt_tool_names());
	else if (!adopt_tool_known(tool))
		rc = usage_error(&cmd_adopt_desc, "unknown tool '%s': adopt reads %s", tool,
				 adopt_tool_names());
	else if (adopt_registry_refused(tool, registry))
		rc = usage_error(&cmd_adopt_desc, "%s", adopt_registry_refused(tool, registry));
	else if ((rc = apply_policy_begin(&ap, &cmd_adopt_desc, config, &env, &dsn, lock_flag,
					  &lock_ms, nkeys)) != EXIT_OK)
		;
	else if (!dsn)
		rc = usage_error(&cmd_adopt_desc, "missing --db DSN");
	if (rc != EXIT_OK)
		goto out;
	rc = apply_ctx_open(&ctx, &cmd_adopt_desc, dsn, DRIVER_OPEN_EXISTING, 0);
	if (rc != EXIT_OK)
		goto out;
	rc = apply_policy_load_bundle(&ap, &ctx, argv[optind], 0, keys, nkeys, &set);
	if (rc == EXIT_OK && !dry)
		rc = books_role_gate(&ap, &ctx, env, "adopt");
	if (rc != EXIT_OK)
		goto out;
	memset(&o, 0, sizeof(o));
	o.env = env;
	o.lock_timeout_ms = lock_ms;
	apply_policy_note_db(&ap, &ctx); /* the identity row and every adopted row */
	o.evidence = apply_policy_evidence(&ap);
	o.project = set.bundle ? set.bundle->project : NULL;
	o.builders = builders = apply_policy_builders(&ap, keys, nkeys);
	o.identity_override = apply_policy_overrides(&ap, POLICY_OVERRIDE_IDENTITY);
	o.policy = ap.active;
	rc = engine_adopt(ctx.db, ctx.drv, &set, tool, registry, dry, &o, &plan);
	if (plan.tool && (rc == EXIT_OK || plan.nproblems))
		print_plan(&plan, &set, dry, ctx.drv->display_name(ctx.db));
	fflush(stdout);
	if (rc != EXIT_OK) {
		char *target = apply_target_args(db_flag, dsn, env, config);

		apply_ctx_fail_unchanged(&ctx, rc, 0, target);
		free(target);
	}
out:
	adopt_plan_release(&plan);
	apply_set_release(&set);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	free(builders);
	free(keys);
	return rc;
}
