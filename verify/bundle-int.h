/* What bundle.c (opening and checking a bundle) and bundle-read.c (its
 * members handed out afterwards) share; private to verify/. */
#ifndef CAIRN_BUNDLE_INT_H
#define CAIRN_BUNDLE_INT_H

#include <pthread.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/pool.h"
#include "../lib/sha256.h"
#include "archive.h"
#include "manifest.h"

struct kept {
	const char *name;           /* member name: its SHA256SUMS entry's path */
	const char *data;           /* text members: the verified bytes (in kept_bytes) */
	size_t len;
	unsigned long long size;    /* bytes read */
	int is_data;                /* a data/ member: streamed, not kept */
	int streamed;               /* a text member past BUNDLE_TEXT_KEEP: not kept either */
	int has_nul;                /* a text member with a NUL byte (not SQL) */
};

struct pair {
	char *base;                 /* "signatures/<keyid>" or "approvals/<env>-<keyid>" */
	struct buf yaml, sig;
	int have_yaml, have_sig;
};

/* manifest.yaml as read by an apply, which never writes the bundle again
 * (drop_manifest_bytes): in pieces handed to the parse as they are read,
 * each freed once the parse is past it (bundle-parse.c). */
struct mpiece {
	struct mpiece *next;
	size_t len, cap;
	char data[];
};

struct bundle_priv {
	struct buf manifest, sums_raw;
	/* The pieces: queued for the parse (mhead..mtail), the one the reader
	 * fills (mcur), the one the parse holds (mgot), the parsed ones
	 * (mfree: at most a few exist at once); mlock guards the
	 * queue and the flags below it. */
	struct mpiece *mhead, *mtail, *mcur, *mgot;
	struct mpiece *mfree;       /* parsed, for the reader to fill again */
	size_t mqueued;             /* bytes queued */
	unsigned long long mhint;   /* manifest.yaml's size, from its header */
	pthread_mutex_t mlock;
	pthread_cond_t mcond;
	int mlock_init;
	int mpieces;                /* the manifest is read in pieces */
	int mstreamed;              /* ... and parsed on a thread as they come */
	int mend;                   /* 1: the last piece is queued; -1: reading stopped */
	int mgone;                  /* the canonical parse has stopped taking pieces */
	int mauth;                  /* the statements: 1 authenticated, -1 not (the open failed) */
	int msums;                  /* SHA256SUMS is parsed: the parse may read p->sums */
	/* the reader reads the migration members against p->sums now (not
	 * paused before them as on an unchanged file): the parse keeps the
	 * list even when it finds it equal (bundle-parse.c: sums_drop_equal) */
	int mreading;
	int mstreamed_ok;           /* the canonical parse took the pieces (bundle_manifest_streamed) */
	int mhashing;               /* the parse's thread hashes the pieces as it takes them */
	int mhashed;                /* 1: mhex is the text's sha256; -1: it is not (reading stopped) */
	unsigned long long mhashed_len; /* bytes the parse's thread hashed */
	int mhash_failed;           /* its context could not be made (the parse's thread's) */
	struct sha256_ctx mctx;     /* the parse's thread's alone until mhashed */
	char mhex[65];
	struct sums sums;
	struct kept *members;       /* the migration members, in SHA256SUMS order */
	size_t nmembers;
	struct pair *pairs;
	size_t npairs, pairs_alloc;
	unsigned long long text_cap, data_cap, text_keep;
	unsigned long long kept;    /* bytes of text members read (BUNDLE_TEXT_TOTAL_CAP) */
	unsigned long long held;    /* of which held in memory (BUNDLE_TEXT_KEEP) */
	/* The text members' bytes: 10,000 members of a 5,000-migration
	 * bundle were as many mallocs and frees, ~1 ms of a nothing-pending
	 * apply. */
	struct pool_block *kept_bytes;
	size_t next;                /* the next SHA256SUMS entry a member must be */
	/* An unchanged file (file_known): the reader stopped before the
	 * first migration member, which it has read (paused_m), until a
	 * member is asked for. broken: why reading on failed. */
	struct breader *paused;
	/* sums freed: by the parse once found equal to the manifest's files
	 * (bundle-parse.c: sums_drop_equal), or once cross_check passed
	 * (bundle-cross.c: sums_drop); bundle_sums_remake makes it again */
	int sums_dropped;
	/* the manifest's parse found its files equal to sums's entries, in
	 * order, as it went (manifest_parse_canonical_sums): cross_check has
	 * only the sizes left to compare */
	int sums_matched;
	struct bmember paused_m;
	char *broken;
	/* Members read again (data, text not kept): the reader is kept where
	 * the last one ended, since the engine asks for them in the archive's
	 * order; cursor_after names that member. */
	struct breader *cursor;
	char *cursor_after;
};

/* bundle.c: a small member's bytes into out (its size within cap), and
 * their sha256 into hex when not NULL. */
int bundle_read_small(struct breader *r, const struct bmember *m, unsigned long long cap,
		      const char *what, struct buf *out, char *hex);

/* bundle-parse.c: the manifest's parse on a thread of its own. At 5,000
 * migrations the parse (~6 ms) came after the members (~10 ms); now it
 * runs beside them, and for an apply beside the manifest's inflate too.
 * Its result is taken only after every member checked out, so the
 * messages come in the order they did: a member's problem first, then
 * the manifest's. */
struct parse_job {
	struct bundle *b;
	int rc;
	int matched;    /* the parse compared the files with SHA256SUMS and found them equal */
	int started, done;
	pthread_t thread;
	char err[CAIRN_ERRMSG_MAX];
};
void bundle_pieces_init(struct bundle_priv *p);
void bundle_pieces_free(struct bundle_priv *p);
/* the pieces queued and not parsed, freed (the parse holds none then) */
void bundle_pieces_drop(struct bundle_priv *p);
/* manifest.yaml's bytes (size from its header) into pieces for the parse;
 * 0, or -1 with the error set (the parse is told to stop). Their sha256
 * is made by the parse's thread as it takes them, or, with no thread,
 * here as they stream by: bundle_parse_manifest_hex gives it. */
int bundle_read_pieces(struct bundle_priv *p, struct breader *r, unsigned long long size);
/* manifest.yaml's sha256, once every piece was hashed (waits for the
 * parse's thread); 0, or -1 with the error set */
int bundle_parse_manifest_hex(struct bundle_priv *p, char hex[65]);
void bundle_parse_start(struct parse_job *j);
/* the statements checked out (ok) or the open failed: the general
 * parser, which a text not in the canonical form needs, waits for this */
void bundle_parse_authenticated(struct parse_job *j, int ok);
/* SHA256SUMS is parsed (p->sums) and its first entry checked: the parse
 * compares the manifest's files with it, and frees it when they are
 * equal unless the reader said it reads the members against it */
void bundle_parse_sums_ready(struct parse_job *j);
/* The reader reads the migration members now, against p->sums: made
 * again from the manifest if the parse freed it already, and kept until
 * cross_check. Said before the first member; a reader that pauses before
 * them says nothing, and the parse frees the list. Nothing when the
 * manifest is not parsed in pieces. */
void bundle_parse_reading_members(struct parse_job *j);
/* waits for the parse (runs it here if no thread could be started) */
void bundle_parse_wait(struct parse_job *j);
/* the parse's result: 0, or -1 with its error set */
int bundle_parse_finish(struct parse_job *j);
/* the open failed: the parse is stopped and joined */
void bundle_parse_abandon(struct parse_job *j);

/* A bundle opened as an unchanged file, read on to its end as
 * bundle_open_opts would have (bundle.c); 0, or -1 with the error set. */
int bundle_resume(struct bundle *b);

/* bundle-cross.c: the manifest's files (the migrations', then the
 * callbacks') in SHA256SUMS's order, an array the caller frees; and the
 * cross-check of the manifest, SHA256SUMS and the members read (top: the
 * archive's top directory; drop: SHA256SUMS is freed once found equal).
 * 0, or -1 with the error set. */
const struct bundle_file **bundle_files_sums_order(const struct bundle *b, size_t *n);
int bundle_cross_check(struct bundle *b, const char *top, int drop);
/* p->sums made again from the manifest's files after a drop (they were
 * found equal, so it is the same list) */
void bundle_sums_remake(struct bundle *b);

#endif
