/* Static rules on one tree. Every rule adds findings and goes on, so one
 * run reports everything; the rule ids are listed in cairn(1). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/archive.h"
#include "project.h"

/* An up.sql holding only white space and comments does nothing. */
static int sql_is_empty(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (isspace((unsigned char)s[i])) {
			i++;
		} else if (s[i] == '-' && i + 1 < len && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
			i += 2;
			while (i + 1 < len && !(s[i] == '*' && s[i + 1] == '/'))
				i++;
			i += 2;
		} else {
			return 0;
		}
	}
	return 1;
}

static const char *const standard_files[] = {
	"up.sql", "down.sql", "verify.sql", "migration.yaml", NULL,
};

static const char *role_name(enum mig_role r)
{
	switch (r) {
	case ROLE_UP: return "up";
	case ROLE_DOWN: return "down";
	case ROLE_VERIFY: return "verify";
	default: return "";
	}
}

static void check_sql_text(struct project *p, struct migration *m, struct mig_file *mf,
			   struct findings *f)
{
	struct buf b = BUF_INIT;
	const char *nul;
	size_t bad;
	int r = source_read(p->src, mf->path, p->cfg.max_file_size, &b);

	if (r != 0) {
		if (r < 0 && strstr(cairn_error_last(), "over the limit"))
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "file-too-large",
				     "%s; split the migration, or raise max_file_size in %s",
				     cairn_error_last(), CONFIG_FILE);
		else if (r < 0)
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "unreadable", "%s",
				     cairn_error_last());
		goto out;
	}
	mf->size = (long long)b.len;
	nul = memchr(b.ptr, '\0', b.len);
	if (nul) {
		findings_add(f, SEV_ERROR, mf->path, line_of_offset(b.ptr, b.len, (size_t)(nul - b.ptr)),
			     0, "nul-byte",
			     "NUL byte at offset %zu: SQL files must be text; remove it",
			     (size_t)(nul - b.ptr));
	} else if (utf8_check(b.ptr, b.len, &bad) < 0) {
		findings_add(f, SEV_ERROR, mf->path, line_of_offset(b.ptr, b.len, bad), 0,
			     "invalid-utf8",
			     "invalid UTF-8 at offset %zu (byte 0x%02x); save the file as UTF-8",
			     bad, (unsigned char)b.ptr[bad]);
	}
	if (sql_is_empty(b.ptr, b.len)) {
		if (mf->role == ROLE_UP && !m->noop && !p->cfg.allow_noop)
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "empty-up",
				     "%s holds no SQL; write the change, or say noop: true in migration.yaml if it is a placeholder on purpose",
				     mf->name);
		else if (mf->role == ROLE_DOWN && !m->irreversible && !m->noop)
			findings_add(f, SEV_WARNING, mf->path, 0, 0, "empty-down",
				     "%s holds no SQL, so a rollback would change nothing; write it, or set irreversible: true in migration.yaml",
				     mf->name);
	}
	if (mf->role == ROLE_UP && sql_is_empty(b.ptr, b.len))
		m->ups_empty++;
	else if (mf->role == ROLE_UP)
		m->ups_sql++;
out:
	buf_release(&b);
}

/* Every driver the project targets needs an up (and a down, unless the
 * migration is irreversible): a generic file, or that driver's variant. */
static void check_required(struct project *p, struct migration *m, enum mig_role role,
			   struct findings *f)
{
	const char *rule = role == ROLE_UP ? "missing-up" : "missing-down";
	size_t i;

	if (migration_file(m, role, NULL) && !migration_file(m, role, NULL)->driver)
		return;
	if (!p->cfg.drivers.n) {
		if (role == ROLE_UP)
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing up.sql: every migration needs one ('cairn new' writes it)");
		else
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing down.sql: write the rollback, or set irreversible: true in migration.yaml");
		return;
	}
	for (i = 0; i < p->cfg.drivers.n; i++) {
		const char *d = p->cfg.drivers.items[i];

		if (migration_file(m, role, d))
			continue;
		if (role == ROLE_UP)
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing up.sql (or up.%s.sql for driver %s): every migration needs one",
				     d, d);
		else
			findings_add(f, SEV_ERROR, m->path, 0, 0, rule,
				     "missing down.sql (or down.%s.sql for driver %s): write the rollback, or set irreversible: true in migration.yaml",
				     d, d);
	}
}

static void check_migration(struct project *p, struct migration *m, struct findings *f)
{
	size_t i;

	if (p->cfg.style == STYLE_TIMESTAMP && !version_is_timestamp(m->version))
		findings_add(f, SEV_ERROR, m->path, 0, 0, "version-style",
			     "version %s is not a UTC timestamp YYYYMMDDHHMMSS, and %s says version_style: timestamp; if the project numbers its migrations otherwise, set version_style: sequence in %s (versions are compared as numbers of any length)",
			     m->version, CONFIG_FILE, CONFIG_FILE);
	for (i = 0; i < m->nfiles; i++) {
		struct mig_file *mf = &m->files[i];

		if (mf->type == ENTRY_SYMLINK) {
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "symlink",
				     "symbolic links are refused in migrations (a bundle must hold the file itself); replace it with the file");
			continue;
		}
		if (mf->type != ENTRY_FILE) {
			findings_add(f, SEV_ERROR, mf->path, 0, 0, "not-a-file",
				     "not a regular file (submodule, device or unmerged entry); remove it");
			continue;
		}
		if (mf->role == ROLE_DATA) {
			/* what 'cairn build' would refuse, said at commit time */
			const char *problem = member_path_problem(mf->name);
			const unsigned char *c;

			for (c = (const unsigned char *)mf->name; !problem && *c; c++)
				if (*c >= 0x80)
					problem = "a character that is not ASCII";
			if (problem) {
				findings_add(f, SEV_ERROR, mf->path, 0, 0, "bundle-name",
					     "data file name '%s' has %s, which a bundle cannot hold (its member names are ASCII, without '.', '..' or control characters); rename it",
					     mf->name, problem);
				continue;
			}
		}
		if (mf->role == ROLE_OTHER) {
			const char *hint = strchr(mf->name, '/') ? NULL : did_you_mean(mf->name, standard_files);

			if (hint)
				findings_add(f, SEV_ERROR, mf->path, 0, 0, "unknown-file",
					     "unknown file '%s' in a migration; did you mean '%s'?",
					     mf->name, hint);
			else
				findings_add(f, SEV_WARNING, mf->path, 0, 0, "unknown-file",
					     "'%s' is not a migration file (up.sql, down.sql, verify.sql, migration.yaml, VARIANT.DRIVER.sql, data/); cairn ignores it",
					     mf->name);
			continue;
		}
		if (mf->driver) {
			if (!driver_is_known(mf->driver)) {
				const char *hint = did_you_mean(mf->driver, known_drivers);

				findings_add(f, SEV_ERROR, mf->path, 0, 0, "unknown-driver",
					     "%s is a variant for driver '%s', which cairn does not know%s%s%s",
					     mf->name, mf->driver, hint ? "; did you mean '" : " (known: sqlite, postgres)",
					     hint ? hint : "", hint ? "'?" : "");
				continue;
			}
			if (p->cfg.drivers.n && !strlist_has(&p->cfg.drivers, mf->driver))
				findings_add(f, SEV_WARNING, mf->path, 0, 0, "driver-not-configured",
					     "a variant for driver '%s', which is not in the drivers of %s; add it there or remove the file",
					     mf->driver, CONFIG_FILE);
		}
		if ((mf->role == ROLE_UP || mf->role == ROLE_DOWN || mf->role == ROLE_VERIFY) &&
		    !m->same_as_base)
			check_sql_text(p, m, mf, f);
	}
	if (m->noop && m->ups_sql && !m->ups_empty) {
		const struct mig_file *meta = migration_file(m, ROLE_META, NULL);

		findings_add(f, SEV_ERROR, meta ? meta->path : m->path, 0, 0, "noop-not-empty",
			     "migration.yaml says noop: true, but every up script holds SQL; remove noop, or empty the placeholder");
	}
	check_required(p, m, ROLE_UP, f);
	if (!m->irreversible)
		check_required(p, m, ROLE_DOWN, f);
	else if (migration_file(m, ROLE_DOWN, NULL))
		findings_add(f, SEV_WARNING, migration_file(m, ROLE_DOWN, NULL)->path, 0, 0,
			     "irreversible-down",
			     "the migration says irreversible: true, so this %s script is never run; delete it or drop irreversible",
			     role_name(ROLE_DOWN));
	if (m->batch && !m->transaction) {
		const struct mig_file *meta = migration_file(m, ROLE_META, NULL);

		findings_add(f, SEV_ERROR, meta ? meta->path : m->path, 0, 0, "batch-transaction",
			     "kind: batch runs one transaction per batch, so it cannot say transaction: false; remove one of the two");
	}
}

int check_static(struct project *p, struct findings *f)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		struct migration *m = p->migs[i];

		/* sorted by version: duplicates are neighbours */
		if (i > 0 && !version_cmp(p->migs[i - 1]->version, m->version))
			findings_add(f, SEV_ERROR, m->path, 0, 0, "duplicate-version",
				     "version %s is used by both %s and %s; give one of them a new version",
				     m->version, p->migs[i - 1]->dir, m->dir);
		check_migration(p, m, f);
	}
	if (!p->ordered)
		project_order(p, f);
	return 0;
}
