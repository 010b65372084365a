/* SHA-256 through OpenSSL's EVP interface (it uses the CPU's SHA
 * instructions where present). */
#ifndef CAIRN_SHA256_H
#define CAIRN_SHA256_H

#include <stddef.h>

#define SHA256_HEX_LEN 64

struct sha256_ctx {
	void *md; /* EVP_MD_CTX */
};

int sha256_init(struct sha256_ctx *c);
int sha256_update(struct sha256_ctx *c, const void *data, size_t len);
/* Bytes sha256_update hashed on the calling thread so far: which thread
 * does the hashing is what keeps it off an apply's critical path, and
 * tests check it (test-bundle). */
unsigned long long sha256_bytes_this_thread(void);
/* Writes 64 hex digits and a NUL; frees the context. */
int sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1]);
int sha256_final_raw(struct sha256_ctx *c, unsigned char raw[32]);
void sha256_release(struct sha256_ctx *c);

/* The sha256 of len bytes, as 32 bytes (sha256_raw) or 64 hex digits: 0 or -1. */
int sha256_raw(const void *data, size_t len, unsigned char raw[32]);
int sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1]);
/* The sha256 of a file's bytes, and its size. 0, or -1 with the error
 * set ("cannot read 'PATH': ..."). */
int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], unsigned long long *size);
/* The same for an open descriptor, read from offset 0 with pread (its
 * offset is left alone); name is for the message. */
int sha256_fd(int fd, const char *name, char hex[SHA256_HEX_LEN + 1], unsigned long long *size);
void hex_encode(const unsigned char *raw, size_t len, char *hex_out);
/* The first 2 * len characters of hex are lowercase hex digits: their len
 * bytes into raw_out, 0; else -1. It stops at the first character that is
 * no such digit, so a NUL-terminated string shorter than that is safe.
 * The one hex decoder: capitals, or any other character, are refused. */
int hex_decode(const char *hex, size_t len, unsigned char *raw_out);
/* 1 when hex begins with the 2 * len lowercase hex digits of raw's len
 * bytes (hex_encode's text), 0 otherwise: compared pair by pair, nothing
 * decoded or written (rss14p: the guard over the books' briefs). */
int hex_is(const char *hex, const unsigned char *raw, size_t len);

#endif
