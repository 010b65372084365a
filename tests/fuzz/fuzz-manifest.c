/* Fuzz target: the parsers of a bundle's indexes, on the same bytes:
 * manifest.yaml (and writing it back, which must parse again), SHA256SUMS
 * and a statement. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/error.h"
#include "../../verify/keys.h"
#include "../../verify/manifest.h"
#include "../../verify/statement.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* SHA256SUMS fed in slices of step bytes (an apply's reader): the verdict
 * and the message sums_parse gave the whole text, or the same entries. */
static void sums_sliced(const uint8_t *data, size_t size, size_t step, int whole_rc,
			const char *whole_msg, const struct buf *whole)
{
	struct sums_parser sp;
	struct sums s;
	struct buf text = BUF_INIT;
	size_t at;
	int rc = 0;

	sums_parser_init(&sp, &s, size);
	for (at = 0; !rc && at < size; at += step)
		rc = sums_parser_feed(&sp, (const char *)data + at, size - at < step ? size - at : step);
	if (!rc)
		rc = sums_parser_finish(&sp);
	if ((rc < 0) != (whole_rc < 0) || (rc < 0 && strcmp(cairn_error_last(), whole_msg)))
		abort(); /* a cut changed the verdict or the message */
	if (!rc) {
		if (sums_format(&s, &text) < 0 || text.len != whole->len ||
		    (text.len && memcmp(text.ptr, whole->ptr, text.len)))
			abort();
		buf_release(&text);
		sums_release(&s);
	}
}

struct pieces {
	const uint8_t *data;
	size_t at, len, size;
};

static const char *next_piece(void *ctx, size_t *len)
{
	struct pieces *p = ctx;
	const char *d = (const char *)p->data + p->at;

	if (p->at >= p->len)
		return NULL;
	*len = p->len - p->at < p->size ? p->len - p->at : p->size;
	p->at += *len;
	return d;
}

/* The canonical fast path over the bytes whole and in pieces (of a size
 * the input's first byte picks): the same verdict and the same structs,
 * which write back to the input's bytes (the fast path takes only the
 * writer's text, format 1, 2 or 3, callbacks and their waivers included). */
static void pieces_agree(const uint8_t *data, size_t size)
{
	struct pieces p = { data, 0, size, 1 + (size ? data[0] % 61 : 0) };
	struct bundle whole, cut;
	struct buf a = BUF_INIT, b = BUF_INIT;
	int rw, rc;

	memset(&whole, 0, sizeof(whole));
	memset(&cut, 0, sizeof(cut));
	rw = manifest_parse_canonical(&whole, (const char *)data, size);
	rc = manifest_parse_canonical_pieces(&cut, next_piece, &p, size && data[0] % 2 ? size : 0);
	if (rw != rc)
		abort();
	if (!rw && (manifest_format(&whole, &a) < 0 || manifest_format(&cut, &b) < 0 ||
		    a.len != b.len || memcmp(a.ptr, b.ptr, a.len) || a.len != size ||
		    memcmp(a.ptr, data, size) || whole.ncallbacks != cut.ncallbacks ||
		    whole.ncallback_waivers != cut.ncallback_waivers))
		abort();
	manifest_release(&whole);
	manifest_release(&cut);
	buf_release(&a);
	buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bundle b;
	struct sums s;
	struct statement st;
	unsigned char sig[SIG_RAW_LEN];

	pieces_agree(data, size);
	memset(&b, 0, sizeof(b));
	if (manifest_parse(&b, (const char *)data, size) == 0) {
		struct buf text = BUF_INIT, slow_text = BUF_INIT;
		struct bundle again, slow;

		/* the fast path for the canonical form and the libyaml path
		 * agree: the same verdict and the same structs (written back) */
		memset(&slow, 0, sizeof(slow));
		if (manifest_parse_yaml(&slow, (const char *)data, size) < 0 ||
		    manifest_format(&b, &text) < 0 || manifest_format(&slow, &slow_text) < 0 ||
		    text.len != slow_text.len || memcmp(text.ptr, slow_text.ptr, text.len))
			abort();
		manifest_release(&slow);
		buf_release(&slow_text);
		buf_reset(&text);

		/* what parses writes back to something that parses the same */
		memset(&again, 0, sizeof(again));
		if (manifest_format(&b, &text) < 0 ||
		    manifest_parse(&again, text.ptr, text.len) < 0 || again.nmigs != b.nmigs ||
		    again.ncallbacks != b.ncallbacks || again.ncallback_waivers != b.ncallback_waivers)
			abort();
		manifest_release(&again);
		buf_release(&text);
	}
	manifest_release(&b);
	{
		struct buf text = BUF_INIT;
		char msg[CAIRN_ERRMSG_MAX];
		int rc = sums_parse(&s, (const char *)data, size);

		if (!rc) {
			if (sums_format(&s, &text) < 0 || text.len != size ||
			    (size && memcmp(text.ptr, data, size)))
				abort(); /* SHA256SUMS has one form */
			sums_release(&s);
		}
		snprintf(msg, sizeof(msg), "%s", rc ? cairn_error_last() : "");
		sums_sliced(data, size, 1, rc, msg, &text);
		sums_sliced(data, size, 7, rc, msg, &text);
		sums_sliced(data, size, size / 2 + 1, rc, msg, &text);
		buf_release(&text);
	}
	if (statement_parse(&st, (const char *)data, size, "fuzz") == 0)
		statement_release(&st);
	sig_decode((const char *)data, size, sig);
	return 0;
}
