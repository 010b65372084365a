/* Unit tests for the history module's pure parts: the tree id of a
 * migration computed in memory must be the id git gives the same tree, or
 * every released migration would fall back to a file-by-file comparison. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "../../lib/error.h"
#include "../../project/history.h"
#include "unit.h"

static git_repository *repo;

static void blob(const char *text, git_oid *out)
{
	CHECK(git_blob_create_from_buffer(out, repo, text, strlen(text)) == 0);
}

static void add_file(struct migration *m, const char *name, const char *text)
{
	struct mig_file *f;

	m->files = realloc(m->files, (m->nfiles + 1) * sizeof(*m->files));
	f = &m->files[m->nfiles++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	f->path = xasprintf("migrations/x/%s", name);
	f->type = ENTRY_FILE;
	blob(text, &f->oid);
	f->has_oid = 1;
}

static void release(struct migration *m)
{
	size_t i;

	for (i = 0; i < m->nfiles; i++) {
		free(m->files[i].name);
		free(m->files[i].path);
	}
	free(m->files);
	memset(m, 0, sizeof(*m));
}

/* git's own id for a tree of name -> text, with "dir/name" one level deep */
static void git_tree_of(const char *const *names, const char *const *texts, size_t n,
			git_oid *out)
{
	git_treebuilder *top = NULL, *sub = NULL;
	git_oid id, subid;
	size_t i;
	int have_sub = 0;

	CHECK(git_treebuilder_new(&top, repo, NULL) == 0);
	CHECK(git_treebuilder_new(&sub, repo, NULL) == 0);
	for (i = 0; i < n; i++) {
		const char *slash = strchr(names[i], '/');

		blob(texts[i], &id);
		if (slash) {
			CHECK(git_treebuilder_insert(NULL, sub, slash + 1, &id, GIT_FILEMODE_BLOB) == 0);
			have_sub = 1;
		} else {
			CHECK(git_treebuilder_insert(NULL, top, names[i], &id, GIT_FILEMODE_BLOB) == 0);
		}
	}
	if (have_sub) {
		CHECK(git_treebuilder_write(&subid, sub) == 0);
		CHECK(git_treebuilder_insert(NULL, top, "data", &subid, GIT_FILEMODE_TREE) == 0);
	}
	CHECK(git_treebuilder_write(out, top) == 0);
	git_treebuilder_free(sub);
	git_treebuilder_free(top);
}

static void check_same(const char *const *names, const char *const *texts, size_t n)
{
	struct migration m;
	git_oid mine, theirs;
	size_t i;

	memset(&m, 0, sizeof(m));
	/* in reverse, so the order of m->files does not matter */
	for (i = n; i > 0; i--)
		add_file(&m, names[i - 1], texts[i - 1]);
	git_tree_of(names, texts, n, &theirs);
	CHECK(history_migration_tree_id(repo, "", &m, &mine) == 0);
	CHECK(git_oid_equal(&mine, &theirs));
	release(&m);
}

int main(void)
{
	char dir[] = "/tmp/cairn-unit-history-XXXXXX";
	static const char *const n1[] = { "down.sql", "up.sql" };
	static const char *const t1[] = { "DROP TABLE t;\n", "CREATE TABLE t (id int);\n" };
	/* "data" is a directory: git sorts it as "data/", after "data-x.sql"
	 * and "data.sql" but before "data0.sql" */
	static const char *const n2[] = { "data.sql", "data/a.csv", "data/b.csv", "data-x.sql",
					  "data0.sql", "migration.yaml", "up.sql" };
	static const char *const t2[] = { "1", "a,b\n", "c,d\n", "2", "3", "description: x\n",
					  "SELECT 1;\n" };
	struct migration m;
	git_oid id;

	git_libgit2_init();
	CHECK(mkdtemp(dir) != NULL);
	CHECK(git_repository_init(&repo, dir, 1) == 0);

	check_same(n1, t1, 2);
	check_same(n2, t2, 7);

	/* a file without a blob id and no work tree to hash it from */
	memset(&m, 0, sizeof(m));
	add_file(&m, "up.sql", "x");
	m.files[0].has_oid = 0;
	m.files[0].type = ENTRY_OTHER;
	CHECK(history_migration_tree_id(repo, "", &m, &id) < 0);
	release(&m);

	git_repository_free(repo);
	{
		char *cmd = xasprintf("rm -rf '%s'", dir);

		CHECK(system(cmd) == 0);
		free(cmd);
	}
	git_libgit2_shutdown();
	return unit_done();
}
