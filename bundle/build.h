/* Building and re-signing bundles (cairn only). The format is in
 * cairn-bundle(5); verify/ reads what this writes. */
#ifndef CAIRN_BUILD_H
#define CAIRN_BUILD_H

#include <stddef.h>

#include "../project/project.h"
#include "../verify/bundle.h"
#include "keys.h"

struct build_signer {
	struct seckey *key;
	const char *signer;        /* the name written in the statement */
};

struct build_req {
	struct project *proj;      /* loaded from a commit, ordered, checks passed */
	const char *repo_url;      /* "" when the repository has no origin */
	const char *commit, *tree; /* 40 hex digits each */
	const char *ref;           /* "refs/heads/main", or "" */
	long long commit_time;     /* seconds since the epoch: mtime and build time */
	const char *output;        /* NULL: <name>-<version>.tar.gz */
	const struct build_signer *signers;
	size_t nsigners;
};

struct build_result {
	char id[7 + 64 + 1];
	char *path;                /* the file written */
	char *name;                /* the top directory */
	size_t nmigs, nfiles;
	unsigned long long bytes;  /* of migration files */
};

int bundle_build(const struct build_req *r, struct build_result *out);
void build_result_release(struct build_result *r);

/* Adds build signatures to a bundle that bundle_open_opts() verified and
 * writes it to out_path (the same path: replaced atomically). The manifest
 * and so the bundle id do not change. */
int bundle_sign(struct bundle *b, const char *out_path, const struct build_signer *signers,
		size_t nsigners);

/* "2026-11-22T09:30:00Z" for t; and back (-1 when malformed). */
void iso_time(long long t, char out[21]);
long long iso_time_parse(const char *s);

#endif
