#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../apply/checkpoint.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../receipt/receipt.h"
#include "checkpoint.h"
#include "policy-gate.h"

int checkpoint_opts_load(struct checkpoint_opts *o, struct receipt_key *receipt)
{
	if (!o->file && getenv("CAIRN_CHECKPOINT") && *getenv("CAIRN_CHECKPOINT"))
		o->file = getenv("CAIRN_CHECKPOINT");
	if (!o->key_path && getenv("CAIRN_CHECKPOINT_KEY") && *getenv("CAIRN_CHECKPOINT_KEY"))
		o->key_path = getenv("CAIRN_CHECKPOINT_KEY");
	if (!o->file)
		return EXIT_OK;
	if (o->key_path) {
		if (receipt_key_load(&o->key, o->key_path) < 0) {
			error_msg("cannot use the checkpoint key: %s", cairn_error_last());
			error_msg("nothing was done: the database is unchanged");
			return EXIT_ENVIRONMENT;
		}
		o->owns_key = 1;
		return EXIT_OK;
	}
	if (!receipt) {
		error_msg("--checkpoint needs a key to sign with: --checkpoint-key KEY (or "
			  "$CAIRN_CHECKPOINT_KEY, or --receipt-key)");
		return EXIT_USAGE;
	}
	o->key = receipt;
	return EXIT_OK;
}

void checkpoint_opts_release(struct checkpoint_opts *o)
{
	if (o && o->owns_key)
		receipt_key_free(o->key);
	if (o)
		memset(o, 0, sizeof(*o));
}

static int append_line(const char *file, const struct buf *line)
{
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	ssize_t w;

	if (fd < 0) {
		cairn_error_set("cannot write checkpoint file '%s': %s", file, strerror(errno));
		return -1;
	}
	w = write(fd, line->ptr, line->len);
	if (w != (ssize_t)line->len || fsync(fd) < 0) {
		cairn_error_set("cannot write checkpoint file '%s': %s", file,
				w < 0 ? strerror(errno) : "short write");
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		cairn_error_set("cannot write checkpoint file '%s': %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

int checkpoint_append(struct apply_ctx *c, const struct checkpoint_opts *o)
{
	struct audit_row *a = NULL;
	struct db_identity id;
	struct buf line = BUF_INIT;
	char now[32];
	size_t n = 0;
	int rc = EXIT_ENVIRONMENT;

	memset(&id, 0, sizeof(id));
	if (!o->file)
		return EXIT_OK;
	if (c->drv->audit_read(c->db, 0, &a, &n) < 0)
		goto out;
	books_identity(a, n, &id);
	engine_now(now);
	if (receipt_checkpoint(o->key, now, c->drv->display_name(c->db), id.environment,
			       id.project, n ? a[n - 1].seq : 0, n ? a[n - 1].hash : "", &line) < 0 ||
	    append_line(o->file, &line) < 0)
		goto out;
	if (!c->json)
		fprintf(stderr, "cairn-apply: checkpoint of %s (%zu audit row%s) added to '%s'\n",
			c->drv->display_name(c->db), n, n == 1 ? "" : "s", o->file);
	rc = EXIT_OK;
out:
	if (rc)
		error_msg("the run is done, but no checkpoint was kept: %s", cairn_error_last());
	db_identity_release(&id);
	audit_rows_free(a, n);
	buf_release(&line);
	return rc;
}

int checkpoint_verify_file(struct apply_ctx *c, const char *file, const char *want_key,
			   const struct audit_row *a, size_t n)
{
	struct buf text = BUF_INIT;
	struct checkpoint cp;
	const char *db = c->drv->display_name(c->db), *line = NULL;
	int found, rc = EXIT_FAILED;

	memset(&cp, 0, sizeof(cp));
	if (read_file(file, 256u << 20, &text) < 0) {
		error_msg("cannot read checkpoint file: %s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	found = checkpoint_find_last(&cp, &line, text.ptr ? text.ptr : "", text.len, db);
	if (found < 0) {
		error_msg("checkpoint file '%s': %s", file, cairn_error_last());
		goto out;
	}
	if (found) {
		error_msg("checkpoint file '%s' holds no checkpoint of %s", file, db);
		goto out;
	}
	if (checkpoint_check(&cp, line, want_key, a, n) < 0) {
		error_msg("checkpoint mismatch: %s", cairn_error_last());
		error_msg("the books of %s do not hold what was checkpointed on %s; compare them "
			  "with a backup", db, cp.time);
		goto out;
	}
	if (!c->json)
		printf("checkpoint of %s matches: %lld audit row%s ending in %.16s..., signed by "
		       "%s\n", cp.time, cp.length, cp.length == 1 ? "" : "s", cp.head, cp.key);
	rc = EXIT_OK;
out:
	checkpoint_release(&cp);
	buf_release(&text);
	return rc;
}

void checkpoint_opts_from_policy(struct checkpoint_opts *o, const struct apply_policy *ap)
{
	const struct policy_env *pe, *d;

	if (o->file || (getenv("CAIRN_CHECKPOINT") && *getenv("CAIRN_CHECKPOINT")) || !ap->active)
		return;
	/* the environment's (else the defaults') checkpoint setting */
	pe = ap->ac.env.env;
	d = &ap->ac.config.defaults;
	o->file = pe->checkpoint_file ? pe->checkpoint_file : d->checkpoint_file;
	if (!o->key_path)
		o->key_path = pe->checkpoint_file ? pe->checkpoint_key : d->checkpoint_key;
}
