/* From a verified bundle to an apply_set: the migrations in the bundle's
 * order, each with this driver's up, down and verify SQL (the driver's
 * variant when the bundle has one). The bundle was authenticated by
 * bundle_open before any of this is read.
 *
 * The set's strings point into the bundle's manifest rather than being
 * copied, and the SQL stays in the bundle until a step needs it: a run with
 * nothing pending on 5,000 migrations used to copy (and free) every
 * migration's scripts for nothing. What reading the SQL checks (an up script
 * for this driver, no NUL byte) is checked then: for every migration at
 * load with APPLY_LOAD_SQL, else for every step that runs, before the first
 * one runs (engine_apply). */
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "load.h"

/* Member bytes as a C string. check_sql refused SQL with a NUL inside
 * when the set was loaded, before any of it is read here. */
static int read_sql(struct bundle *b, const struct bundle_file *f, char **out, size_t *len)
{
	struct buf buf = BUF_INIT;

	*out = NULL;
	*len = 0;
	if (!f)
		return 0;
	/* the signed size, at once: no chain of reallocations for a large script */
	if (buf_reserve(&buf, (size_t)f->size + 1) < 0 || bundle_read(b, f, &buf)) {
		buf_release(&buf);
		return -1;
	}
	*out = buf.ptr ? buf_detach(&buf, len) : xstrdup("");
	return 0;
}

static int read_mig_sql(struct apply_mig *m, const char *driver, int with_up)
{
	char *up = NULL, *down = NULL, *verify = NULL;
	size_t up_len = 0, down_len = 0, verify_len = 0;
	const struct bundle_file *f;
	struct apply_sql *q;

	if (apply_mig_sql(m)->up || !m->bundle || !m->bm)
		return 0;
	f = bundle_migration_file(m->bm, "up", driver);
	if (!f) {
		cairn_error_set("migration %s has no up script for %s", m->bm->name, driver);
		return -1;
	}
	if ((with_up && read_sql(m->bundle, f, &up, &up_len)) ||
	    read_sql(m->bundle, bundle_migration_file(m->bm, "down", driver), &down, &down_len) ||
	    read_sql(m->bundle, bundle_migration_file(m->bm, "verify", driver), &verify,
		     &verify_len)) {
		free(up);
		free(down);
		return -1;
	}
	/* allocated only now: a migration whose SQL is never read has none */
	q = apply_mig_sql_fill(m);
	q->up_path = f->member;
	f = bundle_migration_file(m->bm, "verify", driver);
	q->verify_path = f ? f->member : NULL;
	/* NULL, or read before with up left to stream (apply_mig_read_sql_but_up):
	 * replaced, not leaked */
	free(q->down);
	free(q->verify);
	q->up = up;
	q->up_len = up_len;
	q->down = down;
	q->down_len = down_len;
	q->verify = verify;
	q->verify_len = verify_len;
	return 0;
}

int apply_mig_read_sql(struct apply_mig *m, const char *driver)
{
	return read_mig_sql(m, driver, 1);
}

int apply_mig_up_streams(const struct apply_mig *m, const char *driver)
{
	const struct bundle_file *f;

	if (!m->bundle || !m->bm || m->batch)
		return 0;
	f = bundle_migration_file(m->bm, "up", driver);
	return f && f->size > APPLY_STREAM_MIN;
}

int apply_mig_read_sql_but_up(struct apply_mig *m, const char *driver)
{
	return read_mig_sql(m, driver, 0);
}

/* The scripts only: up_path, verify_path and backup_why stay, and so does
 * the struct apply_sql that holds them. */
void apply_mig_drop_sql(struct apply_mig *m)
{
	struct apply_sql *q = m->sql;

	if (!m->bundle || !m->bm || !q)
		return;
	free(q->up);
	free(q->down);
	free(q->verify);
	q->up = q->down = q->verify = NULL;
	q->up_len = q->down_len = q->verify_len = 0;
}

/* What makes a migration's SQL unusable, found without reading it again:
 * no up script for the driver, or a NUL byte in up, down or verify. Run
 * for every migration at load, whatever else the load does, so a bad
 * bundle is refused before the lock is taken or a database file created,
 * whether or not the migration would run; the SQL read later (at load
 * with APPLY_LOAD_SQL, else for the steps that run) is not checked again. */
static int check_sql(struct bundle *b, const struct bundle_migration *bm, const char *driver)
{
	static const char *const roles[] = { "up", "down", "verify" };
	size_t i;

	for (i = 0; i < 3; i++) {
		const struct bundle_file *f = bundle_migration_file(bm, roles[i], driver);
		int nul;

		if (!f && !i) {
			cairn_error_set("migration %s has no up script for %s", bm->name, driver);
			return -1;
		}
		/* seen as the member was verified, whether or not it is kept */
		if (f && (nul = bundle_member_has_nul(b, f)) != 0) {
			if (nul > 0)
				cairn_error_set("%s: contains a NUL byte: not SQL text", f->member);
			return -1;
		}
	}
	return 0;
}

/* The bundle's callbacks for driver (issue #20), read now: a few small
 * scripts, checked as the migrations' are (no NUL byte). */
static int load_callbacks(struct apply_set *out, struct bundle *b, const char *driver)
{
	size_t i;

	for (i = 0; i < b->ncallbacks; i++) {
		const struct bundle_file *f = &b->callbacks[i];
		const char *only;
		int kind = callback_parse(f->name, &only);
		struct apply_callback *cb;

		if (kind < 0 || (only && strcmp(only, driver)))
			continue;
		cb = &out->callbacks[kind];
		/* the driver's variant wins over the generic file */
		if (cb->path && !only)
			continue;
		free(cb->sql);
		cb->sql = NULL;
		if (bundle_member_has_nul(b, f) > 0) {
			cairn_error_set("%s: contains a NUL byte: not SQL text", f->member);
			return -1;
		}
		if (read_sql(b, f, &cb->sql, &cb->len) < 0)
			return -1;
		cb->path = f->member;
		bundle_file_hex(f, cb->sha256);
	}
	return 0;
}

int apply_set_load(struct apply_set *out, struct bundle *b, const char *driver, unsigned flags)
{
	static char empty[1];
	size_t i;

	memset(out, 0, sizeof(*out));
	out->bundle_id = xstrdup(b->id);
	out->bundle_name = xstrdup(b->name ? b->name : "");
	out->bundle_path = xstrdup(b->path ? b->path : "");
	out->driver = driver;
	out->borrows_bundle = 1;
	/* 104 bytes a migration, every one written below (2.1 MB at 20,000);
	 * its SQL (struct apply_sql) is allocated only when read */
	out->migs = xcalloc_prefaulted(b->nmigs ? b->nmigs : 1, sizeof(*out->migs));
	/* the set keeps the bundle open: data files are streamed from it at
	 * apply time, never held whole in memory, and SQL is read from it when
	 * a step needs it. It borrows it: the caller hands it over by setting
	 * owns_bundle. */
	out->bundle = b;
	out->owns_bundle = 0;
	for (i = 0; i < b->nmigs; i++) {
		const struct bundle_migration *bm = &b->migs[i];
		struct apply_mig *m = &out->migs[i];
		size_t j;

		out->n = i + 1;
		m->bundle = b;
		m->bm = bm;
		m->version = bm->version;
		m->name = bm->name;
		m->checksum = bm->checksum;
		m->description = bm->description ? bm->description : empty;
		m->transaction = bm->transaction;
		for (j = 0; j < bm->nno_transaction; j++)
			if (!strcmp(bm->no_transaction[j], driver))
				m->transaction = 0; /* transaction: {DRIVER: false} */
		m->irreversible = bm->irreversible;
		m->destructive = bm->destructive;
		m->batch = bm->batch;
		m->contract = bm->contract;
		m->timeout_ms = bm->timeout_ms;
		m->lock_timeout_ms = bm->lock_timeout_ms;
		m->throttle = bm->throttle;
		m->environments = bm->environments;
		m->nenvironments = bm->nenvironments;
		/* an unchanged bundle file passed this check when it was applied
		 * here (verify/bundle.h, known_file): its bytes are the same */
		if ((!bundle_members_checked_before(b) && check_sql(b, bm, driver)) ||
		    ((flags & APPLY_LOAD_SQL) && apply_mig_read_sql(m, driver)))
			goto fail;
	}
	if (load_callbacks(out, b, driver) < 0)
		goto fail;
	return 0;
fail:
	apply_set_release(out);
	return -1;
}
