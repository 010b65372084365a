#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "error.h"
#include "sha256.h"

/* Fetched once: with EVP_sha256() OpenSSL 3 looks the implementation up
 * again on every init, which cost more than hashing a small member (a
 * bundle of 5,000 migrations hashes 10,000 of them). Never freed: the
 * process needs it to the end. */
static EVP_MD *_Atomic fetched;

static const EVP_MD *sha256_md(void)
{
	EVP_MD *md = atomic_load(&fetched), *none = NULL;

	/* threads may ask first at once (an apply's parse, file hash and key
	 * threads start together): one fetch is kept, the others freed */
	if (!md && (md = EVP_MD_fetch(NULL, "SHA256", NULL)) &&
	    !atomic_compare_exchange_strong(&fetched, &none, md)) {
		EVP_MD_free(md);
		md = none;
	}
	return md ? md : EVP_sha256();
}

/* One context kept between hashes: EVP_MD_CTX_new and _free around each
 * of the 15,000 small hashes of a 5,000-migration bundle were ~40 % of
 * their cost (2.95 ms against 1.79 ms for 15,000 hashes of 55 bytes). Taken and given back with atomic exchanges, so any thread may
 * hash; freed at exit. */
static EVP_MD_CTX *_Atomic spare;
static atomic_flag spare_registered = ATOMIC_FLAG_INIT;

static void free_spare(void)
{
	EVP_MD_CTX_free(atomic_exchange(&spare, NULL));
}

int sha256_init(struct sha256_ctx *c)
{
	EVP_MD_CTX *md = atomic_exchange(&spare, NULL);

	if (!md)
		md = EVP_MD_CTX_new();
	c->md = md;
	if (!md || !EVP_DigestInit_ex(md, sha256_md(), NULL)) {
		sha256_release(c);
		cairn_error_set("cannot initialise sha256");
		return -1;
	}
	return 0;
}

static _Thread_local unsigned long long bytes_this_thread;

unsigned long long sha256_bytes_this_thread(void)
{
	return bytes_this_thread;
}

int sha256_update(struct sha256_ctx *c, const void *data, size_t len)
{
	bytes_this_thread += len;
	if (!EVP_DigestUpdate(c->md, data, len)) {
		cairn_error_set("sha256 update failed");
		return -1;
	}
	return 0;
}

int sha256_final_raw(struct sha256_ctx *c, unsigned char raw[32])
{
	unsigned int n = 0;
	int ok = EVP_DigestFinal_ex(c->md, raw, &n);

	sha256_release(c);
	if (!ok || n != 32) {
		cairn_error_set("sha256 final failed");
		return -1;
	}
	return 0;
}

int sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char raw[32];

	if (sha256_final_raw(c, raw) < 0)
		return -1;
	hex_encode(raw, 32, hex);
	return 0;
}

void sha256_release(struct sha256_ctx *c)
{
	EVP_MD_CTX *none = NULL;

	if (!c || !c->md)
		return;
	if (atomic_compare_exchange_strong(&spare, &none, (EVP_MD_CTX *)c->md)) {
		if (!atomic_flag_test_and_set(&spare_registered))
			atexit(free_spare);
	} else {
		EVP_MD_CTX_free(c->md);
	}
	c->md = NULL;
}

int sha256_raw(const void *data, size_t len, unsigned char raw[32])
{
	struct sha256_ctx c;

	if (sha256_init(&c) < 0)
		return -1;
	if (sha256_update(&c, data, len) < 0) {
		sha256_release(&c);
		return -1;
	}
	return sha256_final_raw(&c, raw);
}

int sha256_hex(const void *data, size_t len, char hex[SHA256_HEX_LEN + 1])
{
	unsigned char raw[32];

	if (sha256_raw(data, len, raw) < 0)
		return -1;
	hex_encode(raw, 32, hex);
	return 0;
}

void hex_encode(const unsigned char *raw, size_t len, char *hex_out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		hex_out[2 * i] = digits[raw[i] >> 4];
		hex_out[2 * i + 1] = digits[raw[i] & 15];
	}
	hex_out[2 * len] = '\0';
}

/* Each byte's two lowercase hex digits, for hex_is. */
static const char hex_pairs[256][3] = {
	"00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "0a", "0b", "0c", "0d", "0e", "0f",
	"10", "11", "12", "13", "14", "15", "16", "17", "18", "19", "1a", "1b", "1c", "1d", "1e", "1f",
	"20", "21", "22", "23", "24", "25", "26", "27", "28", "29", "2a", "2b", "2c", "2d", "2e", "2f",
	"30", "31", "32", "33", "34", "35", "36", "37", "38", "39", "3a", "3b", "3c", "3d", "3e", "3f",
	"40", "41", "42", "43", "44", "45", "46", "47", "48", "49", "4a", "4b", "4c", "4d", "4e", "4f",
	"50", "51", "52", "53", "54", "55", "56", "57", "58", "59", "5a", "5b", "5c", "5d", "5e", "5f",
	"60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "6a", "6b", "6c", "6d", "6e", "6f",
	"70", "71", "72", "73", "74", "75", "76", "77", "78", "79", "7a", "7b", "7c", "7d", "7e", "7f",
	"80", "81", "82", "83", "84", "85", "86", "87", "88", "89", "8a", "8b", "8c", "8d", "8e", "8f",
	"90", "91", "92", "93", "94", "95", "96", "97", "98", "99", "9a", "9b", "9c", "9d", "9e", "9f",
	"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "aa", "ab", "ac", "ad", "ae", "af",
	"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "ba", "bb", "bc", "bd", "be", "bf",
	"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9", "ca", "cb", "cc", "cd", "ce", "cf",
	"d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8", "d9", "da", "db", "dc", "dd", "de", "df",
	"e0", "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8", "e9", "ea", "eb", "ec", "ed", "ee", "ef",
	"f0", "f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "fa", "fb", "fc", "fd", "fe", "ff",
};

int hex_is(const char *hex, const unsigned char *raw, size_t len)
{
	size_t i;

	/* no byte past a shorter hex's NUL is read; then two digits at a time */
	if (strnlen(hex, 2 * len) < 2 * len)
		return 0;
	for (i = 0; i < len; i++) {
		uint16_t have, want;

		memcpy(&have, hex + 2 * i, 2);
		memcpy(&want, hex_pairs[raw[i]], 2);
		if (have != want)
			return 0;
	}
	return 1;
}

/* A digit's value + 1 (0: not a lowercase hex digit, NUL included): a
 * table, as a parse of 64 digits by comparisons cost 700 instructions
 * (callgrind), and a test of '0'-'9' against 'a'-'f' for each was a
 * branch mispredicted on about every other digit of a random digest. */
static const unsigned char hexv[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
	['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
	['e'] = 15, ['f'] = 16,
};

int hex_decode(const char *hex, size_t len, unsigned char *raw_out)
{
	const unsigned char *u = (const unsigned char *)hex;
	size_t i;

	for (i = 0; i < len; i++, u += 2) {
		unsigned hi = hexv[u[0]], lo;

		if (!hi || !(lo = hexv[u[1]])) /* u[1] is read only when u[0] is no NUL */
			return -1;
		raw_out[i] = (unsigned char)((hi - 1) << 4 | (lo - 1));
	}
	return 0;
}

int sha256_fd(int fd, const char *name, char hex[SHA256_HEX_LEN + 1], unsigned long long *size)
{
	struct sha256_ctx c;
	char chunk[65536];
	ssize_t n;
	int rc = -1;

	*size = 0;
	if (sha256_init(&c) < 0) {
		cairn_error_set("cannot read '%s': %s", name, strerror(errno));
		return -1;
	}
	/* pread from 0: the descriptor's offset is neither used nor moved */
	while ((n = pread(fd, chunk, sizeof(chunk), (off_t)*size)) > 0) {
		sha256_update(&c, chunk, (size_t)n);
		*size += (unsigned long long)n;
	}
	if (n == 0 && sha256_final_hex(&c, hex) == 0)
		rc = 0;
	else
		cairn_error_set("cannot read '%s': %s", name, strerror(errno));
	sha256_release(&c);
	return rc;
}

int sha256_file(const char *path, char hex[SHA256_HEX_LEN + 1], unsigned long long *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	*size = 0;
	if (fd < 0) {
		cairn_error_set("cannot read '%s': %s", path, strerror(errno));
		return -1;
	}
	rc = sha256_fd(fd, path, hex, size);
	close(fd);
	return rc;
}
