#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../verify/keys.h"
#include "checkpoint.h"

static int signature_ok(const struct checkpoint *c, const char *line, const char *want_key)
{
	unsigned char raw[KEY_RAW_LEN], sig[SIG_RAW_LEN];
	char id[KEY_ID_LEN + 1];
	struct pubkey *k = NULL;
	int ok;

	if (base64_decode_exact(c->pub, strlen(c->pub), raw, KEY_RAW_LEN) < 0 ||
	    sig_decode(c->sig, strlen(c->sig), sig) < 0) {
		cairn_error_set("the checkpoint's key or signature is not base64 of the right size");
		return -1;
	}
	key_id_of_raw(raw, id);
	if (strcmp(id, c->key)) {
		cairn_error_set("the checkpoint names key %s but carries the key of %s", c->key, id);
		return -1;
	}
	if (want_key && strcmp(want_key, id)) {
		cairn_error_set("the checkpoint is signed by key %s, not by %s", id, want_key);
		return -1;
	}
	if (pubkey_from_raw(&k, raw) < 0)
		return -1;
	ok = sig_verify(k, line, c->signed_len, sig);
	pubkey_free(k);
	if (ok != 1) {
		if (!ok)
			cairn_error_set("the checkpoint's signature by %s does not verify: the line "
					"was altered", id);
		return -1;
	}
	return 0;
}

int checkpoint_signature_check(const struct checkpoint *c, const char *line, const char *want_key)
{
	return signature_ok(c, line, want_key);
}

int checkpoint_head_check(const struct checkpoint *c, size_t na, long long seq, const char *hash)
{
	if (!c->length)
		return 0;
	if (!na) {
		cairn_error_set("the audit chain is empty (the tables were dropped or emptied), "
				"but the checkpoint of %s records %lld rows ending in %.16s...",
				c->time, c->length, c->head);
		return -1;
	}
	if ((long long)na < c->length) {
		cairn_error_set("the audit chain has %zu rows, but the checkpoint of %s records %lld: "
				"its newest rows were deleted", na, c->time, c->length);
		return -1;
	}
	if (seq != c->length || !hash || strcmp(hash, c->head)) {
		cairn_error_set("audit row %lld hashes to %.16s..., but the checkpoint of %s "
				"recorded %.16s...: the chain was rewritten", c->length,
				hash ? hash : "", c->time, c->head);
		return -1;
	}
	return 0;
}

int checkpoint_rows_check(const struct checkpoint *c, const struct audit_row *a, size_t na)
{
	const struct audit_row *r = c->length > 0 && (long long)na >= c->length
					    ? &a[c->length - 1] : NULL;

	return checkpoint_head_check(c, na, r ? r->seq : 0, r ? r->hash : NULL);
}

int checkpoint_check(const struct checkpoint *c, const char *line, const char *want_key,
		     const struct audit_row *a, size_t na)
{
	if (signature_ok(c, line, want_key) < 0)
		return -1;
	return checkpoint_rows_check(c, a, na);
}
