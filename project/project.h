/* The project model: cairn.yaml and the migrations under it, read from one
 * source (work tree, index or commit). Loading never fails on a bad
 * migration: what is wrong becomes a finding, so the checker can report
 * every problem in one run. */
#ifndef CAIRN_PROJECT_H
#define CAIRN_PROJECT_H

#include <stddef.h>

#include "../lib/batch.h"
#include "../lint/lint.h"
#include "findings.h"
#include "source.h"
#include "strlist.h"

#define CONFIG_FILE "cairn.yaml"
#define DEFAULT_MAX_FILE_SIZE (16ULL << 20)
/* data/ files (seed data) are streamed, never held whole: a larger cap */
#define DEFAULT_MAX_DATA_SIZE (4ULL << 30)

struct ynode;

enum version_style { STYLE_TIMESTAMP, STYLE_SEQUENCE };
enum ordering { ORDER_STRICT, ORDER_ALLOW_OUT_OF_ORDER };

struct config {
	char *name;               /* project name (bundle names); default: directory name */
	char *repository;         /* the URL bundles name as their source; NULL: none */
	char *migrations_dir;     /* relative to the project root */
	enum version_style style;
	struct strlist drivers;   /* known driver names the project targets */
	struct strlist release_refs; /* patterns, e.g. refs/heads/main, refs/tags/v* */
	int release_refs_set;
	enum ordering ordering;
	unsigned long long max_file_size;
	unsigned long long max_data_size; /* data/ files */
	int allow_noop;           /* allow_noop: true: an empty up.sql is a no-op anywhere */
	struct lint_config lint;  /* lint: levels, postgres: {version:} */
};

/* The drivers cairn knows; a variant file for any other is an error. */
extern const char *const known_drivers[];
int driver_is_known(const char *name);

void config_init(struct config *c);
void config_release(struct config *c);
/* Parses cairn.yaml; problems go to f (path = CONFIG_FILE). Returns -1 only
 * when the file cannot be used at all. */
int config_parse(struct config *c, const char *data, size_t len, struct findings *f);

enum mig_role { ROLE_UP, ROLE_DOWN, ROLE_VERIFY, ROLE_META, ROLE_DATA, ROLE_OTHER };

struct mig_file {
	char *name;     /* path inside the migration directory: "up.sql", "data/x.csv" */
	char *path;     /* relative to the project root */
	enum mig_role role;
	char *driver;   /* "postgres" for up.postgres.sql; NULL for the generic file */
	enum entry_type type;
	long long size; /* -1 until read */
	git_oid oid;
	int has_oid;
	/* a file cairn build generates from operation: (operation.c), not in
	 * the source: its bytes; NULL for every file of the source */
	char *content;
	size_t content_len;
};

/* operation: {NAME: {...}} in migration.yaml (issue #22): a column change
 * that cairn build expands into PostgreSQL's safe sequence (operation.c) */
enum op_kind {
	OP_NONE, OP_RENAME_COLUMN, OP_CHANGE_TYPE, OP_SET_NOT_NULL, OP_ADD_CHECK,
	OP_ADD_FOREIGN_KEY, OP_ADD_UNIQUE,
};

struct mig_op {
	enum op_kind kind;
	const char *kind_name; /* static: "rename_column" */
	int line;              /* of the operation's name in migration.yaml */
	char *table, *column, *to, *type, *from_type, *using_expr, *down_using;
	char *name, *check, *ref_table, *on_delete;
	struct strlist columns, ref_columns;
};

struct migration {
	char *dir;      /* directory name: "20261122093000_create_users" */
	char *path;     /* "migrations/20261122093000_create_users" */
	char *version;  /* "20261122093000" */
	char *slug;     /* "create_users" */
	struct mig_file *files;
	size_t nfiles, files_alloc;

	/* migration.yaml */
	int has_meta;
	char *description;
	struct strlist requires;
	int *requires_line;
	int transaction;  /* default 1; a map in migration.yaml leaves it 1 */
	/* transaction: {postgres: false}: per driver (index in known_drivers),
	 * 0 where the map does not name the driver, else 1 + the value (zeroed
	 * memory means "as transaction says") */
	int tx_driver[2];
	int irreversible;
	int destructive;
	int batch;        /* kind: batch */
	int contract;     /* phase: contract (default expand): backward-incompatible
			   * steps, applied only with a contract approval */
	int no_phase;     /* a script linted outside any migration (cairn lint
			   * FILE.sql): the phase rule does not apply */
	int noop;         /* noop: true: an up script (all, or one driver's) is empty on purpose */
	int ups_empty, ups_sql; /* set by the checker: up scripts without and with SQL */
	struct strlist environments;
	unsigned long long timeout_ms, lock_timeout_ms; /* 0 = unset */
	struct batch_throttle throttle; /* batch: {...} (kind: batch only) */
	int throttle_line;
	struct strlist lint_allow; /* lint: {allow: [rule-id]} */
	int *lint_allow_line;
	struct mig_op *op;      /* operation: (NULL: none) */
	struct mig_file *gen;   /* what op generates: up.postgres.sql, down.postgres.sql */
	size_t ngen;
	/* the findings the checker's lint run found waived (check-lint.c), for
	 * the bundle's manifest: rule id, the up script's name, the finding's
	 * line, how ("comment", "allow", "destructive") and the comment's reason */
	struct mig_waiver {
		const char *rule, *via; /* static strings */
		char *file, *reason;    /* reason NULL when none */
		int line;
	} *waivers;
	size_t nwaivers, waivers_alloc;

	/* provenance: the commit that introduced the migration (filled by the
	 * history walk of issue #3; NULL until then) */
	char *prov_commit;  /* 40 hex digits */
	char *prov_author;  /* "Name <email>" */
	char *prov_date;    /* ISO 8601 UTC, e.g. 2026-11-22T09:30:00Z */

	/* set by history_check when asked (--staged, pre-receive): the
	 * migration's tree and cairn.yaml are identical to the base's, so the
	 * content rules would only repeat the base's findings */
	int same_as_base;

	/* filled by project_order */
	struct migration **deps;
	size_t ndeps;
	int order_index;
};

struct project {
	struct config cfg;
	struct source *src;       /* borrowed */
	struct migration **migs;  /* sorted by version, then name */
	size_t n;
	struct migration **order; /* apply order, after project_order; n entries */
	int ordered;
	/* the SQLite linter's database (lint.h), replayed up to the migration
	 * check_static is at; NULL until a SQLite script is linted */
	struct lint_sqlite *lint_db;
	/* check --staged: where the replayed database is cached (lint-cache.c;
	 * NULL: no cache, as for build, which always replays), and how many
	 * migrations the cache gave and the replay stored */
	char *lint_cache_dir;
	size_t lint_cache_used, lint_cache_stored;
	int lint_cache_subset;  /* the cache gave only what the scripts reach */
	/* migrations/callbacks/ (issue #20, lib/callbacks.h): the SQL
	 * callbacks a bundle carries, in the order found; only names
	 * callback_parse knows (others are findings) */
	struct mig_file *callbacks;
	size_t ncallbacks, callbacks_alloc;
	/* what check_lint_callbacks found waived in them, file the callback's
	 * name, for the manifest's callback_waivers (format cairn-bundle/3) */
	struct mig_waiver *callback_waivers;
	size_t ncallback_waivers;
};

/* Reads cairn.yaml and the migrations from src. Returns -1 (error set) when
 * there is no usable project at all; otherwise 0, with problems in f. */
int project_load(struct project **out, struct source *src, struct findings *f);
void project_free(struct project *p);

/* Parses migration.yaml's bytes into m; problems go to f under path. */
void migration_meta_parse(struct migration *m, const char *data, size_t len, const char *path,
			  struct findings *f);
/* operation: in migration.yaml (operation.c): k is the key, v its value */
void operation_parse(struct migration *m, struct findings *f, const char *path,
		     const struct ynode *k, const struct ynode *v);
/* Checks m's operation against the project and m's phase and kind, and
 * generates its PostgreSQL scripts into m->gen; problems go to f. */
void operation_generate(const struct config *cfg, struct migration *m, struct findings *f);
void operation_free(struct mig_op *op);
struct project;
/* The backfill and contract steps of a rename or type change without an
 * expand step of the same operation before them are findings. */
void operation_check_steps(const struct project *p, struct findings *f);
/* Whether mf is SQL of m's own for PostgreSQL that an operation replaces */
int operation_replaces(const struct migration *m, const struct mig_file *mf);

/* Frees a migration made outside project_load (tests, fuzzers). */
void migration_free(struct migration *m);

/* Resolves requires and computes the apply order (topological by requires,
 * ties by version). Unknown, later-versioned and cyclic dependencies become
 * findings; the order still holds every migration. */
int project_order(struct project *p, struct findings *f);

/* A 14-digit version that is a real UTC time YYYYMMDDHHMMSS. */
int version_is_timestamp(const char *v);

/* Guesses the version style from the names in DIR (a migrations directory
 * of cairn's or another tool's: "0001_x", "20190502140000_x.up.sql",
 * "V3__x.sql"): timestamp when every numbered name starts with a valid
 * timestamp, sequence otherwise. *counted is how many names had a number;
 * 0 leaves *out alone. Returns -1 (error set) if DIR cannot be read. */
int project_guess_style(const char *dir, enum version_style *out, size_t *counted);

/* The up script the SQLite linter reads for m, or NULL: up.sqlite.sql, or
 * up.sql when cairn.yaml's drivers name sqlite. */
const struct mig_file *project_sqlite_up(const struct project *p, const struct migration *m);
/* The longest prefix of migs[0..upto) whose replayed database the cache
 * holds, loaded into p->lint_db; 0 when none (p->lint_db is then a fresh
 * database, or NULL if SQLite cannot open one). */
size_t lint_cache_load(struct project *p, size_t upto);
/* Saves p->lint_db, replayed up to upto, and prunes older files; -1
 * (error set) when it cannot. */
int lint_cache_store(struct project *p, size_t upto);

/* Static checks on one tree: names, versions, files, metadata, SQL text. */
int check_static(struct project *p, struct findings *f);

/* The linter on one PostgreSQL up script of m (check-lint.c): its findings
 * go to f; allow_used (m->lint_allow.n entries) marks the waivers used. */
void check_lint_file(const struct project *p, struct migration *m,
		     const struct mig_file *mf, const char *sql, size_t len,
		     unsigned char *allow_used, struct findings *f);
/* The linter on one PostgreSQL script of m, with what the project knows:
 * the levels, the server version, m's transaction, timeouts and waivers
 * (allow_used: m->lint_allow.n + 8 entries). in_check: leave out what
 * sqlcheck's findings already say. */
void project_lint(const struct config *cfg, const struct migration *m, const char *sql,
		  size_t len, unsigned char *allow_used, int in_check, struct lint_result *out);
/* The same for one SQLite script, checked by SQLite on db (lint.h). */
void project_lint_sqlite(const struct config *cfg, const struct migration *m,
			 struct lint_sqlite *db, const char *sql, size_t len,
			 unsigned char *allow_used, int in_check, struct lint_result *out);
void check_lint_sqlite_file(const struct project *p, struct migration *m,
			    const struct mig_file *mf, const char *sql, size_t len,
			    unsigned char *allow_used, struct findings *f);
/* Each lint: allow entry of m that waived nothing is a finding. */
void check_lint_unused(const struct config *cfg, const struct migration *m,
		       const unsigned char *allow_used, struct findings *f);

/* The linter on the SQL callbacks of migrations/callbacks/ (in a
 * transaction, in-file waivers; db: the SQLite linter's database after
 * every migration, NULL: PostgreSQL only). */
void check_lint_callbacks(struct project *p, struct lint_sqlite *db, struct findings *f);

/* Whether m runs in a transaction on driver (NULL: the generic setting). */
int migration_transaction(const struct migration *m, const char *driver);

const struct mig_file *migration_file(const struct migration *m, enum mig_role role,
				      const char *driver);
struct migration *project_find(const struct project *p, const char *name_or_version);

#endif
