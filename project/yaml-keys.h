#ifndef CAIRN_PROJECT_YAML_KEYS_H
#define CAIRN_PROJECT_YAML_KEYS_H

#include "../lib/yaml.h"
#include "findings.h"
#include "strlist.h"

void unknown_key(struct findings *f, const char *path, const struct ynode *k,
		 const char *const *keys);
void wrong_type(struct findings *f, const char *path, const char *key,
		const struct ynode *v, const char *expected);
/* A list of strings; a single string is taken as a list of one. */
int string_list(struct strlist *out, int **lines, struct findings *f, const char *path,
		const char *key, const struct ynode *v);
void yaml_finding(struct findings *f, const char *path);

#endif
