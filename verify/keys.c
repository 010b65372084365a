#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/sha256.h"
#include "../lib/util.h"
#include "keys.h"

#define PUBKEY_MAX_FILE 4096

void key_id_of_raw(const unsigned char raw[KEY_RAW_LEN], char id[KEY_ID_LEN + 1])
{
	char hex[SHA256_HEX_LEN + 1];

	sha256_hex(raw, KEY_RAW_LEN, hex);
	memcpy(id, hex, KEY_ID_LEN);
	id[KEY_ID_LEN] = '\0';
}

int key_id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < KEY_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[KEY_ID_LEN] == '\0';
}

static struct pubkey *pubkey_wrap(EVP_PKEY *pkey, const char *name)
{
	struct pubkey *k;
	size_t len = KEY_RAW_LEN;

	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		cairn_error_set("'%s' is not an Ed25519 key (make one with 'cairn keygen')", name);
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	if (EVP_PKEY_get_raw_public_key(pkey, k->raw, &len) != 1 || len != KEY_RAW_LEN) {
		cairn_error_set("'%s': cannot read the raw Ed25519 public key", name);
		free(k);
		return NULL;
	}
	k->pkey = pkey;
	key_id_of_raw(k->raw, k->id);
	return k;
}

/* The exact text 'cairn keygen' writes for an Ed25519 key: the PEM armour
 * around one line of base64 holding the key's SubjectPublicKeyInfo, which
 * is a fixed 12-byte prefix and the 32 raw bytes (RFC 8410). Read without
 * OpenSSL's decoder framework, whose set-up (looking through every
 * provider's decoders) was 4 M of the 110 M instructions of verifying a
 * bundle of 1,000 migrations; any other text goes to PEM_read_bio_PUBKEY
 * as before. Returns 1 with raw filled
 * when the text is that form. */
static int ed25519_pem_raw(const char *pem, size_t len, unsigned char raw[KEY_RAW_LEN])
{
	static const char begin[] = "-----BEGIN PUBLIC KEY-----\n";
	static const char end[] = "\n-----END PUBLIC KEY-----";
	static const unsigned char prefix[12] = { 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
						  0x2b, 0x65, 0x70, 0x03, 0x21, 0x00 };
	unsigned char der[48];
	const size_t b64 = 60; /* base64 of the 44-byte SubjectPublicKeyInfo */
	size_t tail;

	if (len < sizeof(begin) - 1 + b64 + sizeof(end) - 1 ||
	    memcmp(pem, begin, sizeof(begin) - 1) ||
	    memcmp(pem + sizeof(begin) - 1 + b64, end, sizeof(end) - 1))
		return 0;
	tail = len - (sizeof(begin) - 1 + b64 + sizeof(end) - 1);
	if (tail > 1 || (tail == 1 && pem[len - 1] != '\n'))
		return 0;
	/* 60 characters decode to 45 bytes, the last one the padding's zero */
	if (EVP_DecodeBlock(der, (const unsigned char *)pem + sizeof(begin) - 1, (int)b64) != 45 ||
	    pem[sizeof(begin) - 1 + b64 - 1] != '=' || pem[sizeof(begin) - 1 + b64 - 2] == '=' ||
	    memcmp(der, prefix, sizeof(prefix)))
		return 0;
	memcpy(raw, der + sizeof(prefix), KEY_RAW_LEN);
	return 1;
}

int pubkey_from_pem(struct pubkey **out, const char *pem, size_t len, const char *name)
{
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	unsigned char raw[KEY_RAW_LEN];
	int rc = -1;

	*out = NULL;
	if (len > PUBKEY_MAX_FILE) {
		cairn_error_set("'%s' is not a public key: %zu bytes", name, len);
		return -1;
	}
	if (ed25519_pem_raw(pem, len, raw) && pubkey_from_raw(out, raw) == 0)
		return 0;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (!bio) {
		cairn_error_set("out of memory reading '%s'", name);
		return -1;
	}
	pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	ERR_clear_error();
	if (!pkey) {
		cairn_error_set("'%s' is not a PEM public key (expected '-----BEGIN PUBLIC KEY-----', "
				"as 'cairn keygen' writes in NAME.pub)", name);
		goto out;
	}
	*out = pubkey_wrap(pkey, name);
	if (!*out)
		goto out;
	pkey = NULL;
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return rc;
}

int pubkey_load(struct pubkey **out, const char *path)
{
	struct buf b = BUF_INIT;
	int rc;

	*out = NULL;
	if (read_file(path, PUBKEY_MAX_FILE, &b) < 0)
		return -1;
	rc = pubkey_from_pem(out, b.ptr, b.len, path);
	if (!rc)
		(*out)->path = xstrdup(path);
	buf_release(&b);
	return rc;
}

int pubkey_from_raw(struct pubkey **out, const unsigned char raw[KEY_RAW_LEN])
{
	EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, KEY_RAW_LEN);

	*out = NULL;
	if (!pkey) {
		ERR_clear_error();
		cairn_error_set("not an Ed25519 public key");
		return -1;
	}
	*out = pubkey_wrap(pkey, "raw key");
	if (!*out) {
		EVP_PKEY_free(pkey);
		return -1;
	}
	return 0;
}

void pubkey_free(struct pubkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k->path);
	free(k);
}

int sig_verify(const struct pubkey *k, const void *msg, size_t len,
	       const unsigned char sig[SIG_RAW_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1, r;

	if (!ctx) {
		cairn_error_set("out of memory checking a signature");
		return -1;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) != 1) {
		cairn_error_set("cannot check a signature with key %s", k->id);
		goto out;
	}
	r = EVP_DigestVerify(ctx, sig, SIG_RAW_LEN, msg, len);
	rc = r == 1 ? 1 : 0;
out:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const unsigned char *in, size_t len, char *out)
{
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*out++ = b64[in[i] >> 2];
		*out++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*out++ = b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
		*out++ = b64[in[i + 2] & 63];
	}
	if (len - i == 1) {
		*out++ = b64[in[i] >> 2];
		*out++ = b64[(in[i] & 3) << 4];
		*out++ = '=';
		*out++ = '=';
	} else if (len - i == 2) {
		*out++ = b64[in[i] >> 2];
		*out++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		*out++ = b64[(in[i + 1] & 15) << 2];
		*out++ = '=';
	}
	*out = '\0';
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int base64_decode_exact(const char *in, size_t inlen, unsigned char *out, size_t want)
{
	size_t i, o = 0, pad = 0;
	unsigned int acc = 0;
	int bits = 0;

	if (inlen != 4 * ((want + 2) / 3))
		return -1;
	for (i = 0; i < inlen; i++) {
		int v;

		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (pad)
			return -1; /* data after padding */
		v = b64_value(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= want)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* the leftover bits must be zero: one encoding per value */
	if (o != want || pad != (3 - want % 3) % 3 || acc != 0)
		return -1;
	return 0;
}

int sig_decode(const char *text, size_t len, unsigned char sig[SIG_RAW_LEN])
{
	if (len == SIG_B64_LEN + 1 && text[SIG_B64_LEN] == '\n')
		len--;
	if (len != SIG_B64_LEN || base64_decode_exact(text, len, sig, SIG_RAW_LEN) < 0) {
		cairn_error_set("not a signature: expected the base64 of 64 bytes on one line");
		return -1;
	}
	return 0;
}
