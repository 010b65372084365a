#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "../project/history.h"
#include "cairn.h"

const struct cmd cmd_check_desc = {
	"check", cmd_check,
	"check the migrations against the rules and the git history",
	"cairn check [--base REV] [--staged | --ref REV] [--full] [--format text|json]\n"
	"       cairn check --ref-update OLD NEW REF [--full] [--format text|json]\n"
	"       cairn check --pre-receive [--full] [--format text|json]",
	"Checks the migrations of the work tree (or the index, or a commit) and\n"
	"prints every finding as 'path:line: error: rule-id: message', then exits 1\n"
	"if any is an error. Rule ids are listed in cairn(1).\n"
	"\n"
	"Against git history: what the base or a release ref holds is released, and\n"
	"is never edited, renamed or deleted; new migrations must have versions\n"
	"above every released one, and no version another branch released. The base\n"
	"used is printed on stderr (and in the JSON 'base' field). Without --staged,\n"
	"--ref or --base, HEAD is also checked as 'cairn build' would check it, so\n"
	"what build would refuse is found here too ('head_base' in JSON).\n"
	"\n"
	"Options:\n"
	"   --staged        check what is staged in the index (for pre-commit hooks)\n"
	"   --ref REV       check the tree of commit REV\n"
	"   --base REV      everything reachable from REV counts as released (default:\n"
	"                   the merge base of HEAD with the first release ref)\n"
	"   --ref-update OLD NEW REF\n"
	"                   check an update of REF from OLD to NEW, as a server would\n"
	"   --pre-receive   read git's 'OLD NEW REF' lines on stdin and check each\n"
	"                   update of a release ref (the pre-receive hook)\n"
	"   --full          re-run the content rules on migrations identical to the\n"
	"                   base's (--staged and the server checks skip them)\n"
	"   --format F      text (default) or json\n",
};

static void base_json(struct buf *b, const struct history *h, const char *key)
{
	buf_printf(b, "\"%s\":{\"commit\":", key);
	if (h->has_base)
		buf_put_json_string(b, git_oid_tostr_s(&h->base));
	else
		buf_puts(b, "null");
	buf_puts(b, ",\"how\":");
	buf_put_json_string(b, h->base_how ? h->base_how : "");
	buf_putc(b, '}');
}

static void base_text(const struct history *h, const char *indent)
{
	char hex[13];

	if (h->has_base) {
		git_oid_tostr(hex, sizeof(hex), &h->base);
		fprintf(stderr, "%s: %sbase: %s (%s)\n", progname, indent, hex, h->base_how);
	} else {
		fprintf(stderr, "%s: %sno base: %s; every migration counts as new\n", progname,
			indent, h->base_how ? h->base_how : "no history");
	}
}

static void summary(const struct findings *f, size_t n, const char *label)
{
	if (f->errors)
		error_msg("%zu error%s, %zu warning%s in %zu migration%s (%s)", f->errors,
			  f->errors == 1 ? "" : "s", f->warnings, f->warnings == 1 ? "" : "s", n,
			  n == 1 ? "" : "s", label);
	else
		fprintf(stderr, "%s: %zu migration%s checked, %zu warning%s (%s)\n", progname, n,
			n == 1 ? "" : "s", f->warnings, f->warnings == 1 ? "" : "s", label);
}

/* Plain 'cairn check' also finds what 'cairn build' would refuse at HEAD:
 * HEAD checked exactly as build checks it (its own base: on a release ref
 * that is HEAD's first parent, where the work tree's is HEAD itself), and
 * each finding the work tree's check lacks added, marked as HEAD's. */
static int check_head_as_build(struct findings *f, struct history *hh)
{
	struct project_ctx head;
	size_t i, j;
	int rc;

	rc = project_ctx_open(&head, 1);
	if (!rc)
		rc = project_ctx_load(&head, 0, "HEAD");
	if (rc)
		goto out;
	if (project_ctx_check_commit(&head, "HEAD", hh) < 0) {
		error_msg("cannot check HEAD as 'cairn build' would: %s", cairn_error_last());
		rc = EXIT_ENVIRONMENT;
		goto out;
	}
	for (i = 0; i < head.findings.n; i++) {
		const struct finding *x = &head.findings.items[i];

		for (j = 0; j < f->n; j++) {
			const struct finding *y = &f->items[j];

			if (x->sev == y->sev && x->line == y->line && !strcmp(x->rule, y->rule) &&
			    !strcmp(x->path, y->path))
				break;
		}
		if (j == f->n)
			findings_add(f, x->sev, x->path, x->line, x->col, x->rule, "%s (in HEAD%s)",
				     x->msg, x->sev == SEV_ERROR ? ", which 'cairn build' would refuse"
								  : "");
	}
out:
	project_ctx_release(&head);
	return rc;
}

/* 1 when HEAD holds the project (its cairn.yaml): a project not committed
 * yet is nothing build could read. */
static int head_has_project(const struct project_ctx *c)
{
	git_object *obj = NULL;
	char *spec = xasprintf("HEAD:%s%s", c->prefix, CONFIG_FILE);
	int r = git_revparse_single(&obj, c->repo, spec);

	git_object_free(obj);
	free(spec);
	return r == 0;
}

/* An environment variable set to something other than "" or "0". */
static int env_is_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v && strcmp(v, "0");
}

/* The work tree, the index or one commit, against the base. */
static int check_tree(int staged, const char *rev, const char *base, int full, int json)
{
	struct project_ctx ctx;
	struct history h, hh;
	struct buf out = BUF_INIT;
	int rc, have_history = 0, have_head = 0;

	memset(&h, 0, sizeof(h));
	memset(&hh, 0, sizeof(hh));
	rc = project_ctx_open(&ctx, staged || rev || base);
	if (!rc)
		rc = project_ctx_load(&ctx, staged, rev);
	/* release_refs: [] turns the history rules off: nothing to cut */
	if (!rc && !(ctx.proj->cfg.release_refs_set && !ctx.proj->cfg.release_refs.n))
		rc = project_ctx_refuse_shallow(&ctx, "check against the history");
	if (!rc && !base && !(ctx.proj->cfg.release_refs_set && !ctx.proj->cfg.release_refs.n))
		rc = project_ctx_refuse_partial(&ctx);
	if (rc)
		goto out;
	if (ctx.repo && rev && !base) {
		/* a commit: exactly what 'cairn build --ref REV' runs */
		have_history = 1;
		if (project_ctx_check_commit(&ctx, rev, &h) < 0)
			goto env;
	} else if (ctx.repo) {
		git_oid head;
		int r;

		if (history_open(&h, ctx.repo, &ctx.proj->cfg, ctx.prefix, NULL) < 0)
			goto env;
		have_history = 1;
		if (rev) {
			history_set_tip(&h, git_commit_id(ctx.src->commit));
		} else {
			git_reference *hr = NULL;

			r = git_reference_name_to_id(&head, ctx.repo, "HEAD");
			history_set_tip(&h, r == 0 ? &head : NULL);
			if (r == 0 && git_repository_head(&hr, ctx.repo) == 0 &&
			    git_reference_is_branch(hr))
				h.tip_ref = xstrdup(git_reference_name(hr));
			git_reference_free(hr);
		}
		if (base ? history_set_base(&h, base) < 0
			 : history_default_base(&h, rev != NULL, rev ? rev : "HEAD") < 0)
			goto env;
		if (!rev && !base && h.has_base && h.has_tip && git_oid_equal(&h.base, &h.tip)) {
			char *how = xasprintf("%s, which is HEAD itself: what %s changes since HEAD",
					      h.base_how, staged ? "the index" : "the work tree");

			free(h.base_how);
			h.base_how = how;
		}
		h.skip_same = staged && !full;
		if (history_check(&h, ctx.proj, &ctx.findings) < 0)
			goto env;
	}
	if (staged && ctx.repo && !env_is_set("CAIRN_NO_LINT_CACHE"))
		ctx.proj->lint_cache_dir = xasprintf("%scairn/lint-cache",
						     git_repository_path(ctx.repo));
	if (!(ctx.repo && rev && !base)) /* project_ctx_check_commit ran it */
		check_static(ctx.proj, &ctx.findings);
	if (ctx.proj->lint_cache_dir && env_is_set("CAIRN_LINT_CACHE_VERBOSE"))
		fprintf(stderr, "cairn: lint cache: %zu migrations from the cache%s, %zu stored\n",
			ctx.proj->lint_cache_used,
			ctx.proj->lint_cache_subset ? " (the objects the scripts reach)" : "",
			ctx.proj->lint_cache_stored);
	if (have_history && !staged && !rev && !base && h.has_tip && head_has_project(&ctx)) {
		rc = check_head_as_build(&ctx.findings, &hh);
		if (rc)
			goto out;
		have_head = 1;
	}
	findings_sort(&ctx.findings);
	if (json) {
		struct buf extra = BUF_INIT;

		buf_puts(&extra, "\"source\":");
		buf_put_json_string(&extra, ctx.src->label);
		buf_printf(&extra, ",\"migrations\":%zu,", ctx.proj->n);
		if (have_history)
			base_json(&extra, &h, "base");
		else
			buf_puts(&extra, "\"base\":null");
		if (have_head) {
			buf_putc(&extra, ',');
			base_json(&extra, &hh, "head_base");
		}
		findings_format_json(&ctx.findings, extra.ptr, &out);
		buf_release(&extra);
	} else {
		if (have_history)
			base_text(&h, "");
		if (have_head)
			base_text(&hh, "HEAD as 'cairn build' checks it: ");
		findings_format_text(&ctx.findings, &out);
	}
	fwrite(out.ptr ? out.ptr : "", 1, out.len, stdout);
	fflush(stdout);
	if (!json)
		summary(&ctx.findings, ctx.proj->n, ctx.src->label);
	rc = ctx.findings.errors ? EXIT_FAILED : EXIT_OK;
	goto out;
env:
	error_msg("%s", cairn_error_last());
	rc = EXIT_ENVIRONMENT;
out:
	history_release(&h);
	history_release(&hh);
	buf_release(&out);
	project_ctx_release(&ctx);
	return rc;
}

/* ---- server side: ref updates ---- */

struct server {
	git_repository *repo;
	char *prefix;       /* the project's directory in the repository: "" or "dir/" */
	int full, json;
	size_t errors, checked;
	int env_error;
	struct buf json_out;
	size_t json_n;
};

static int server_open(struct server *s)
{
	git_config *cfg = NULL;
	git_buf val = { NULL, 0, 0 };

	if (opt_chdir && chdir(opt_chdir) < 0) {
		error_msg("cannot change to '%s': %s", opt_chdir, strerror(errno));
		return EXIT_ENVIRONMENT;
	}
	if (git_repository_open_ext(&s->repo, NULL, GIT_REPOSITORY_OPEN_FROM_ENV, NULL) < 0) {
		error_msg("not in a git repository: %s (run the check inside the repository, or set GIT_DIR)",
			  git_error_last() ? git_error_last()->message : "not found");
		return EXIT_ENVIRONMENT;
	}
	/* a project below the top of the repository: git config cairn.prefix */
	if (git_repository_config_snapshot(&cfg, s->repo) == 0 &&
	    git_config_get_string_buf(&val, cfg, "cairn.prefix") == 0 && val.ptr && *val.ptr &&
	    strcmp(val.ptr, ".") && strcmp(val.ptr, "./"))
		s->prefix = ends_with(val.ptr, "/") ? xstrdup(val.ptr) : xasprintf("%s/", val.ptr);
	else
		s->prefix = xstrdup("");
	git_buf_dispose(&val);
	git_config_free(cfg);
	return 0;
}

/* The release_refs that decide what is protected come from the repository
 * as it is before the push (its HEAD), so a push cannot unprotect the
 * branch it updates; from the pushed commit only when HEAD has none. */
static void trusted_config(struct server *s, const char *fallback_rev, struct config *out)
{
	const char *revs[2] = { "HEAD", fallback_rev };
	int i;

	config_init(out);
	for (i = 0; i < 2; i++) {
		struct source *src = NULL;
		struct buf b = BUF_INIT;
		struct findings ignored = FINDINGS_INIT;

		if (!revs[i] || source_open_commit(&src, s->repo, s->prefix, revs[i]) < 0)
			continue;
		if (source_read(src, CONFIG_FILE, 1 << 20, &b) == 0) {
			config_parse(out, b.ptr, b.len, &ignored);
			findings_release(&ignored);
			buf_release(&b);
			source_free(src);
			return;
		}
		buf_release(&b);
		source_free(src);
	}
}

/* Replaces *id (a commit or a tag) by the commit it peels to. */
static int peel_commit(git_repository *repo, git_oid *id)
{
	git_object *obj = NULL, *c = NULL;
	int rc = -1;

	if (git_object_lookup(&obj, repo, id, GIT_OBJECT_ANY) < 0) {
		cairn_error_set("object %s is not in the repository", git_oid_tostr_s(id));
		goto out;
	}
	if (git_object_peel(&c, obj, GIT_OBJECT_COMMIT) < 0) {
		cairn_error_set("%s does not lead to a commit (a release ref must name one)",
				git_oid_tostr_s(id));
		goto out;
	}
	git_oid_cpy(id, git_object_id(c));
	rc = 0;
out:
	git_object_free(c);
	git_object_free(obj);
	return rc;
}

static int is_zero(const char *hex)
{
	return strspn(hex, "0") == strlen(hex);
}

static void emit(struct server *s, const char *ref, const char *old, const char *new,
		 const struct history *h, const struct findings *f)
{
	struct buf b = BUF_INIT;

	if (s->json) {
		struct buf extra = BUF_INIT;

		buf_puts(&extra, "\"ref\":");
		buf_put_json_string(&extra, ref);
		buf_puts(&extra, ",\"old\":");
		buf_put_json_string(&extra, old);
		buf_puts(&extra, ",\"new\":");
		buf_put_json_string(&extra, new);
		buf_putc(&extra, ',');
		base_json(&extra, h, "base");
		findings_format_json(f, extra.ptr, &b);
		if (b.len && b.ptr[b.len - 1] == '\n')
			b.len--;
		buf_puts(&s->json_out, s->json_n++ ? "," : "");
		buf_put(&s->json_out, b.ptr, b.len);
		buf_release(&extra);
	} else {
		findings_format_text(f, &b);
		fwrite(b.ptr ? b.ptr : "", 1, b.len, stdout);
		fflush(stdout);
	}
	buf_release(&b);
}

static void check_update(struct server *s, const char *old, const char *new, const char *ref)
{
	struct config trusted;
	struct strlist pats = { NULL, 0, 0 };
	struct history h;
	struct findings f = FINDINGS_INIT;
	struct source *src = NULL;
	struct project *p = NULL;
	git_oid old_id, new_id;
	int deleting = is_zero(new), creating = is_zero(old);
	char label[64];
	size_t i;

	memset(&h, 0, sizeof(h));
	trusted_config(s, deleting ? NULL : new, &trusted);
	history_release_patterns(s->repo, &trusted, &pats);
	if (!history_is_release_ref(&pats, ref))
		goto out;
	if ((!deleting && git_oid_fromstr(&new_id, new) < 0) ||
	    (!creating && git_oid_fromstr(&old_id, old) < 0)) {
		error_msg("bad ref update line '%s %s %s': expected OLD NEW REF with full object ids",
			  old, new, ref);
		s->env_error = 1;
		goto out;
	}
	/* an annotated tag names a tag object: what is released is its commit */
	if ((!deleting && peel_commit(s->repo, &new_id) < 0) ||
	    (!creating && peel_commit(s->repo, &old_id) < 0)) {
		error_msg("cannot check %s: %s", ref, cairn_error_last());
		s->env_error = 1;
		goto out;
	}
	s->checked++;
	snprintf(label, sizeof(label), "%.12s..%.12s", creating ? "(new)" : old,
		 deleting ? "(deleted)" : new);
	if (!s->json)
		fprintf(stderr, "%s: checking %s %s\n", progname, ref, label);
	if (deleting) {
		if (history_open(&h, s->repo, &trusted, s->prefix, ref) < 0 ||
		    history_check_deletion(&h, ref, &old_id, &f) < 0)
			goto env;
		h.base_how = xstrdup("the ref is being deleted");
	} else {
		if (source_open_commit(&src, s->repo, s->prefix, new) < 0)
			goto env;
		if (project_load(&p, src, &f) < 0)
			goto env;
		strlist_release(&p->cfg.release_refs);
		for (i = 0; i < trusted.release_refs.n; i++)
			strlist_push(&p->cfg.release_refs, trusted.release_refs.items[i]);
		p->cfg.release_refs_set = trusted.release_refs_set;
		if (history_open(&h, s->repo, &p->cfg, s->prefix, ref) < 0)
			goto env;
		history_set_tip(&h, &new_id);
		if (creating) {
			if (history_default_base(&h, 1, ref) < 0)
				goto env;
		} else {
			h.has_base = 1;
			git_oid_cpy(&h.base, &old_id);
			h.base_how = xasprintf("the old tip of %s", ref);
		}
		h.skip_same = !s->full;
		if (history_check(&h, p, &f) < 0)
			goto env;
		check_static(p, &f);
	}
	findings_sort(&f);
	if (!s->json)
		base_text(&h, "  ");
	emit(s, ref, old, new, &h, &f);
	s->errors += f.errors;
	if (!s->json) {
		if (f.errors)
			error_msg("%s: %zu error%s, %zu warning%s: update refused", ref, f.errors,
				  f.errors == 1 ? "" : "s", f.warnings, f.warnings == 1 ? "" : "s");
		else
			fprintf(stderr, "%s: %s: %zu migration%s checked, %zu warning%s\n", progname,
				ref, p ? p->n : 0, p && p->n == 1 ? "" : "s", f.warnings,
				f.warnings == 1 ? "" : "s");
	}
	goto out;
env:
	error_msg("cannot check %s: %s", ref, cairn_error_last());
	s->env_error = 1;
out:
	project_free(p);
	source_free(src);
	history_release(&h);
	findings_release(&f);
	strlist_release(&pats);
	config_release(&trusted);
}

static int server_finish(struct server *s)
{
	int rc;

	if (s->json) {
		fputs("{\"updates\":[", stdout);
		fwrite(s->json_out.ptr ? s->json_out.ptr : "", 1, s->json_out.len, stdout);
		printf("],\"errors\":%zu}\n", s->errors);
	}
	if (s->env_error)
		rc = EXIT_ENVIRONMENT;
	else if (s->errors) {
		if (!s->json)
			error_msg("push refused: fix the findings above (rule ids are explained in 'man cairn', CHECK RULES)");
		rc = EXIT_FAILED;
	} else
		rc = EXIT_OK;
	buf_release(&s->json_out);
	free(s->prefix);
	git_repository_free(s->repo);
	return rc;
}

static int check_ref_update(const char *old, const char *new, const char *ref, int full,
			    int json)
{
	struct server s;
	int rc;

	memset(&s, 0, sizeof(s));
	s.full = full;
	s.json = json;
	rc = server_open(&s);
	if (rc)
		return rc;
	check_update(&s, old, new, ref);
	if (!s.checked && !s.env_error && !json)
		fprintf(stderr, "%s: %s is not a release ref: nothing to check\n", progname, ref);
	return server_finish(&s);
}

static int check_pre_receive(int full, int json)
{
	struct server s;
	char line[4096];
	int rc;

	memset(&s, 0, sizeof(s));
	s.full = full;
	s.json = json;
	rc = server_open(&s);
	if (rc)
		return rc;
	while (fgets(line, sizeof(line), stdin)) {
		char old[GIT_OID_HEXSZ + 1], new[GIT_OID_HEXSZ + 1], *ref;
		size_t len = strlen(line);

		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (!len)
			continue;
		if (len < 2 * GIT_OID_HEXSZ + 3 || line[GIT_OID_HEXSZ] != ' ' ||
		    line[2 * GIT_OID_HEXSZ + 1] != ' ') {
			error_msg("cannot read the pre-receive line '%s': expected 'OLD NEW REF'", line);
			s.env_error = 1;
			continue;
		}
		memcpy(old, line, GIT_OID_HEXSZ);
		old[GIT_OID_HEXSZ] = '\0';
		memcpy(new, line + GIT_OID_HEXSZ + 1, GIT_OID_HEXSZ);
		new[GIT_OID_HEXSZ] = '\0';
		ref = line + 2 * GIT_OID_HEXSZ + 2;
		check_update(&s, old, new, ref);
	}
	return server_finish(&s);
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "staged", no_argument, NULL, 's' },
		{ "ref", required_argument, NULL, 'r' },
		{ "base", required_argument, NULL, 'b' },
		{ "full", no_argument, NULL, 'F' },
		{ "ref-update", required_argument, NULL, 'u' },
		{ "pre-receive", no_argument, NULL, 'p' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rev = NULL, *base = NULL, *upd[3] = { NULL, NULL, NULL };
	int staged = 0, json = 0, full = 0, pre_receive = 0, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			staged = 1;
			break;
		case 'r':
			rev = optarg;
			break;
		case 'b':
			base = optarg;
			break;
		case 'F':
			full = 1;
			break;
		case 'u':
			upd[0] = optarg;
			if (optind + 1 >= argc)
				return usage_error(&cmd_check_desc, "--ref-update needs three arguments: OLD NEW REF");
			upd[1] = argv[optind++];
			upd[2] = argv[optind++];
			break;
		case 'p':
			pre_receive = 1;
			break;
		case 'f':
			if (parse_format(&cmd_check_desc, optarg, &json))
				return EXIT_USAGE;
			break;
		default:
			return usage_error(&cmd_check_desc, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error(&cmd_check_desc, "unexpected argument '%s'", argv[optind]);
	if (staged && rev)
		return usage_error(&cmd_check_desc, "--staged and --ref cannot be used together");
	if ((upd[0] || pre_receive) && (staged || rev || base))
		return usage_error(&cmd_check_desc, "--%s checks pushed commits: it takes no --staged, --ref or --base",
				   pre_receive ? "pre-receive" : "ref-update");
	if (upd[0] && pre_receive)
		return usage_error(&cmd_check_desc, "--ref-update and --pre-receive cannot be used together");
	if (upd[0])
		return check_ref_update(upd[0], upd[1], upd[2], full, json);
	if (pre_receive)
		return check_pre_receive(full, json);
	return check_tree(staged, rev, base, full, json);
}
