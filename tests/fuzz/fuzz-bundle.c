/* Fuzz target: the bundle reader (gzip, tar, member checks, SHA256SUMS,
 * manifest, statements) over arbitrary bytes written to a file, with no
 * trusted key (integrity checks, every parser) and with the fixtures' test
 * key trusted (the signature path). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "../../lib/error.h"
#include "../../lib/util.h"
#include "../../verify/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every file is "verified before": the members are read only when asked. */
static int any_file(void *ctx, const char *hex)
{
	(void)ctx;
	(void)hex;
	return 1;
}

/* test.pub of tests/fixtures/keys, inline so the target runs anywhere */
static const char test_pub[] =
	"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAvX/sWzjiAub+zFTk3aEPenNCyf+MFvc4+w/G5KzUN2w=\n-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trust *trust;
	static char path[64];
	struct bundle_open_opts o = { .untrusted = 1 };
	struct bundle *b = NULL;
	int fd;

	if (!trust) {
		char keypath[64];

		snprintf(keypath, sizeof(keypath), "/tmp/cairn-fuzz-key-%ld.pub", (long)getpid());
		write_file_atomic(keypath, test_pub, strlen(test_pub), 0644);
		trust = trust_new();
		trust_add_builder_key(trust, keypath);
		unlink(keypath);
		snprintf(path, sizeof(path), "/tmp/cairn-fuzz-bundle-%ld.tar.gz", (long)getpid());
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	close(fd);
	if (bundle_open_opts(&b, path, NULL, &o) == 0) {
		size_t i, j;

		/* read every member back, as the applier would */
		for (i = 0; i < b->nmigs; i++) {
			for (j = 0; j < b->migs[i].nfiles; j++) {
				struct buf out = BUF_INIT;

				bundle_read(b, &b->migs[i].files[j], &out);
				buf_release(&out);
			}
			bundle_migration_file(&b->migs[i], "up", "postgres");
		}
		bundle_free(b);
		b = NULL;
	}
	/* a refusal of SHA256SUMS (read whole) is the same when it is parsed
	 * as it is inflated (apply's way, rss14s) */
	{
		char whole[CAIRN_ERRMSG_MAX];

		if (bundle_open_opts(&b, path, NULL, &o) < 0 &&
		    (!strncmp(cairn_error_last(), "member SHA256SUMS:", 18) ||
		     !strncmp(cairn_error_last(), "member 'SHA256SUMS'", 19))) {
			snprintf(whole, sizeof(whole), "%s", cairn_error_last());
			o.drop_manifest_bytes = 1;
			if (bundle_open_opts(&b, path, NULL, &o) == 0 || strcmp(cairn_error_last(), whole))
				abort();
			o.drop_manifest_bytes = 0;
		}
		bundle_free(b);
		b = NULL;
	}
	if (bundle_open(&b, path, trust) == 0)
		bundle_free(b);
	b = NULL;
	/* opened as an unchanged file, the way apply opens it (the manifest
	 * read in pieces, its files compared with SHA256SUMS as it parses),
	 * then read on at the first member */
	o.known_file = any_file;
	o.drop_manifest_bytes = 1;
	if (bundle_open_opts(&b, path, NULL, &o) == 0) {
		size_t i, j;

		for (i = 0; i < b->nmigs; i++)
			for (j = 0; j < b->migs[i].nfiles; j++) {
				struct buf out = BUF_INIT;

				bundle_read(b, &b->migs[i].files[j], &out);
				buf_release(&out);
			}
		bundle_free(b);
	}
	o.known_file = NULL;
	o.drop_manifest_bytes = 0;
	unlink(path);
	return 0;
}
