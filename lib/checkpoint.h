/* A checkpoint: the audit chain's head (length and hash of its newest row)
 * and the database's identity, signed by the applier after each run and
 * kept outside the database (a file on the applier host, one line per run,
 * appended). The chain alone cannot show that its newest rows were cut off,
 * rewritten with recomputed hashes, or dropped with the tables; a
 * checkpoint signed earlier can (history --verify --checkpoint FILE).
 *
 * A line: "cairn-checkpoint/1" then tab-separated key=value fields, in this
 * order: time, db, env, project, length, head, key (key id), pub (base64 raw
 * public key), sig (base64 Ed25519 over the line up to the tab before
 * "sig="). Values hold no tab or newline.
 *
 * This file is the line's codec, shared by the signer (receipt/) and the
 * checker (apply/checkpoint.c, which verifies the signature and compares
 * the chain). */
#ifndef CAIRN_LIB_CHECKPOINT_H
#define CAIRN_LIB_CHECKPOINT_H

#include <stddef.h>

#include "buf.h"

#define CHECKPOINT_MAGIC "cairn-checkpoint/1"

struct checkpoint {
	char *time, *db, *env, *project, *head, *key, *pub, *sig;
	long long length;
	size_t signed_len;  /* bytes of the line the signature covers */
};

/* The unsigned part of a line (up to "\tpub=..." included) into out. */
int checkpoint_format(struct buf *out, const char *time, const char *db, const char *env,
		      const char *project, long long length, const char *head,
		      const char *key_id, const char *pub_b64);

/* Parses one line (without its newline). 0, or -1 with the error set. */
int checkpoint_parse(struct checkpoint *out, const char *line, size_t len);
void checkpoint_release(struct checkpoint *c);
/* The project a checkpoint line names (malloc'ed), or NULL when the line
 * does not parse. */
char *checkpoint_project(const char *line);

/* The newest line of text (a checkpoint file's contents) whose db is db
 * (NULL: any), parsed into out, *line pointing at its start. 0; 1 when
 * there is none; -1 (error set) when a line does not parse. */
int checkpoint_find_last(struct checkpoint *out, const char **line, const char *text, size_t len,
			 const char *db);

#endif
