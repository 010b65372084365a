#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/batch.h"
#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../verify/bundle.h"
#include "cairn.h"
#include "verify.h"

const struct cmd cmd_inspect_desc = {
	"inspect", cmd_inspect,
	"show what a bundle holds: id, source, migrations, signatures",
	"cairn inspect BUNDLE [--key PUB]... [--format text|json]",
	"Checks BUNDLE's integrity (exit 3 when a member does not match), then shows\n"
	"its bundle id, the commit it was built from, its migrations in apply order,\n"
	"and its signatures and approvals, each valid or not. A signature is\n"
	"'trusted' only when its key was given with --key.\n"
	"\n"
	"Options:\n"
	"   --key PUB    a public key to trust for build signatures (repeatable)\n"
	"   --format F   text (default) or json\n",
};

static const char *status_of(const struct bundle_statement *s, size_t nkeys)
{
	if (!s->valid)
		return "NOT VALID";
	if (s->trusted)
		return "valid, trusted";
	return nkeys ? "valid, key not trusted" : "valid (no --key given)";
}

/* Text from a bundle, shown with its control characters escaped so that an
 * unsigned manifest cannot drive the terminal or forge a line: the escaped
 * copies made for one listing, freed together. */
struct shown {
	char **p;
	size_t n, alloc;
};

static const char *shown_escape(struct shown *sh, const char *s)
{
	char *e = text_escape_controls(s);

	if (!e)
		return s;
	ALLOC_GROW(sh->p, sh->n + 1, sh->alloc);
	sh->p[sh->n++] = e;
	return e;
}

static void shown_release(struct shown *sh)
{
	size_t i;

	for (i = 0; i < sh->n; i++)
		free(sh->p[i]);
	free(sh->p);
}

#define E(s) shown_escape(&sh, (s))

static void print_text(const struct bundle *b, size_t nkeys)
{
	struct shown sh = { NULL, 0, 0 };
	size_t i, j;

	printf("bundle     %s\n", E(b->name));
	printf("id         %s\n", E(b->id));
	printf("project    %s\n", E(b->project));
	printf("source     %s\n", *b->source_repo ? E(b->source_repo) : "(no origin)");
	printf("commit     %s%s%s%s\n", E(b->source_commit), *b->source_ref ? " (" : "",
	       E(b->source_ref), *b->source_ref ? ")" : "");
	printf("tree       %s%s%s\n", E(b->source_tree), *b->source_path ? "  path " : "",
	       E(b->source_path));
	printf("built      %s by %s\n", E(b->build_time), E(b->tool_version));
	printf("drivers    ");
	for (i = 0; i < b->ndrivers; i++)
		printf("%s%s", i ? ", " : "", E(b->drivers[i]));
	printf("%s\n", b->ndrivers ? "" : "(any)");
	printf("\nmigrations, in apply order (%zu):\n", b->nmigs);
	for (i = 0; i < b->nmigs; i++) {
		const struct bundle_migration *m = &b->migs[i];

		printf("  %s", E(m->name));
		if (*m->description)
			printf("  %s", E(m->description));
		if (!m->transaction)
			printf("  [no transaction]");
		if (m->irreversible)
			printf("  [irreversible]");
		if (m->destructive)
			printf("  [destructive]");
		if (m->batch)
			printf("  [batch]");
		if (m->contract)
			printf("  [phase: contract]");
		for (j = 0; j < m->nenvironments; j++)
			printf("%s%s", j ? "," : "  [only ", E(m->environments[j]));
		if (m->nenvironments)
			printf("]");
		putchar('\n');
		if (batch_throttle_set(m->throttle)) {
			struct buf t = BUF_INIT;

			if (batch_throttle_text(m->throttle, &t) == 0)
				printf("      batch: %s\n", buf_cstr(&t));
			buf_release(&t);
		}
		printf("      %s  files:", E(m->checksum));
		for (j = 0; j < m->nfiles; j++)
			printf(" %s", E(m->files[j].name));
		putchar('\n');
		if (m->prov_commit)
			printf("      introduced by %.12s%s%s%s%s\n", E(m->prov_commit),
			       m->prov_author ? " " : "", m->prov_author ? E(m->prov_author) : "",
			       m->prov_date ? " " : "", m->prov_date ? E(m->prov_date) : "");
		if (m->nwaivers) {
			struct buf w = BUF_INIT;

			waivers_text(m, "      ", &w);
			fputs(buf_cstr(&w), stdout);
			buf_release(&w);
		}
	}
	if (b->ncallbacks)
		printf("\nSQL callbacks (%zu):\n", b->ncallbacks);
	for (i = 0; i < b->ncallbacks; i++) {
		struct buf w = BUF_INIT;
		char hex[65];

		printf("  %s  sha256:%s  %llu bytes\n", E(b->callbacks[i].name),
		       bundle_file_hex(&b->callbacks[i], hex), b->callbacks[i].size);
		/* what it waived (format cairn-bundle/3) */
		waiver_list_text(b->callback_waivers, b->ncallback_waivers, b->callbacks[i].name,
				 "      ", &w);
		fputs(buf_cstr(&w), stdout);
		buf_release(&w);
	}
	printf("\nsignatures and approvals (%zu):\n", b->nstatements);
	for (i = 0; i < b->nstatements; i++) {
		const struct bundle_statement *s = &b->statements[i];

		printf("  %-8s %s  %s", E(s->type), s->key_id ? E(s->key_id) : "?",
		       s->signer ? E(s->signer) : "?");
		if (s->environment)
			printf("  for %s", E(s->environment));
		if (s->time)
			printf("  %s", E(s->time));
		printf("  %s", status_of(s, nkeys));
		if (s->problem)
			printf(": %s", E(s->problem));
		putchar('\n');
		if (s->comment)
			printf("           %s\n", E(s->comment));
		if (s->expires)
			printf("           expires %s\n", E(s->expires));
		if (s->database)
			printf("           on database %s\n", E(s->database));
		if (s->allow)
			printf("           allows %s\n", E(s->allow));
	}
	if (!b->nstatements)
		printf("  none: unsigned (sign it with 'cairn sign BUNDLE --key KEY')\n");
	shown_release(&sh);
}

#undef E

static void json_kv(struct buf *o, const char *key, const char *value, int comma)
{
	if (comma)
		buf_putc(o, ',');
	buf_put_json_string(o, key);
	buf_putc(o, ':');
	if (value)
		buf_put_json_string(o, value);
	else
		buf_puts(o, "null");
}

static void json_list(struct buf *o, const char *key, char **items, size_t n)
{
	size_t i;

	buf_putc(o, ',');
	buf_put_json_string(o, key);
	buf_puts(o, ":[");
	for (i = 0; i < n; i++) {
		if (i)
			buf_putc(o, ',');
		buf_put_json_string(o, items[i]);
	}
	buf_putc(o, ']');
}

static void print_json(const struct bundle *b, size_t nkeys)
{
	struct buf o = BUF_INIT;
	size_t i, j;

	buf_putc(&o, '{');
	json_kv(&o, "bundle", b->name, 0);
	json_kv(&o, "id", b->id, 1);
	json_kv(&o, "project", b->project, 1);
	buf_puts(&o, ",\"source\":{");
	json_kv(&o, "repository", b->source_repo, 0);
	json_kv(&o, "commit", b->source_commit, 1);
	json_kv(&o, "tree", b->source_tree, 1);
	json_kv(&o, "path", b->source_path, 1);
	json_kv(&o, "ref", b->source_ref, 1);
	buf_puts(&o, "}");
	json_kv(&o, "build_time", b->build_time, 1);
	json_kv(&o, "tool", b->tool_version, 1);
	json_list(&o, "drivers", b->drivers, b->ndrivers);
	buf_puts(&o, ",\"migrations\":[");
	for (i = 0; i < b->nmigs; i++) {
		const struct bundle_migration *m = &b->migs[i];

		buf_puts(&o, i ? ",{" : "{");
		json_kv(&o, "version", m->version, 0);
		json_kv(&o, "name", m->name, 1);
		json_kv(&o, "description", m->description, 1);
		json_list(&o, "requires", m->requires, m->nrequires);
		buf_printf(&o, ",\"transaction\":%s,\"irreversible\":%s,\"destructive\":%s",
			   m->transaction ? "true" : "false", m->irreversible ? "true" : "false",
			   m->destructive ? "true" : "false");
		json_kv(&o, "kind", m->batch ? "batch" : "schema", 1);
		json_kv(&o, "phase", m->contract ? "contract" : "expand", 1);
		if (batch_throttle_set(m->throttle)) {
			buf_puts(&o, ",\"batch\":");
			batch_throttle_json(m->throttle, &o);
		}
		json_list(&o, "environments", m->environments, m->nenvironments);
		buf_printf(&o, ",\"timeout_ms\":%llu,\"lock_timeout_ms\":%llu", m->timeout_ms,
			   m->lock_timeout_ms);
		json_kv(&o, "checksum", m->checksum, 1);
		buf_puts(&o, ",\"provenance\":{");
		json_kv(&o, "commit", m->prov_commit, 0);
		json_kv(&o, "author", m->prov_author, 1);
		json_kv(&o, "date", m->prov_date, 1);
		buf_puts(&o, "},\"files\":[");
		for (j = 0; j < m->nfiles; j++) {
			char hex[65];

			buf_puts(&o, j ? ",{" : "{");
			json_kv(&o, "name", m->files[j].name, 0);
			json_kv(&o, "sha256", bundle_file_hex(&m->files[j], hex), 1);
			buf_printf(&o, ",\"size\":%llu}", m->files[j].size);
		}
		buf_puts(&o, "],\"waivers\":");
		waivers_json(m, &o);
		buf_puts(&o, "}");

	}
	buf_puts(&o, "],\"callbacks\":[");
	for (i = 0; i < b->ncallbacks; i++) {
		char hex[65];

		buf_puts(&o, i ? ",{" : "{");
		json_kv(&o, "name", b->callbacks[i].name, 0);
		json_kv(&o, "sha256", bundle_file_hex(&b->callbacks[i], hex), 1);
		buf_printf(&o, ",\"size\":%llu,\"waivers\":", b->callbacks[i].size);
		waiver_list_json(b->callback_waivers, b->ncallback_waivers, b->callbacks[i].name,
				 &o);
		buf_putc(&o, '}');
	}
	buf_puts(&o, "],\"statements\":[");
	for (i = 0; i < b->nstatements; i++) {
		const struct bundle_statement *s = &b->statements[i];

		buf_puts(&o, i ? ",{" : "{");
		json_kv(&o, "member", s->member, 0);
		json_kv(&o, "type", s->type, 1);
		json_kv(&o, "environment", s->environment, 1);
		json_kv(&o, "signer", s->signer, 1);
		json_kv(&o, "key", s->key_id, 1);
		json_kv(&o, "time", s->time, 1);
		json_kv(&o, "expires", s->expires, 1);
		json_kv(&o, "comment", s->comment, 1);
		json_kv(&o, "ticket", s->ticket, 1);
		json_kv(&o, "database", s->database, 1);
		json_kv(&o, "allow", s->allow, 1);
		buf_printf(&o, ",\"valid\":%s,\"trusted\":%s", s->valid ? "true" : "false",
			   s->trusted ? "true" : "false");
		json_kv(&o, "problem", s->problem, 1);
		buf_putc(&o, '}');
	}
	buf_puts(&o, "]}\n");
	fwrite(o.ptr, 1, o.len, stdout);
	buf_release(&o);
	(void)nkeys;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct trust *trust = NULL;
	struct bundle *b = NULL;
	struct bundle_open_opts o;
	char **keys = NULL;
	size_t nkeys = 0, alloc = 0;
	const char *path;
	int json = 0, c, rc;

	memset(&o, 0, sizeof(o));
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			ALLOC_GROW(keys, nkeys + 1, alloc);
			keys[nkeys++] = optarg;
			break;
		case 'f':
			if (parse_format(&cmd_inspect_desc, optarg, &json)) {
				free(keys);
				return EXIT_USAGE;
			}
			break;
		default:
			free(keys);
			return usage_error(&cmd_inspect_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind + 1 != argc) {
		free(keys);
		if (optind < argc)
			return usage_error(&cmd_inspect_desc, "unexpected argument '%s'", argv[optind + 1]);
		return usage_error(&cmd_inspect_desc, "missing BUNDLE");
	}
	path = argv[optind];
	rc = load_trust(&cmd_inspect_desc, keys, nkeys, &trust);
	if (rc)
		goto out;
	o.untrusted = 1;
	if (bundle_open_opts(&b, path, trust, &o) < 0) {
		error_msg("cannot inspect '%s': %s", path, cairn_error_last());
		rc = bundle_error_exit(path);
		goto out;
	}
	if (json)
		print_json(b, nkeys);
	else
		print_text(b, nkeys);
	rc = EXIT_OK;
out:
	bundle_free(b);
	trust_free(trust);
	free(keys);
	return rc;
}
