/* Fuzz target: cairn's own reader of git's index file (project/source.c),
 * which pre-commit checks use instead of libgit2's for speed. Whatever it
 * accepts must be in bounds: every entry's path lies inside the buffer and
 * is NUL-terminated there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/error.h"
#include "../../project/source.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct source s;
	size_t i;

	memset(&s, 0, sizeof(s));
	buf_put(&s.ixdata, data, size);
	if (source_index_parse(&s) == 0) {
		for (i = 0; i < s.nix; i++) {
			const char *p = s.ix[i].path;

			if (p < s.ixdata.ptr || p >= s.ixdata.ptr + s.ixdata.len ||
			    !memchr(p, '\0', (size_t)(s.ixdata.ptr + s.ixdata.len - p)))
				abort();
		}
	}
	free(s.ix);
	buf_release(&s.ixdata);
	return 0;
}
