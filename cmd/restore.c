#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/checkpoint.h"
#include "../lib/error.h"
#include "books-flags.h"
#include "policy-gate.h"
#include "cairn-apply.h"

const struct cmd cmd_restore_desc = {
	"restore", cmd_restore,
	"bring back the backup a run took before a destructive migration",
	"cairn-apply restore --db DSN BACKUP [--env ENV] [--lock-timeout D]\n"
	"       cairn-apply restore --env ENV [--config FILE] BACKUP [--checkpoint FILE [--checkpoint-key KEY]]",
	"Brings back BACKUP, the copy 'apply' took before a destructive migration,\n"
	"only when it is the file the books recorded: an audit row (action backup)\n"
	"names it, and its sha256 must be that row's. A file no row names, or\n"
	"whose bytes changed since, is refused (exit 3) before anything is\n"
	"written (so is a run without a config on a database a config's policy\n"
	"governs: its identity records policy=1). The run lock is held\n"
	"throughout, and the books are checked\n"
	"first, as apply checks them, and so is the newest signed checkpoint of\n"
	"this database (--checkpoint, $CAIRN_CHECKPOINT, or the config's): books\n"
	"cut or rechained since it are refused (exit 5) before anything is\n"
	"written. After the restore a checkpoint of the chain the file brought\n"
	"back is appended, so the next run compares with that one.\n"
	"\n"
	"SQLite: the whole database (the books with it) becomes the backup's,\n"
	"through SQLite's online backup API: the migration the backup preceded is\n"
	"pending again, and the audit rows written after the backup go with the\n"
	"file; a 'restore' row naming the backup, its sha256 and how many rows went\n"
	"is appended to the chain the file brought back. That row is written into\n"
	"a private copy of the backup first (BACKUP.tmpPID, removed after), and the\n"
	"copy replaces the database's pages in one step: a kill leaves the database\n"
	"as it was or restored with its row, never between. A second restore of\n"
	"the same backup is refused (exit 3, 'was restored already'). A signed checkpoint\n"
	"taken after the backup will name those rows as missing: expected after a\n"
	"restore, until the checkpoint restore appends. That one is signed before the\n"
	"step and kept in FILE.pending, so a restore killed before the append leaves\n"
	"it for the next run to append (history --verify accepts it meanwhile).\n"
	"\n"
	"PostgreSQL: the backup is a pg_dump of the tables the migration touched;\n"
	"it is restored only while that migration is the newest applied one, and\n"
	"only when its backup row lists what the migration created (else exit 3,\n"
	"nothing changed). In one transaction, on this connection: the objects\n"
	"the migration created that are there now are dropped (newest first), the\n"
	"dumped tables are dropped and created again with their data (pg_restore's\n"
	"script), and the migration is marked rolled back with a 'restore' row\n"
	"that extends the chain.\n"
	"\n"
	"Options:\n"
	"   --db DSN           the database (else $CAIRN_DB, else the config's)\n"
	"   --env ENV          the environment (else the one the books record)\n"
	"   --config FILE      the applier's config\n"
	"   --checkpoint FILE  compare the books with the newest checkpoint in FILE\n"
	"                      first, and append one after the restore (else\n"
	"                      $CAIRN_CHECKPOINT, else the config's)\n"
	"   --checkpoint-key KEY  the key that signs it (else $CAIRN_CHECKPOINT_KEY)\n"
	"   --lock-timeout D   wait up to D for another runner (default 15s)\n"
	"\n"
	"Exit status: 0 restored, 1 the driver restores no file, 3 BACKUP is not\n"
	"a backup the books record (or not its bytes, or not the newest applied\n"
	"migration's, on PostgreSQL, or restored already), 4 lock not obtained, 5 the\n"
	"books need an operator or differ from the checkpoint, 6 the database or BACKUP cannot be read or\n"
	"written.\n",
};

struct restore_args {
	struct books_flags bf;
	const char *backup;
};

static int parse_args(struct restore_args *a, int argc, char **argv)
{
	static const struct option opts[] = {
		BOOKS_FLAGS_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	books_flags_init(&a->bf);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if ((rc = books_flags_take(&a->bf, &cmd_restore_desc, c, argv)))
			return rc;
	if (optind + 1 != argc)
		return usage_error(&cmd_restore_desc,
				   optind < argc ? "expected one BACKUP" : "missing BACKUP");
	a->backup = argv[optind];
	books_flags_done(&a->bf);
	return EXIT_OK;
}

struct prepared {
	struct apply_ctx *ctx;
	const struct checkpoint_opts *cpo;
};

/* The engine's copy is ready: its chain's checkpoint kept beside the
 * checkpoint file before the step, so a kill after the step leaves one
 * that the next run appends (cmd/checkpoint.h). */
static int restore_prepared(void *arg, struct db *copy)
{
	const struct prepared *p = arg;

	return checkpoint_pending_write(p->ctx, p->cpo, copy);
}

int cmd_restore(int argc, char **argv)
{
	struct restore_args a;
	struct apply_policy ap;
	struct apply_ctx ctx;
	struct apply_opts o;
	struct restore_info info;
	struct prepared prep;
	char *pending = NULL;
	int rc, restored;

	memset(&a, 0, sizeof(a));
	memset(&ap, 0, sizeof(ap));
	memset(&ctx, 0, sizeof(ctx));
	memset(&o, 0, sizeof(o));
	memset(&info, 0, sizeof(info));
	rc = parse_args(&a, argc, argv);
	if (rc == EXIT_OK)
		rc = books_flags_policy(&a.bf, &cmd_restore_desc, &ap);
	/* the books checked against the checkpoint before anything is written,
	 * as rollback does (issue #15) */
	if (rc == EXIT_OK)
		rc = books_flags_open(&a.bf, &cmd_restore_desc, &ap, &ctx, DRIVER_OPEN_EXISTING, 0);
	if (rc)
		goto out;
	o.env = a.bf.env;
	o.checkpoint = ctx.checkpoint;
	/* as rollback: without a config, refused on a database a config's
	 * policy governs (its identity records policy=1: apply/books.c) */
	o.policy = ap.active;
	o.evidence = ap.ext_note; /* the SQLite extensions loaded (issue #19) */
	o.lock_timeout_ms = a.bf.lock_ms;
	if (a.bf.cpo.file && a.bf.cpo.key) {
		prep.ctx = &ctx;
		prep.cpo = &a.bf.cpo;
		o.restore_prepared = restore_prepared;
		o.prepared_ctx = &prep;
		pending = checkpoint_pending_path(a.bf.cpo.file);
	}
	rc = engine_restore(ctx.db, ctx.drv, a.backup, &o, &info);
	restored = rc == EXIT_OK;
	if (rc == EXIT_OK && info.tables_only) {
		printf("restored the tables %s of %s from '%s' (the backup taken before %s); "
		       "removed what it created: %s; %s is marked rolled back; it is at version "
		       "%s\n", info.tables, ctx.drv->display_name(ctx.db), a.backup, info.version,
		       info.removed ? info.removed : "nothing", info.version,
		       info.current ? info.current : "none");
	} else if (rc == EXIT_OK) {
		printf("restored %s from '%s' (the backup taken before %s); it is at version %s; "
		       "%zu audit row%s from after the backup went with it\n",
		       ctx.drv->display_name(ctx.db), a.backup, info.version,
		       info.current ? info.current : "none", info.dropped,
		       info.dropped == 1 ? "" : "s");
	} else {
		error_msg("%s", cairn_error_last());
		error_msg("the database is unchanged");
	}
	/* The chain the file brought back is the head from now on. It does not
	 * extend the checkpoint the run started from (the rows after the backup
	 * went), which checkpoint_make refuses to sign; it is vouched for by the
	 * backup's sha256 in the books the engine compared with that checkpoint
	 * under the run lock, so the new head is signed as it is. */
	if (rc == EXIT_OK && !info.tables_only && ctx.checkpoint) {
		checkpoint_release(ctx.checkpoint);
		free(ctx.checkpoint);
		ctx.checkpoint = NULL;
	}
	rc = checkpoint_after_run(&ctx, &a.bf.cpo, rc);
	/* appended, or the restore failed (the database as it was): the
	 * pending one is done with; kept only for a checkpoint not written */
	if (pending && (rc == EXIT_OK || !restored))
		unlink(pending);
out:
	free(pending);
	books_flags_release(&a.bf);
	restore_info_release(&info);
	apply_ctx_close(&ctx);
	apply_policy_release(&ap);
	return rc;
}
