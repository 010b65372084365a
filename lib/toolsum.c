/* Other tools' checksums of a script (toolsum.h). */
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "error.h"
#include "sha256.h"
#include "toolsum.h"

enum toolsum toolsum_of(const char *tool)
{
	if (!strcmp(tool, "flyway"))
		return TOOLSUM_FLYWAY_CRC32;
	if (!strcmp(tool, "prisma"))
		return TOOLSUM_SHA256;
	if (!strcmp(tool, "sqitch"))
		return TOOLSUM_SHA1;
	return TOOLSUM_NONE;
}

static char *flyway_crc32(const char *s, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	size_t i = 0, start;

	if (len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
		i = 3;
	while (i < len) {
		start = i;
		while (i < len && s[i] != '\n' && s[i] != '\r')
			i++;
		crc = crc32(crc, (const Bytef *)s + start, (uInt)(i - start));
		while (i < len && (s[i] == '\n' || s[i] == '\r'))
			i++;
	}
	return xasprintf("%d", (int)(int32_t)(uint32_t)crc);
}

char *toolsum(enum toolsum kind, const char *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	if (!data)
		data = "";
	switch (kind) {
	case TOOLSUM_FLYWAY_CRC32:
		return flyway_crc32(data, len);
	case TOOLSUM_SHA256:
		return sha256_hex(data, len, hex) ? NULL : xstrdup(hex);
	case TOOLSUM_SHA1:
		if (!EVP_Digest(data, len, md, &mdlen, EVP_sha1(), NULL))
			return NULL;
		hex_encode(md, mdlen, hex);
		return xstrdup(hex);
	default:
		return NULL;
	}
}
