/* The command tables of both programs and the helpers their verb files
 * share: message output, option errors, help. No libgit2 here: the applier
 * links this too. */
#ifndef CAIRN_CMD_H
#define CAIRN_CMD_H

#include <stdio.h>

#include "../lib/exitcodes.h"

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary; /* one line for 'cairn --help' */
	const char *usage;   /* synopsis lines, each starting with the program name */
	const char *help;    /* options and details */
};

extern const char *progname; /* "cairn" or "cairn-apply" */

/* "cairn: message" on stderr. */
void error_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "PROG CMD: message" and the usage to stderr; returns EXIT_USAGE. */
int usage_error(const struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void print_help(const struct cmd *c, FILE *out);
/* table: NULL-terminated array of commands. */
const struct cmd *cmd_lookup(const struct cmd *const *table, const char *name);
/* Prints the program's command list, for --help. */
void print_command_list(const struct cmd *const *table, FILE *out);
/* Runs the verb named by argv[0] from table, handling --help; returns the
 * exit code. */
int cmd_dispatch(const struct cmd *const *table, int argc, char **argv);
/* Parses a --format value: text or json. Returns 0 and sets *json, or
 * prints the usage error and returns EXIT_USAGE. */
int parse_format(const struct cmd *c, const char *arg, int *json);
/* Handles -h/--help as the first option scan would; returns 1 when printed. */
int wants_help(int argc, char **argv);
/* getopt_long wrapper state reset (verbs call getopt_long themselves). */
void getopt_reset(void);
/* Exit code for a bundle that bundle_open refused: 6 when the file cannot
 * be read at all, else 3. */
int bundle_error_exit(const char *path);

struct buf;
struct bundle_migration;
/* A migration's waived lint findings (the manifest's waivers:), as
 * inspect and plan show them: "waived RULE at FILE:LINE (VIA): REASON"
 * lines with prefix before each, escaped; and as a json "waivers" array. */
void waivers_text(const struct bundle_migration *m, const char *prefix, struct buf *out);
void waivers_json(const struct bundle_migration *m, struct buf *out);
/* The same for a list of waivers, only those of file when not NULL (a
 * callback's: the manifest's callback_waivers, format cairn-bundle/3). */
struct bundle_waiver;
void waiver_list_text(const struct bundle_waiver *ws, size_t n, const char *file,
		      const char *prefix, struct buf *out);
void waiver_list_json(const struct bundle_waiver *ws, size_t n, const char *file,
		      struct buf *out);


#endif
