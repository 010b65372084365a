/* The checksums other migration tools keep of a script (issue #19), as
 * each computes them: cairn import records the original file's with the
 * migration, cairn-apply adopt compares the tool's history table with it.
 * Each returns a new string (the tool's own text form), or NULL when the
 * digest could not be made. */
#ifndef CAIRN_TOOLSUM_H
#define CAIRN_TOOLSUM_H

#include <stddef.h>

enum toolsum { TOOLSUM_NONE, TOOLSUM_FLYWAY_CRC32, TOOLSUM_SHA256, TOOLSUM_SHA1 };

/* Flyway: CRC32 over the file's lines without their line ends (and without
 * a byte order mark), as a signed 32-bit decimal. Prisma: SHA-256 of the
 * file, hex. sqitch: SHA-1 of the deploy script, hex. */
enum toolsum toolsum_of(const char *tool);
char *toolsum(enum toolsum kind, const char *data, size_t len);

#endif
