/* What a statement did to the transaction cairn runs its script in (issue
 * #16). pg-exec.c sends a script statement by statement and reads the
 * session's transaction state after each; the command tag of the
 * statement's result says whether it ended or steered the transaction
 * (COMMIT, ROLLBACK, BEGIN, SAVEPOINT...) and whether the work before it
 * was committed. A script the parser refused goes as one message
 * (lib/sqlsplit.h): then the tags say which of its statements did it, and
 * whether what ran after it was committed. */
#include <stdio.h>
#include <string.h>

#include "../lib/error.h"
#include "pg-private.h"

/* Tags of transaction control: ROLLBACK covers ROLLBACK TO and ABORT,
 * COMMIT covers END; PREPARE TRANSACTION hands the work to a prepared
 * transaction, which is as good as committed for the books. */
static int tx_tag(const char *tag, int *commits)
{
	static const char *const tags[] = {
		"BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE",
		"PREPARE TRANSACTION", "COMMIT PREPARED", "ROLLBACK PREPARED",
	};
	size_t i;

	*commits = !strcmp(tag, "COMMIT") || !strcmp(tag, "PREPARE TRANSACTION");
	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (!strcmp(tag, tags[i]))
			return 1;
	return 0;
}

void pg_txwatch_result(struct pg_txwatch *w, int ok, const char *tag, size_t index)
{
	int commits = 0;

	if (ok && tag && tx_tag(tag, &commits)) {
		int ends = commits || !strcmp(tag, "ROLLBACK");

		/* the statement to name: the first that ended the transaction,
		 * else the first that steered it */
		if (!w->seen || (ends && !w->ended)) {
			w->index = index;
			pg_copy_field(w->tag, sizeof(w->tag), tag);
		}
		w->seen = 1;
		w->ended |= ends;
		w->committed |= commits;
		w->ok_after = w->err_after = 0; /* what follows runs in a new transaction */
	} else if (w->seen) {
		if (ok)
			w->ok_after = 1;
		else
			w->err_after = 1;
	}
}

int pg_txwatch_end(struct db *db, struct pg_txwatch *w, long offset, struct driver_error *err)
{
	PGTransactionStatusType ts = pq.transactionStatus(db->conn);
	int gone = ts == PQTRANS_IDLE;

	if (!w->seen && !gone)
		return 0;
	/* statements after the last transaction control ran in an implicit
	 * transaction of their own, committed at the message's end unless one
	 * of them failed */
	err->tx_ended = 1;
	err->tx_committed = w->committed || (gone && w->ok_after && !w->err_after);
	err->offset = w->seen ? offset : -1;
	err->code[0] = '\0';
	err->detail[0] = err->hint[0] = '\0';
	snprintf(err->message, sizeof(err->message),
		 "%s %s the transaction cairn runs the migration in: %s", w->seen ? w->tag : "the script",
		 w->ended || !w->seen ? "ended" : "steered",
		 err->tx_committed ? "statements were committed outside cairn's bookkeeping"
				   : "what ran in it was rolled back");
	cairn_error_set("%s", err->message);
	/* nothing of it may stay open: the caller's transaction is over */
	if (ts != PQTRANS_IDLE && ts != PQTRANS_UNKNOWN)
		pq.clear(pq.exec(db->conn, "ROLLBACK"));
	buf_reset(&db->pending);
	buf_reset(&db->queued);
	db->in_tx = db->tx_sent = 0;
	return 1;
}
