#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../bundle/keys.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "cmd.h"
#include "passphrase.h"

#define PASS_MAX 1024

void passphrase_wipe(struct buf *b)
{
	if (b->ptr)
		OPENSSL_cleanse(b->ptr, b->alloc);
	buf_release(b);
}

static void chomp(struct buf *b)
{
	while (b->len && (b->ptr[b->len - 1] == '\n' || b->ptr[b->len - 1] == '\r'))
		b->ptr[--b->len] = '\0';
}

static int tty_read(int fd, const char *prompt, struct buf *out)
{
	struct termios old, quiet;
	char c;
	int echo_off;

	if (write(fd, prompt, strlen(prompt)) < 0)
		return -1;
	echo_off = tcgetattr(fd, &old) == 0;
	if (echo_off) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
	}
	for (;;) {
		ssize_t n = read(fd, &c, 1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		if (buf_putc(out, c) < 0)
			break;
	}
	c = 0;
	if (echo_off)
		tcsetattr(fd, TCSAFLUSH, &old);
	if (write(fd, "\n", 1) < 0)
		return -1;
	return 0;
}

int passphrase_get(const char *file, const char *what, int confirm, struct buf *out)
{
	const char *env = getenv("CAIRN_KEY_PASSPHRASE");
	int fd;

	buf_init(out, PASS_MAX);
	if (file) {
		if (read_file(file, PASS_MAX, out) < 0) {
			error_msg("cannot read the passphrase: %s", cairn_error_last());
			passphrase_wipe(out);
			return EXIT_ENVIRONMENT;
		}
		chomp(out);
	} else if (env) {
		if (buf_puts(out, env) < 0) {
			error_msg("CAIRN_KEY_PASSPHRASE is longer than %d bytes", PASS_MAX);
			return EXIT_USAGE;
		}
	} else {
		char *prompt = xasprintf("passphrase for %s: ", what);

		fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			free(prompt);
			error_msg("no passphrase for %s and no terminal to ask on: set "
				  "CAIRN_KEY_PASSPHRASE or pass --passphrase-file FILE", what);
			return EXIT_USAGE;
		}
		tty_read(fd, prompt, out);
		free(prompt);
		if (confirm) {
			struct buf again = BUF_INIT;
			int same;

			buf_init(&again, PASS_MAX);
			tty_read(fd, "again: ", &again);
			same = again.len == out->len && !memcmp(buf_cstr(&again), buf_cstr(out), out->len);
			passphrase_wipe(&again);
			if (!same) {
				close(fd);
				passphrase_wipe(out);
				error_msg("the passphrases differ; nothing written");
				return EXIT_USAGE;
			}
		}
		close(fd);
	}
	if (!out->len) {
		passphrase_wipe(out);
		error_msg("empty passphrase for %s (for an unencrypted key use 'cairn keygen "
			  "--no-passphrase')", what);
		return EXIT_USAGE;
	}
	return 0;
}

int passphrase_load_key(struct seckey **out, const char *path, const char *pass_file)
{
	struct buf pass = BUF_INIT;
	int enc = seckey_probe(path), rc;

	*out = NULL;
	if (enc < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	if (enc) {
		char *what = xasprintf("'%s'", path);

		rc = passphrase_get(pass_file, what, 0, &pass);
		free(what);
		if (rc)
			return rc;
	}
	rc = seckey_load(out, path, enc ? pass.ptr : NULL, pass.len);
	passphrase_wipe(&pass);
	if (rc < 0) {
		error_msg("%s", cairn_error_last());
		return EXIT_ENVIRONMENT;
	}
	return 0;
}
