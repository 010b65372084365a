/* Statements: the small YAML documents that signatures cover (build,
 * approval, receipt, override). A statement's .sig file holds the base64
 * Ed25519 signature of the statement's exact bytes, so that
 *   openssl pkeyutl -verify -rawin -pubin -inkey K.pub -in S.yaml -sigfile S.bin
 * checks it with no cairn at hand. */
#ifndef CAIRN_STATEMENT_H
#define CAIRN_STATEMENT_H

#include <stddef.h>

#include "../lib/buf.h"

#define STATEMENT_MAX_SIZE (64 << 10)
#define SIGFILE_MAX_SIZE 1024

struct statement {
	char *type;         /* build | approval | contract | receipt | override */
	char *bundle;       /* "sha256:<hex>" */
	char *environment;  /* NULL for build */
	char *signer;       /* a human name for the key's holder */
	char *key;          /* key id: 16 hex digits */
	char *public_key;   /* base64 of the raw 32-byte key (lets anyone check validity) */
	char *time;         /* ISO 8601 UTC: 2026-11-22T09:30:00Z */
	char *expires;      /* optional, same form */
	char *database;     /* optional (receipts): an identifier, never a DSN */
	char *comment, *ticket; /* optional */
	char *allow;        /* override: the operations it allows, comma-separated
			     * (older-bundle, no-receipt, repair, force) */
	char *checkpoint;   /* optional (receipts): the applier's checkpoint line of
			     * the database's books after the run (lib/checkpoint.h),
			     * by the receipt's key, for its environment and database */
};

int statement_type_valid(const char *type);
/* 1 when s is YYYY-MM-DDTHH:MM:SSZ. */
int iso_time_valid(const char *s);

/* Parses a statement; every rule broken is an error naming the key. */
int statement_parse(struct statement *out, const char *data, size_t len, const char *name);
/* Writes the canonical form (the bytes that get signed). */
int statement_format(const struct statement *s, struct buf *out);
void statement_release(struct statement *s);

/* Where a statement sits in a bundle, without ".yaml"/".sig":
 * signatures/<key> for a build, approvals/<env>-<key> for an approval,
 * approvals/<env>-<type>-<key> for a contract, a receipt or an override (so one key may
 * approve and also sign a receipt or an override for one environment). */
char *statement_member_base(const char *type, const char *environment, const char *key);

#endif
