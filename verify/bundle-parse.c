/* The manifest's parse beside bundle_open's reading (bundle.c). An apply
 * (drop_manifest_bytes) hands manifest.yaml's bytes to the parse as they
 * are inflated, a piece at a time, so its raw text is never held whole:
 * at 20,000 migrations it was 14.4 MB held until the statements, which
 * come after it and SHA256SUMS in the archive, were checked (issue #14,
 * perf14g). The canonical parser reads bytes not yet authenticated, as
 * they stream by; nothing it makes is used before the signature over the
 * manifest's sha256 (computed from the same bytes by the reader) checks
 * out, and the general parser (libyaml), which a manifest not in the
 * canonical form needs, waits for that check before it runs.
 * Other callers keep the whole text and parse it once authenticated. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/heap.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "archive.h"
#include "bundle-int.h"
#include "bundle.h"
#include "manifest.h"

/* The pieces: small enough that the few queued between the reader and the
 * parse stay a fraction of the text; the reader waits while this many
 * bytes are queued and not parsed. */
#define MANIFEST_PIECE (256U << 10)
#define MANIFEST_QUEUED_MAX (1U << 20)

void bundle_pieces_init(struct bundle_priv *p)
{
	pthread_mutex_init(&p->mlock, NULL);
	pthread_cond_init(&p->mcond, NULL);
	p->mlock_init = 1;
}

void bundle_pieces_free(struct bundle_priv *p)
{
	struct mpiece *x, *next;

	for (x = p->mhead; x; x = next) {
		next = x->next;
		free(x);
	}
	for (x = p->mfree; x; x = next) {
		next = x->next;
		free(x);
	}
	free(p->mcur);
	free(p->mgot);
	p->mhead = p->mtail = p->mcur = p->mgot = p->mfree = NULL;
	p->mqueued = 0;
	if (p->mlock_init) {
		pthread_mutex_destroy(&p->mlock);
		pthread_cond_destroy(&p->mcond);
		p->mlock_init = 0;
	}
}

/* The parse's thread's hash of the pieces, given to the reader. */
static void pieces_hashed(struct bundle_priv *p, int ok)
{
	pthread_mutex_lock(&p->mlock);
	p->mhashed = ok ? 1 : -1;
	pthread_cond_broadcast(&p->mcond);
	pthread_mutex_unlock(&p->mlock);
}

/* The parse's next piece: waits for the reader when it streams. The piece
 * given before is freed. NULL after the last, or once reading failed. */
static const char *next_piece(void *ctx, size_t *len)
{
	struct bundle_priv *p = ctx;
	struct mpiece *x;

	pthread_mutex_lock(&p->mlock);
	if (p->mgot) {
		/* parsed: the reader fills it again */
		p->mgot->next = p->mfree;
		p->mfree = p->mgot;
		p->mgot = NULL;
	}
	while (!p->mhead && !p->mend)
		pthread_cond_wait(&p->mcond, &p->mlock);
	x = p->mend < 0 ? NULL : p->mhead;
	if (x) {
		p->mhead = x->next;
		if (!p->mhead)
			p->mtail = NULL;
		p->mqueued -= x->len;
		pthread_cond_broadcast(&p->mcond);
	}
	pthread_mutex_unlock(&p->mlock);
	if (!x)
		return NULL;
	p->mgot = x;
	*len = x->len;
	if (p->mhashing && !p->mhashed && !p->mhash_failed) {
		sha256_update(&p->mctx, x->data, x->len);
		/* the header's size hashed: the reader has its answer now, not
		 * once the parse is done (it never gives more than that size) */
		if ((p->mhashed_len += x->len) == p->mhint)
			pieces_hashed(p, sha256_final_hex(&p->mctx, p->mhex) == 0);
	}
	return x->data;
}

/* A full piece (or the last) to the parse; the reader waits while the
 * parse is MANIFEST_QUEUED_MAX behind. Once the parse has stopped (the
 * text is not canonical: the general parser reads the file again), the
 * rest is only hashed. */
static void piece_publish(struct bundle_priv *p, struct mpiece *x)
{
	pthread_mutex_lock(&p->mlock);
	if (p->mgone) {
		free(x);
	} else {
		x->next = NULL;
		if (p->mtail)
			p->mtail->next = x;
		else
			p->mhead = x;
		p->mtail = x;
		p->mqueued += x->len;
		pthread_cond_broadcast(&p->mcond);
		while (p->mstreamed && !p->mgone && p->mqueued > MANIFEST_QUEUED_MAX)
			pthread_cond_wait(&p->mcond, &p->mlock);
	}
	pthread_mutex_unlock(&p->mlock);
}

/* The reader's end of the text: ok (1: the last piece is queued) or not
 * (-1: reading failed, the parse stops). */
static void pieces_end(struct bundle_priv *p, int ok)
{
	pthread_mutex_lock(&p->mlock);
	if (!p->mend)
		p->mend = ok;
	pthread_cond_broadcast(&p->mcond);
	pthread_mutex_unlock(&p->mlock);
}

/* A piece to fill: one the parse is done with, else a new one (the
 * header's size left says how much is to come). */
static struct mpiece *piece_new(struct bundle_priv *p, size_t left)
{
	size_t want = left && left < MANIFEST_PIECE ? left : MANIFEST_PIECE;
	struct mpiece *x;

	pthread_mutex_lock(&p->mlock);
	x = p->mfree;
	if (x)
		p->mfree = x->next;
	pthread_mutex_unlock(&p->mlock);
	if (!x) {
		x = xmalloc(sizeof(*x) + MANIFEST_PIECE);
		/* one madvise, not a page fault a page */
		mem_prefault(x->data, MANIFEST_PIECE);
	}
	x->next = NULL;
	x->len = 0;
	x->cap = want;
	return x;
}

/* The reader's side: each piece copied from the inflater's block and
 * queued; hashed here only when no thread takes them (the parse's thread
 * hashes them otherwise: see bundle_parse_start). */
int bundle_read_pieces(struct bundle_priv *p, struct breader *r, unsigned long long size)
{
	const void *d;
	size_t len, left = (size_t)size;
	int k;

	if (!p->mhashing && sha256_init(&p->mctx) < 0) {
		pieces_end(p, -1);
		return -1;
	}
	while ((k = breader_data(r, &d, &len)) > 0) {
		if (!p->mhashing)
			sha256_update(&p->mctx, d, len);
		while (len) {
			struct mpiece *x = p->mcur;
			size_t n;

			if (!x)
				x = p->mcur = piece_new(p, left);
			n = x->cap - x->len < len ? x->cap - x->len : len;
			memcpy(x->data + x->len, d, n);
			x->len += n;
			d = (const char *)d + n;
			len -= n;
			left -= n < left ? n : left;
			if (x->len == x->cap) {
				p->mcur = NULL;
				piece_publish(p, x);
			}
		}
	}
	/* mhashed is the parse's thread's to write when it hashes */
	if (!p->mhashing && k < 0)
		sha256_release(&p->mctx);
	else if (!p->mhashing && sha256_final_hex(&p->mctx, p->mhex) < 0)
		k = -1;
	else if (!p->mhashing)
		p->mhashed = 1;
	if (k < 0) {
		pieces_end(p, -1);
		return -1;
	}
	if (p->mcur) {
		struct mpiece *x = p->mcur;

		p->mcur = NULL;
		piece_publish(p, x);
	}
	pieces_end(p, 1);
	return 0;
}

int bundle_parse_manifest_hex(struct bundle_priv *p, char hex[65])
{
	int ok;

	pthread_mutex_lock(&p->mlock);
	while (!p->mhashed)
		pthread_cond_wait(&p->mcond, &p->mlock);
	ok = p->mhashed > 0;
	if (ok)
		memcpy(hex, p->mhex, sizeof(p->mhex));
	pthread_mutex_unlock(&p->mlock);
	if (!ok)
		cairn_error_set("member 'manifest.yaml': not read whole");
	return ok ? 0 : -1;
}

/* The parse's thread: the pieces the canonical parse did not take (it
 * stopped early) taken and hashed now, to the reader's last, so the
 * reader gets its hash whatever the parse made of the text; a piece is
 * hashed as it is taken, so the hash is of the bytes handed to the parse,
 * in order. An empty text: hashed here. */
static void pieces_hash_rest(struct bundle_priv *p)
{
	size_t len;
	int end;

	if (!p->mhashing)
		return;
	while (next_piece(p, &len))
		;
	if (p->mhashed)
		return;
	pthread_mutex_lock(&p->mlock);
	end = p->mend;
	pthread_mutex_unlock(&p->mlock);
	if (end > 0 && !p->mhash_failed && p->mhashed_len == p->mhint) {
		pieces_hashed(p, sha256_final_hex(&p->mctx, p->mhex) == 0);
	} else {
		sha256_release(&p->mctx);
		pieces_hashed(p, 0);
	}
}

/* A manifest read in pieces that is not in the canonical form (a
 * hand-written one: rare) goes to the general parser whole, read again
 * from the file: its bytes must hash to the id the statements signed. */
static int reparse_whole(struct bundle *b)
{
	struct breader *r = NULL;
	struct bmember m;
	struct buf raw = BUF_INIT;
	char hex[65];
	int k, rc = -1;

	manifest_release(b);
	if (breader_open(&r, b->path) < 0)
		goto out;
	if ((k = breader_next(r, &m)) <= 0 || m.rank != RANK_MANIFEST) {
		if (!k || (k > 0 && m.rank != RANK_MANIFEST))
			cairn_error_set("'manifest.yaml': the file changed while it was read");
		goto out;
	}
	if (bundle_read_small(r, &m, MANIFEST_MAX_SIZE, "the manifest", &raw, hex) < 0)
		goto out;
	if (strcmp(hex, b->id + 7)) {
		cairn_error_set("'manifest.yaml': the file changed while it was read (it no longer "
				"hashes to %s)", b->id);
		goto out;
	}
	rc = manifest_parse(b, raw.ptr ? raw.ptr : "", raw.len);
out:
	buf_release(&raw);
	breader_free(r);
	return rc;
}

/* The manifest's files, the migrations' then the callbacks', against
 * SHA256SUMS's entries after the first, in order, path and sha256
 * alike: what manifest_parse_canonical_sums compares as it goes when
 * SHA256SUMS is at hand, made here once both are, so cross_check is left
 * with the sizes (1), or compares the lists itself to say what differs
 * (0). */
static int sums_equal(const struct bundle *b, const struct sums *s)
{
	size_t i, j, at = 1;

	for (i = 0; i < b->nmigs; i++)
		for (j = 0; j < b->migs[i].nfiles; j++, at++) {
			const struct bundle_file *f = &b->migs[i].files[j];

			if (at >= s->n || strcmp(s->items[at].path, f->member) ||
			    memcmp(s->items[at].sha, f->sha, sizeof(f->sha)))
				return 0;
		}
	for (i = 0; i < b->ncallbacks; i++, at++)
		if (at >= s->n || strcmp(s->items[at].path, b->callbacks[i].member) ||
		    memcmp(s->items[at].sha, b->callbacks[i].sha, sizeof(b->callbacks[i].sha)))
			return 0;
	return at == s->n;
}

/* SHA256SUMS found equal to the manifest's files: it says nothing the
 * manifest does not, and an apply drops it anyway once cross_check
 * passed (bundle-cross.c: sums_drop). Freed here, on the parse's thread,
 * as soon as the parse is done, not after the members and the books'
 * wait: 2.9 MB at 20,000 migrations that were live through the peak of a
 * nothing-pending apply (issue #14). Not while the reader reads the
 * members against it (mreading); if the reader decides to read them
 * after the drop, bundle_parse_reading_members makes the list again. */
static void sums_drop_equal(struct bundle_priv *p)
{
	struct sums gone = { 0 };

	pthread_mutex_lock(&p->mlock);
	if (!p->mreading) {
		gone = p->sums;
		memset(&p->sums, 0, sizeof(p->sums));
		p->sums_dropped = 1;
	}
	pthread_mutex_unlock(&p->mlock);
	sums_release(&gone);
}

/* The pieces' parse: the canonical parser as they come; a text it does
 * not take goes to the general parser once the statements are
 * authenticated (mauth), never before. */
static int parse_pieces(struct parse_job *j)
{
	struct bundle_priv *p = j->b->priv;
	int rc, auth, end, sums;

	if (p->mhashing && sha256_init(&p->mctx) < 0)
		p->mhash_failed = 1; /* the reader is told when it asks */
	/* SHA256SUMS comes after the manifest: compared once both are read
	 * (sums_equal) */
	rc = manifest_parse_canonical_sums(j->b, next_piece, p, p->mhint, NULL, &j->matched);
	pieces_hash_rest(p);
	pthread_mutex_lock(&p->mlock);
	p->mgone = 1;
	pthread_cond_broadcast(&p->mcond);
	while (!p->mend || (rc < 0 && !p->mauth))
		pthread_cond_wait(&p->mcond, &p->mlock);
	/* SHA256SUMS, which the reader parses after the manifest */
	while (!rc && p->mend > 0 && !p->msums && p->mauth >= 0)
		pthread_cond_wait(&p->mcond, &p->mlock);
	auth = p->mauth;
	end = p->mend;
	sums = p->msums;
	pthread_mutex_unlock(&p->mlock);
	if (!rc && end > 0 && sums && (j->matched = sums_equal(j->b, &p->sums)))
		sums_drop_equal(p);
	bundle_pieces_drop(p);
	if (end < 0) {
		cairn_error_set("'manifest.yaml': not read whole");
		return -1;
	}
	p->mstreamed_ok = rc == 0;
	if (rc < 0) {
		j->matched = 0;
		if (auth < 0) {
			cairn_error_set("'manifest.yaml': not authenticated");
			return -1;
		}
		rc = reparse_whole(j->b);
	}
	return rc;
}

void bundle_pieces_drop(struct bundle_priv *p)
{
	struct mpiece *x, *next;

	pthread_mutex_lock(&p->mlock);
	x = p->mhead;
	p->mhead = p->mtail = NULL;
	p->mqueued = 0;
	pthread_mutex_unlock(&p->mlock);
	for (; x; x = next) {
		next = x->next;
		free(x);
	}
	free(p->mgot);
	p->mgot = NULL;
	pthread_mutex_lock(&p->mlock);
	x = p->mfree;
	p->mfree = NULL;
	pthread_mutex_unlock(&p->mlock);
	for (; x; x = next) {
		next = x->next;
		free(x);
	}
}

static void *parse_run(void *arg)
{
	struct parse_job *j = arg;
	struct bundle_priv *p = j->b->priv;

	if (p->mpieces) {
		j->rc = parse_pieces(j);
		/* the pieces, the window and the migrations' room are free now
		 * (lib/heap.c says why here) */
		heap_give_back();
	} else {
		/* an empty manifest has no bytes: "", since libyaml takes no
		 * NULL */
		j->rc = manifest_parse(j->b, p->manifest.ptr ? p->manifest.ptr : "",
				       p->manifest.len);
	}
	if (j->rc < 0)
		snprintf(j->err, sizeof(j->err), "%s", cairn_error_last());
	return NULL;
}

void bundle_parse_start(struct parse_job *j)
{
	struct bundle_priv *p = j->b->priv;

	/* the pieces' hash is the thread's: set before it starts, and it
	 * starts before the reader's first piece (its context is made on the
	 * thread: a first sha256_init is OpenSSL's first use, ~5 M
	 * instructions kept off the reader) */
	p->mhashing = p->mpieces;
	j->started = pthread_create(&j->thread, NULL, parse_run, j) == 0;
	/* no thread: the pieces pile up, and the parse runs in parse_wait;
	 * the reader hashes them */
	p->mstreamed = j->started;
	if (!j->started)
		p->mhashing = 0;
}

void bundle_parse_authenticated(struct parse_job *j, int ok)
{
	struct bundle_priv *p = j->b->priv;

	pthread_mutex_lock(&p->mlock);
	if (!p->mauth)
		p->mauth = ok ? 1 : -1;
	if (!ok && !p->mend)
		p->mend = -1;
	pthread_cond_broadcast(&p->mcond);
	pthread_mutex_unlock(&p->mlock);
}

void bundle_parse_sums_ready(struct parse_job *j)
{
	struct bundle_priv *p = j->b->priv;

	pthread_mutex_lock(&p->mlock);
	p->msums = 1;
	pthread_cond_broadcast(&p->mcond);
	pthread_mutex_unlock(&p->mlock);
}

void bundle_parse_reading_members(struct parse_job *j)
{
	struct bundle_priv *p = j->b->priv;
	int remake;

	if (!p->mpieces)
		return;
	pthread_mutex_lock(&p->mlock);
	p->mreading = 1;
	remake = p->sums_dropped;
	pthread_mutex_unlock(&p->mlock);
	/* the parse is past the list: it found it equal, and touches
	 * neither it nor the manifest's files again */
	if (remake)
		bundle_sums_remake(j->b);
}

void bundle_parse_wait(struct parse_job *j)
{
	if (j->done)
		return;
	if (j->started)
		pthread_join(j->thread, NULL);
	else
		parse_run(j);
	j->started = 0;
	j->done = 1;
}

int bundle_parse_finish(struct parse_job *j)
{
	bundle_parse_wait(j);
	if (j->rc < 0) {
		cairn_error_set("member %s", j->err);
		return -1;
	}
	((struct bundle_priv *)j->b->priv)->sums_matched = j->matched;
	return 0;
}

void bundle_parse_abandon(struct parse_job *j)
{
	if (!j->started)
		return;
	bundle_parse_authenticated(j, 0);
	pthread_join(j->thread, NULL);
	j->started = 0;
}
