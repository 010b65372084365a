/* The applier's config (config.c): the public keys it names, loaded, and
 * the RFC 3339 times of revocations and expiries. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "../lib/yaml.h"
#include "config-private.h"
#include "config.h"
/* ------------------------------------------------------------------ */
/* keys */

void policy_key_id(const unsigned char raw[32], char out[POLICY_KEY_ID_LEN + 1])
{
	char hex[SHA256_HEX_LEN + 1];

	if (sha256_hex(raw, 32, hex) < 0)
		hex[0] = '\0';
	memcpy(out, hex, POLICY_KEY_ID_LEN);
	out[POLICY_KEY_ID_LEN] = '\0';
}

int policy_key_load(struct policy_key *k, const char *path)
{
	struct buf data = BUF_INIT;
	BIO *bio = NULL;
	EVP_PKEY *pk = NULL;
	size_t rawlen = sizeof(k->raw);
	int rc = -1;

	buf_init(&data, POLICY_KEY_MAX_SIZE);
	if (read_file(path, POLICY_KEY_MAX_SIZE, &data) < 0)
		goto out; /* error set */
	if (strstr(buf_cstr(&data), "PRIVATE KEY")) {
		cairn_error_set("'%s' is a private key; name its public half (the .pub file) "
				"here, and keep the private key off this host", path);
		goto out;
	}
	bio = BIO_new_mem_buf(data.ptr, (int)data.len);
	if (bio)
		pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (!pk) {
		cairn_error_set("'%s' is not a PEM public key (expected '-----BEGIN PUBLIC KEY-----', "
				"as 'cairn keygen' writes)", path);
		goto out;
	}
	if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		cairn_error_set("'%s' is not an Ed25519 key; cairn signs with Ed25519 only", path);
		goto out;
	}
	if (EVP_PKEY_get_raw_public_key(pk, k->raw, &rawlen) != 1 || rawlen != 32) {
		cairn_error_set("cannot read the raw public key from '%s'", path);
		goto out;
	}
	policy_key_id(k->raw, k->key_id);
	k->loaded = 1;
	rc = 0;
out:
	EVP_PKEY_free(pk);
	BIO_free(bio);
	buf_release(&data);
	return rc;
}

const struct policy_key *policy_keylist_find(const struct policy_keylist *l, const char *key_id)
{
	size_t i;

	if (!l || !key_id)
		return NULL;
	for (i = 0; i < l->n; i++)
		if (l->items[i].loaded && !strcmp(l->items[i].key_id, key_id))
			return &l->items[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* time */

static int digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int parse_rfc3339(const char *s, long long *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int Y, M, D, h = 0, m = 0, sec = 0, oh = 0, om = 0, sign = 0;
	struct tm tm;
	time_t t;

	if (!s || strlen(s) < 10 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
	    s[7] != '-' || digits(s + 8, 2, &D))
		goto bad;
	s += 10;
	if (*s) {
		if ((*s != 'T' && *s != 't' && *s != ' ') || digits(s + 1, 2, &h) || s[3] != ':' ||
		    digits(s + 4, 2, &m) || s[6] != ':' || digits(s + 7, 2, &sec))
			goto bad;
		s += 9;
		if (*s == '.') { /* fractions of a second: accepted, dropped */
			s++;
			if (*s < '0' || *s > '9')
				goto bad;
			while (*s >= '0' && *s <= '9')
				s++;
		}
		if (*s == 'Z' || *s == 'z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			sign = *s == '-' ? -1 : 1;
			if (digits(s + 1, 2, &oh) || s[3] != ':' || digits(s + 4, 2, &om))
				goto bad;
			s += 6;
		} else {
			goto bad; /* a local time without a zone means nothing to a signature */
		}
		if (*s)
			goto bad;
	}
	if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 ||
	    sec > 60 || oh > 23 || om > 59)
		goto bad;
	if (M == 2 && D == 29 && !((Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0))
		goto bad;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec > 59 ? 59 : sec;
	t = timegm(&tm);
	*out = (long long)t - sign * (oh * 3600LL + om * 60LL);
	return 0;
bad:
	cairn_error_set("'%s' is not a UTC time such as 2026-11-01T00:00:00Z", s ? s : "");
	return -1;
}
