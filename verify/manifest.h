/* manifest.yaml and SHA256SUMS: the two indexes of a bundle. The writer
 * and the parser live together so that one format has one definition;
 * cairn-bundle(5) documents it. */
#ifndef CAIRN_MANIFEST_H
#define CAIRN_MANIFEST_H

#include <stddef.h>

#include "../lib/buf.h"
#include "bundle-types.h"

#define MANIFEST_FORMAT "cairn-bundle/1"
/* A bundle with SQL callbacks (issue #20): a reader of format 1 refuses it
 * as a bundle of an unknown format; one without is still format 1, byte
 * for byte as before. */
#define MANIFEST_FORMAT_CALLBACKS "cairn-bundle/2"
/* Format 2 whose callbacks waived lint findings (callback_waivers:, issue
 * #20): a reader of formats 1 and 2 refuses it as a bundle of an unknown
 * format rather than apply callbacks whose waivers its policy cannot see;
 * a bundle whose callbacks waive nothing is still format 2 (or 1). */
#define MANIFEST_FORMAT_CB_WAIVERS "cairn-bundle/3"
#define MANIFEST_MAX_SIZE (64ULL << 20)
#define SUMS_MAX_SIZE (64ULL << 20)
/* A manifest lists every file of every migration: allow far more nodes
 * than a hand-written YAML file (its byte size is capped as well). */
#define MANIFEST_MAX_NODES 4000000

/* An entry's digest is kept as its 32 bytes, not the 65 of its hex: at
 * 20,000 migrations SHA256SUMS lists 40,001 files (issue #14). */
struct sums_entry {
	char *path;
	unsigned char sha[32];
};

struct sums {
	struct sums_entry *items;
	size_t n, alloc;
	char *pool;     /* sums_parse's block: the entries (items is its start)
			 * and their paths; else each path is its own, as
			 * sums_add makes them, and items is an array of its own */
	int borrowed;   /* 1: the paths are another's (the manifest's members,
			 * equal to them: bundle.c), not freed here */
};

/* SHA256SUMS, strictly: "<64 lower-case hex>  <path>\n" per line, paths
 * safe, sorted by bytes, unique. */
int sums_parse(struct sums *out, const char *data, size_t len);
/* The same parse over the text in slices of any size, in order, as they
 * arrive (an apply's archive reader, issue #14): the text is never held
 * whole, only a line a slice cut, until the next one ends it. size: the
 * text's length, known before (the member's header); more is refused.
 * feed and finish: 0, or -1 with the error set (the same message and
 * line as sums_parse's over the whole text) and out released; abandon
 * releases out when reading stops before finish. */
struct sums_parser {
	struct sums *out;
	size_t size, fed;
	size_t paths;           /* bytes of paths at the end of out->pool */
	char *carry;            /* the start of a line the last slice cut */
	size_t carry_len, carry_alloc;
	int line, failed;
};
void sums_parser_init(struct sums_parser *sp, struct sums *out, size_t size);
int sums_parser_feed(struct sums_parser *sp, const char *data, size_t len);
int sums_parser_finish(struct sums_parser *sp);
void sums_parser_abandon(struct sums_parser *sp);
int sums_format(const struct sums *s, struct buf *out);
void sums_add(struct sums *s, const char *path, const char *hex);
/* The list a bundle's SHA256SUMS was found equal to: manifest.yaml
 * (manifest_hex), then files in SHA256SUMS's order; the paths are the
 * files' members, borrowed (they must outlive out). */
void sums_from_files(struct sums *out, const char *manifest_hex,
		     const struct bundle_file *const *files, size_t n);
/* 1 when hex (64 lower-case hex digits) is the entry's digest, else 0. */
int sums_hex_eq(const struct sums_entry *e, const char *hex);
void sums_sort(struct sums *s);
void sums_release(struct sums *s);

/* A migration's checksum: "sha256:" + sha256 of the lines
 * "<sha256>  <name>\n" of its files sorted by name (the sha256sum output
 * for the migration's directory, in C-locale order). files must be sorted. */
void migration_checksum(const struct bundle_file *files, size_t n, char out[7 + 65]);

/* Fills b's manifest fields (not path, id, statements, priv) from the
 * manifest's bytes. Every rule broken names the key and its line. */
int manifest_parse(struct bundle *b, const char *data, size_t len);
/* The general path alone (libyaml and a DOM), which manifest_parse takes for
 * any manifest not in the writer's canonical form; for tests and fuzzing,
 * which check that both paths agree. */
int manifest_parse_yaml(struct bundle *b, const char *data, size_t len);
/* The fast path alone: 0 when data is exactly what manifest_format writes
 * and passes every check, else -1 with no message (b then holds partial
 * fields for manifest_release). */
int manifest_parse_canonical(struct bundle *b, const char *data, size_t len);
/* The fast path over the manifest's bytes in pieces, in order: next gives
 * the next piece (its length in *len), or NULL after the last; a piece
 * may be dropped once the next is asked for. Accepts exactly what
 * manifest_parse_canonical accepts over the pieces joined. size_hint: the
 * text's length when known (0: not known), for the migrations' array. */
typedef const char *(*manifest_piece_fn)(void *ctx, size_t *len);
int manifest_parse_canonical_pieces(struct bundle *b, manifest_piece_fn next, void *ctx,
				    size_t size_hint);
/* The same, comparing each file with SHA256SUMS (sums, parsed: manifest.yaml
 * first) as it is parsed (issue #14): *matched is 1 when the files, the
 * migrations' then the callbacks', are exactly sums's entries after the
 * first, in order, path and sha256 alike; else 0, and the caller compares
 * the two lists itself to say what differs. Set only when 0 is returned. */
int manifest_parse_canonical_sums(struct bundle *b, manifest_piece_fn next, void *ctx,
				  size_t size_hint, const struct sums *sums, int *matched);
/* Writes b's manifest fields in the canonical form. */
int manifest_format(const struct bundle *b, struct buf *out);
/* Frees what manifest_parse filled. */
void manifest_release(struct bundle *b);

#endif
