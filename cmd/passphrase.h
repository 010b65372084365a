/* Where a key's passphrase comes from, never a flag's value: a file named
 * by --passphrase-file, else $CAIRN_KEY_PASSPHRASE, else the terminal. */
#ifndef CAIRN_PASSPHRASE_H
#define CAIRN_PASSPHRASE_H

#include "../lib/buf.h"

/* Fills out (wipe it with passphrase_wipe). confirm: ask twice on a
 * terminal. Returns 0, or prints the error and returns an exit code. */
int passphrase_get(const char *file, const char *what, int confirm, struct buf *out);
void passphrase_wipe(struct buf *b);
/* Loads the private key at path, asking for its passphrase only when it
 * is encrypted. Prints errors; returns 0 or an exit code. */
struct seckey;
int passphrase_load_key(struct seckey **out, const char *path, const char *pass_file);

#endif
