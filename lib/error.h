/* One-line error messages, set once where a failure happens and passed up
 * unchanged (libgit2's git_error_last model). Libraries never print. */
#ifndef CAIRN_ERROR_H
#define CAIRN_ERROR_H

#define CAIRN_ERRMSG_MAX 1024

void cairn_error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *cairn_error_last(void);
void cairn_error_clear(void);

/* Die on allocation failure: the only exit a library is allowed. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* a, b and c joined: xasprintf("%s%s%s") without printf's cost, for the
 * loaders that build one path per file */
char *xstrcat3(const char *a, const char *b, const char *c);

/* Grow an array *arr of *alloc elements so that it holds at least n. */
#define ALLOC_GROW(arr, n, alloc)                                              \
	do {                                                                   \
		if ((n) > (alloc)) {                                           \
			size_t alloc_new_ = (alloc) < 8 ? 8 : (alloc) * 2;     \
			while (alloc_new_ < (n))                               \
				alloc_new_ *= 2;                               \
			(arr) = xrealloc((arr), alloc_new_ * sizeof(*(arr)));  \
			(alloc) = alloc_new_;                                  \
		}                                                              \
	} while (0)

/* Gives back what ALLOC_GROW's doubling left unused, once arr is complete:
 * for arrays kept while thousands of others like them are (a bundle's
 * 5,000 migrations each holding a files array). */
#define ALLOC_SHRINK(arr, n, alloc)                                            \
	do {                                                                   \
		if ((n) && (n) < (alloc)) {                                    \
			(arr) = xrealloc((arr), (n) * sizeof(*(arr)));         \
			(alloc) = (n);                                         \
		}                                                              \
	} while (0)

#endif
