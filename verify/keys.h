/* Ed25519 public keys and signature checks, through OpenSSL 3's EVP API.
 * Linked into both programs: verifying only, no signing here (signify's
 * VERIFYONLY split; signing and key generation live in bundle/). */
#ifndef CAIRN_KEYS_H
#define CAIRN_KEYS_H

#include <stddef.h>

#define KEY_RAW_LEN 32
#define KEY_ID_LEN 16      /* hex digits */
#define SIG_RAW_LEN 64
#define SIG_B64_LEN 88     /* base64 of 64 bytes, with "==" */

struct pubkey {
	void *pkey;                     /* EVP_PKEY */
	unsigned char raw[KEY_RAW_LEN];
	char id[KEY_ID_LEN + 1];        /* first 16 hex of sha256(raw) */
	char *path;                     /* where it was read from, or NULL */
};

/* Key id: the first 16 hex digits of sha256 of the raw 32-byte key. */
void key_id_of_raw(const unsigned char raw[KEY_RAW_LEN], char id[KEY_ID_LEN + 1]);
/* 1 when s is 16 lower-case hex digits. */
int key_id_valid(const char *s);

/* Reads a PEM SubjectPublicKeyInfo Ed25519 key. */
int pubkey_load(struct pubkey **out, const char *path);
int pubkey_from_pem(struct pubkey **out, const char *pem, size_t len, const char *name);
int pubkey_from_raw(struct pubkey **out, const unsigned char raw[KEY_RAW_LEN]);
void pubkey_free(struct pubkey *k);

/* Checks sig over msg: 1 valid, 0 not valid, -1 error (set). */
int sig_verify(const struct pubkey *k, const void *msg, size_t len,
	       const unsigned char sig[SIG_RAW_LEN]);

/* A .sig file: exactly the base64 of 64 bytes, optionally one "\n". */
int sig_decode(const char *text, size_t len, unsigned char sig[SIG_RAW_LEN]);
/* Standard base64 with padding (out must hold 4*ceil(len/3)+1 bytes). */
void base64_encode(const unsigned char *in, size_t len, char *out);
/* Strict base64 of exactly want bytes; 0 or -1. */
int base64_decode_exact(const char *in, size_t inlen, unsigned char *out, size_t want);

#endif
