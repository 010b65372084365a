# cairn: plain Makefile. `make`, `make check`, `make install`, `make deps`.
#   make DEVELOPER=1                 strict warnings, -Werror
#   make SANITIZE=address,undefined  sanitizer build (CI runs the tests so)
#   make fuzz                        libFuzzer targets (clang)

VERSION      = 0.1.0
PREFIX      ?= /usr/local
BINDIR       = $(PREFIX)/bin
MANDIR       = $(PREFIX)/share/man
DATADIR      = $(PREFIX)/share/cairn
CC          ?= cc
PKG_CONFIG  ?= pkg-config

# Debian packages the build and the tests need (installed by `make deps`).
DEB_BUILD    = build-essential pkg-config libgit2-dev libarchive-dev zlib1g-dev libssl-dev \
               libyaml-dev libsqlite3-dev libpq-dev libpg-query-dev libprotobuf-c-dev
# What a host that only applies needs at run time: libpq5 only for
# PostgreSQL databases (cairn-apply loads it when it opens one); libpg_query
# for the PostgreSQL statement split (lib/sqlsplit.c), and for preflight and
# backups, which read pending PostgreSQL statements; postgresql-client:
# pg_dump, the backup before a destructive migration on PostgreSQL (issue #20).
DEB_RUN      = libarchive13 zlib1g libssl3 libyaml-0-2 libsqlite3-0 libpq5 libpg-query1504.0 \
               postgresql-client
# The real tools that cairn import's tests compare against (t08xx):
# sqitch from Debian (with its SQLite and PostgreSQL drivers: cairn-apply adopt
# reads a registry the real sqitch wrote on PostgreSQL), dbmate from npm.
DEB_IMPORT   = sqitch libdbd-sqlite3-perl libdbd-pg-perl
# node and npm for dbmate and Squawk: Debian's, unless the machine already
# has a node with its npm (NodeSource's nodejs conflicts with Debian's npm).
DEB_NODE     = nodejs npm
NPM_TEST     = dbmate
# postgresql-server-dev-15: PGXS, to build t0781's label provider
# (tests/helpers/pg-label) against the server the tests start.
DEB_TEST     = git sqlite3 openssl postgresql tar gzip coreutils procps util-linux iproute2 time python3 python3-yaml python3-jsonschema prometheus chromium clang pre-commit \
               libclang-rt-14-dev postgresql-server-dev-15

CFLAGS      ?= -O2 -g
CFLAGS      += -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE -Wall -Wextra -Wno-unused-parameter
CFLAGS      += -DCAIRN_VERSION='"$(VERSION)"' -DCAIRN_TEMPLATE_DIR='"$(DATADIR)/templates"'
ifdef DEVELOPER
CFLAGS      += -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
               -Wpointer-arith -Wvla -Wno-format-nonliteral
endif
ifdef SANITIZE
CFLAGS      += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS     += -fsanitize=$(SANITIZE)
endif

# pkg-config module -> Debian package, for the message when one is missing.
PKG_libgit2    = libgit2-dev
PKG_libarchive = libarchive-dev
PKG_zlib       = zlib1g-dev
PKG_openssl    = libssl-dev
PKG_yaml-0.1   = libyaml-dev
PKG_sqlite3    = libsqlite3-dev
PKG_libpq      = libpq-dev

define need_pkg
$(if $(shell $(PKG_CONFIG) --exists $(1) && echo ok),,$(error missing library $(1): install the Debian package $(PKG_$(1)) (apt-get install $(PKG_$(1))), or run 'make deps'))
endef

ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
$(foreach p,libgit2 libarchive zlib openssl yaml-0.1 sqlite3 libpq,$(call need_pkg,$(p)))
endif

# libarchive writes and reads bundles; zlib's crc32() checks the gzip
# trailer, which libarchive's reader does not (verify/archive.c).
CAIRN_PKGS   = libgit2 libarchive zlib openssl yaml-0.1 sqlite3
APPLY_PKGS   = libarchive zlib openssl yaml-0.1 sqlite3
CAIRN_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(CAIRN_PKGS) 2>/dev/null)
CAIRN_LIBS   = $(shell $(PKG_CONFIG) --libs $(CAIRN_PKGS) 2>/dev/null) $(PG_QUERY_LIBS) $(DL_LIBS) -pthread
# libpg_query (PostgreSQL's own parser: the checker's SQL rules, and the
# statement split both programs share, lib/sqlsplit.c) ships
# no .pc file: found by compiling against it.
PG_QUERY_LIBS = -lpg_query
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
ifneq ($(shell printf '\043include <pg_query.h>\nint main(void) { return pg_query_parse("").error != 0; }\n' | \
                 $(CC) -x c -o /dev/null - -lpg_query >/dev/null 2>&1 && echo ok),ok)
$(error missing library libpg_query: install the Debian package libpg-query-dev (apt-get install libpg-query-dev), or run 'make deps')
endif
endif
# libpq: its header at build time (libpq-dev), but never linked: the
# PostgreSQL driver dlopens libpq.so.5 (libpq5) the first time it opens a
# database (drivers/pq-load.c), so a SQLite run never loads it.
APPLY_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(APPLY_PKGS) libpq 2>/dev/null)
APPLY_LIBS   = $(APPLY_ARCHIVE) $(shell $(PKG_CONFIG) --libs $(filter-out libarchive,$(APPLY_PKGS)) 2>/dev/null) \
               $(DL_LIBS) -pthread
# libpg_query: the applier is not linked with it but loads it at first use
# (lib/pg-query-load.c: only PostgreSQL scripts are read with it), by the
# shared library name (SONAME) of the one cairn links. A recursive
# variable: read again when pg-query-load.o is compiled, so that `make deps
# demo` (one make, the README's command) reads it after deps installed
# libpg-query-dev, not as "" before (dlopen("") is the program itself).
PG_QUERY_SONAME = $(shell objdump -p "$$($(CC) -print-file-name=libpg_query.so)" 2>/dev/null | \
                    awk '$$1 == "SONAME" { print $$2 }')
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
ifeq ($(PG_QUERY_SONAME),)
$(error cannot read the SONAME of libpg_query.so (objdump -p, from binutils): install libpg-query-dev and binutils, or run 'make deps')
endif
endif

# The applier links libarchive.a (libarchive-dev ships it) when there is one,
# with --gc-sections: what it uses of libarchive (the gzip read filter, the
# raw format, the pax writer of receipts) needs only zlib, while the shared
# library loads its every filter's and format's libraries (libxml2, ICU,
# libstdc++, nettle, lzma, zstd, lz4, bz2, acl): 12 ms of CPU and 2.8 MiB
# of RSS on every run before any work (docs/benchmarks.md, perf14c). The
# reader registers its filter and format rather than naming them, which
# would pull in libarchive's tables of all of them (verify/archive.c).
ARCHIVE_A   := $(wildcard $(shell $(PKG_CONFIG) --variable=libdir libarchive 2>/dev/null)/libarchive.a)
ARCHIVE_GC   = -Wl,--gc-sections
APPLY_ARCHIVE = $(if $(ARCHIVE_A),$(ARCHIVE_GC) $(ARCHIVE_A),$(shell $(PKG_CONFIG) --libs libarchive 2>/dev/null))
# dlopen and pthread_once are in libc from glibc 2.34 on; older ones need these.
ifeq ($(filter deps clean,$(MAKECMDGOALS)),)
DL_LIBS     := $(shell printf '\043include <dlfcn.h>\n\043include <pthread.h>\nstatic pthread_once_t o = PTHREAD_ONCE_INIT;\nstatic void f(void) {}\nint main(void) { pthread_once(&o, f); return !dlopen(0, RTLD_NOW); }\n' | \
                 $(CC) -x c -o /dev/null - >/dev/null 2>&1 || echo -ldl -pthread)
endif

BUILD        = build
$(BUILD)/lib/pg-query-load.o: CFLAGS += -DPG_QUERY_SONAME='"$(PG_QUERY_SONAME)"'
# Code both programs link: no libgit2, no signing in here.
LIB_SRC      = lib/prom.c lib/trace.c lib/lint-rules.c lib/error.c lib/buf.c lib/util.c lib/sha256.c lib/yaml.c lib/thread.c lib/pool.c lib/heap.c lib/tmpfile.c lib/spill.c lib/checkpoint.c \
               lib/sqlsplit.c lib/toolsum.c lib/callbacks.c lib/batch.c lib/hexindex.c lib/pgobject.c
CMD_SRC      = cmd/cmd.c cmd/verify.c
# Reading and checking bundles: both programs (no signing, no libgit2).
VERIFY_SRC   = verify/keys.c verify/statement.c verify/tar-check.c verify/archive.c verify/manifest.c \
               verify/manifest-canon.c verify/manifest-waivers.c verify/trust.c verify/bundle.c verify/bundle-cross.c verify/bundle-parse.c \
               verify/bundle-read.c
# cairn only: the project model and its git access.
PROJECT_SRC  = project/findings.c project/source.c project/project.c project/config.c \
               project/yaml-keys.c project/strlist.c project/order.c \
               project/check.c project/sqlcheck.c project/operation.c project/operation-sql.c
PROJECT_SRC += project/history.c project/history-tree.c project/history-rules.c \
               project/history-provenance.c
# The linter (issue #18): PostgreSQL's parse tree through libpg_query's
# protobuf form (its protobuf-c runtime is inside libpg_query; the header
# comes from libprotobuf-c-dev). cairn only.
LINT_SRC     = lint/lint.c lint/rules.c lint/rules-alter.c lint/rules-phase.c lint/sqlite.c \
               lint/sqlite-subset.c lint/sqlite-strict.c
PROJECT_SRC += $(LINT_SRC) project/check-lint.c project/lint-cache.c
PROJECT_SRC += project/gitenv.c project/gitindex.c project/style.c
# Writing and signing bundles, key generation: cairn only.
BUNDLE_SRC   = bundle/keys.c bundle/write.c bundle/build.c
CAIRN_SRC    = cmd/cairn.c cmd/project-ctx.c cmd/init.c cmd/new.c cmd/list.c cmd/check.c \
               cmd/passphrase.c cmd/keygen.c cmd/build.c cmd/sign.c cmd/strip.c cmd/inspect.c
CAIRN_SRC   += cmd/hooks.c cmd/lint.c cmd/lint-report.c
# cairn import (issue #19): a reader per tool in import/, cairn only.
IMPORT_SRC   = import/import.c import/write.c import/sqlscan.c import/golang-migrate.c \
               import/dbmate.c import/flyway.c import/goose.c import/sqitch.c import/pop.c \
               import/diesel.c import/prisma.c
CAIRN_SRC   += $(IMPORT_SRC) cmd/import.c
APPLY_SRC    = cmd/cairn-apply.c
# The applier's config and trust policy (issue #7): both programs link it.
POLICY_SRC   = policy/config.c policy/config-keys.c policy/config-dsn.c policy/config-check.c \
               policy/config-resolve.c policy/config-lint.c policy/policy.c policy/bundle.c \
               policy/destructive.c
CMD_SRC     += cmd/config.c cmd/policy-report.c
# Adding signed statements to a bundle (no key material: both programs),
# cairn's promote/override verbs, and the applier's receipt signer.
APPEND_SRC   = bundle/write.c bundle/append.c
CAIRN_SRC   += cmd/promote.c cmd/override.c
RECEIPT_SRC  = receipt/receipt.c cmd/policy-gate.c
# cairn-apply only: libpg_query's functions, loaded at first use.
PGQ_LOAD_SRC = lib/pg-query-load.c
# cairn-apply's verbs (one file each) and what they share.
APPLY_VERB_SRC = cmd/db-ctx.c cmd/checkpoint.c cmd/books-flags.c cmd/bundle-load.c cmd/apply.c cmd/plan.c cmd/status.c \
               cmd/rollback.c cmd/history.c cmd/trail.c cmd/baseline.c cmd/repair.c
# Fleets (issue #21): targets, shards, results and the scheduler in fleet/
# (a library: never prints), the verbs in cmd/.
FLEET_SRC    = fleet/index.c fleet/targets.c fleet/result.c fleet/run.c fleet/metrics.c fleet/report.c \
               fleet/report-format.c fleet/report-trail.c fleet/report-db.c
APPLY_VERB_SRC += $(FLEET_SRC) cmd/fleet.c cmd/fleet-merge.c cmd/report.c
# The PostgreSQL driver (issue #6): only its files (postgres.c, pg-*.c)
# and its loader include libpq-fe.h.
PG_SRC       = drivers/postgres.c drivers/pg-dsn.c drivers/pg-exec.c \
               drivers/pg-tx.c drivers/pg-stream.c drivers/pg-books.c drivers/pq-load.c drivers/pg-secret.c \
               drivers/pg-probe.c drivers/pg-backup.c drivers/pg-guard.c
# cairn-apply only: the database drivers (drivers/driver.h) and the apply
# engine (apply/), which knows databases only through that interface.
DRIVER_SRC   = drivers/driver.c drivers/sqlite.c drivers/sqlite-exec.c drivers/sqlite-stream.c drivers/sqlite-books.c drivers/sqlite-files.c drivers/sqlite-probe.c drivers/sqlite-backup.c \
               drivers/sqlite-vfs.c \
               $(PG_SRC)
# Operations (issue #20): preflight's checks, and what a pending
# PostgreSQL script needs, read with libpg_query (linked into the applier
# for this: shared, as in cairn).
OPS_SRC      = ops/preflight.c ops/sqlneeds.c ops/backup.c ops/hooks.c ops/metrics.c ops/lockwho.c
APPLY_VERB_SRC += cmd/preflight.c
ENGINE_SRC   = apply/engine.c apply/plan.c apply/run.c apply/retry.c apply/throttle.c apply/rollback.c apply/repair.c apply/accept.c \
               apply/set.c apply/audit.c apply/load.c apply/books.c apply/checkpoint.c \
               apply/restore.c apply/note.c apply/callbacks.c apply/role.c
# cairn-apply adopt (issue #19): another tool's books taken over.
ENGINE_SRC  += apply/adopt.c apply/adopt-match.c
APPLY_VERB_SRC += cmd/adopt.c cmd/restore.c

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

CAIRN_OBJ    = $(call obj,$(LIB_SRC) $(VERIFY_SRC) $(CMD_SRC) $(PROJECT_SRC) $(BUNDLE_SRC) $(POLICY_SRC) bundle/append.c $(CAIRN_SRC))
APPLY_OBJ    = $(call obj,$(LIB_SRC) $(PGQ_LOAD_SRC) $(VERIFY_SRC) $(CMD_SRC) $(POLICY_SRC) $(APPEND_SRC) $(RECEIPT_SRC) $(DRIVER_SRC) $(ENGINE_SRC) \
               $(OPS_SRC) $(APPLY_SRC) $(APPLY_VERB_SRC))

UNIT_SRC     = $(wildcard tests/unit/test-*.c)
UNIT_BIN     = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC     = $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_REPLAY  = $(patsubst tests/fuzz/%.c,$(BUILD)/tests/%-replay,$(FUZZ_SRC))
FUZZ_BIN     = $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

all: bin/cairn bin/cairn-apply

bin/cairn: $(CAIRN_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(CAIRN_LIBS)

bin/cairn-apply: $(APPLY_OBJ)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $^ $(APPLY_LIBS)

$(BUILD)/%.o: %.c $(BUILD)/.flags
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CAIRN_CFLAGS) $(APPLY_CFLAGS) -MMD -MP -c -o $@ $<

# Rebuild everything when the flags change (a SANITIZE build after a plain one).
$(BUILD)/.flags: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS) $(LDFLAGS)' | cmp -s - $@ || echo '$(CC) $(CFLAGS) $(LDFLAGS)' > $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Unit tests link everything but the mains.
TEST_OBJ     = $(call obj,$(LIB_SRC) $(PROJECT_SRC) $(VERIFY_SRC) $(BUNDLE_SRC) $(DRIVER_SRC) \
               $(ENGINE_SRC) $(OPS_SRC) $(POLICY_SRC) bundle/append.c $(IMPORT_SRC) $(FLEET_SRC))
$(BUILD)/tests/test-%: tests/unit/test-%.c tests/unit/unit.h $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CAIRN_CFLAGS) $(APPLY_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_OBJ) $(CAIRN_LIBS) $(APPLY_LIBS)

# Test helpers (git's t/helper): drive a library from the shell tests.
HELPER_BIN   = $(BUILD)/tests/pg-driver $(BUILD)/tests/index-dump $(BUILD)/tests/powercut.so
# t0352's power cut, preloaded into cairn-apply: no sanitizer of its own
# (it runs inside the sanitized binary), no library of ours.
$(BUILD)/tests/powercut.so: tests/helpers/powercut.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -std=c11 -Wall -Wextra -fPIC -shared -o $@ $< -ldl
# t0781's SECURITY LABEL provider, a server module built with PGXS against
# the newest server installed (the one tests/lib-pg.sh starts). Looked for
# when the recipe runs, not when this file is read, so that 'make deps
# check' in one make builds it; without PGXS (no postgresql-server-dev-N)
# it is left out and t0781 skips (fails under CI=true). Built in a copy
# under $(BUILD), with none of our flags: the server loads it, not ours.
HELPER_BIN  += $(BUILD)/tests/pg-label/cairn_label.so
$(BUILD)/tests/pg-label/cairn_label.so: tests/helpers/pg-label/cairn_label.c tests/helpers/pg-label/Makefile
	@pgc=$$(ls -d /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -V | tail -n 1); \
	if test -z "$$pgc" || ! test -f "$$($$pgc --pgxs 2>/dev/null)"; then \
		echo "note: no PGXS (postgresql-server-dev-N, make deps): t0781 will skip"; exit 0; fi; \
	mkdir -p $(dir $@) && \
	cp tests/helpers/pg-label/cairn_label.c tests/helpers/pg-label/Makefile $(dir $@) && \
	MAKEFLAGS= $(MAKE) -C $(dir $@) PG_CONFIG=$$pgc with_llvm=no
$(BUILD)/tests/%: tests/helpers/%.c $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CAIRN_CFLAGS) $(APPLY_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_OBJ) $(CAIRN_LIBS) $(APPLY_LIBS)

# Fuzz targets, replayed over their corpus by a standalone driver.
$(BUILD)/tests/fuzz-%-replay: tests/fuzz/fuzz-%.c tests/fuzz/replay.c $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CAIRN_CFLAGS) $(APPLY_CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(TEST_OBJ) $(CAIRN_LIBS) $(APPLY_LIBS)

check: all $(UNIT_BIN) $(FUZZ_REPLAY) $(HELPER_BIN)
	@sh tests/run-tests.sh

test: check

# The README's first command: the example, end to end, on a real git repository.
demo: all
	@sh examples/demo.sh

fuzz: FORCE
	$(MAKE) CC=clang SANITIZE=fuzzer,address,undefined BUILD=build-fuzz fuzz-bins

fuzz-bins: $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

$(BUILD)/fuzz/fuzz-%: tests/fuzz/fuzz-%.c $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CAIRN_CFLAGS) $(APPLY_CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_OBJ) $(CAIRN_LIBS) $(APPLY_LIBS)

# Squawk, the linter tests/t0910 compares cairn lint with (npm, pinned),
# in a cache directory the test looks in too.
SQUAWK_VERSION = 2.66.0
SQUAWK_DIR  ?= $(or $(CAIRN_SQUAWK_DIR),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cairn/squawk-$(SQUAWK_VERSION))

deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_BUILD) $(DEB_RUN) $(DEB_TEST)
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_IMPORT)
	command -v npm >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_NODE)
	npm install -g $(NPM_TEST)
	mkdir -p "$(SQUAWK_DIR)" && npm install --no-audit --no-fund --prefix "$(SQUAWK_DIR)" squawk-cli@$(SQUAWK_VERSION)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(DATADIR)/templates $(DESTDIR)$(DATADIR)/hooks
	install -m 755 bin/cairn bin/cairn-apply $(DESTDIR)$(BINDIR)/
	install -m 644 docs/*.1 $(DESTDIR)$(MANDIR)/man1/
	-install -m 644 docs/*.5 $(DESTDIR)$(MANDIR)/man5/ 2>/dev/null
	cp -R templates/. $(DESTDIR)$(DATADIR)/templates/
	-cp -R hooks/. $(DESTDIR)$(DATADIR)/hooks/ 2>/dev/null

clean:
	rm -rf $(BUILD) build-fuzz bin tests/trash.*

.PHONY: all check test demo fuzz fuzz-bins deps install clean FORCE
FORCE:
