#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../lib/callbacks.h"
#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../verify/archive.h"
#include "../verify/manifest.h"
#include "../verify/statement.h"
#include "build.h"
#include "write.h"

void iso_time(long long t, char out[21])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm))
		memcpy(out, "1970-01-01T00:00:00Z", 21);
}

long long iso_time_parse(const char *s)
{
	struct tm tm;
	const char *end;

	if (!iso_time_valid(s))
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	return (long long)timegm(&tm);
}

/* A named small member: statements and their signatures. */
struct blob {
	char *name;
	struct buf data;
};

static int cmp_blob(const void *a, const void *b)
{
	return member_cmp(((const struct blob *)a)->name, ((const struct blob *)b)->name);
}

static void blobs_free(struct blob *bl, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(bl[i].name);
		buf_release(&bl[i].data);
	}
	free(bl);
}

/* Statement and signature for one key, appended to *bl. */
static int sign_statement(const struct build_signer *s, const char *id, const char *time,
			  struct blob **bl, size_t *n, size_t *alloc)
{
	struct statement st;
	char pub_b64[48], sig[SIG_B64_LEN + 1];
	struct blob *y, *g;

	memset(&st, 0, sizeof(st));
	base64_encode(s->key->pub->raw, KEY_RAW_LEN, pub_b64);
	st.type = "build";
	st.bundle = (char *)id;
	st.signer = (char *)s->signer;
	st.key = s->key->pub->id;
	st.public_key = pub_b64;
	st.time = (char *)time;
	ALLOC_GROW(*bl, *n + 2, *alloc);
	y = &(*bl)[(*n)++];
	memset(y, 0, sizeof(*y));
	y->name = xasprintf("signatures/%s.yaml", s->key->pub->id);
	g = &(*bl)[(*n)++];
	memset(g, 0, sizeof(*g));
	g->name = xasprintf("signatures/%s.sig", s->key->pub->id);
	if (statement_format(&st, &y->data) < 0 ||
	    seckey_sign(s->key, y->data.ptr, y->data.len, sig) < 0)
		return -1;
	return buf_printf(&g->data, "%s\n", sig);
}

/* Drops earlier blobs with the same name (a key signing again replaces
 * its statement), then sorts. */
static void blobs_settle(struct blob *bl, size_t *n)
{
	size_t i, j, out = 0;

	for (i = 0; i < *n; i++) {
		for (j = i + 1; j < *n; j++)
			if (!strcmp(bl[i].name, bl[j].name))
				break;
		if (j < *n) {
			free(bl[i].name);
			buf_release(&bl[i].data);
			continue;
		}
		bl[out++] = bl[i];
	}
	*n = out;
	if (out)
		qsort(bl, out, sizeof(*bl), cmp_blob);
}

typedef int (*emit_fn)(void *ctx, struct bwriter *w);

static int write_bundle(const char *path, const char *top, long long mtime, const struct buf *manifest,
			const struct buf *sums, const struct blob *bl, size_t n, emit_fn emit,
			void *ctx)
{
	struct bwriter *w = NULL;
	size_t i;
	int rc = -1;

	if (bwriter_open(&w, path, top, mtime) < 0)
		return -1;
	if (bwriter_add(w, "manifest.yaml", manifest->ptr, manifest->len) < 0 ||
	    bwriter_add(w, "SHA256SUMS", sums->ptr, sums->len) < 0)
		goto out;
	for (i = 0; i < n; i++)
		if (bwriter_add(w, bl[i].name, bl[i].data.ptr ? bl[i].data.ptr : "", bl[i].data.len) < 0)
			goto out;
	if (emit(ctx, w) < 0 || bwriter_commit(w) < 0)
		goto out;
	rc = 0;
out:
	bwriter_free(w);
	return rc;
}

/* ---- build ---- */

struct src_file {
	const char *member;         /* borrowed from the bundle model */
	const char *path;           /* in the source */
	struct buf data;            /* kept for text files */
	int is_data;
	unsigned long long size;
	char sha256[65];
};

struct build_ctx {
	struct source *src;
	struct src_file *files;     /* sorted by member */
	size_t n;
	unsigned long long text_cap, data_cap;
};

static int cmp_src_file(const void *a, const void *b)
{
	return strcmp(((const struct src_file *)a)->member, ((const struct src_file *)b)->member);
}

static int emit_sources(void *vctx, struct bwriter *w)
{
	struct build_ctx *c = vctx;
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct src_file *f = &c->files[i];
		struct buf tmp = BUF_INIT;
		char hex[65];
		int rc;

		if (!f->is_data) {
			if (bwriter_add(w, f->member, f->data.ptr ? f->data.ptr : "", f->data.len) < 0)
				return -1;
			continue;
		}
		/* data files are read again rather than all held at once */
		buf_init(&tmp, (size_t)c->data_cap);
		rc = source_read(c->src, f->path, (size_t)c->data_cap, &tmp);
		if (rc == 0 && (tmp.len != f->size || sha256_hex(tmp.ptr ? tmp.ptr : "", tmp.len, hex) < 0 ||
				strcmp(hex, f->sha256))) {
			cairn_error_set("'%s' changed while the bundle was written", f->path);
			rc = -1;
		}
		if (rc == 0)
			rc = bwriter_add(w, f->member, tmp.ptr ? tmp.ptr : "", tmp.len);
		else if (rc > 0)
			cairn_error_set("'%s' vanished while the bundle was written", f->path);
		buf_release(&tmp);
		if (rc)
			return -1;
	}
	return 0;
}

static int name_safe(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '.' || *s == '_' || *s == '-' || *s == '+'))
			return 0;
	return 1;
}

static char **dup_list(char **items, size_t n)
{
	char **l = xcalloc(n ? n : 1, sizeof(char *));
	size_t i;

	for (i = 0; i < n; i++)
		l[i] = xstrdup(items[i]);
	return l;
}

static int cmp_mig_file(const void *a, const void *b)
{
	return strcmp((*(const struct mig_file *const *)a)->name,
		      (*(const struct mig_file *const *)b)->name);
}

/* The project as a bundle can hold it: a name that can name the file,
 * migrations, and caps within the format's. */
static int check_project(const struct project *p)
{
	if (!p->cfg.name || !name_safe(p->cfg.name)) {
		cairn_error_set(p->cfg.name ? "the project name '%s' in cairn.yaml cannot name a bundle "
					      "(use letters, digits, '.', '_', '-', '+')"
					    : "cairn.yaml has no 'name' (bundles are called NAME-VERSION.tar.gz); "
					      "add 'name: %s'", p->cfg.name ? p->cfg.name : "myproject");
		return -1;
	}
	if (!p->n) {
		cairn_error_set("no migrations in %s: nothing to build", p->src->label);
		return -1;
	}
	if (p->cfg.max_file_size > BUNDLE_TEXT_CAP) {
		cairn_error_set("max_file_size in cairn.yaml is over %llu bytes, the most a bundle "
				"member other than data/ may hold", (unsigned long long)BUNDLE_TEXT_CAP);
		return -1;
	}
	if (p->cfg.max_data_size > BUNDLE_DATA_CAP) {
		cairn_error_set("max_data_size in cairn.yaml is over %llu bytes, the most a data/ member "
				"may hold", (unsigned long long)BUNDLE_DATA_CAP);
		return -1;
	}
	return 0;
}

static void fill_header(struct bundle *b, const struct build_req *r, const struct project *p,
			const char *when)
{
	const char *highest;
	size_t i;

	/* the version: the highest migration version, fixed by the tree alone */
	highest = p->migs[0]->version;
	for (i = 1; i < p->n; i++)
		if (version_cmp(p->migs[i]->version, highest) > 0)
			highest = p->migs[i]->version;
	b->name = xasprintf("%s-%s", p->cfg.name, highest);
	b->project = xstrdup(p->cfg.name);
	b->source_repo = xstrdup(r->repo_url ? r->repo_url : "");
	b->source_commit = xstrdup(r->commit);
	b->source_tree = xstrdup(r->tree);
	b->source_path = xstrdup(p->src->prefix ? p->src->prefix : "");
	if (*b->source_path && ends_with(b->source_path, "/"))
		b->source_path[strlen(b->source_path) - 1] = '\0';
	b->source_ref = xstrdup(r->ref ? r->ref : "");
	b->build_time = xstrdup(when);
	b->tool_version = xstrdup("cairn " CAIRN_VERSION);
	b->drivers = dup_list(p->cfg.drivers.items, p->cfg.drivers.n);
	b->ndrivers = p->cfg.drivers.n;
	b->max_file_size = p->cfg.max_file_size;
	b->max_data_size = p->cfg.max_data_size;
}

static void fill_migration(struct bundle_migration *bm, const struct migration *m)
{
	size_t j;

	bm->version = xstrdup(m->version);
	bm->name = xstrdup(m->dir);
	bm->description = xstrdup(m->description ? m->description : "");
	bm->nrequires = m->ndeps;
	bm->requires = xcalloc(m->ndeps ? m->ndeps : 1, sizeof(char *));
	for (j = 0; j < m->ndeps; j++)
		bm->requires[j] = xstrdup(m->deps[j]->dir);
	bm->transaction = m->transaction;
	bm->no_transaction = xcalloc(2, sizeof(char *));
	for (j = 0; known_drivers[j]; j++)
		if (m->transaction && !migration_transaction(m, known_drivers[j]))
			bm->no_transaction[bm->nno_transaction++] = xstrdup(known_drivers[j]);
	bm->irreversible = m->irreversible;
	bm->destructive = m->destructive;
	bm->batch = m->batch;
	bm->contract = m->contract;
	bm->environments = dup_list(m->environments.items, m->environments.n);
	bm->nenvironments = m->environments.n;
	bm->timeout_ms = m->timeout_ms;
	bm->lock_timeout_ms = m->lock_timeout_ms;
	if (batch_throttle_set(&m->throttle)) { /* none: NULL, and none written */
		bm->throttle = xmalloc(sizeof(*bm->throttle));
		*bm->throttle = m->throttle;
	}
	/* provenance: filled by the history walk (issue #3) when it ran */
	bm->prov_commit = m->prov_commit ? xstrdup(m->prov_commit) : NULL;
	bm->prov_author = m->prov_author ? xstrdup(m->prov_author) : NULL;
	bm->prov_date = m->prov_date ? xstrdup(m->prov_date) : NULL;
	bm->files = xcalloc(m->nfiles + m->ngen + 1, sizeof(*bm->files));
	/* what the check's lint run found waived (issue #18), signed with the rest */
	bm->nwaivers = m->nwaivers;
	bm->waivers = xcalloc(m->nwaivers ? m->nwaivers : 1, sizeof(*bm->waivers));
	for (j = 0; j < m->nwaivers; j++) {
		bm->waivers[j].rule = xstrdup(m->waivers[j].rule);
		bm->waivers[j].file = xstrdup(m->waivers[j].file);
		bm->waivers[j].line = (unsigned long long)m->waivers[j].line;
		bm->waivers[j].via = xstrdup(m->waivers[j].via);
		bm->waivers[j].reason = m->waivers[j].reason ? xstrdup(m->waivers[j].reason) : NULL;
	}
}

/* One file of migration m: its bytes from the object database, hashed. */
static int add_file(const struct project *p, const struct migration *m,
		    const struct mig_file *mf, struct bundle_migration *bm, struct build_ctx *ctx,
		    struct sums *sums, unsigned long long *text_total, struct build_result *out)
{
	struct bundle_file *bf = &bm->files[bm->nfiles++];
	struct src_file *sf = &ctx->files[ctx->n++];
	unsigned long long cap;
	int k;

	bf->name = xstrdup(mf->name);
	bf->member = xasprintf("migrations/%s/%s", m->dir, mf->name);
	sf->member = bf->member;
	sf->path = mf->path;
	sf->is_data = mf->role == ROLE_DATA;
	if (mf->type != ENTRY_FILE) {
		cairn_error_set("'%s' is not a regular file (a bundle holds regular files "
				"only)", mf->path);
		return -1;
	}
	cap = sf->is_data ? ctx->data_cap : ctx->text_cap;
	buf_init(&sf->data, (size_t)cap);
	/* what an operation generated (project/operation.c) is in memory */
	k = mf->content ? buf_put(&sf->data, mf->content, mf->content_len)
			: source_read(p->src, mf->path, (size_t)cap, &sf->data);
	if (k != 0) {
		if (k > 0)
			cairn_error_set("'%s' is missing from %s", mf->path, p->src->label);
		else if (strstr(cairn_error_last(), "over the limit"))
			cairn_error_set("%s (raise %s in cairn.yaml)", cairn_error_last(),
					sf->is_data ? "max_data_size" : "max_file_size");
		return -1;
	}
	sf->size = sf->data.len;
	if (sha256_hex(sf->data.ptr ? sf->data.ptr : "", sf->data.len, sf->sha256) < 0)
		return -1;
	(void)hex_decode(sf->sha256, 32, bf->sha); /* sha256_hex's: it decodes */
	bf->size = sf->size;
	out->bytes += sf->size;
	if (sf->is_data) {
		buf_release(&sf->data);
	} else if ((*text_total += sf->size) > BUNDLE_TEXT_TOTAL_CAP) {
		cairn_error_set("the files other than data/ total more than %llu bytes, the "
				"most cairn-apply holds in memory; move bulk data to data/",
				(unsigned long long)BUNDLE_TEXT_TOTAL_CAP);
		return -1;
	}
	sums_add(sums, bf->member, sf->sha256);
	return 0;
}

/* pass 1: every file's bytes from the object database, hashed */
static int read_migrations(const struct project *p, struct bundle *b, struct build_ctx *ctx,
			   struct sums *sums, struct build_result *out)
{
	unsigned long long text_total = 0;
	size_t i, j;

	for (i = 0; i < p->n; i++) {
		const struct migration *m = p->order[i];
		struct bundle_migration *bm = &b->migs[b->nmigs++];
		const struct mig_file **sorted = xcalloc(m->nfiles + m->ngen + 1, sizeof(*sorted));
		size_t nsorted;

		fill_migration(bm, m);
		/* what cairn uses: the files check warns it ignores stay out */
		for (j = 0, nsorted = 0; j < m->nfiles; j++)
			if (m->files[j].role != ROLE_OTHER)
				sorted[nsorted++] = &m->files[j];
		for (j = 0; j < m->ngen; j++)
			sorted[nsorted++] = &m->gen[j];
		if (nsorted)
			qsort(sorted, nsorted, sizeof(*sorted), cmp_mig_file);
		for (j = 0; j < nsorted; j++) {
			if (add_file(p, m, sorted[j], bm, ctx, sums, &text_total, out) < 0) {
				free(sorted);
				return -1;
			}
		}
		free(sorted);
		bm->checksum = xmalloc(7 + 65);
		migration_checksum(bm->files, bm->nfiles, bm->checksum);
	}
	return 0;
}

/* migrations/callbacks/ (issue #20): files like a migration's, members
 * migrations/callbacks/NAME, sorted by name; their presence makes the
 * bundle format 2 (manifest_format). */
static int read_callbacks(const struct project *p, struct bundle *b, struct build_ctx *ctx,
			  struct sums *sums, struct build_result *out)
{
	struct migration dir;
	struct bundle_migration bm;
	const struct mig_file **sorted;
	unsigned long long text_total = 0;
	size_t i;
	int rc = 0;

	if (!p->ncallbacks)
		return 0;
	memset(&dir, 0, sizeof(dir));
	memset(&bm, 0, sizeof(bm));
	dir.dir = CALLBACK_DIR;
	bm.files = xcalloc(p->ncallbacks, sizeof(*bm.files));
	sorted = xcalloc(p->ncallbacks, sizeof(*sorted));
	for (i = 0; i < p->ncallbacks; i++)
		sorted[i] = &p->callbacks[i];
	qsort(sorted, p->ncallbacks, sizeof(*sorted), cmp_mig_file);
	for (i = 0; i < p->ncallbacks && rc == 0; i++)
		rc = add_file(p, &dir, sorted[i], &bm, ctx, sums, &text_total, out);
	free(sorted);
	b->callbacks = bm.files;
	b->ncallbacks = bm.nfiles;
	/* what the check's lint run found waived in them: format 3 (issue #20) */
	b->callback_waivers = xcalloc(p->ncallback_waivers + 1, sizeof(*b->callback_waivers));
	b->ncallback_waivers = p->ncallback_waivers;
	for (i = 0; i < p->ncallback_waivers; i++) {
		const struct mig_waiver *w = &p->callback_waivers[i];

		b->callback_waivers[i].rule = xstrdup(w->rule);
		b->callback_waivers[i].file = xstrdup(w->file);
		b->callback_waivers[i].line = (unsigned long long)w->line;
		b->callback_waivers[i].via = xstrdup(w->via);
		b->callback_waivers[i].reason = w->reason ? xstrdup(w->reason) : NULL;
	}
	return rc;
}

int bundle_build(const struct build_req *r, struct build_result *out)
{
	const struct project *p = r->proj;
	struct bundle b;
	struct build_ctx ctx;
	struct buf manifest = BUF_INIT, sums_text = BUF_INIT;
	struct sums sums = { NULL, 0, 0, NULL, 0 };
	struct blob *bl = NULL;
	size_t nbl = 0, blalloc = 0, i, nfiles = 0;
	char when[21], hex[65];
	char *path = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(&b, 0, sizeof(b));
	memset(&ctx, 0, sizeof(ctx));
	ctx.src = p->src;
	ctx.text_cap = p->cfg.max_file_size; /* at most BUNDLE_TEXT_CAP: checked below */
	ctx.data_cap = p->cfg.max_data_size;
	if (check_project(p) < 0)
		goto out;
	iso_time(r->commit_time, when);
	fill_header(&b, r, p, when);
	b.migs = xcalloc(p->n, sizeof(*b.migs));
	for (i = 0; i < p->n; i++)
		nfiles += p->order[i]->nfiles + p->order[i]->ngen;
	ctx.files = xcalloc(nfiles + p->ncallbacks + 1, sizeof(*ctx.files));
	if (read_migrations(p, &b, &ctx, &sums, out) < 0 ||
	    read_callbacks(p, &b, &ctx, &sums, out) < 0)
		goto out;
	if (manifest_format(&b, &manifest) < 0 || sha256_hex(manifest.ptr, manifest.len, hex) < 0)
		goto out;
	memcpy(out->id, "sha256:", 7);
	memcpy(out->id + 7, hex, 65);
	sums_add(&sums, "manifest.yaml", hex);
	sums_sort(&sums);
	if (sums_format(&sums, &sums_text) < 0)
		goto out;
	for (i = 0; i < r->nsigners; i++)
		if (sign_statement(&r->signers[i], out->id, when, &bl, &nbl, &blalloc) < 0)
			goto out;
	blobs_settle(bl, &nbl);
	if (ctx.n)
		qsort(ctx.files, ctx.n, sizeof(*ctx.files), cmp_src_file);
	path = r->output ? xstrdup(r->output) : xasprintf("%s.tar.gz", b.name);
	if (write_bundle(path, b.name, r->commit_time, &manifest, &sums_text, bl, nbl, emit_sources,
			 &ctx) < 0)
		goto out;
	out->path = path;
	path = NULL;
	out->name = xstrdup(b.name);
	out->nmigs = b.nmigs;
	out->nfiles = ctx.n;
	rc = 0;
out:
	for (i = 0; i < ctx.n; i++)
		buf_release(&ctx.files[i].data);
	free(ctx.files);
	manifest_release(&b);
	sums_release(&sums);
	buf_release(&manifest);
	buf_release(&sums_text);
	blobs_free(bl, nbl);
	free(path);
	return rc;
}

void build_result_release(struct build_result *r)
{
	free(r->path);
	free(r->name);
	memset(r, 0, sizeof(*r));
}

/* ---- sign: rewrite a verified bundle with more signatures ---- */

struct copy_ctx {
	struct bundle *b;
	const char **members;       /* sorted */
	const struct bundle_file **files;
	size_t n;
};

static int write_chunk(void *ctx, const void *data, size_t len)
{
	return bwriter_write(ctx, data, len);
}

static int emit_copy(void *vctx, struct bwriter *w)
{
	struct copy_ctx *c = vctx;
	size_t i;

	for (i = 0; i < c->n; i++) {
		if (bwriter_begin(w, c->files[i]->member, c->files[i]->size) < 0 ||
		    bundle_stream(c->b, c->files[i], write_chunk, w) < 0)
			return -1;
	}
	return 0;
}

int bundle_sign(struct bundle *b, const char *out_path, const struct build_signer *signers,
		size_t nsigners)
{
	struct blob *bl = NULL;
	size_t nbl = 0, blalloc = 0, i;
	struct copy_ctx c;
	long long mtime = iso_time_parse(b->build_time);
	int rc = -1;

	memset(&c, 0, sizeof(c));
	if (mtime < 0) {
		cairn_error_set("member 'manifest.yaml': build time '%s' is not a UTC time", b->build_time);
		return -1;
	}
	/* the statements already there, byte for byte */
	for (i = 0; i < b->nstatements; i++) {
		const struct buf *y, *s;
		const char *member = b->statements[i].member;
		size_t base = strlen(member) - strlen(".yaml");

		if (bundle_statement_bytes(b, i, &y, &s) < 0)
			goto out;
		ALLOC_GROW(bl, nbl + 2, blalloc);
		memset(&bl[nbl], 0, 2 * sizeof(*bl));
		bl[nbl].name = xstrdup(member);
		buf_put(&bl[nbl].data, y->ptr ? y->ptr : "", y->len);
		bl[nbl + 1].name = xasprintf("%.*s.sig", (int)base, member);
		buf_put(&bl[nbl + 1].data, s->ptr ? s->ptr : "", s->len);
		nbl += 2;
	}
	for (i = 0; i < nsigners; i++)
		if (sign_statement(&signers[i], b->id, b->build_time, &bl, &nbl, &blalloc) < 0)
			goto out;
	blobs_settle(bl, &nbl);
	c.b = b;
	c.files = bundle_files_sorted(b, &c.n);
	if (write_bundle(out_path, b->name, mtime, bundle_manifest_bytes(b), bundle_sums_bytes(b), bl,
			 nbl, emit_copy, &c) < 0)
		goto out;
	rc = 0;
out:
	free(c.files);
	blobs_free(bl, nbl);
	return rc;
}
