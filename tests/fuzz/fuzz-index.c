/* Fuzz target: cairn's own reader of git's index file (project/gitindex.c),
 * which pre-commit checks use instead of libgit2's (speed, and the split
 * and sparse forms libgit2 cannot read). Whatever it accepts must be in
 * bounds: every entry has a NUL-terminated path, and a split index's
 * bitmaps lie inside the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/error.h"
#include "../../project/gitindex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gitindex ix;
	const char *lo, *hi;
	size_t i;

	memset(&ix, 0, sizeof(ix));
	buf_put(&ix.data, data, size);
	lo = ix.data.ptr;
	hi = ix.data.ptr + ix.data.len;
	if (gitindex_parse(&ix) == 0) {
		for (i = 0; i < ix.n; i++)
			if (strlen(ix.e[i].path) > size)
				abort();
		if ((ix.del && (ix.del < (const unsigned char *)lo ||
				ix.del + ix.del_len > (const unsigned char *)hi)) ||
		    (ix.rep && (ix.rep < (const unsigned char *)lo ||
				ix.rep + ix.rep_len > (const unsigned char *)hi)))
			abort();
	}
	gitindex_release(&ix);
	return 0;
}
