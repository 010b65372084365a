/* bundle_open: one pass over the tarball. The canonical member order puts
 * manifest.yaml, SHA256SUMS and the signatures first, so the reader
 * authenticates the manifest (a trusted key's signature over a statement
 * naming its sha256) before it reads any migration, hashes each migration
 * member while reading it against SHA256SUMS, while the authenticated
 * manifest is parsed on a second thread (parse_job), whose result counts
 * only once every member matched; then it cross-checks the manifest,
 * SHA256SUMS and the sizes read. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "archive.h"
#include "bundle-int.h"
#include "bundle.h"
#include "keys.h"
#include "manifest.h"
#include "statement.h"

static void priv_free(struct bundle_priv *p)
{
	size_t i;

	if (!p)
		return;
	bundle_pieces_free(p);
	buf_release(&p->manifest);
	buf_release(&p->sums_raw);
	sums_release(&p->sums);
	pool_free(&p->kept_bytes);
	free(p->members);
	for (i = 0; i < p->npairs; i++) {
		free(p->pairs[i].base);
		buf_release(&p->pairs[i].yaml);
		buf_release(&p->pairs[i].sig);
	}
	free(p->pairs);
	breader_free(p->paused);
	free(p->broken);
	breader_free(p->cursor);
	free(p->cursor_after);
	free(p);
}

static void statement_free_fields(struct bundle_statement *s)
{
	free(s->type);
	free(s->environment);
	free(s->signer);
	free(s->key_id);
	free(s->time);
	free(s->comment);
	free(s->member);
	free(s->bundle_id);
	free(s->public_key);
	free(s->expires);
	free(s->database);
	free(s->checkpoint);
	free(s->ticket);
	free(s->problem);
	free(s->allow);
}

void bundle_free(struct bundle *b)
{
	size_t i;

	if (!b)
		return;
	manifest_release(b);
	for (i = 0; i < b->nstatements; i++)
		statement_free_fields(&b->statements[i]);
	free(b->statements);
	priv_free(b->priv);
	free(b->path);
	free(b);
}

static int is_data_member(const char *name)
{
	/* migrations/<dir>/data/... */
	const char *dir = name + strlen("migrations/");
	const char *slash = strchr(dir, '/');

	return slash && !strncmp(slash + 1, "data/", 5);
}

/* 0 when the member's header size is within cap for what it is; -1 with
 * the error set. */
static int within_cap(const struct bmember *m, unsigned long long cap, const char *what)
{
	if (m->size <= cap)
		return 0;
	cairn_error_set("member '%s': %llu bytes, over the size cap of %llu for %s", m->name,
			m->size, cap, what);
	return -1;
}

int bundle_read_small(struct breader *r, const struct bmember *m, unsigned long long cap,
		      const char *what, struct buf *out, char *hex)
{
	if (within_cap(m, cap, what) < 0)
		return -1;
	buf_init(out, (size_t)cap);
	/* the header's size, checked against the cap: one allocation, no
	 * copies as it grows (a short member is still read to its end) */
	if (buf_reserve(out, (size_t)m->size) < 0)
		return -1;
	mem_prefault(out->ptr, (size_t)m->size);
	return breader_slurp(r, out, hex);
}

/* A text member's bytes into the bundle's pool (kp->data) while they fit
 * in BUNDLE_TEXT_KEEP, else only hashed as they stream by (kp->streamed);
 * their sha256, and whether they hold a NUL byte. */
static int read_kept(struct breader *r, const struct bmember *m, struct bundle_priv *p,
		     struct kept *kp, char *hex)
{
	struct sha256_ctx c;
	const void *d;
	size_t len, got = 0;
	char *to = NULL;
	int k;

	if (within_cap(m, p->text_cap, "SQL and YAML files") < 0)
		return -1;
	if (p->held + m->size <= p->text_keep) {
		to = pool_alloc(&p->kept_bytes, (size_t)m->size, 1);
		p->held += m->size;
	}
	if (sha256_init(&c) < 0)
		return -1;
	/* breader_data gives the header's size, no more, or fails */
	while ((k = breader_data(r, &d, &len)) > 0) {
		if (to)
			memcpy(to + got, d, len);
		if (!kp->has_nul && memchr(d, '\0', len))
			kp->has_nul = 1;
		got += len;
		sha256_update(&c, d, len);
	}
	if (k < 0 || sha256_final_hex(&c, hex) < 0) {
		sha256_release(&c);
		return -1;
	}
	kp->data = to;
	kp->streamed = !to;
	kp->len = got;
	return 0;
}

static struct pair *pair_for(struct bundle_priv *p, const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t blen;
	char *base;

	if (!dot || (strcmp(dot, ".yaml") && strcmp(dot, ".sig"))) {
		cairn_error_set("member '%s': a statement is NAME.yaml with its NAME.sig", name);
		return NULL;
	}
	blen = (size_t)(dot - name);
	if (p->npairs && strlen(p->pairs[p->npairs - 1].base) == blen &&
	    !strncmp(p->pairs[p->npairs - 1].base, name, blen))
		return &p->pairs[p->npairs - 1];
	base = xstrndup(name, blen);
	ALLOC_GROW(p->pairs, p->npairs + 1, p->pairs_alloc);
	memset(&p->pairs[p->npairs], 0, sizeof(*p->pairs));
	p->pairs[p->npairs].base = base;
	return &p->pairs[p->npairs++];
}

/* The key id a statement member's name gives: signatures/<keyid>,
 * approvals/<env>-<keyid>. */
static const char *pair_key_id(const struct pair *pr)
{
	size_t len = strlen(pr->base);

	if (len < KEY_ID_LEN)
		return "";
	return pr->base + len - KEY_ID_LEN;
}

static int pair_is_build(const struct pair *pr)
{
	return !strncmp(pr->base, "signatures/", 11);
}

static int check_pair_names(const struct pair *pr)
{
	const char *id = pair_key_id(pr);

	if (!pr->have_yaml || !pr->have_sig) {
		cairn_error_set("member '%s.%s': missing (each statement comes with its signature)",
				pr->base, pr->have_yaml ? "sig" : "yaml");
		return -1;
	}
	if (pair_is_build(pr)) {
		if (strlen(pr->base) != 11 + KEY_ID_LEN || !key_id_valid(id)) {
			cairn_error_set("member '%s.yaml': build statements are named signatures/<keyid>.yaml",
					pr->base);
			return -1;
		}
	} else if (strlen(pr->base) < 10 + 2 + KEY_ID_LEN || pr->base[strlen(pr->base) - KEY_ID_LEN - 1] != '-' ||
		   !key_id_valid(id)) {
		cairn_error_set("member '%s.yaml': statements under approvals/ are named <env>-<keyid>.yaml",
				pr->base);
		return -1;
	}
	return 0;
}

/* Step 1: a build signature by a trusted key over a statement naming this
 * manifest. Only raw bytes are examined until the signature checks out. */
static int authenticate(struct bundle *b, const struct trust *trust)
{
	struct bundle_priv *p = b->priv;
	const char *mismatch = NULL, *badsig = NULL;
	char unknown[256] = "", trusted_ids[128] = "";
	size_t i, nsig = 0;
	int found = 0;

	for (i = 0; i < p->npairs && !found; i++) {
		const struct pair *pr = &p->pairs[i];
		const struct pubkey *k;
		unsigned char sig[SIG_RAW_LEN];
		struct statement st;
		int v;

		if (!pair_is_build(pr))
			continue;
		nsig++;
		k = trust_find(trust, pair_key_id(pr), TRUST_BUILD);
		if (!k) {
			size_t l = strlen(unknown);

			if (l + KEY_ID_LEN + 3 < sizeof(unknown))
				snprintf(unknown + l, sizeof(unknown) - l, "%s%s", l ? ", " : "",
					 pair_key_id(pr));
			continue;
		}
		if (sig_decode(pr->sig.ptr, pr->sig.len, sig) < 0) {
			badsig = pr->base;
			continue;
		}
		v = sig_verify(k, pr->yaml.ptr, pr->yaml.len, sig);
		if (v < 0)
			return -1;
		if (!v) {
			badsig = pr->base;
			continue;
		}
		/* authenticated by a trusted key: now it may be parsed */
		if (statement_parse(&st, pr->yaml.ptr, pr->yaml.len, pr->base) < 0) {
			cairn_error_set("member '%s.yaml': %s", pr->base, cairn_error_last());
			return -1;
		}
		if (strcmp(st.type, "build") || strcmp(st.key, pair_key_id(pr))) {
			cairn_error_set("member '%s.yaml': not a build statement by key %s", pr->base,
					pair_key_id(pr));
			statement_release(&st);
			return -1;
		}
		if (strcmp(st.bundle, b->id))
			mismatch = pr->base;
		else
			found = 1;
		statement_release(&st);
	}
	if (found)
		return 0;
	if (mismatch) {
		cairn_error_set("member 'manifest.yaml': changed after signing: %s.yaml signs another "
				"manifest, and this one hashes to %s", mismatch, b->id);
		return -1;
	}
	if (badsig) {
		cairn_error_set("member '%s.sig': bad signature: it does not match %s.yaml and key %s "
				"(changed after signing)", badsig, badsig, badsig + 11);
		return -1;
	}
	if (!nsig) {
		cairn_error_set("no build signature: signatures/ is empty (sign the bundle with "
				"'cairn sign BUNDLE --key KEY')");
		return -1;
	}
	trust_list_ids(trust, TRUST_BUILD, trusted_ids, sizeof(trusted_ids));
	if (!*trusted_ids)
		cairn_error_set("build signature by unknown key %s: no build key is trusted (pass "
				"--key PUB)", unknown);
	else
		cairn_error_set("build signature by unknown key %s (trusted: %s)", unknown, trusted_ids);
	return -1;
}

/* Every statement, for inspect and for the policy: valid when its
 * signature checks against the key it names and it names this bundle. */
static void collect_statements(struct bundle *b, const struct trust *trust)
{
	struct bundle_priv *p = b->priv;
	size_t i;

	b->statements = xcalloc(p->npairs ? p->npairs : 1, sizeof(*b->statements));
	for (i = 0; i < p->npairs; i++) {
		const struct pair *pr = &p->pairs[i];
		struct bundle_statement *s = &b->statements[b->nstatements++];
		struct statement st;
		unsigned char raw[KEY_RAW_LEN], sig[SIG_RAW_LEN];
		struct pubkey *k = NULL;
		char *want = NULL;

		s->member = xasprintf("%s.yaml", pr->base);
		if (statement_parse(&st, pr->yaml.ptr, pr->yaml.len, s->member) < 0) {
			s->type = xstrdup("unknown");
			s->key_id = xstrdup(pair_key_id(pr));
			s->problem = xstrdup(cairn_error_last());
			continue;
		}
		s->type = st.type;
		s->environment = st.environment;
		s->signer = st.signer;
		s->key_id = st.key;
		s->time = st.time;
		s->comment = st.comment;
		s->bundle_id = st.bundle;
		s->public_key = st.public_key;
		s->expires = st.expires;
		s->database = st.database;
		s->ticket = st.ticket;
		s->allow = st.allow;
		s->checkpoint = st.checkpoint;
		/* its name says what it is (statement_member_base) */
		want = statement_member_base(st.type, st.environment, st.key);
		if (strcmp(st.key, pair_key_id(pr)))
			s->problem = xasprintf("signed with key %s but named for key %s", st.key,
					       pair_key_id(pr));
		else if (pair_is_build(pr) != !strcmp(st.type, "build"))
			s->problem = xasprintf("a %s statement under %s", st.type,
					       pair_is_build(pr) ? "signatures/" : "approvals/");
		else if (!pair_is_build(pr) && strcmp(want, pr->base))
			s->problem = xasprintf("a %s for environment '%s' must be named %s.yaml",
					       st.type, st.environment, want);
		else if (strcmp(st.bundle, b->id))
			s->problem = xasprintf("for another bundle (%s)", st.bundle);
		else if (sig_decode(pr->sig.ptr, pr->sig.len, sig) < 0)
			s->problem = xstrdup("the .sig file is not a signature");
		else if (base64_decode_exact(st.public_key, strlen(st.public_key), raw, sizeof(raw)) < 0 ||
			 pubkey_from_raw(&k, raw) < 0)
			s->problem = xstrdup("its public_key is not an Ed25519 key");
		else if (sig_verify(k, pr->yaml.ptr, pr->yaml.len, sig) != 1)
			s->problem = xstrdup("bad signature");
		else
			s->valid = 1;
		pubkey_free(k);
		k = NULL;
		free(want);
		if (s->valid) {
			const struct pubkey *tk = trust_find(trust, s->key_id, trust_role_of_type(s->type));

			s->trusted = tk && !memcmp(tk->raw, raw, KEY_RAW_LEN);
		}
	}
}

/* A data member is streamed and hashed whatever its size: its tar header's
 * size is compared with the one the (authenticated) manifest records first,
 * so a member swapped for a huge stream is refused before it is read. A
 * manifest that does not parse is left to be reported after the members,
 * as before. parse is NULL once the manifest is parsed (an unchanged
 * bundle file read on by resume). */
static int data_size_check(struct bundle *b, struct parse_job *parse, const struct bmember *m)
{
	size_t i, j;

	if (parse) {
		bundle_parse_wait(parse);
		if (parse->rc < 0)
			return 0;
	}
	for (i = 0; i < b->nmigs; i++)
		for (j = 0; j < b->migs[i].nfiles; j++) {
			const struct bundle_file *f = &b->migs[i].files[j];

			if (strcmp(f->member, m->name))
				continue;
			if (f->size == m->size)
				return 0;
			cairn_error_set("member '%s': %llu bytes, but the signed manifest says %llu "
					"(refused before reading it)", m->name, m->size, f->size);
			return -1;
		}
	return 0; /* not in the manifest: cross_check says so */
}

/* Statements a bundle may carry: builds, approvals, receipts and overrides
 * for a handful of environments fit many times over; a bundle with more is
 * refused as it arrives, before their bytes pile up unchecked. */
#define BUNDLE_STATEMENTS_MAX 100

/* SHA256SUMS parsed as its bytes are inflated, never held whole (issue
 * #14: its text was 3.9 MB at 20,000 migrations, held beside what was
 * parsed from it). As reading it whole then parsing did, a read error
 * (the archive truncated or damaged within it) is told before a line the
 * parse refused: the rest is read, not parsed, to see which. */
static int read_sums_streamed(struct breader *r, const struct bmember *m, struct sums *out)
{
	struct sums_parser sp;
	const void *d;
	size_t len;
	char *refused = NULL;
	int k;

	if (within_cap(m, SUMS_MAX_SIZE, "SHA256SUMS") < 0)
		return -1;
	sums_parser_init(&sp, out, (size_t)m->size);
	while ((k = breader_data(r, &d, &len)) > 0)
		if (!refused && sums_parser_feed(&sp, d, len) < 0)
			refused = xstrdup(cairn_error_last());
	if (k < 0 || refused) {
		if (k == 0)
			cairn_error_set("member %s", refused);
		free(refused);
		sums_parser_abandon(&sp);
		return -1;
	}
	if (sums_parser_finish(&sp) < 0) {
		cairn_error_set("member %s", cairn_error_last());
		return -1;
	}
	return 0;
}

/* manifest.yaml, then SHA256SUMS: raw bytes only, the manifest's hash
 * checked against SHA256SUMS's first line. parse, when not NULL: the
 * caller never writes the bundle again (drop_manifest_bytes), so the
 * manifest goes to the parse in pieces as it is read (bundle-parse.c)
 * and SHA256SUMS is parsed as it is read, its text never kept. */
static int read_head(struct bundle *b, struct breader *r, struct parse_job *parse)
{
	struct bundle_priv *p = b->priv;
	struct bmember m;
	char hex[65];
	int k;

	if ((k = breader_next(r, &m)) <= 0) {
		if (!k)
			cairn_error_set("not a bundle: no members");
		return -1;
	}
	if (m.rank != RANK_MANIFEST) {
		cairn_error_set("member 'manifest.yaml': missing (the first member is '%s')", m.name);
		return -1;
	}
	if (!parse) {
		if (bundle_read_small(r, &m, MANIFEST_MAX_SIZE, "the manifest", &p->manifest, hex) < 0)
			return -1;
	} else {
		if (within_cap(&m, MANIFEST_MAX_SIZE, "the manifest") < 0)
			return -1;
		p->mpieces = 1;
		p->mhint = m.size;
		bundle_parse_start(parse);
		if (bundle_read_pieces(p, r, m.size) < 0)
			return -1;
	}
	if ((k = breader_next(r, &m)) <= 0 || m.rank != RANK_SUMS) {
		if (k >= 0)
			cairn_error_set("member 'SHA256SUMS': missing%s%s%s", k ? " (found '" : "",
					k ? m.name : "", k ? "' instead)" : "");
		return -1;
	}
	if (!parse) {
		if (bundle_read_small(r, &m, SUMS_MAX_SIZE, "SHA256SUMS", &p->sums_raw, NULL) < 0)
			return -1;
		if (sums_parse(&p->sums, p->sums_raw.ptr, p->sums_raw.len) < 0) {
			cairn_error_set("member %s", cairn_error_last());
			return -1;
		}
	} else {
		if (read_sums_streamed(r, &m, &p->sums) < 0)
			return -1;
		/* hashed by the parse's thread while SHA256SUMS was read */
		if (bundle_parse_manifest_hex(p, hex) < 0)
			return -1;
	}
	memcpy(b->id, "sha256:", 7);
	memcpy(b->id + 7, hex, 65);
	if (!p->sums.n || strcmp(p->sums.items[0].path, "manifest.yaml")) {
		cairn_error_set("member 'SHA256SUMS': does not list manifest.yaml first");
		return -1;
	}
	if (!sums_hex_eq(&p->sums.items[0], hex)) {
		cairn_error_set("member 'manifest.yaml': sha256 does not match SHA256SUMS (changed after "
				"the build)");
		return -1;
	}
	/* the parse may compare the list now, and free it (bundle-parse.c) */
	if (parse)
		bundle_parse_sums_ready(parse);
	p->next = 1;
	return 0;
}

/* A signature or approval member, into its pair. */
static int read_statement_member(struct bundle_priv *p, struct breader *r, const struct bmember *m)
{
	struct pair *pr = pair_for(p, m->name);
	int is_sig;

	if (!pr)
		return -1;
	if (p->npairs > BUNDLE_STATEMENTS_MAX) {
		cairn_error_set("member '%s': more than %d statements, the most a bundle carries",
				m->name, BUNDLE_STATEMENTS_MAX);
		return -1;
	}
	is_sig = ends_with(m->name, ".sig");
	if (bundle_read_small(r, m, is_sig ? SIGFILE_MAX_SIZE : STATEMENT_MAX_SIZE,
		       is_sig ? "a signature" : "a statement", is_sig ? &pr->sig : &pr->yaml, NULL) < 0)
		return -1;
	if (is_sig)
		pr->have_sig = 1;
	else
		pr->have_yaml = 1;
	return 0;
}

/* A migration member: the next one SHA256SUMS lists, read (a data file
 * hashed as it streams by, its size first checked against the manifest's,
 * a text file kept) and its hash checked. parse as data_size_check takes
 * it. */
static int read_migration_member(struct bundle *b, struct parse_job *parse, struct breader *r,
				 const struct bmember *m)
{
	struct bundle_priv *p = b->priv;
	struct kept *kp;
	char hex[65];
	size_t next = p->next;
	int k;

	if (next >= p->sums.n || strcmp(m->name, p->sums.items[next].path) < 0) {
		cairn_error_set("member '%s': not listed in SHA256SUMS (added after the build)", m->name);
		return -1;
	}
	if (strcmp(m->name, p->sums.items[next].path) > 0) {
		cairn_error_set("member '%s': missing (listed in SHA256SUMS)", p->sums.items[next].path);
		return -1;
	}
	/* at the first (an unchanged file may never read one) */
	if (!p->members)
		p->members = xcalloc(p->sums.n, sizeof(*p->members));
	kp = &p->members[p->nmembers++];
	kp->name = p->sums.items[next].path; /* equal, and lives as long */
	kp->size = m->size;
	kp->is_data = is_data_member(m->name);
	if (kp->is_data) {
		struct sha256_ctx c;
		const void *d;
		size_t len;

		if (within_cap(m, p->data_cap, "data files") < 0 ||
		    data_size_check(b, parse, m) < 0)
			return -1;
		if (sha256_init(&c) < 0)
			return -1;
		while ((k = breader_data(r, &d, &len)) > 0)
			sha256_update(&c, d, len);
		if (k < 0 || sha256_final_hex(&c, hex) < 0) {
			sha256_release(&c);
			return -1;
		}
	} else if (read_kept(r, m, p, kp, hex) < 0) {
		return -1;
	} else if ((p->kept += m->size) > BUNDLE_TEXT_TOTAL_CAP) {
		cairn_error_set("member '%s': the files other than data/ total more than %llu bytes, "
				"the most a bundle holds in memory", m->name,
				(unsigned long long)BUNDLE_TEXT_TOTAL_CAP);
		return -1;
	}
	if (!sums_hex_eq(&p->sums.items[next], hex)) {
		cairn_error_set("member '%s': sha256 does not match SHA256SUMS (changed after the build)",
				m->name);
		return -1;
	}
	p->next++;
	return 0;
}

/* The migration members from m (already read: k is 1, or 0 at the end of
 * the archive) to the end, then SHA256SUMS all found. */
static int read_migrations(struct bundle *b, struct parse_job *parse, struct breader *r,
			   struct bmember *m, int k)
{
	struct bundle_priv *p = b->priv;

	for (; k > 0; k = breader_next(r, m)) {
		if (m->rank != RANK_MIGRATION) {
			cairn_error_set("member '%s': out of order", m->name);
			return -1;
		}
		if (read_migration_member(b, parse, r, m) < 0)
			return -1;
	}
	if (k < 0)
		return -1;
	if (p->next < p->sums.n) {
		cairn_error_set("member '%s': missing (listed in SHA256SUMS)",
				p->sums.items[p->next].path);
		return -1;
	}
	return 0;
}

/* An unchanged bundle file: the caller knows a file with these bytes was
 * verified whole before (an applier's books record the sha256 of each
 * bundle file it verified and applied), so its migration members need
 * not be read now. Asked once the statements are authenticated, so only
 * a bundle this run trusts gets here. */
static int file_known(struct bundle *b, struct breader *r, const struct bundle_open_opts *o)
{
	if (!o || !o->known_file || o->known_file(o->known_ctx, NULL) <= 0)
		return 0;
	if (breader_file_sha256(r, b->file_sha256) < 0) {
		*b->file_sha256 = '\0';
		return 0;
	}
	return o->known_file(o->known_ctx, b->file_sha256) > 0;
}

int bundle_open_opts(struct bundle **out, const char *path, const struct trust *trust,
		     const struct bundle_open_opts *opts)
{
	struct bundle *b = xcalloc(1, sizeof(*b));
	struct bundle_priv *p = xcalloc(1, sizeof(*p));
	struct breader *r = NULL;
	struct bmember m;
	struct parse_job parse = { .b = b };
	int drop = opts && opts->drop_manifest_bytes;
	int k, rc = -1;
	size_t i;

	*out = NULL;
	b->path = xstrdup(path);
	b->priv = p;
	bundle_pieces_init(p);
	p->text_cap = opts && opts->text_cap ? opts->text_cap : BUNDLE_TEXT_CAP;
	p->data_cap = opts && opts->data_cap ? opts->data_cap : BUNDLE_DATA_CAP;
	p->text_keep = opts && opts->text_keep ? opts->text_keep : BUNDLE_TEXT_KEEP;
	if (breader_open(&r, path) < 0)
		goto out;
	if (opts && opts->known_file)
		breader_hash_file(r);
	if (read_head(b, r, drop ? &parse : NULL) < 0)
		goto out;
	/* the statements, up to the first migration member */
	while ((k = breader_next(r, &m)) > 0 &&
	       (m.rank == RANK_SIGNATURE || m.rank == RANK_APPROVAL))
		if (read_statement_member(p, r, &m) < 0)
			goto out;
	if (k < 0)
		goto out;
	for (i = 0; i < p->npairs; i++)
		if (check_pair_names(&p->pairs[i]) < 0)
			goto out;
	if (opts && opts->trust_ready && opts->trust_ready(opts->trust_ctx) < 0)
		goto out;
	if (!(opts && opts->untrusted) && authenticate(b, trust) < 0)
		goto out;
	if (drop)
		bundle_parse_authenticated(&parse, 1);
	else
		bundle_parse_start(&parse);
	if (k > 0 && m.rank == RANK_MIGRATION && file_known(b, r, opts)) {
		/* kept open where it stopped: bundle_read reads on from here */
		p->paused = r;
		p->paused_m = m;
		r = NULL;
	} else {
		bundle_parse_reading_members(&parse);
		if (read_migrations(b, &parse, r, &m, k) < 0)
			goto out;
	}
	/* every member checked out: now the parse counts */
	if (bundle_parse_finish(&parse) < 0)
		goto out;
	if (bundle_cross_check(b, breader_top(r ? r : p->paused), drop) < 0)
		goto out;
	if (r && opts && opts->known_file && breader_file_sha256(r, b->file_sha256) < 0)
		*b->file_sha256 = '\0';
	if (drop)
		buf_release(&p->manifest); /* parsed (parse_finish) and checked */
	collect_statements(b, trust);
	*out = b;
	b = NULL;
	rc = 0;
out:
	bundle_parse_abandon(&parse);
	breader_free(r);
	bundle_free(b);
	return rc;
}

int bundle_members_checked_before(const struct bundle *b)
{
	return ((const struct bundle_priv *)b->priv)->paused != NULL;
}

int bundle_manifest_streamed(const struct bundle *b)
{
	return ((const struct bundle_priv *)b->priv)->mstreamed_ok;
}

/* A bundle opened as an unchanged file, read on to its end as
 * bundle_open_opts would have: every member's hash and the archive's end
 * checked, the text members kept. Once, at the first member asked for. */
int bundle_resume(struct bundle *b)
{
	struct bundle_priv *p = b->priv;
	struct breader *r = p->paused;
	int rc;

	if (!r)
		return 0;
	p->paused = NULL;
	if (p->sums_dropped)
		bundle_sums_remake(b);
	rc = read_migrations(b, NULL, r, &p->paused_m, 1);
	if (!rc)
		rc = bundle_cross_check(b, breader_top(r), 0);
	breader_free(r);
	if (rc < 0) {
		cairn_error_set("bundle '%s' changed since it was verified: %s", b->path,
				cairn_error_last());
		p->broken = xstrdup(cairn_error_last());
	}
	return rc;
}

int bundle_open(struct bundle **out, const char *path, const struct trust *trust)
{
	return bundle_open_opts(out, path, trust, NULL);
}

