/* The bundle as verify/ hands it over: its migrations, their files and
 * the statements it carries (bundle.h reads and checks it; manifest.h
 * parses and writes its index). Types only (and a file's digest as text),
 * so that the manifest's parser and the bundle's reader need not include
 * each other. */
#ifndef CAIRN_BUNDLE_TYPES_H
#define CAIRN_BUNDLE_TYPES_H

#include <stddef.h>

#include "../lib/batch.h"
#include "../lib/buf.h"
#include "../lib/pool.h"
#include "../lib/sha256.h"
#include "keys.h"

struct bundle_file {
	char *name;            /* inside the migration directory: "up.sql", "data/x.csv" */
	char *member;          /* inside the bundle: "migrations/<dir>/up.sql" */
	/* its sha256: manifest.yaml's 64 lower-case hex digits (both parsers
	 * refuse any other), decoded; bundle_file_hex gives them back. 32
	 * bytes, not 65: two or more files a migration, every one held by an
	 * apply (issue #14) */
	unsigned char sha[32];
	unsigned long long size;
};

/* f's sha256 as manifest.yaml writes it, in out; returns out. */
static inline char *bundle_file_hex(const struct bundle_file *f, char out[65])
{
	hex_encode(f->sha, sizeof(f->sha), out);
	return out;
}

/* A lint finding the migration waived (issue #18): recorded by the build,
 * signed with the manifest, read by the applier's policy (lint:
 * {refuse_waived:}). */
struct bundle_waiver {
	char *rule;            /* cairn's rule id: "drop-table" */
	char *file;            /* the script: "up.sql", one of the migration's files */
	unsigned long long line; /* the finding's line in it */
	char *via;             /* comment | allow | destructive */
	char *reason;          /* the comment's reason; NULL when none */
};

struct bundle_migration {
	char *version;         /* "20261122093000" */
	char *name;            /* directory name: "20261122093000_create_users" */
	char *description;
	char *checksum;        /* "sha256:<hex>" over the migration's files, canonical order */
	char **requires;       /* directory names */
	size_t nrequires;
	char **no_transaction; /* drivers on which it runs outside one (transaction:
				* {postgres: false}); written only when not empty */
	size_t nno_transaction;
	/* 0 or 1 each: bytes, not ints, as the batch: keys are a pointer, for
	 * an entry held a migration by every apply (issue #14) */
	unsigned char transaction; /* 1 unless migration.yaml says false */
	unsigned char irreversible, destructive, batch;
	unsigned char contract; /* phase: contract; written only when set (absent: expand) */
	char **environments;   /* empty = every environment */
	size_t nenvironments;
	unsigned long long timeout_ms, lock_timeout_ms; /* 0 = unset */
	/* batch: (a kind: batch migration's keys); NULL: none, and none
	 * written. Owned as the strings are: in the bundle's strpool when it
	 * has one, else malloc'd (manifest_release frees it). */
	struct batch_throttle *throttle;
	char *prov_commit, *prov_author, *prov_date;    /* may be NULL */
	struct bundle_file *files;
	size_t nfiles;
	struct bundle_waiver *waivers; /* written only when not empty */
	size_t nwaivers;
};

struct bundle_statement {
	char *type;            /* build | approval | receipt | override */
	char *environment;     /* NULL for build */
	char *signer, *key_id, *time, *comment;
	char *member;          /* "signatures/<keyid>.yaml", or a file beside the bundle */
	int valid;             /* signature checked against the statement's key */
	int trusted;           /* that key is one the caller trusts for this type */
	/* added: */
	char *bundle_id;       /* the bundle the statement names */
	char *public_key;      /* base64 raw key, as in the statement */
	char *expires, *database, *ticket; /* optional statement keys */
	char *problem;         /* why it is not valid, or NULL */
	char *allow;           /* override: what it allows, comma-separated (#7) */
	char *checkpoint;      /* receipt: the applier's checkpoint line (#15) */
};

struct bundle {
	char *path;
	char id[7 + 64 + 1];   /* "sha256:" + hex of manifest.yaml */
	char *name;            /* top directory: "<project>-<version>" */
	char *source_repo, *source_commit, *source_tree, *source_ref;
	char *build_time, *tool_version;
	char **drivers;
	size_t ndrivers;
	struct bundle_migration *migs; /* in apply order */
	size_t nmigs;
	struct bundle_statement *statements;
	size_t nstatements;
	void *priv;            /* implementation state */
	/* added: */
	char *project;         /* the project's name (cairn.yaml 'name') */
	char *source_path;     /* the project's directory in the repository, "" at the top */
	unsigned long long max_file_size, max_data_size; /* the project's caps at build time */
	/* Where the manifest's fast path put the migrations' strings and file
	 * lists: a few large blocks, freed by manifest_release, instead of one
	 * allocation each (NULL: each is its own, as the other paths make them). */
	struct pool_block *strpool;
	/* SQL callbacks (issue #20, format cairn-bundle/2; lib/callbacks.h):
	 * files of migrations/callbacks/, sorted by name, members
	 * "migrations/callbacks/NAME" (after every migration's, since
	 * migration directories start with a digit). None: format 1. */
	struct bundle_file *callbacks;
	size_t ncallbacks;
	/* The lint findings the callbacks waived (format cairn-bundle/3,
	 * manifest.yaml's callback_waivers:), file naming the callback
	 * ("after_each.sql"), as a migration's waivers are; none: format 1 or 2. */
	struct bundle_waiver *callback_waivers;
	size_t ncallback_waivers;
	/* The bundle file's sha256 (hex), when bundle_open_opts was given
	 * known_file and read the file to its end or asked about it; else "". */
	char file_sha256[65];
};

#endif
