/* Apply order: topological by requires, ties broken by version (Kahn's
 * algorithm over a min-heap of version ranks). */
#include <stdlib.h>
#include <string.h>

#include "../lib/buf.h"
#include "../lib/error.h"
#include "../lib/util.h"
#include "project.h"

struct heap {
	size_t *a;
	size_t n;
};

static void heap_push(struct heap *h, size_t v)
{
	size_t i = h->n++;

	while (i > 0 && h->a[(i - 1) / 2] > v) {
		h->a[i] = h->a[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->a[i] = v;
}

static size_t heap_pop(struct heap *h)
{
	size_t top = h->a[0], last = h->a[--h->n], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->a[c + 1] < h->a[c])
			c++;
		if (h->a[c] >= last)
			break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (h->n)
		h->a[i] = last;
	return top;
}

static const char *meta_path(const struct migration *m)
{
	const struct mig_file *mf = migration_file(m, ROLE_META, NULL);

	return mf ? mf->path : m->path;
}

/* Reports the cycles among the migrations that Kahn's algorithm could not
 * place (state 0 = unvisited, 1 = on the DFS stack, 2 = done). */
static void report_cycles(struct project *p, const size_t *indeg, struct findings *f)
{
	int *state = xcalloc(p->n, sizeof(int));
	size_t *stack = xmalloc(p->n * sizeof(size_t));
	size_t *edge = xmalloc(p->n * sizeof(size_t));
	size_t s, reported = 0;

	for (s = 0; s < p->n; s++) {
		size_t depth = 0;

		if (!indeg[s] || state[s])
			continue;
		stack[depth] = s;
		edge[depth] = 0;
		state[s] = 1;
		depth = 1;
		while (depth) {
			size_t v = stack[depth - 1];
			struct migration *m = p->migs[v];

			if (edge[depth - 1] >= m->ndeps) {
				state[v] = 2;
				depth--;
				continue;
			}
			{
				size_t w = (size_t)m->deps[edge[depth - 1]++]->order_index;

				if (!indeg[w] || state[w] == 2)
					continue;
				if (state[w] == 1 && reported < 20) {
					struct buf b = BUF_INIT;
					size_t k = 0;

					/* the cycle is the stack from w to its top, back to w */
					while (stack[k] != w)
						k++;
					for (; k < depth; k++)
						buf_printf(&b, "%s -> ", p->migs[stack[k]]->dir);
					buf_puts(&b, p->migs[w]->dir);
					findings_add(f, SEV_ERROR, meta_path(p->migs[w]), 0, 0,
						     "dependency-cycle",
						     "dependency cycle: %s; remove one of these requires",
						     b.ptr);
					buf_release(&b);
					reported++;
					continue;
				}
				if (state[w] == 1)
					continue;
				state[w] = 1;
				stack[depth] = w;
				edge[depth] = 0;
				depth++;
			}
		}
	}
	free(state);
	free(stack);
	free(edge);
}

int project_order(struct project *p, struct findings *f)
{
	size_t i, j, k, done = 0;
	size_t *indeg = xcalloc(p->n ? p->n : 1, sizeof(size_t));
	size_t **dependents = xcalloc(p->n ? p->n : 1, sizeof(size_t *));
	size_t *ndependents = xcalloc(p->n ? p->n : 1, sizeof(size_t));
	struct heap h = { xmalloc((p->n ? p->n : 1) * sizeof(size_t)), 0 };

	for (i = 0; i < p->n; i++)
		p->migs[i]->order_index = (int)i;
	for (i = 0; i < p->n; i++) {
		struct migration *m = p->migs[i];

		free(m->deps);
		m->deps = xcalloc(m->requires.n ? m->requires.n : 1, sizeof(*m->deps));
		m->ndeps = 0;
		for (j = 0; j < m->requires.n; j++) {
			const char *req = m->requires.items[j];
			int line = m->requires_line ? m->requires_line[j] : 0;
			struct migration *d = project_find(p, req);

			if (!d) {
				findings_add(f, SEV_ERROR, meta_path(m), line, 0, "requires-unknown",
					     "requires '%s', which is not a migration of this project; name an existing directory or version",
					     req);
				continue;
			}
			if (d == m) {
				findings_add(f, SEV_ERROR, meta_path(m), line, 0, "requires-self",
					     "requires itself; remove '%s' from requires", req);
				continue;
			}
			if (version_cmp(d->version, m->version) >= 0)
				findings_add(f, SEV_ERROR, meta_path(m), line, 0, "requires-later",
					     "requires '%s' (version %s), which is not earlier than this migration (version %s); a migration may only require an earlier one",
					     d->dir, d->version, m->version);
			for (k = 0; k < m->ndeps && m->deps[k] != d; k++)
				;
			if (k < m->ndeps)
				continue; /* named twice */
			m->deps[m->ndeps++] = d;
		}
	}
	for (i = 0; i < p->n; i++) {
		struct migration *m = p->migs[i];

		indeg[i] = m->ndeps;
		for (j = 0; j < m->ndeps; j++) {
			size_t d = (size_t)m->deps[j]->order_index;

			dependents[d] = xrealloc(dependents[d], (ndependents[d] + 1) * sizeof(size_t));
			dependents[d][ndependents[d]++] = i;
		}
	}
	free(p->order);
	p->order = xcalloc(p->n ? p->n : 1, sizeof(*p->order));
	for (i = 0; i < p->n; i++)
		if (!indeg[i])
			heap_push(&h, i);
	while (h.n) {
		size_t v = heap_pop(&h);

		p->order[done++] = p->migs[v];
		for (j = 0; j < ndependents[v]; j++)
			if (--indeg[dependents[v][j]] == 0)
				heap_push(&h, dependents[v][j]);
	}
	if (done < p->n) {
		report_cycles(p, indeg, f);
		/* keep every migration in the list: the rest by version */
		for (i = 0; i < p->n; i++)
			if (indeg[i])
				p->order[done++] = p->migs[i];
	}
	for (i = 0; i < p->n; i++)
		free(dependents[i]);
	free(dependents);
	free(ndependents);
	free(indeg);
	free(h.a);
	p->ordered = 1;
	return 0;
}
