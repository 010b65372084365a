/* The keys a caller trusts, by role (bundle.h): builders, approvers,
 * receipt signers, admins. Moved out of bundle.c, which reads bundles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "bundle.h"
#include "keys.h"

struct trust_key {
	unsigned roles;
	struct pubkey *k;
};

struct trust {
	struct trust_key *keys;
	size_t n, alloc;
};

struct trust *trust_new(void)
{
	return xcalloc(1, sizeof(struct trust));
}

int trust_add_key(struct trust *t, unsigned roles, const char *pem_path)
{
	struct pubkey *k = NULL;
	size_t i;

	if (pubkey_load(&k, pem_path) < 0)
		return -1;
	for (i = 0; i < t->n; i++) {
		if (!strcmp(t->keys[i].k->id, k->id)) {
			t->keys[i].roles |= roles;
			pubkey_free(k);
			return 0;
		}
	}
	ALLOC_GROW(t->keys, t->n + 1, t->alloc);
	t->keys[t->n].roles = roles;
	t->keys[t->n].k = k;
	t->n++;
	return 0;
}

int trust_add_builder_key(struct trust *t, const char *pem_path)
{
	return trust_add_key(t, TRUST_BUILD, pem_path);
}

const struct pubkey *trust_find(const struct trust *t, const char *key_id, unsigned roles)
{
	size_t i;

	if (!t)
		return NULL;
	for (i = 0; i < t->n; i++)
		if ((t->keys[i].roles & roles) && !strcmp(t->keys[i].k->id, key_id))
			return t->keys[i].k;
	return NULL;
}

size_t trust_count(const struct trust *t, unsigned roles)
{
	size_t i, n = 0;

	for (i = 0; t && i < t->n; i++)
		n += (t->keys[i].roles & roles) != 0;
	return n;
}

void trust_list_ids(const struct trust *t, unsigned roles, char *out, size_t size)
{
	size_t i;

	*out = '\0';
	for (i = 0; t && i < t->n; i++) {
		size_t l = strlen(out);

		if ((t->keys[i].roles & roles) && l + KEY_ID_LEN + 3 < size)
			snprintf(out + l, size - l, "%s%s", l ? ", " : "", t->keys[i].k->id);
	}
}

unsigned trust_role_of_type(const char *type)
{
	if (!type)
		return 0;
	if (!strcmp(type, "build"))
		return TRUST_BUILD;
	if (!strcmp(type, "approval") || !strcmp(type, "contract"))
		return TRUST_APPROVAL; /* approvers sign contract statements */
	if (!strcmp(type, "receipt"))
		return TRUST_RECEIPT;
	if (!strcmp(type, "override"))
		return TRUST_OVERRIDE;
	return 0;
}

void trust_free(struct trust *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		pubkey_free(t->keys[i].k);
	free(t->keys);
	free(t);
}
