#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../lib/checkpoint.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/keys.h"
#include "../verify/statement.h"
#include "receipt.h"

static int pass_cb(char *buf, int size, int rwflag, void *u)
{
	const char *p = getenv("CAIRN_KEY_PASSPHRASE");
	size_t n;

	(void)rwflag;
	(void)u;
	if (!p)
		return -1;
	n = strlen(p);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, p, n);
	return (int)n;
}

static char *default_signer(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t len;

	base = base ? base + 1 : path;
	len = strlen(base);
	if (ends_with(base, ".key"))
		len -= 4;
	return xstrndup(base, len);
}

struct receipt_key {
	EVP_PKEY *pk;
	char *path;
	unsigned char raw[KEY_RAW_LEN];
};

void receipt_key_free(struct receipt_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pk);
	free(k->path);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

void receipt_key_id(const struct receipt_key *k, char out[17])
{
	key_id_of_raw(k->raw, out);
}

int receipt_key_load(struct receipt_key **out, const char *path)
{
	struct buf pem = BUF_INIT;
	struct stat st;
	struct receipt_key *k = xcalloc(1, sizeof(*k));
	BIO *bio = NULL;
	size_t rawlen = sizeof(k->raw);
	int rc = -1;

	*out = NULL;
	k->path = xstrdup(path);
	if (stat(path, &st) < 0) {
		cairn_error_set("cannot read receipt key '%s': no such file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		cairn_error_set("receipt key '%s' is readable by others; run 'chmod 600 %s'",
				path, path);
		goto out;
	}
	buf_init(&pem, 64 << 10);
	if (read_file(path, 64 << 10, &pem) < 0)
		goto out;
	bio = BIO_new_mem_buf(pem.ptr, (int)pem.len);
	if (bio)
		k->pk = PEM_read_bio_PrivateKey(bio, NULL, pass_cb, NULL);
	if (!k->pk) {
		cairn_error_set("'%s' is not a PEM private key%s", path,
				getenv("CAIRN_KEY_PASSPHRASE") ? " (or the passphrase is wrong)"
				: " (an encrypted key needs CAIRN_KEY_PASSPHRASE)");
		goto out;
	}
	if (EVP_PKEY_get_id(k->pk) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(k->pk, k->raw, &rawlen) != 1) {
		cairn_error_set("'%s' is not an Ed25519 key", path);
		goto out;
	}
	*out = k;
	k = NULL;
	rc = 0;
out:
	receipt_key_free(k);
	BIO_free(bio);
	if (pem.ptr)
		OPENSSL_cleanse(pem.ptr, pem.alloc);
	buf_release(&pem);
	return rc;
}

/* The base64 Ed25519 signature of data by k, into sig_b64. */
static int sign_b64(const struct receipt_key *k, const void *data, size_t len,
		    char sig_b64[SIG_B64_LEN + 1], const char *what)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sig[SIG_RAW_LEN];
	size_t siglen = sizeof(sig);
	int rc = -1;

	if (!md || EVP_DigestSignInit(md, NULL, NULL, NULL, k->pk) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, data, len) != 1 || siglen != SIG_RAW_LEN)
		cairn_error_set("cannot sign the %s with '%s'", what, k->path);
	else
		rc = 0;
	if (!rc)
		base64_encode(sig, SIG_RAW_LEN, sig_b64);
	EVP_MD_CTX_free(md);
	return rc;
}

int receipt_sign(const struct receipt_req *r, struct stmt_pair *out)
{
	char id[KEY_ID_LEN + 1], pub_b64[48], sig_b64[SIG_B64_LEN + 1];
	struct statement s;
	char *signer = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	key_id_of_raw(r->key->raw, id);
	base64_encode(r->key->raw, KEY_RAW_LEN, pub_b64);
	signer = r->signer ? xstrdup(r->signer) : default_signer(r->key->path);
	memset(&s, 0, sizeof(s));
	s.type = "receipt";
	s.bundle = (char *)r->bundle_id;
	s.environment = (char *)r->environment;
	s.signer = signer;
	s.key = id;
	s.public_key = pub_b64;
	s.time = (char *)r->time;
	s.database = (char *)r->database;
	s.checkpoint = (char *)r->checkpoint;
	if (statement_format(&s, &out->yaml) < 0)
		goto out;
	if (sign_b64(r->key, out->yaml.ptr, out->yaml.len, sig_b64, "receipt") < 0)
		goto out;
	if (buf_printf(&out->sig, "%s\n", sig_b64) < 0)
		goto out;
	out->base = statement_member_base("receipt", r->environment, id);
	rc = 0;
out:
	if (rc)
		stmt_pair_release(out);
	free(signer);
	return rc;
}

int receipt_checkpoint(const struct receipt_key *k, const char *time, const char *db,
		       const char *env, const char *project, long long length,
		       const char *head, struct buf *out)
{
	char id[KEY_ID_LEN + 1], pub_b64[48], sig_b64[SIG_B64_LEN + 1];

	key_id_of_raw(k->raw, id);
	base64_encode(k->raw, KEY_RAW_LEN, pub_b64);
	if (checkpoint_format(out, time, db, env, project, length, head, id, pub_b64) < 0 ||
	    sign_b64(k, out->ptr, out->len, sig_b64, "checkpoint") < 0 ||
	    buf_printf(out, "\tsig=%s\n", sig_b64) < 0)
		return -1;
	return 0;
}
