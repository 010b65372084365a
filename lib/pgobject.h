/* A PostgreSQL object a migration created, as the backup row records it
 * and restore removes it (ops20d): a kind (the word DROP takes: "TABLE",
 * "MATERIALIZED VIEW", "FUNCTION"...) and a name made only of
 * double-quoted identifiers ("schema"."name", or "name" for a schema or an
 * extension). Shared by ops/backup.c, which writes the list, and
 * apply/restore.c, which reads it back. */
#ifndef CAIRN_LIB_PGOBJECT_H
#define CAIRN_LIB_PGOBJECT_H

#include <stddef.h>

/* The kind of "KIND NAME" at s (static, NULL: none of them); *name set
 * past it and its space. */
const char *pg_object_kind(const char *s, const char **name);
/* The length of the name at s: one or two double-quoted identifiers
 * (a '"' inside doubled), dot-separated, each not empty; 0 when s does
 * not start with one. Only such names go into SQL. */
size_t pg_object_name_len(const char *s);
/* A query whose one value is t when the object exists (parse_ident of
 * the name; for a function or procedure any of that name), malloc'ed. */
char *pg_object_exists_sql(const char *kind, const char *name);

#endif
