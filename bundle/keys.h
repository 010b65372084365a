/* Ed25519 key generation and signing: cairn only, never the applier
 * (signify's VERIFYONLY split). Private keys are PEM PKCS#8, optionally
 * encrypted; their bytes are wiped after use. */
#ifndef CAIRN_SIGNKEYS_H
#define CAIRN_SIGNKEYS_H

#include <stddef.h>

#include "../verify/keys.h"

struct seckey {
	void *pkey;                    /* EVP_PKEY */
	struct pubkey *pub;
	char *path;
};

/* Writes NAME.key (mode 0600, created exclusively) and NAME.pub. pass
 * (passlen bytes) encrypts the private key; NULL leaves it plain. */
int keygen_write(const char *name, const char *pass, size_t passlen, char key_id[KEY_ID_LEN + 1]);

/* 1 when path holds an encrypted private key, 0 when plain, -1 on error
 * (unreadable, not a key, or readable by group or others: the error gives
 * the chmod to run). */
int seckey_probe(const char *path);
/* Loads a private key; pass may be NULL for a plain one. */
int seckey_load(struct seckey **out, const char *path, const char *pass, size_t passlen);
void seckey_free(struct seckey *k);

/* Signs msg: sig_b64 gets the base64 signature (SIG_B64_LEN + NUL). */
int seckey_sign(const struct seckey *k, const void *msg, size_t len,
		char sig_b64[SIG_B64_LEN + 1]);

#endif
