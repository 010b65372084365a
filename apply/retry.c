/* Lock-safe DDL (issue #22): a transactional migration whose statement
 * timed out waiting for a lock is rolled back and run again, after a pause
 * that grows with each attempt, for as long as attempts start within the
 * environment's budget.
 *
 * Why the whole transaction and not a savepoint per statement: a savepoint
 * keeps every lock the earlier statements took (an ALTER TABLE's ACCESS
 * EXCLUSIVE on another table, say) while the migration waits and pauses,
 * and every query on those tables queues behind it for the whole budget:
 * the outage lock_timeout is there to prevent. Rolled back, the migration
 * holds nothing between attempts, other sessions wait at most one
 * lock_timeout per attempt, and its statements run again from the start,
 * which DDL in a transaction allows (nothing of the attempt was kept). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "engine.h"
#include "engine-int.h"

#define RETRY_FIRST_PAUSE_MS 100LL /* doubled per attempt ... */
#define RETRY_MAX_PAUSE_MS 5000LL  /* ... up to this */

/* The pause after attempt n (1-based): half the backoff fixed, half at
 * random ("equal jitter"), so two appliers that collided do not collide
 * again in step, and no pause is near zero. */
static long long retry_pause(unsigned n, unsigned long long *seed)
{
	long long cap = RETRY_FIRST_PAUSE_MS;
	unsigned i;

	for (i = 1; i < n && cap < RETRY_MAX_PAUSE_MS; i++)
		cap *= 2;
	if (cap > RETRY_MAX_PAUSE_MS)
		cap = RETRY_MAX_PAUSE_MS;
	/* xorshift64: no state shared with anything else in the process */
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return cap / 2 + (long long)(*seed % (unsigned long long)(cap / 2 + 1));
}

int pause_ms(const struct apply_opts *o, long long ms)
{
	while (ms > 0) {
		long long slice = ms < 50 ? ms : 50;
		struct timespec ts = { (time_t)(slice / 1000), (long)(slice % 1000) * 1000000L };

		if (o->interrupted && *o->interrupted)
			return 1;
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return o->interrupted && *o->interrupted;
}

/* The attempt that timed out, on the audit chain in a transaction of its
 * own (the migration's rolled back): what timed out, who held the locks,
 * the pause. Best effort, as audit_failure: the retry goes on either way. */
static void audit_retry(struct run *r, const struct apply_set *set, const struct apply_mig *m,
			unsigned attempt, const char *err, const char *who, long long pause)
{
	char keep[CAIRN_ERRMSG_MAX];
	char *detail;

	snprintf(keep, sizeof(keep), "%s", cairn_error_last());
	detail = xasprintf("attempt %u: %s; %s%s; %s", attempt, err,
			   who ? "held by " : "holder not seen", who ? who : "",
			   pause >= 0 ? "retrying" : "retry budget spent");
	if (!tx_begin(r)) {
		if (!audit_add(r, "lock-retry", m->version, set->bundle_id, r->current, detail, NULL))
			tx_commit(r);
		else
			tx_rollback(r);
	}
	free(detail);
	cairn_error_set("%s", keep);
}

/* Lines of who (one per session) joined with "; " for one audit line. */
static char *one_line(const char *who)
{
	char *s, *p;

	if (!who)
		return NULL;
	s = xstrdup(who);
	for (p = s; *p; p++)
		if (*p == '\n')
			*p = ';';
	return s;
}

/* Attempt n timed out (*err): counted, the holders looked up, the audit
 * row and the event; returns the pause before the next attempt, or -1 when
 * it would start beyond the budget (measured from t0), *err then saying
 * so. */
static long long note_timeout(struct run *r, const struct apply_set *set,
			      const struct apply_mig *m, unsigned attempt, long long t0,
			      unsigned long long *seed, char **err, struct apply_result *res)
{
	const struct apply_opts *o = r->o;
	struct apply_event ev;
	char *who = NULL, *line;
	long long pause;

	res->lock_retries++;
	if (o->lock_blockers && o->lock_blockers(o->blockers_ctx, m, &who) < 0)
		who = NULL; /* the log says "not seen"; the retry is what matters */
	pause = retry_pause(attempt, seed);
	if (!o->lock_retry_budget_ms || now_ms() - t0 + pause > (long long)o->lock_retry_budget_ms)
		pause = -1;
	line = one_line(who);
	audit_retry(r, set, m, attempt, *err, line, pause);
	free(line);
	ev_init(&ev, EV_LOCK_RETRY, m, set);
	ev.attempt = attempt;
	ev.error = *err;
	ev.blockers = who;
	ev.duration_ms = pause;
	emit(r, &ev);
	free(who);
	if (pause < 0) {
		char *why = xasprintf("%s (gave up after %u attempt%s in %lld ms: lock retry "
				      "budget %llu ms)", *err, attempt, attempt == 1 ? "" : "s",
				      now_ms() - t0, o->lock_retry_budget_ms);

		free(*err);
		*err = why;
	}
	return pause;
}

int apply_tx_retry(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		   int is_new, long long *duration, char **err, struct apply_result *res)
{
	const struct apply_opts *o = r->o;
	long long t0 = now_ms();
	unsigned long long seed = (unsigned long long)t0 * 2654435761ULL ^ (unsigned long long)getpid();
	long long waited = 0; /* before the attempt running now */
	unsigned attempt;

	seed |= 1;
	for (attempt = 1;; attempt++) {
		long long pause;
		int failed;

		r->lock_timed_out = 0;
		r->retrying = 1;
		failed = apply_tx(r, set, m, 0, is_new, duration, err);
		r->retrying = 0;
		if (!failed) {
			*duration = now_ms() - t0;
			res->lock_retry_wait_ms += waited;
			return 0;
		}
		if (!r->lock_timed_out || r->tx_ended || (o->interrupted && *o->interrupted)) {
			res->lock_retry_wait_ms += waited;
			return -1;
		}
		pause = note_timeout(r, set, m, attempt, t0, &seed, err, res);
		if (pause < 0 || pause_ms(o, pause)) {
			res->lock_retry_wait_ms += now_ms() - t0;
			*duration = now_ms() - t0;
			return -1;
		}
		waited = now_ms() - t0;
		free(*err);
		*err = NULL;
	}
}

/* ---- transaction: false (issue #22) ----
 * Retried whole, and only when it failed at its FIRST statement: nothing
 * of it committed, so running it again is running it for the first time.
 * A later statement's timeout is not retried (docs/design.md says why). */

/* past blanks and comments */
static const char *skip_blank(const char *s, const char *end)
{
	for (;;) {
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
			s++;
		if (end - s >= 2 && s[0] == '-' && s[1] == '-') {
			while (s < end && *s != '\n')
				s++;
		} else if (end - s >= 2 && s[0] == '/' && s[1] == '*') {
			for (s += 2; s < end && !(end - s >= 2 && s[0] == '*' && s[1] == '/'); s++)
				;
			s = s < end ? s + 2 : end;
		} else {
			return s;
		}
	}
}

/* *p (blanks skipped) starts with the keyword word: 1, *p past it */
static int kw(const char **p, const char *end, const char *word)
{
	size_t n = strlen(word);
	const char *s = skip_blank(*p, end);

	*p = s;
	if ((size_t)(end - s) < n || strncasecmp(s, word, n))
		return 0;
	if (s + n < end && (s[n] == '_' || (s[n] >= 'a' && s[n] <= 'z') ||
			    (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')))
		return 0;
	*p = s + n;
	return 1;
}

/* The index a script's first statement creates CONCURRENTLY, as written
 * (quoted, schema-qualified), or NULL: not such a statement or unnamed. */
char *cic_index_name(const char *sql, size_t len)
{
	const char *p = sql, *end = sql + len, *s;
	char *name;

	if (!sql || !kw(&p, end, "create"))
		return NULL;
	kw(&p, end, "unique");
	if (!kw(&p, end, "index") || !kw(&p, end, "concurrently"))
		return NULL;
	if (kw(&p, end, "if") && !(kw(&p, end, "not") && kw(&p, end, "exists")))
		return NULL;
	p = skip_blank(p, end);
	s = p;
	if (kw(&s, end, "on"))
		return NULL;
	s = p;
	while (p < end && *p != '(' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
		if (*p == '"') {
			for (p++; p < end && !(*p == '"' && (p + 1 >= end || p[1] != '"')); p++)
				if (*p == '"')
					p++;
		}
		if (p < end)
			p++;
	}
	if (p == s)
		return NULL;
	name = xmalloc((size_t)(p - s) + 1);
	memcpy(name, s, (size_t)(p - s));
	name[p - s] = '\0';
	return name;
}

/* The index name of the script's first statement, from the up script held
 * whole or, for a spilled script (pgguard15b: it was never looked at, up
 * being NULL), from the head of its file: the first statement's name lies
 * within it unless comments longer than CIC_HEAD come first. */
#define CIC_HEAD 65536
static char *cic_name_of(const struct apply_mig *m, int spill)
{
	const struct apply_sql *q = apply_mig_sql(m);
	char *head, *name;
	ssize_t n;

	if (q->up || spill < 0)
		return cic_index_name(q->up, q->up_len);
	head = xmalloc(CIC_HEAD);
	n = pread(spill, head, CIC_HEAD, 0);
	name = n > 0 ? cic_index_name(head, (size_t)n) : NULL;
	/* a name that runs to the end of the head may be cut */
	if (name && n == CIC_HEAD && strlen(name) <= (size_t)n &&
	    !memcmp(head + n - strlen(name), name, strlen(name))) {
		free(name);
		name = NULL;
	}
	free(head);
	return name;
}

/* What the failed attempt left, cleared before it runs again or gives up:
 * an INVALID index of the name its CREATE INDEX CONCURRENTLY gives; a
 * valid one is never dropped. 0, or -1 with *err (append: the error added
 * to it; else it says only what the drop met). */
static int nontx_clean(struct run *r, const struct apply_mig *m, int spill, int append,
		       char **err)
{
	char *name = cic_name_of(m, spill);
	const char *what = "none";
	int rc = 0;

	if (name && r->drv->drop_invalid_index && r->drv->drop_invalid_index(r->db, name, &what)) {
		char *why = append ? xasprintf("%s; the invalid index %s it left could not be "
					       "dropped: %s", *err, name, cairn_error_last())
				   : xasprintf("dropping the invalid index %s the attempt left: %s",
					       name, cairn_error_last());

		free(*err);
		*err = why;
		rc = -1;
	}
	free(name);
	return rc;
}

int nontx_clean_first(struct run *r, const struct apply_mig *m, const struct nontx_retry *st,
		      char **err)
{
	char *name = cic_name_of(m, st->spill);
	const char *what = "none";
	int rc = 0;

	*err = NULL;
	if (name && r->drv->drop_invalid_index && r->drv->drop_invalid_index(r->db, name, &what)) {
		*err = xasprintf("cannot drop the invalid index %s an earlier run of %s left: %s; "
				 "nothing of it ran", name, apply_mig_sql(m)->up_path,
				 cairn_error_last());
		rc = -1;
	}
	free(name);
	return rc;
}

int nontx_retry(struct run *r, const struct apply_set *set, const struct apply_mig *m,
		struct nontx_retry *st, long long statement, char **err, struct apply_result *res)
{
	const struct apply_opts *o = r->o;

	if (!st->t0)
		st->t0 = now_ms();
	if (!st->seed)
		st->seed = ((unsigned long long)st->t0 * 2654435761ULL ^ (unsigned long long)getpid()) | 1;
	if (!r->lock_timed_out || statement != 0 || (o->interrupted && *o->interrupted))
		return -1;
	for (;;) { /* each turn: an attempt (or a cleanup) that failed */
		long long pause = note_timeout(r, set, m, ++st->attempt, st->t0, &st->seed, err, res);

		if (pause < 0) {
			nontx_clean(r, m, st->spill, 1, err); /* best effort: the error says what it left */
			break;
		}
		if (pause_ms(o, pause))
			break;
		if (!nontx_clean(r, m, st->spill, 0, err)) {
			res->lock_retry_wait_ms += now_ms() - st->t0 - st->waited;
			st->waited = now_ms() - st->t0;
			free(*err);
			*err = NULL;
			r->lock_timed_out = 0;
			return 0;
		}
		/* the drop waits for the same holder: one more attempt spent */
	}
	res->lock_retry_wait_ms += now_ms() - st->t0 - st->waited;
	st->waited = now_ms() - st->t0;
	return -1;
}
