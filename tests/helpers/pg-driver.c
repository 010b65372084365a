/* pg-driver: drives drivers/postgres.c against the real test server, the way
 * the apply engine calls it (git's t/helper/test-tool). It reads migrations
 * from plain directories instead of a bundle, so the driver's contract can
 * be tested on its own: locking, one transaction per migration with its
 * bookkeeping, statement-by-statement runs, error mapping, data loads.
 *
 *   pg-driver exec DSN FILE [--split] [--tx] [--timeouts ST LK]
 *   pg-driver lock DSN TIMEOUT_MS HOLD_MS
 *   pg-driver migrate DSN [--lock-timeout MS] [--pause-ms MS] DIR...
 *   pg-driver status DSN
 *   pg-driver rollback DSN N
 *   pg-driver display DSN
 *
 * A migration directory holds up.sql, down.sql, and optionally "notx"
 * (transaction: false), "timeouts" ("STATEMENT_MS LOCK_MS"), data/ files.
 * Exit codes follow lib/exitcodes.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../drivers/driver.h"
#include "../../lib/buf.h"
#include "../../lib/error.h"
#include "../../lib/exitcodes.h"
#include "../../lib/sha256.h"
#include "../../lib/util.h"

extern const struct driver driver_postgres;
static const struct driver *drv = &driver_postgres;

static void rows_free(struct bk_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct bk_row *r = &rows[i];

		free(r->version), free(r->name), free(r->checksum), free(r->state);
		free(r->bundle_id), free(r->environment), free(r->applied_at);
		free(r->applied_by), free(r->down_sql), free(r->kind), free(r->error);
		free(r->audit_hash);
	}
	free(rows);
}

static void audit_free(struct audit_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct audit_row *a = &rows[i];

		free(a->at), free(a->actor), free(a->action), free(a->version);
		free(a->from_version), free(a->to_version), free(a->bundle_id);
		free(a->environment), free(a->detail), free(a->prev_hash), free(a->hash);
	}
	free(rows);
}

/* "FILE:LINE: error: CODE: message (detail; hint)" */
static void report(const char *file, const char *sql, size_t len, const struct driver_error *e)
{
	if (e->offset >= 0)
		fprintf(stderr, "pg-driver: %s:%d: error: %s\n", file,
			line_of_offset(sql, len, (size_t)e->offset), cairn_error_last());
	else
		fprintf(stderr, "pg-driver: %s: error: %s\n", file, cairn_error_last());
}

static int open_db(struct db **db, const char *dsn, unsigned flags)
{
	if (!drv->accepts(dsn)) {
		fprintf(stderr, "pg-driver: not a PostgreSQL DSN\n");
		return EXIT_USAGE;
	}
	if (drv->open(db, dsn, flags) < 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	return 0;
}

/* Data loads read from the migration's directory, in 64 KiB chunks. */
static const char *data_dir;

static int stream_file(void *data_ctx, const char *name,
		       int (*sink)(void *sink_ctx, const void *data, size_t len), void *sink_ctx)
{
	char *path = path_join(data_dir, name);
	FILE *f = fopen(path, "rb");
	static char chunk[65536];
	size_t n;
	int rc = 0;

	(void)data_ctx;
	if (!f) {
		cairn_error_set("cannot open '%s'", path);
		free(path);
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (sink(sink_ctx, chunk, n) != 0) {
			rc = -1;
			break;
		}
	fclose(f);
	free(path);
	return rc;
}

static int cmd_exec(int argc, char **argv)
{
	struct db *db = NULL;
	struct buf sql = BUF_INIT;
	struct driver_exec x;
	int i, tx = 0, rc;
	unsigned long long st = 0, lk = 0;

	memset(&x, 0, sizeof(x));
	for (i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--split"))
			x.flags |= DRIVER_EXEC_SPLIT;
		else if (!strcmp(argv[i], "--tx"))
			tx = 1;
		else if (!strcmp(argv[i], "--timeouts") && i + 2 < argc) {
			st = strtoull(argv[++i], NULL, 10);
			lk = strtoull(argv[++i], NULL, 10);
		}
	}
	if (read_file(argv[3], 0, &sql) < 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	if ((rc = open_db(&db, argv[2], 0)))
		goto out;
	{
		char *dir = xstrdup(argv[3]);
		char *slash = strrchr(dir, '/');

		if (slash) {
			*slash = '\0';
		} else {
			free(dir);
			dir = xstrdup(".");
		}
		data_dir = dir;
	}
	x.stream_data = stream_file;
	rc = EXIT_FAILED;
	if (tx && drv->begin(db) < 0)
		goto out;
	if (drv->set_timeouts(db, st, lk) < 0)
		goto out;
	if (drv->exec(db, sql.ptr, sql.len, &x) < 0) {
		report(argv[3], sql.ptr, sql.len, &x.err);
		if (tx)
			drv->rollback(db);
		goto out;
	}
	if (tx && drv->commit(db) < 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		goto out;
	}
	printf("statements %lu changes %llu\n", x.statements, x.changes);
	rc = 0;
out:
	free((char *)data_dir);
	data_dir = NULL;
	drv->close(db);
	buf_release(&sql);
	return rc;
}

static int cmd_lock(int argc, char **argv)
{
	struct db *db = NULL;
	int rc;

	if (argc < 5)
		return EXIT_USAGE;
	if ((rc = open_db(&db, argv[2], 0)))
		return rc;
	rc = drv->lock(db, strtoull(argv[3], NULL, 10));
	if (rc < 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		drv->close(db);
		return rc == DRIVER_BUSY ? EXIT_LOCKED : EXIT_ENVIRONMENT;
	}
	printf("locked\n");
	fflush(stdout);
	usleep((useconds_t)strtoul(argv[4], NULL, 10) * 1000);
	rc = drv->unlock(db) < 0 ? EXIT_ENVIRONMENT : 0;
	drv->close(db);
	return rc;
}

static int head_known;
static long long head_seq;
static char head_hash[SHA256_HEX_LEN + 1];

/* The audit chain as the engine keeps it: each row's hash covers its
 * fields and the previous row's hash. */
static int audit(struct db *db, const char *action, const char *version, const char *detail,
		 char hash_out[SHA256_HEX_LEN + 1])
{
	struct audit_row *last = NULL, row;
	size_t n = 0;
	char prev[SHA256_HEX_LEN + 1], at[32];
	struct buf b = BUF_INIT;
	time_t t = time(NULL);
	int rc;

	/* the chain's head is read once per run and then kept, as the engine
	 * does under the lock */
	if (!head_known) {
		if (drv->audit_read(db, 1, &last, &n) < 0)
			return -1;
		snprintf(head_hash, sizeof(head_hash), "%s", n ? last->hash : "0000000000000000000000000000000000000000000000000000000000000000");
		head_seq = n ? last->seq : 0;
		head_known = 1;
	}
	snprintf(prev, sizeof(prev), "%s", head_hash);
	memset(&row, 0, sizeof(row));
	row.seq = head_seq + 1;
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	row.at = at;
	row.actor = "test@host";
	row.action = (char *)action;
	row.version = (char *)version;
	row.from_version = "";
	row.to_version = (char *)version;
	row.bundle_id = "";
	row.environment = "test";
	row.detail = (char *)detail;
	row.prev_hash = prev;
	buf_printf(&b, "%lld\n%s\n%s\n%s\n%s\n%s\n%s", row.seq, at, action, version, detail, prev,
		   "end");
	sha256_hex(b.ptr, b.len, hash_out);
	buf_release(&b);
	row.hash = hash_out;
	rc = drv->audit_append(db, &row);
	if (rc == 0) {
		/* provisional until the transaction commits; a failed commit
		 * ends the run, so the cache never outlives a rollback */
		head_seq = row.seq;
		snprintf(head_hash, sizeof(head_hash), "%s", hash_out);
	}
	audit_free(last, n);
	return rc;
}

struct progress {
	struct db *db;
	struct bk_row *row;
};

static int on_statement(void *ctx, unsigned long index, size_t offset)
{
	struct progress *p = ctx;
	const char *pause = getenv("PG_DRIVER_PAUSE_BEFORE");

	(void)offset;
	p->row->statement = (long long)index;
	if (drv->bk_put(p->db, p->row) < 0)
		return -1;
	/* lets a test kill us at a known point */
	if (pause && (unsigned long)atol(pause) == index) {
		printf("paused at statement %lu\n", index);
		fflush(stdout);
		sleep(600);
	}
	return 0;
}

static int migrate_one(struct db *db, const char *dir, const struct bk_row *old)
{
	char *up_path = path_join(dir, "up.sql"), *down_path = path_join(dir, "down.sql");
	char *notx = path_join(dir, "notx"), *tpath = path_join(dir, "timeouts");
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	struct buf up = BUF_INIT, down = BUF_INIT, tm = BUF_INIT;
	struct driver_exec x;
	struct bk_row row;
	struct progress prog = { db, &row };
	char hash[SHA256_HEX_LEN + 1], sum[SHA256_HEX_LEN + 1], *version, *checksum;
	unsigned long long st = 0, lk = 0;
	int rc = EXIT_FAILED;

	memset(&x, 0, sizeof(x));
	memset(&row, 0, sizeof(row));
	version = xstrndup(base, strcspn(base, "_"));
	if (read_file(up_path, 0, &up) < 0 || read_file(down_path, 0, &down) < 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	if (read_file(tpath, 0, &tm) == 0)
		sscanf(buf_cstr(&tm), "%llu %llu", &st, &lk);
	sha256_hex(up.ptr ? up.ptr : "", up.len, sum);
	checksum = xasprintf("sha256:%s", sum);
	if (old && strcmp(old->checksum, checksum)) {
		fprintf(stderr, "pg-driver: drift: %s applied with %s, now %s\n", version,
			old->checksum, checksum);
		free(checksum);
		rc = EXIT_STATE;
		goto out;
	}
	row.version = version;
	row.name = (char *)base;
	row.checksum = checksum;
	row.down_sql = down.ptr ? down.ptr : "";
	row.kind = "schema";
	row.statement = -1;
	row.transactional = !path_exists(notx);
	row.applied_by = "test@host";
	row.environment = "test";
	data_dir = dir;
	x.stream_data = stream_file;
	if (row.transactional) {
		if (drv->begin(db) < 0 || drv->set_timeouts(db, st, lk) < 0)
			goto fail;
		if (drv->exec(db, up.ptr ? up.ptr : "", up.len, &x) < 0) {
			report(up_path, up.ptr, up.len, &x.err);
			drv->rollback(db);
			fprintf(stderr, "pg-driver: %s rolled back\n", version);
			goto out_sum;
		}
		row.state = BK_APPLIED;
		row.applied_at = "now";
		if (audit(db, "apply", version, checksum, hash) < 0)
			goto fail;
		row.audit_hash = hash;
		if (drv->bk_put(db, &row) < 0 || drv->commit(db) < 0)
			goto fail;
	} else {
		row.state = BK_IN_PROGRESS;
		if (drv->bk_put(db, &row) < 0 || drv->set_timeouts(db, st, lk) < 0)
			goto fail;
		x.flags = DRIVER_EXEC_SPLIT;
		x.on_statement = on_statement;
		x.ctx = &prog;
		if (drv->exec(db, up.ptr ? up.ptr : "", up.len, &x) < 0) {
			report(up_path, up.ptr, up.len, &x.err);
			row.state = BK_FAILED;
			row.error = (char *)cairn_error_last();
			drv->bk_put(db, &row);
			goto out_sum;
		}
		if (drv->set_timeouts(db, 0, 0) < 0 || drv->begin(db) < 0)
			goto fail;
		row.state = BK_APPLIED;
		row.applied_at = "now";
		row.statement = -1;
		if (audit(db, "apply", version, checksum, hash) < 0)
			goto fail;
		row.audit_hash = hash;
		if (drv->bk_put(db, &row) < 0 || drv->commit(db) < 0)
			goto fail;
	}
	printf("applied %s\n", version);
	fflush(stdout);
	if (getenv("PG_DRIVER_PAUSE_MS"))
		usleep((useconds_t)atol(getenv("PG_DRIVER_PAUSE_MS")) * 1000);
	rc = 0;
	goto out_sum;
fail:
	fprintf(stderr, "pg-driver: %s: %s\n", version, cairn_error_last());
	drv->rollback(db);
out_sum:
	free(checksum);
out:
	data_dir = NULL;
	free(version);
	free(up_path), free(down_path), free(notx), free(tpath);
	buf_release(&up), buf_release(&down), buf_release(&tm);
	return rc;
}

static int cmd_migrate(int argc, char **argv)
{
	struct db *db = NULL;
	struct bk_row *rows = NULL;
	size_t n = 0, k;
	unsigned long long lock_ms = 0;
	int i = 3, rc;

	if (i + 1 < argc && !strcmp(argv[i], "--lock-timeout")) {
		lock_ms = strtoull(argv[i + 1], NULL, 10);
		i += 2;
	}
	if ((rc = open_db(&db, argv[2], 0)))
		return rc;
	rc = drv->lock(db, lock_ms);
	if (rc < 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		drv->close(db);
		return rc == DRIVER_BUSY ? EXIT_LOCKED : EXIT_ENVIRONMENT;
	}
	rc = EXIT_ENVIRONMENT;
	if (drv->bk_ensure(db) < 0 || drv->bk_read(db, &rows, &n) < 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		goto out;
	}
	for (k = 0; k < n; k++) {
		if (!strcmp(rows[k].state, BK_IN_PROGRESS) || !strcmp(rows[k].state, BK_FAILED)) {
			fprintf(stderr,
				"pg-driver: %s is %s at statement %lld (transaction: false): it "
				"stopped halfway; check the database, then run 'cairn-apply repair "
				"%s --mark-applied' or '--mark-rolled-back'\n",
				rows[k].version, rows[k].state, rows[k].statement + 1, rows[k].version);
			rc = EXIT_STATE;
			goto out;
		}
	}
	for (; i < argc; i++) {
		const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
		size_t vl = strcspn(base, "_");
		const struct bk_row *old = NULL;

		for (k = 0; k < n; k++)
			if (strlen(rows[k].version) == vl && !strncmp(rows[k].version, base, vl) &&
			    !strcmp(rows[k].state, BK_APPLIED))
				old = &rows[k];
		if (old && !getenv("PG_DRIVER_CHECK_DRIFT"))
			continue;
		if ((rc = migrate_one(db, argv[i], old)) == EXIT_STATE)
			goto out;
		if (rc)
			goto out;
		if (old)
			continue;
	}
	rc = 0;
out:
	rows_free(rows, n);
	if (drv->unlock(db) < 0 && rc == 0) {
		fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
	}
	drv->close(db);
	return rc;
}

static int cmd_status(int argc, char **argv)
{
	struct db *db = NULL;
	struct bk_row *rows = NULL;
	struct audit_row *a = NULL;
	size_t n = 0, na = 0, k;
	int exists = 0, rc;

	(void)argc;
	if ((rc = open_db(&db, argv[2], DRIVER_OPEN_READONLY)))
		return rc;
	rc = EXIT_ENVIRONMENT;
	if (drv->bk_exists(db, &exists) < 0)
		goto fail;
	if (!exists) {
		printf("no bookkeeping yet\n");
		rc = 0;
		goto out;
	}
	if (drv->bk_read(db, &rows, &n) < 0 || drv->audit_read(db, 0, &a, &na) < 0)
		goto fail;
	for (k = 0; k < n; k++)
		printf("%s %s %s statement=%lld\n", rows[k].version, rows[k].name, rows[k].state,
		       rows[k].statement);
	printf("audit %zu rows\n", na);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
out:
	rows_free(rows, n);
	audit_free(a, na);
	drv->close(db);
	return rc;
}

static int cmd_rollback(int argc, char **argv)
{
	struct db *db = NULL;
	struct bk_row *rows = NULL;
	size_t n = 0, k, done = 0, want;
	int rc;

	if (argc < 4)
		return EXIT_USAGE;
	want = (size_t)atol(argv[3]);
	if ((rc = open_db(&db, argv[2], 0)))
		return rc;
	rc = EXIT_FAILED;
	if (drv->lock(db, 0) < 0 || drv->bk_read(db, &rows, &n) < 0)
		goto fail;
	for (k = n; k-- > 0 && done < want;) {
		struct driver_exec x;
		char hash[SHA256_HEX_LEN + 1];

		if (strcmp(rows[k].state, BK_APPLIED))
			continue;
		memset(&x, 0, sizeof(x));
		if (drv->begin(db) < 0)
			goto fail;
		if (drv->exec(db, rows[k].down_sql, strlen(rows[k].down_sql), &x) < 0) {
			report("down.sql", rows[k].down_sql, strlen(rows[k].down_sql), &x.err);
			drv->rollback(db);
			goto out;
		}
		free(rows[k].state);
		rows[k].state = xstrdup(BK_ROLLED_BACK);
		if (audit(db, "rollback", rows[k].version, "", hash) < 0)
			goto fail;
		free(rows[k].audit_hash);
		rows[k].audit_hash = xstrdup(hash);
		if (drv->bk_put(db, &rows[k]) < 0 || drv->commit(db) < 0)
			goto fail;
		printf("rolled back %s\n", rows[k].version);
		done++;
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "pg-driver: %s\n", cairn_error_last());
	drv->rollback(db);
out:
	rows_free(rows, n);
	drv->unlock(db);
	drv->close(db);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: pg-driver (exec|lock|migrate|status|rollback|display) DSN ...\n");
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "exec") && argc >= 4)
		return cmd_exec(argc, argv);
	if (!strcmp(argv[1], "lock"))
		return cmd_lock(argc, argv);
	if (!strcmp(argv[1], "migrate"))
		return cmd_migrate(argc, argv);
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc, argv);
	if (!strcmp(argv[1], "rollback"))
		return cmd_rollback(argc, argv);
	if (!strcmp(argv[1], "display")) {
		struct db *db = NULL;
		int rc = open_db(&db, argv[2], DRIVER_OPEN_READONLY);

		if (rc)
			return rc;
		printf("%s\n", drv->display_name(db));
		drv->close(db);
		return 0;
	}
	fprintf(stderr, "pg-driver: unknown command '%s'\n", argv[1]);
	return EXIT_USAGE;
}
