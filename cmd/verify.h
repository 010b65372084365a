/* Verbs and helpers over verify/ shared by both programs. */
#ifndef CAIRN_CMD_VERIFY_H
#define CAIRN_CMD_VERIFY_H

#include <stddef.h>

#include "cmd.h"

struct trust;

int cmd_verify(int argc, char **argv);
int cmd_apply_verify(int argc, char **argv);
extern const struct cmd cmd_verify_desc, cmd_apply_verify_desc;

/* Trust for keys (PEM public keys) as builders; prints errors. */
int load_trust(const struct cmd *c, char **keys, size_t n, struct trust **out);

#endif
