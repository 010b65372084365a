#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/exitcodes.h"
#include "../lib/hexindex.h"
#include "../lib/sha256.h"
#include "../lib/checkpoint.h"
#include "../lib/thread.h"
#include "checkpoint.h"
#include "engine.h"

/* The pieces of a row's facts text, in order: labels at even indexes,
 * values at odd ones. */
#define FACTS_PARTS 18

/* r's facts text in pieces, for books_facts to join and facts_match to
 * compare: down receives the down script's "sha256:HEX" (or "none"). */
static void facts_parts(const struct bk_row *r, char down[SHA256_HEX_LEN + 8],
			const char *part[FACTS_PARTS])
{
	if (r->down_sql) {
		char hex[SHA256_HEX_LEN + 1];

		if (sha256_hex(r->down_sql, strlen(r->down_sql), hex))
			down[0] = '\0';
		else {
			memcpy(down, "sha256:", 7);
			memcpy(down + 7, hex, SHA256_HEX_LEN + 1);
		}
	} else {
		memcpy(down, "none", 5);
	}
	part[0] = " facts{state=";
	part[1] = r->state ? r->state : "";
	part[2] = ";checksum=";
	part[3] = r->checksum ? r->checksum : "";
	part[4] = ";down=";
	part[5] = down;
	part[6] = ";bundle=";
	part[7] = r->bundle_id ? r->bundle_id : "";
	part[8] = ";env=";
	part[9] = r->environment ? r->environment : "";
	part[10] = ";name=";
	part[11] = r->name ? r->name : "";
	part[12] = ";kind=";
	part[13] = r->kind ? r->kind : "";
	part[14] = ";irreversible=";
	part[15] = r->irreversible ? "1" : "0";
	part[16] = ";transactional=";
	part[17] = r->transactional ? "1" : "0";
}

char *books_facts(const struct bk_row *r)
{
	char down[SHA256_HEX_LEN + 8];
	const char *part[FACTS_PARTS];
	size_t len = 2, i;
	char *out, *p;

	/* built by hand, not by printf: the guard's verdicts use facts_match */
	facts_parts(r, down, part);
	for (i = 0; i < FACTS_PARTS; i++)
		len += strlen(part[i]);
	p = out = xmalloc(len);
	for (i = 0; i < FACTS_PARTS; i++) {
		size_t l = strlen(part[i]);

		memcpy(p, part[i], l);
		p += l;
	}
	memcpy(p, "}", 2);
	return out;
}

/* 1 when then is exactly books_facts(r)'s text: compared piece by piece
 * as it is walked, with nothing built (this runs for every row on every
 * run; perf14i). */
static int facts_match(const struct bk_row *r, const char *then)
{
	char down[SHA256_HEX_LEN + 8];
	const char *part[FACTS_PARTS];
	size_t left = strlen(then), i;

	facts_parts(r, down, part);
	for (i = 0; i < FACTS_PARTS; i++) {
		size_t l = strlen(part[i]);

		if (l > left || memcmp(then, part[i], l))
			return 0;
		then += l;
		left -= l;
	}
	return left == 1 && then[0] == '}';
}

/* The facts an audit row recorded (pointing into its detail), or NULL. */
static const char *recorded_facts(const struct audit_row *a)
{
	const char *p = NULL, *q;

	for (q = a->detail; q && (q = strstr(q, " facts{")); q++)
		p = q;
	return p;
}

/* "state is 'rolled_back', recorded 'applied'" for the first fields that
 * differ between two facts texts, into out. */
static void facts_diff(const char *now, const char *then, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	now += strlen(" facts{");
	then += strlen(" facts{");
	while (*now && *then && n + 1 < size) {
		size_t ln = strcspn(now, ";}"), lt = strcspn(then, ";}");
		const char *eq = memchr(now, '=', ln);

		if (ln != lt || memcmp(now, then, ln)) {
			const char *teq = memchr(then, '=', lt);
			int k = eq ? (int)(eq - now) : (int)ln;
			int w = snprintf(out + n, size - n, "%s%.*s is '%.*s', the audit chain "
					 "recorded '%.*s'", n ? "; " : "", k, now,
					 eq ? (int)(ln - k - 1) : 0, eq ? eq + 1 : "",
					 teq ? (int)(lt - (teq - then) - 1) : (int)lt,
					 teq ? teq + 1 : then);

			if (w < 0 || (size_t)w >= size - n)
				break;
			n += (size_t)w;
		}
		now += ln + (now[ln] != '\0');
		then += lt + (then[lt] != '\0');
	}
	if (!n && snprintf(out, size, "its facts differ from those the audit chain "
			   "recorded") >= (int)size)
		out[0] = '\0';
}

/* r's facts against those its anchor recorded: 0, or -1 with the error
 * set naming the row and what differs. */
static int facts_check(const struct audit_row *anchor, const struct bk_row *r)
{
	const char *then;
	char *now, diff[600];
	int rc = 0;

	then = recorded_facts(anchor);
	if (!then)
		return 0; /* older books: chain and anchor only */
	if (facts_match(r, then))
		return 0;
	now = books_facts(r);
	if (strcmp(now, then)) {
		facts_diff(now, then, diff, sizeof(diff));
		cairn_error_set("the books were changed outside cairn-apply: migration %s: %s "
				"(audit row %lld)", r->version, diff, anchor->seq);
		rc = -1;
	}
	free(now);
	return rc;
}

/* then begins with the l bytes of s: 1, then moved past them. */
static int eat(const char **then, const char *s, size_t l)
{
	if (strncmp(*then, s, l))
		return 0;
	*then += l;
	return 1;
}

static int eat_str(const char **then, const char *s)
{
	return eat(then, s, strlen(s));
}

/* then begins with digest d as facts_parts writes it, "sha256:" and its
 * 64 lowercase hex digits: 1, then moved past them. */
static int eat_digest(const char **then, const unsigned char d[32])
{
	if (strncmp(*then, "sha256:", 7) || !hex_is(*then + 7, d, 32))
		return 0;
	*then += 7 + SHA256_HEX_LEN;
	return 1;
}

#define EAT_LABEL(t, label) eat(t, label, sizeof(label) - 1)

/* facts_match for a brief of bs: then is exactly books_facts(r)'s text,
 * r the row b was made of, walked piece by piece as facts_match walks it,
 * each piece the very text of r's (driver.h: the digests were r's
 * "sha256:" and lowercase hex, which hex_is compares digit for digit; the
 * rest is r's text; a row kept otherwise is BK_BRIEF_INEXACT, matched by
 * nothing). */
static int brief_facts_match(const struct bk_briefs *bs, const struct bk_brief *b,
			     const char *then)
{
	const char *t = then;
	unsigned f = b->flags;

	return !(f & BK_BRIEF_INEXACT) && EAT_LABEL(&t, " facts{state=") &&
	       eat_str(&t, bs->interned[b->state]) && EAT_LABEL(&t, ";checksum=") &&
	       eat_digest(&t, b->checksum) && EAT_LABEL(&t, ";down=") &&
	       (f & BK_BRIEF_DOWN_NONE ? EAT_LABEL(&t, "none") : eat_digest(&t, b->down)) &&
	       EAT_LABEL(&t, ";bundle=") &&
	       (f & BK_BRIEF_BUNDLE_TEXT ? eat_str(&t, bs->interned[b->bundle_text])
					 : eat_digest(&t, bs->bundles[b->bundle])) &&
	       EAT_LABEL(&t, ";env=") && eat_str(&t, bs->interned[b->env]) &&
	       EAT_LABEL(&t, ";name=") && eat_str(&t, bk_brief_name(b)) &&
	       EAT_LABEL(&t, ";kind=") && eat_str(&t, bs->interned[b->kind]) &&
	       EAT_LABEL(&t, ";irreversible=") && eat(&t, f & BK_BRIEF_IRREVERSIBLE ? "1" : "0", 1) &&
	       EAT_LABEL(&t, ";transactional=") &&
	       eat(&t, f & BK_BRIEF_TRANSACTIONAL ? "1" : "0", 1) && !strcmp(t, "}");
}

/* facts_check's verdict for a brief. Its message is never shown: a brief
 * that fails sends the run to its whole rows, whose guard (facts_check)
 * says what differs (books_plan). */
static int brief_facts_check(const struct audit_row *anchor, const struct bk_briefs *bs,
			     const struct bk_brief *b)
{
	const char *then = recorded_facts(anchor);

	if (!then || brief_facts_match(bs, b, then))
		return 0;
	cairn_error_set("the books were changed outside cairn-apply: migration %s: its facts "
			"differ from those the audit chain recorded (audit row %lld)", b->version,
			anchor->seq);
	return -1;
}

static int row_check(const struct hexindex *ix, const struct audit_row *a, const struct bk_row *r)
{
	const struct audit_row *anchor = audit_find(ix, a, r->audit_hash);

	return anchor ? facts_check(anchor, r) : 0; /* no anchor: audit_verify said so */
}

int books_check(const struct audit_row *a, size_t na, const struct bk_row *rows, size_t nrows)
{
	struct audit_problem *p = NULL;
	struct hexindex ix;
	size_t np, i;
	int rc = 0;

	np = audit_verify(a, na, rows, nrows, &p);
	if (np) {
		cairn_error_set("the books were changed outside cairn-apply: %s%s", p[0].message,
				np > 1 ? " (and more: run 'cairn-apply history --verify')" : "");
		rc = -1;
	}
	audit_index(&ix, a, na);
	for (i = 0; !rc && i < nrows; i++)
		rc = row_check(&ix, a, &rows[i]);
	hexindex_release(&ix);
	audit_problems_free(p, np);
	return rc;
}

size_t books_problems(const struct audit_row *a, size_t na, const struct bk_row *rows,
		      size_t nrows, struct audit_problem **out)
{
	size_t np = audit_verify(a, na, rows, nrows, out), i, alloc = np;
	struct hexindex ix;

	audit_index(&ix, a, na);
	for (i = 0; i < nrows; i++) {
		if (!row_check(&ix, a, &rows[i]))
			continue;
		ALLOC_GROW(*out, np + 1, alloc);
		(*out)[np].seq = 0;
		(*out)[np].message = xstrdup(cairn_error_last());
		np++;
	}
	hexindex_release(&ix);
	return np;
}

static char *field(const char *detail, const char *key)
{
	size_t klen = strlen(key);
	const char *p;

	for (p = detail; p && *p; p = strstr(p, "; ")) {
		if (*p == ';')
			p += 2;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return xstrndup(p + klen + 1, strcspn(p + klen + 1, ";"));
	}
	return xstrdup("");
}

/* out becomes r's identity when r is an identity row. */
static void identity_take(const struct audit_row *r, struct db_identity *out)
{
	char *pol;

	if (!r->action || strcmp(r->action, BOOKS_IDENTITY_ACTION))
		return;
	db_identity_release(out);
	out->project = field(r->detail, "project");
	out->environment = field(r->detail, "environment");
	out->builders = field(r->detail, "builders");
	pol = field(r->detail, "policy");
	out->policy = !strcmp(pol, "1");
	free(pol);
	out->seq = r->seq;
}

void books_identity(const struct audit_row *a, size_t na, struct db_identity *out)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = na; i-- > 0 && !out->seq;)
		identity_take(&a[i], out);
}

/* 32 hex digits drawn at random: the database's id, in its first identity
 * row. Not a secret: a name that two databases initialised in the same
 * second by the same fleet do not share (their rows would hash alike). */
static void db_id_new(char out[33])
{
	unsigned char raw[16];
	char hex[SHA256_HEX_LEN + 1];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		struct timespec ts;
		char seed[96];
		int n;

		clock_gettime(CLOCK_REALTIME, &ts);
		n = snprintf(seed, sizeof(seed), "%lld.%ld.%ld.%p", (long long)ts.tv_sec,
			     ts.tv_nsec, (long)getpid(), (void *)seed);
		sha256_hex(seed, n > 0 && (size_t)n < sizeof(seed) ? (size_t)n : 0, hex);
		memcpy(out, hex, 32);
		out[32] = '\0';
		return;
	}
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = "0123456789abcdef"[raw[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
	}
	out[32] = '\0';
}

char *books_database_id(const struct audit_row *a, size_t na)
{
	size_t i;

	for (i = 0; i < na; i++) {
		char *id;

		if (!a[i].action || strcmp(a[i].action, BOOKS_IDENTITY_ACTION))
			continue;
		id = field(a[i].detail, "id");
		if (*id)
			return id;
		free(id);
		return a[i].hash ? xstrdup(a[i].hash) : NULL;
	}
	return na && a[0].hash ? xstrdup(a[0].hash) : NULL;
}

void db_identity_release(struct db_identity *id)
{
	if (!id)
		return;
	free(id->project);
	free(id->environment);
	free(id->builders);
	memset(id, 0, sizeof(*id));
}

char *books_identity_detail(const char *project, const char *environment, const char *builders)
{
	return xasprintf("project=%s; environment=%s; builders=%s", project ? project : "",
			 environment ? environment : "", builders ? builders : "");
}

/* 1 when the comma-separated list holds id. */
static int list_has(const char *list, const char *id, size_t idlen)
{
	const char *p = list;

	while (p && *p) {
		size_t n = strcspn(p, ",");

		if (n == idlen && !memcmp(p, id, n))
			return 1;
		p += n + (p[n] == ',');
	}
	return 0;
}

/* The builder keys the database trusts (its identity) must have signed
 * the bundle, or the policy must have revoked every one of them (a
 * rotation: the new key listed, the old revoked). EXIT_REFUSED naming
 * both when neither holds. */
static int builders_check(const struct db_identity *id, const struct apply_opts *o,
			  const char *db)
{
	const char *p;
	int signed_by_trusted = 0, all_revoked = 1;

	if (!o->signers || !*id->builders || o->identity_override)
		return EXIT_OK;
	for (p = id->builders; *p;) {
		size_t n = strcspn(p, ",");

		signed_by_trusted |= list_has(o->signers, p, n);
		all_revoked &= list_has(o->revoked, p, n);
		p += n + (p[n] == ',');
	}
	if (signed_by_trusted || all_revoked)
		return EXIT_OK;
	cairn_error_set("refusing to apply to '%s': the bundle is signed by builder key%s %s, "
			"but the database trusts builder key%s %s (its identity); a rotation "
			"revokes the old key in the policy, or an admin's override allows identity",
			db, strchr(o->signers, ',') ? "s" : "", *o->signers ? o->signers : "(none)",
			strchr(id->builders, ',') ? "s" : "", id->builders);
	return EXIT_REFUSED;
}

/* The identity row to write, or NULL; EXIT_REFUSED (error set) when the
 * run claims another environment or project without an override. */
static int identity_decide(struct books_guard *g, const struct apply_opts *o, const char *db,
			   const char *what)
{
	const struct db_identity id = g->id;
	const char *env = o->env && *o->env ? o->env : NULL;
	const char *project = o->project && *o->project ? o->project : NULL;
	int other_env, other_project, rc = EXIT_OK;

	g->opts = *o;
	if (!env && id.seq && *id.environment)
		g->opts.env = g->env = xstrdup(id.environment);
	if (!id.seq) {
		char dbid[33];

		db_id_new(dbid);
		if (env)
			g->record = xasprintf("project=%s; environment=%s; builders=%s%s; id=%s%s",
					      project ? project : "", env,
					      o->builders ? o->builders : "",
					      o->policy ? "; policy=1" : "", dbid,
					      g->na ? "; adopted: the books had no identity" : "");
		goto out;
	}
	other_env = env && *id.environment && strcmp(env, id.environment);
	other_project = project && *id.project && strcmp(project, id.project);
	if ((other_env || other_project) && !o->identity_override) {
		if (other_env)
			cairn_error_set("refusing to %s '%s': the database belongs to environment "
					"'%s' (project '%s'), not '%s'; moving it takes an admin's "
					"override allowing identity", what, db, id.environment,
					id.project, env);
		else
			cairn_error_set("refusing to %s '%s': the database belongs to project '%s' "
					"(environment '%s'), not '%s'; moving it takes an admin's "
					"override allowing identity", what, db, id.project,
					id.environment, project);
		rc = EXIT_REFUSED;
		goto out;
	}
	if (id.policy && !o->policy) {
		cairn_error_set("refusing to %s '%s': the database is under the policy of "
				"environment '%s' (project '%s'; its identity, audit row %lld, records "
				"policy=1), and this run has no applier's config: run it with "
				"--config FILE (or $CAIRN_APPLY_CONFIG, ./cairn-apply.yaml) and --env "
				"%s; --db and --key alone do not skip the policy", what, db,
				id.environment, id.project, id.seq, id.environment);
		rc = EXIT_REFUSED;
		goto out;
	}
	if ((rc = builders_check(&id, o, db)) != EXIT_OK)
		goto out;
	if (other_env || other_project || (project && !*id.project) || (env && !*id.environment) ||
	    (o->builders && *o->builders && strcmp(o->builders, id.builders)) ||
	    (o->policy && !id.policy))
		g->record = xasprintf("project=%s; environment=%s; builders=%s%s; was: project=%s; "
				      "environment=%s; builders=%s%s%s",
				      project ? project : id.project, env ? env : id.environment,
				      o->builders && *o->builders ? o->builders : id.builders,
				      o->policy || id.policy ? "; policy=1" : "",
				      id.project, id.environment, id.builders,
				      id.policy ? "; policy=1" : "",
				      other_env || other_project ? "; by an admin's override" : "");
out:
	return rc;
}

/* The chain's head against the checkpoint cp (NULL: none), under the run
 * lock: the chain a of n rows when read whole, else (a NULL, scanned) n
 * rows, the one at the checkpoint's length having seq and hash. */
static int head_check(const struct checkpoint *cp, const struct audit_row *a, size_t n,
		      long long seq, const char *hash, const char *db)
{
	char why[CAIRN_ERRMSG_MAX];

	if (!cp)
		return EXIT_OK;
	if ((a ? checkpoint_rows_check(cp, a, n) : checkpoint_head_check(cp, n, seq, hash)) == 0)
		return EXIT_OK;
	if (snprintf(why, sizeof(why), "%s", cairn_error_last()) < 0)
		why[0] = '\0';
	cairn_error_set("checkpoint mismatch: %s; the books of %s do not hold what was "
			"checkpointed on %s (signed by %s)", why, db, cp->time, cp->key);
	return EXIT_STATE;
}

/* books_check as the rows stream by (driver audit_scan): every row's
 * link, sequence and hash checked, and the facts of each bookkeeping row
 * compared with its anchor's when the anchor passes, so no audit row is
 * kept (at 20,000 migrations they were ~14 MiB of a run's memory). The
 * same verdict and the same first message as books_check. */
struct guard_scan {
	const struct bk_row *rows;
	const struct bk_briefs *bs;    /* instead of rows (books_guard_brief) */
	struct hexindex by_hash;       /* rows by audit_hash */
	size_t nrows, n;               /* n: audit rows seen */
	unsigned char *anchored;
	char *mismatch;                /* the facts check message of the first row (in
					* rows' order) whose facts differ, or NULL: the
					* one shown (an array a row: 0.16 MB at 20,000) */
	size_t mismatch_row;
	char *prev;                    /* the last row's hash, in a buffer kept */
	size_t prev_cap;
	struct audit_problem *p;
	size_t np, alloc;
	struct db_identity *id;
	long long head_at;             /* the checkpoint's length: that row's seq and hash */
	long long head_seq;
	char *head;
};

/* s->prev becomes hash (any length: an edited row's hash is compared as
 * it stands), in a buffer reused from row to row. */
static void keep_prev(struct guard_scan *s, const char *hash)
{
	size_t len = strlen(hash) + 1;

	if (len > s->prev_cap) {
		s->prev_cap = len < 80 ? 80 : len;
		free(s->prev);
		s->prev = xmalloc(s->prev_cap);
	}
	memcpy(s->prev, hash, len);
}

static int scan_row(void *ctx, const struct audit_row *r)
{
	struct guard_scan *s = ctx;
	unsigned char d[32];
	const unsigned char *hash = hexdigest_parse(r->hash, d) == 0 ? d : NULL;
	size_t k;

	/* r->hash parsed once, for its check and to find its anchored rows */
	audit_check_parsed(r, s->n++, s->prev, hash, &s->p, &s->np, &s->alloc);
	keep_prev(s, r->hash ? r->hash : "");
	identity_take(r, s->id);
	if (s->head_at && (long long)s->n == s->head_at) {
		s->head_seq = r->seq;
		s->head = xstrdup(r->hash ? r->hash : "");
	}
	/* the rows anchored here */
	for (k = hexindex_first_parsed(&s->by_hash, r->hash, hash); k;
	     k = hexindex_next(&s->by_hash, k)) {
		size_t j = k - 1;

		if (s->anchored[j]++)
			continue;
		if ((s->bs ? brief_facts_check(r, s->bs, &s->bs->b[j])
			   : facts_check(r, &s->rows[j])) < 0 &&
		    (!s->mismatch || j < s->mismatch_row)) {
			free(s->mismatch);
			s->mismatch = xstrdup(cairn_error_last());
			s->mismatch_row = j;
		}
	}
	return 0;
}

/* The scan's checks on a second thread (perf14i): this thread steps the
 * driver's rows, under the run lock as before, and copies each into a
 * batch; a helper thread runs scan_row on the copies, in the same order,
 * one batch after another, so the verdict and its message are those of
 * scan_row called in place. Only which CPU hashes moved: the guard ran
 * alone on one CPU after the early open's thread had ended (~17 % of a
 * nothing-pending apply's wall time at 5,000 migrations), and of its cost
 * stepping SQLite and copying is the smaller part, hashing each row, each
 * down script and comparing facts the larger. At most PIPE_BATCHES batches
 * are held (~200 KiB), whatever the chain's length. */
#define PIPE_BATCHES 4
#define PIPE_ROWS 64
#define PIPE_TEXT (48 * 1024)
/* Fewer bookkeeping rows than this: the scan calls scan_row in place. A
 * thread started and joined costs more than checking a short chain
 * gains (fleets apply to many small databases). */
#define PIPE_MIN_ROWS (2 * PIPE_ROWS)

struct pipe_batch {
	struct audit_row row[PIPE_ROWS];
	size_t n, used, cap;
	char *text;                    /* the rows' strings */
};

struct scan_pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pipe_batch b[PIPE_BATCHES];
	size_t filled, checked;        /* batches handed over, batches checked */
	int done;                      /* no batch follows */
	struct guard_scan *s;
};

/* The batch being filled handed to the helper; waits while every slot
 * holds a batch it has not checked. */
static void pipe_hand_over(struct scan_pipe *q)
{
	pthread_mutex_lock(&q->mu);
	q->filled++;
	pthread_cond_broadcast(&q->cv);
	while (q->filled - q->checked >= PIPE_BATCHES)
		pthread_cond_wait(&q->cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

/* r copied into the batch being filled (handed over first when full). */
static int pipe_row(void *ctx, const struct audit_row *r)
{
	struct scan_pipe *q = ctx;
	struct pipe_batch *b = &q->b[q->filled % PIPE_BATCHES];
	const char *text[11] = {
		r->at, r->actor, r->action, r->version, r->from_version, r->to_version,
		r->bundle_id, r->environment, r->detail, r->prev_hash, r->hash,
	};
	size_t len[11], total = 0;
	struct audit_row *c;
	char *p;
	int i;

	for (i = 0; i < 11; i++) {
		len[i] = text[i] ? strlen(text[i]) : 0;
		total += len[i] + 1;
	}
	if (b->n == PIPE_ROWS || (b->n && b->used + total > b->cap)) {
		pipe_hand_over(q);
		b = &q->b[q->filled % PIPE_BATCHES];
		b->n = b->used = 0;
	}
	if (total > b->cap) { /* only when empty: no row points into it yet */
		free(b->text);
		b->cap = total > PIPE_TEXT ? total : PIPE_TEXT;
		b->text = xmalloc(b->cap);
	}
	c = &b->row[b->n++];
	memset(c, 0, sizeof(*c));
	c->seq = r->seq;
	{
		char **const field[11] = {
			&c->at, &c->actor, &c->action, &c->version, &c->from_version,
			&c->to_version, &c->bundle_id, &c->environment, &c->detail,
			&c->prev_hash, &c->hash,
		};

		p = b->text + b->used;
		for (i = 0; i < 11; i++) {
			memcpy(p, text[i] ? text[i] : "", len[i]);
			p[len[i]] = '\0';
			*field[i] = p;
			p += len[i] + 1;
		}
	}
	b->used += total;
	return 0;
}

/* The helper: scan_row on each batch's rows, in order, until the last. */
static void *pipe_check(void *arg)
{
	struct scan_pipe *q = arg;
	size_t k = 0, i;

	for (;;) {
		struct pipe_batch *b;

		pthread_mutex_lock(&q->mu);
		while (k == q->filled && !q->done)
			pthread_cond_wait(&q->cv, &q->mu);
		if (k == q->filled) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		pthread_mutex_unlock(&q->mu);
		b = &q->b[k % PIPE_BATCHES];
		for (i = 0; i < b->n; i++)
			scan_row(q->s, &b->row[i]);
		pthread_mutex_lock(&q->mu);
		q->checked = ++k;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
	}
}

/* drv->audit_scan with scan_row run on the helper thread; on this one
 * for short books or when no thread starts. 0, or -1 with the error set. */
static int scan_piped(struct db *db, const struct driver *drv, struct guard_scan *s)
{
	struct scan_pipe q;
	pthread_t t;
	int rc, i;

	if (s->nrows < PIPE_MIN_ROWS)
		return drv->audit_scan(db, scan_row, s);
	memset(&q, 0, sizeof(q));
	q.s = s;
	if (pthread_mutex_init(&q.mu, NULL))
		return drv->audit_scan(db, scan_row, s);
	if (pthread_cond_init(&q.cv, NULL)) {
		pthread_mutex_destroy(&q.mu);
		return drv->audit_scan(db, scan_row, s);
	}
	if (thread_start_apart(&t, pipe_check, &q)) {
		rc = drv->audit_scan(db, scan_row, s);
		goto out;
	}
	rc = drv->audit_scan(db, pipe_row, &q);
	pthread_mutex_lock(&q.mu);
	if (q.b[q.filled % PIPE_BATCHES].n) /* the last batch, partly filled */
		q.filled++;
	q.done = 1;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	pthread_join(t, NULL);
out:
	for (i = 0; i < PIPE_BATCHES; i++)
		free(q.b[i].text);
	pthread_cond_destroy(&q.cv);
	pthread_mutex_destroy(&q.mu);
	return rc;
}

static int guard_scan(struct books_guard *g, struct db *db, const struct driver *drv,
		      const struct bk_row *rows, const struct bk_briefs *bs, size_t nrows,
		      const struct checkpoint *cp, const char *name)
{
	struct guard_scan s;
	size_t i;
	int rc = EXIT_OK;

	memset(&s, 0, sizeof(s));
	s.rows = rows;
	s.bs = bs;
	s.nrows = nrows;
	if (bs && nrows)
		hexindex_init_at(&s.by_hash, nrows, bs->b->audit_hash, sizeof(*bs->b));
	else
		hexindex_init(&s.by_hash, nrows);
	for (i = 0; i < nrows; i++)
		if (bs)
			hexindex_add_at(&s.by_hash, i);
		else
			hexindex_add(&s.by_hash, i, rows[i].audit_hash);
	s.anchored = xcalloc(nrows ? nrows : 1, 1);
	keep_prev(&s, AUDIT_ZERO_HASH);
	s.id = &g->id;
	s.head_at = cp ? cp->length : 0;
	if (scan_piped(db, drv, &s)) {
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	g->na = s.n;
	if ((rc = head_check(cp, NULL, s.n, s.head_seq, s.head, name)) != EXIT_OK)
		goto out;
	for (i = 0; i < nrows; i++) {
		char *msg = bs ? (s.anchored[i] ? NULL : xasprintf("migration %s: no audit row "
				 "recorded its last change", bs->b[i].version))
				   : audit_anchor_problem(&rows[i], s.anchored[i] != 0);

		if (msg) {
			ALLOC_GROW(s.p, s.np + 1, s.alloc);
			s.p[s.np].seq = 0;
			s.p[s.np++].message = msg;
		}
	}
	if (s.np) {
		cairn_error_set("the books were changed outside cairn-apply: %s%s", s.p[0].message,
				s.np > 1 ? " (and more: run 'cairn-apply history --verify')" : "");
		rc = EXIT_STATE;
	}
	if (!rc && s.mismatch) {
		cairn_error_set("%s", s.mismatch);
		rc = EXIT_STATE;
	}
out:
	free(s.mismatch);
	free(s.anchored);
	hexindex_release(&s.by_hash);
	free(s.prev);
	free(s.head);
	audit_problems_free(s.p, s.np);
	return rc;
}

int books_guard(struct books_guard *g, struct db *db, const struct driver *drv,
		const struct apply_opts *o, const struct bk_row *rows, size_t nrows, int exists,
		const char *what)
{
	const struct checkpoint *cp = o->checkpoint;
	const char *name = drv->display_name(db);
	int rc;

	memset(g, 0, sizeof(*g));
	if (exists && drv->audit_scan) {
		if ((rc = guard_scan(g, db, drv, rows, NULL, nrows, cp, name)) != EXIT_OK)
			return rc;
	} else {
		if (exists && drv->audit_read(db, 0, &g->a, &g->na))
			return EXIT_ENVIRONMENT;
		if ((rc = head_check(cp, g->a, g->na, 0, NULL, name)) != EXIT_OK)
			return rc;
		if (books_check(g->a, g->na, rows, nrows) < 0)
			return EXIT_STATE;
		books_identity(g->a, g->na, &g->id);
		/* the rows were needed for these checks only */
		audit_rows_free(g->a, g->na);
		g->a = NULL;
	}
	return identity_decide(g, o, name, what);
}

int books_guard_brief(struct books_guard *g, struct db *db, const struct driver *drv,
		      const struct apply_opts *o, const struct bk_briefs *bs, const char *what)
{
	const char *name = drv->display_name(db);
	size_t i;
	int rc;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < bs->n; i++)
		if (bs->b[i].flags & (BK_BRIEF_HASH_ODD | BK_BRIEF_INEXACT)) {
			/* never shown: the guard of the whole rows speaks (books_plan) */
			cairn_error_set("the books were changed outside cairn-apply: migration %s: "
					"its audit hash or facts are not as cairn-apply writes them",
					bs->b[i].version);
			return EXIT_STATE;
		}
	if ((rc = guard_scan(g, db, drv, NULL, bs, bs->n, o->checkpoint, name)) != EXIT_OK)
		return rc;
	return identity_decide(g, o, name, what);
}

void books_guard_release(struct books_guard *g)
{
	if (!g)
		return;
	audit_rows_free(g->a, g->na);
	db_identity_release(&g->id);
	free(g->record);
	free(g->env);
	memset(g, 0, sizeof(*g));
}
