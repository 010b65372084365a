#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "keys.h"

#define SECKEY_MAX_FILE 8192

static void ssl_fail(const char *what)
{
	unsigned long e = ERR_get_error();
	char msg[256];

	ERR_error_string_n(e, msg, sizeof(msg));
	ERR_clear_error();
	cairn_error_set("%s: %s", what, e ? msg : "OpenSSL error");
}

/* The PEM text of a BIO; wiped when it held a secret. */
static void bio_wipe_free(BIO *bio)
{
	char *p = NULL;
	long n;

	if (!bio)
		return;
	n = BIO_get_mem_data(bio, &p);
	if (p && n > 0)
		OPENSSL_cleanse(p, (size_t)n);
	BIO_free(bio);
}

int keygen_write(const char *name, const char *pass, size_t passlen, char key_id[KEY_ID_LEN + 1])
{
	EVP_PKEY *pkey = NULL;
	BIO *sec = NULL, *pub = NULL;
	struct pubkey *pk = NULL;
	char *keypath = xasprintf("%s.key", name), *pubpath = xasprintf("%s.pub", name);
	char *data;
	long n;
	int rc = -1, wrote_key = 0;

	if (path_exists(keypath) || path_exists(pubpath)) {
		cairn_error_set("'%s' exists: cairn never overwrites a key (pick another name, or "
				"remove the old pair first)", path_exists(keypath) ? keypath : pubpath);
		goto out;
	}
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!pkey) {
		ssl_fail("cannot generate an Ed25519 key");
		goto out;
	}
	sec = BIO_new(BIO_s_mem());
	pub = BIO_new(BIO_s_mem());
	if (!sec || !pub) {
		cairn_error_set("out of memory");
		goto out;
	}
	if (pass) {
		/* PKCS#8 PBES2 with scrypt (N=2^14, r=8, p=1: 16 MiB, within
		 * OpenSSL's default scrypt memory limit, so openssl(1) reads it)
		 * and AES-256-CBC, rather than the default PBKDF2 of 2,048
		 * iterations */
		X509_ALGOR *pbe = PKCS5_pbe2_set_scrypt(EVP_aes_256_cbc(), NULL, 0, NULL,
							1 << 14, 8, 1);
		PKCS8_PRIV_KEY_INFO *p8 = pbe ? EVP_PKEY2PKCS8(pkey) : NULL;
		X509_SIG *enc = p8 ? PKCS8_set0_pbe(pass, (int)passlen, p8, pbe) : NULL;
		int ok = enc && PEM_write_bio_PKCS8(sec, enc);

		if (!enc)
			X509_ALGOR_free(pbe);
		X509_SIG_free(enc);
		PKCS8_PRIV_KEY_INFO_free(p8);
		if (!ok) {
			ssl_fail("cannot encrypt the private key");
			goto out;
		}
	} else if (!PEM_write_bio_PKCS8PrivateKey(sec, pkey, NULL, NULL, 0, NULL, NULL)) {
		ssl_fail("cannot encode the private key");
		goto out;
	}
	if (!PEM_write_bio_PUBKEY(pub, pkey)) {
		ssl_fail("cannot encode the public key");
		goto out;
	}
	n = BIO_get_mem_data(sec, &data);
	if (write_file_new(keypath, data, (size_t)n, 0600) < 0)
		goto out;
	wrote_key = 1;
	n = BIO_get_mem_data(pub, &data);
	if (write_file_new(pubpath, data, (size_t)n, 0644) < 0)
		goto out;
	if (pubkey_from_pem(&pk, data, (size_t)n, pubpath) < 0)
		goto out;
	memcpy(key_id, pk->id, KEY_ID_LEN + 1);
	rc = 0;
out:
	if (rc && wrote_key)
		unlink(keypath);
	pubkey_free(pk);
	bio_wipe_free(sec);
	BIO_free(pub);
	EVP_PKEY_free(pkey);
	free(keypath);
	free(pubpath);
	return rc;
}

static int read_secret_file(const char *path, struct buf *out)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		cairn_error_set("cannot read key '%s': %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & 077) {
		cairn_error_set("refusing private key '%s': readable by %s (mode %04o); run 'chmod 600 %s'",
				path, (st.st_mode & 007) ? "others" : "its group",
				(unsigned)(st.st_mode & 07777), path);
		return -1;
	}
	buf_init(out, SECKEY_MAX_FILE);
	if (read_file(path, SECKEY_MAX_FILE, out) < 0)
		return -1;
	return 0;
}

static void buf_wipe(struct buf *b)
{
	if (b->ptr)
		OPENSSL_cleanse(b->ptr, b->alloc);
	buf_release(b);
}

int seckey_probe(const char *path)
{
	struct buf b = BUF_INIT;
	int rc = -1;

	if (read_secret_file(path, &b) < 0)
		goto out;
	if (strstr(b.ptr, "-----BEGIN ENCRYPTED PRIVATE KEY-----"))
		rc = 1;
	else if (strstr(b.ptr, "-----BEGIN PRIVATE KEY-----"))
		rc = 0;
	else
		cairn_error_set("'%s' is not a PEM private key (make one with 'cairn keygen NAME')", path);
out:
	buf_wipe(&b);
	return rc;
}

struct pass_ctx {
	const char *pass;
	size_t len;
	int asked;
};

static int pass_cb(char *out, int size, int rwflag, void *u)
{
	struct pass_ctx *c = u;

	(void)rwflag;
	c->asked = 1;
	if (!c->pass || c->len > (size_t)size)
		return -1;
	memcpy(out, c->pass, c->len);
	return (int)c->len;
}

int seckey_load(struct seckey **out, const char *path, const char *pass, size_t passlen)
{
	struct buf b = BUF_INIT;
	struct pass_ctx pc = { pass, passlen, 0 };
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	struct seckey *k = NULL;
	unsigned char raw[KEY_RAW_LEN];
	size_t rawlen = sizeof(raw);
	int rc = -1;

	*out = NULL;
	if (read_secret_file(path, &b) < 0)
		goto out;
	bio = BIO_new_mem_buf(b.ptr, (int)b.len);
	if (!bio) {
		cairn_error_set("out of memory");
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, &pc);
	if (!pkey) {
		ERR_clear_error();
		if (pc.asked)
			cairn_error_set("cannot decrypt private key '%s': wrong passphrase", path);
		else
			cairn_error_set("'%s' is not a PEM private key (make one with 'cairn keygen NAME')",
					path);
		goto out;
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		cairn_error_set("'%s' is not an Ed25519 key (make one with 'cairn keygen NAME')", path);
		goto out;
	}
	k = xcalloc(1, sizeof(*k));
	if (EVP_PKEY_get_raw_public_key(pkey, raw, &rawlen) != 1 || pubkey_from_raw(&k->pub, raw) < 0) {
		cairn_error_set("'%s': cannot derive the public key", path);
		goto out;
	}
	k->pkey = pkey;
	k->path = xstrdup(path);
	pkey = NULL;
	*out = k;
	k = NULL;
	rc = 0;
out:
	seckey_free(k);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	buf_wipe(&b);
	return rc;
}

void seckey_free(struct seckey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey); /* OpenSSL wipes the key material it frees */
	pubkey_free(k->pub);
	free(k->path);
	free(k);
}

int seckey_sign(const struct seckey *k, const void *msg, size_t len, char sig_b64[SIG_B64_LEN + 1])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char sig[SIG_RAW_LEN];
	size_t siglen = sizeof(sig);
	int rc = -1;

	if (!ctx) {
		cairn_error_set("out of memory");
		return -1;
	}
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, msg, len) != 1 || siglen != SIG_RAW_LEN) {
		ssl_fail("cannot sign");
		goto out;
	}
	base64_encode(sig, SIG_RAW_LEN, sig_b64);
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}
