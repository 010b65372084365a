/* The bundle files this applier verified whole and applied here (issue
 * #14; driver.h, bundle_file_known): a table of their own, created by the
 * first record, so the bookkeeping rows stay as they are. */
#include <sqlite3.h>
#include <stddef.h>

#include "../lib/error.h"
#include "sqlite-private.h"

static const char files_schema[] =
	"CREATE TABLE IF NOT EXISTS cairn_bundle_files (\n"
	"  sha256 TEXT PRIMARY KEY,\n"
	"  bundle_id TEXT NOT NULL,\n"
	"  recorded_at TEXT NOT NULL\n"
	") WITHOUT ROWID";

int sqlite_bundle_file_known(struct db *db, const char *sha256_hex)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* from SQLite's schema in memory, not a scan of sqlite_master */
	if (!db->h || sqlite3_table_column_metadata(db->h, "main", "cairn_bundle_files", NULL, NULL,
						    NULL, NULL, NULL, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_prepare_v2(db->h,
			       sha256_hex ? "SELECT 1 FROM cairn_bundle_files WHERE sha256 = ?1"
					  : "SELECT 1 FROM cairn_bundle_files LIMIT 1",
			       -1, &st, NULL) != SQLITE_OK) {
		cairn_error_set("%s: cannot read cairn_bundle_files: %s", db->path,
				sqlite3_errmsg(db->h));
		return -1;
	}
	if (sha256_hex)
		sqlite3_bind_text(st, 1, sha256_hex, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int sqlite_bundle_file_record(struct db *db, const char *sha256_hex, const char *bundle_id,
			      const char *at)
{
	sqlite3_stmt *st = NULL;
	int rc = SQLITE_ERROR;

	if (!db->h || sqlite_simple(db, "BEGIN IMMEDIATE"))
		return -1;
	if (!sqlite_simple(db, files_schema) &&
	    sqlite3_prepare_v2(db->h, "INSERT OR IGNORE INTO cairn_bundle_files VALUES (?1, ?2, ?3)",
			       -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_text(st, 1, sha256_hex, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, bundle_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, at, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE)
			cairn_error_set("%s: cannot record the bundle file: %s", db->path,
					sqlite3_errmsg(db->h));
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_DONE) {
		sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return sqlite_simple(db, "COMMIT");
}
