#include <stdlib.h>
#include <string.h>

#include "../lib/checkpoint.h"
#include "../lib/error.h"
#include "../lib/yaml.h"
#include "keys.h"
#include "statement.h"

static const char *const statement_types[] = { "build", "approval", "contract", "receipt",
							       "override", NULL };

int statement_type_valid(const char *type)
{
	size_t i;

	for (i = 0; statement_types[i]; i++)
		if (!strcmp(type, statement_types[i]))
			return 1;
	return 0;
}

int iso_time_valid(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return 0;
	for (i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	}
	return 1;
}

static int bundle_id_valid(const char *s)
{
	size_t i;

	if (strncmp(s, "sha256:", 7) || strlen(s) != 7 + 64)
		return 0;
	for (i = 7; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

void statement_release(struct statement *s)
{
	if (!s)
		return;
	free(s->type);
	free(s->bundle);
	free(s->environment);
	free(s->signer);
	free(s->key);
	free(s->public_key);
	free(s->time);
	free(s->expires);
	free(s->database);
	free(s->comment);
	free(s->ticket);
	free(s->allow);
	free(s->checkpoint);
	memset(s, 0, sizeof(*s));
}

static char **field(struct statement *s, const char *key)
{
	if (!strcmp(key, "type")) return &s->type;
	if (!strcmp(key, "bundle")) return &s->bundle;
	if (!strcmp(key, "environment")) return &s->environment;
	if (!strcmp(key, "signer")) return &s->signer;
	if (!strcmp(key, "key")) return &s->key;
	if (!strcmp(key, "public_key")) return &s->public_key;
	if (!strcmp(key, "time")) return &s->time;
	if (!strcmp(key, "expires")) return &s->expires;
	if (!strcmp(key, "database")) return &s->database;
	if (!strcmp(key, "comment")) return &s->comment;
	if (!strcmp(key, "ticket")) return &s->ticket;
	if (!strcmp(key, "allow")) return &s->allow;
	if (!strcmp(key, "checkpoint")) return &s->checkpoint;
	return NULL;
}

/* A receipt's checkpoint is the applier's own line for the run the receipt
 * reports: signed by the same key, for the same environment and database.
 * The receipt's signature covers it, so its own need not be checked here. */
static int checkpoint_agrees(const struct statement *s, const char *name)
{
	struct checkpoint c;
	const char *what = NULL;

	if (strcmp(s->type, "receipt")) {
		cairn_error_set("%s: only a receipt has 'checkpoint'", name);
		return -1;
	}
	if (checkpoint_parse(&c, s->checkpoint, strlen(s->checkpoint)) < 0) {
		cairn_error_set("%s: 'checkpoint' is %s", name, cairn_error_last());
		return -1;
	}
	if (strcmp(c.key, s->key))
		what = "key";
	else if (strcmp(c.env, s->environment))
		what = "environment";
	else if (s->database && strcmp(c.db, s->database))
		what = "database";
	if (what)
		cairn_error_set("%s: the checkpoint's %s is not the receipt's", name, what);
	checkpoint_release(&c);
	return what ? -1 : 0;
}

int statement_parse(struct statement *out, const char *data, size_t len, const char *name)
{
	struct ynode *root = NULL;
	unsigned char raw[KEY_RAW_LEN];
	char id[KEY_ID_LEN + 1];
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len > STATEMENT_MAX_SIZE) {
		cairn_error_set("%s: statement is %zu bytes, over the cap of %d", name, len,
				STATEMENT_MAX_SIZE);
		return -1;
	}
	if (yaml_load(&root, data, len, name) < 0)
		return -1;
	if (!root || root->type != YNODE_MAP) {
		cairn_error_set("%s: a statement is a mapping of keys to strings", name);
		goto out;
	}
	for (i = 0; i < root->n; i++) {
		const struct ynode *k = ynode_key(root, i), *v = ynode_val(root, i);
		char **slot = k->type == YNODE_SCALAR ? field(out, k->str) : NULL;

		if (!slot) {
			cairn_error_set("%s:%d:%d: unknown statement key '%s'", name, k->line, k->col,
					k->type == YNODE_SCALAR ? k->str : "?");
			goto out;
		}
		if (v->type != YNODE_SCALAR || memchr(v->str, '\0', v->len)) {
			cairn_error_set("%s:%d:%d: '%s' must be a string", name, v->line, v->col, k->str);
			goto out;
		}
		*slot = xstrdup(v->str);
	}
	if (!out->type || !statement_type_valid(out->type)) {
		cairn_error_set("%s: 'type' must be build, approval, contract, receipt or override", name);
		goto out;
	}
	if (!out->bundle || !bundle_id_valid(out->bundle)) {
		cairn_error_set("%s: 'bundle' must be a bundle id (sha256: and 64 hex digits)", name);
		goto out;
	}
	if (!out->key || !key_id_valid(out->key)) {
		cairn_error_set("%s: 'key' must be a key id (16 hex digits)", name);
		goto out;
	}
	if (!out->public_key ||
	    base64_decode_exact(out->public_key, strlen(out->public_key), raw, sizeof(raw)) < 0) {
		cairn_error_set("%s: 'public_key' must be the base64 of a 32-byte Ed25519 key", name);
		goto out;
	}
	key_id_of_raw(raw, id);
	if (strcmp(id, out->key)) {
		cairn_error_set("%s: 'key' %s is not the id of 'public_key' (%s)", name, out->key, id);
		goto out;
	}
	if (!out->signer || !*out->signer) {
		cairn_error_set("%s: 'signer' is missing", name);
		goto out;
	}
	if (!out->time || !iso_time_valid(out->time)) {
		cairn_error_set("%s: 'time' must be a UTC time such as 2026-11-22T09:30:00Z", name);
		goto out;
	}
	if (out->expires && !iso_time_valid(out->expires)) {
		cairn_error_set("%s: 'expires' must be a UTC time such as 2026-11-22T09:30:00Z", name);
		goto out;
	}
	if (strcmp(out->type, "build") && (!out->environment || !*out->environment)) {
		cairn_error_set("%s: an %s statement needs an 'environment'", name, out->type);
		goto out;
	}
	if (out->allow && strcmp(out->type, "override")) {
		cairn_error_set("%s: only an override statement has 'allow'", name);
		goto out;
	}
	if (!strcmp(out->type, "override") && (!out->allow || !*out->allow)) {
		cairn_error_set("%s: an override statement needs 'allow' (what it allows)", name);
		goto out;
	}
	if (!strcmp(out->type, "build") && out->environment) {
		cairn_error_set("%s: a build statement has no 'environment'", name);
		goto out;
	}
	if (out->checkpoint && checkpoint_agrees(out, name) < 0)
		goto out;
	rc = 0;
out:
	ynode_free(root);
	if (rc)
		statement_release(out);
	return rc;
}

static int put_field(struct buf *b, const char *key, const char *value)
{
	if (!value)
		return 0;
	if (buf_printf(b, "%s: ", key) < 0 || yaml_put_scalar(b, value) < 0)
		return -1;
	return buf_putc(b, '\n');
}

int statement_format(const struct statement *s, struct buf *out)
{
	if (put_field(out, "type", s->type) || put_field(out, "bundle", s->bundle) ||
	    put_field(out, "environment", s->environment) || put_field(out, "signer", s->signer) ||
	    put_field(out, "key", s->key) || put_field(out, "public_key", s->public_key) ||
	    put_field(out, "time", s->time) || put_field(out, "expires", s->expires) ||
	    put_field(out, "database", s->database) || put_field(out, "comment", s->comment) ||
	    put_field(out, "ticket", s->ticket) || put_field(out, "allow", s->allow) ||
	    put_field(out, "checkpoint", s->checkpoint))
		return -1;
	return 0;
}

char *statement_member_base(const char *type, const char *environment, const char *key)
{
	if (!strcmp(type, "build"))
		return xasprintf("signatures/%s", key);
	if (!strcmp(type, "approval"))
		return xasprintf("approvals/%s-%s", environment, key);
	return xasprintf("approvals/%s-%s-%s", environment, type, key);
}
