/* Standalone driver: runs a libFuzzer target over every file of a corpus
 * directory, so `make check` replays the corpus without libFuzzer. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/buf.h"
#include "../../lib/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		DIR *d = opendir(argv[i]);
		struct dirent *de;

		if (!d) {
			fprintf(stderr, "replay: cannot open corpus '%s'\n", argv[i]);
			return 1;
		}
		while ((de = readdir(d))) {
			char *p;
			struct buf b = BUF_INIT;

			if (de->d_name[0] == '.')
				continue;
			p = path_join(argv[i], de->d_name);
			if (read_file(p, 64 << 20, &b) == 0) {
				LLVMFuzzerTestOneInput((const uint8_t *)b.ptr, b.len);
				n++;
			}
			buf_release(&b);
			free(p);
		}
		closedir(d);
	}
	printf("replayed %d inputs\n", n);
	return n ? 0 : 1;
}
