/* The applier's only signing code: a receipt saying that this bundle ran in
 * this environment, at this time, on this database. Kept apart from bundle/
 * (where build signatures and approvals are made) so that cairn-apply links
 * nothing that could make those: the statement type is fixed here, and a
 * test checks that cairn-apply holds no other signer (nm). */
#ifndef CAIRN_RECEIPT_H
#define CAIRN_RECEIPT_H

#include "../bundle/append.h"

/* A receipt key, unlocked: loaded before anything is applied, so a wrong
 * passphrase or an unusable file stops the run while the database is still
 * as it was. */
struct receipt_key;

/* Loads the PEM PKCS#8 Ed25519 private key at path (mode 0600); the
 * passphrase of an encrypted key comes from $CAIRN_KEY_PASSPHRASE. */
int receipt_key_load(struct receipt_key **out, const char *path);
void receipt_key_free(struct receipt_key *k); /* wipes; accepts NULL */
/* The key's id (16 hex digits) into out. */
void receipt_key_id(const struct receipt_key *k, char out[17]);

struct receipt_req {
	const struct receipt_key *key;
	const char *signer;       /* NULL: the key file's name without .key */
	const char *bundle_id;
	const char *environment;
	const char *database;     /* an identifier, never a DSN (dsn_identity) */
	const char *time;         /* YYYY-MM-DDTHH:MM:SSZ */
	const char *checkpoint;   /* the run's checkpoint line by this key, without its
				   * newline (receipt_checkpoint), or NULL */
};

/* Signs the receipt; out->base is approvals/<env>-receipt-<keyid>. */
int receipt_sign(const struct receipt_req *r, struct stmt_pair *out);

/* A checkpoint line of the audit chain's head (apply/checkpoint.h), signed
 * with the same key, "\n"-terminated, into out. */
int receipt_checkpoint(const struct receipt_key *k, const char *time, const char *db,
		       const char *env, const char *project, long long length,
		       const char *head, struct buf *out);

#endif
