#!/bin/sh
test_description='the source stays readable: no file over 1,000 lines, no function over 120, no circle of includes'
. "$(dirname "$0")/test-lib.sh"

# Still being split (issue #14): each line goes when its file or function
# is split, so the lists only shrink. Nothing new may be added to them
# without a closing note on the issue saying why it is clearer whole.
# Files over 1,000 lines: PATH.
LONG_FILES='
'
# Functions over 120 lines: PATH:FUNCTION.
LONG_FUNCS='
'
# Includes that close a circle: "FROM TO" (nodes as include_edges names
# them). None: the bundle's types have a header of their own
# (verify/bundle-types.h), which the manifest's parser and the bundle's
# reader both include.
LOOP_EDGES='
'

# The C sources outside tests/: the tracked ones (a tarball without .git:
# every one there is).
sources() {
	if git -C "$SRC_DIR" rev-parse --git-dir >/dev/null 2>&1; then
		git -C "$SRC_DIR" ls-files -- '*.c' '*.h' | grep -v '^tests/'
	else
		(cd "$SRC_DIR" && find . -name tests -prune -o \( -name '*.c' -o -name '*.h' \) -print |
			sed 's|^\./||')
	fi
}

# "PATH:FUNCTION LINES" for every function, its length counted from the line
# of its opening brace to the line of its closing one (the house style puts
# both in column 0, the signature above the brace).
function_lengths() {
	awk '
	FNR == 1 { sig = "" }
	/^[A-Za-z_].*\(/ && !/;[ \t]*$/ { sig = $0 }
	/^\{$/ && sig != "" {
		name = sig
		sub(/\(.*/, "", name)
		sub(/.*[ \t*]/, "", name)
		start = FNR
		next
	}
	/^\}/ && start {
		print FILENAME ":" name, FNR - start
		start = 0
		sig = ""
	}
	' "$@"
}

# Edges "A B" of the include graph: A includes B. A file and its header are
# one node (engine.c and engine.h are "apply/engine"); a header with no .c
# of its own (a folder-private header, types only) is no node: a file that
# includes it depends on what it includes.
include_edges() {
	awk '
	function norm(path,   n, a, i, k, out) {
		n = split(path, a, "/")
		k = 0
		for (i = 1; i <= n; i++) {
			if (a[i] == "..") k--
			else if (a[i] != "." && a[i] != "") st[++k] = a[i]
		}
		out = st[1]
		for (i = 2; i <= k; i++) out = out "/" st[i]
		return out
	}
	function node(f) { sub(/\.[ch]$/, "", f); return f }
	function transparent(f,   s) {
		if (f !~ /\.h$/) return 0
		s = f; sub(/\.h$/, ".c", s)
		return !(s in tracked)
	}
	# the nodes f depends on, into dep[] (a private header: what it includes)
	function deps(f, seen,   i, inc) {
		if (f in seen) return
		seen[f] = 1
		for (i = 1; i <= ninc[f]; i++) {
			inc = incs[f, i]
			if (transparent(inc)) deps(inc, seen)
			else dep[node(inc)] = 1
		}
	}
	NR == FNR { tracked[$0] = 1; files[++nfiles] = $0; next }
	END {
		for (j = 1; j <= nfiles; j++) {
			f = files[j]
			dir = f; if (!sub(/\/[^\/]*$/, "", dir)) dir = "."
			while ((getline line < f) > 0) {
				if (line !~ /^[ \t]*#[ \t]*include[ \t]*"/) continue
				sub(/^[^"]*"/, "", line); sub(/".*/, "", line)
				p = norm(dir "/" line)
				if (p in tracked) incs[f, ++ninc[f]] = p
			}
			close(f)
		}
		for (j = 1; j <= nfiles; j++) {
			f = files[j]
			if (transparent(f)) continue
			split("", dep); split("", seen)
			deps(f, seen)
			for (d in dep)
				if (d != node(f)) print node(f), d
		}
	}
	' - "$@"
}

# "FROM TO" for every quoted include that crosses folders: the folder of the
# including file and the folder it reaches ("cmd apply").
folder_edges() {
	(cd "$SRC_DIR" && grep -o '^#include "\.\./[a-z_]*/' "$@" /dev/null) |
	sed 's|^\([a-z_]*\)/[^:]*:#include "\.\./\([a-z_]*\)/|\1 \2|' | sort -u
}

# The map in docs/design.md: "FOLDER ALLOWED" for each folder and each folder
# it may include.
folder_map() {
	sed -n '/^### The map/,/^## /p' "$SRC_DIR/docs/design.md" |
	awk -F'|' '/^\| `[a-z_]*\/`/ {
		from = $2; gsub(/[ `\/]/, "", from)
		n = split($4, to, " ")
		for (i = 1; i <= n; i++) { t = to[i]; gsub(/[`\/]/, "", t); if (t ~ /^[a-z_]+$/) print from, t }
		if ($4 ~ /every folder below/) print from, "*"
	}' | sort -u
}

test_expect_success 'the source list is not empty' '
	sources >files &&
	test_line_count -ge 50 files
'

test_expect_success 'no source file is over 1,000 lines (but the listed ones)' '
	(cd "$SRC_DIR" && xargs wc -l <"$TRASH_DIRECTORY/files") |
		awk "\$2 != \"total\" && \$1 > 1000 { print \$2 }" | sort >long &&
	printf "%s\n" $LONG_FILES | sed "/^$/d" | sort >allowed &&
	comm -23 long allowed >over &&
	test_line_count = 0 over
'

test_expect_success 'the files allowed over 1,000 lines still are (else drop them from the list)' '
	comm -13 long allowed >stale &&
	test_line_count = 0 stale
'

test_expect_success 'no function is over 120 lines (but the listed ones)' '
	(cd "$SRC_DIR" && function_lengths $(grep "\.c$" "$TRASH_DIRECTORY/files")) >lengths &&
	test_line_count -ge 500 lengths &&
	awk "\$2 > 120 { print \$1 }" lengths | sort >long-funcs &&
	printf "%s\n" $LONG_FUNCS | sed "/^$/d" | sort >allowed-funcs &&
	comm -23 long-funcs allowed-funcs >over &&
	test_line_count = 0 over &&
	comm -13 long-funcs allowed-funcs >stale &&
	test_line_count = 0 stale
'

test_expect_success 'the function lengths are measured right' '
	cat >f.c <<-\EOF &&
	static int
	small(int a,
	      int b)
	{
		return a + b;
	}

	static const int table[] = {
		1, 2,
	};

	int big(void)
	{
	EOF
	i=0 &&
	while test $i -lt 121; do echo "	(void)0;" >>f.c; i=$((i + 1)); done &&
	echo "}" >>f.c &&
	function_lengths f.c >actual &&
	printf "f.c:small 2\nf.c:big 122\n" >expect &&
	test_cmp expect actual
'

test_expect_success 'the quoted includes between source files make no circle (but the listed ones)' '
	(cd "$SRC_DIR" && include_edges <"$TRASH_DIRECTORY/files") | sort -u >all-edges &&
	test_line_count -ge 50 all-edges &&
	grep "^apply/engine apply/load\$" all-edges &&
	printf "%s %s\n" $LOOP_EDGES | sed "/^ *$/d" >allowed-edges &&
	comm -13 all-edges allowed-edges >stale &&
	test_line_count = 0 stale &&
	comm -23 all-edges allowed-edges >edges &&
	tsort edges >/dev/null 2>loops &&
	test_line_count = 0 loops
'

test_expect_success 'a circle of includes is found, through a header of its own and a private one' '
	mkdir -p circ/a circ/b &&
	echo "#include \"../b/y.h\"" >circ/a/x.c &&
	echo "#include \"x-int.h\"" >circ/b/y.c &&
	echo "#include \"../a/x.h\"" >circ/b/x-int.h &&
	: >circ/a/x.h && : >circ/b/y.h &&
	(cd circ && printf "%s\n" a/x.c a/x.h b/y.c b/y.h b/x-int.h | include_edges) >edges &&
	printf "a/x b/y\nb/y a/x\n" >expect &&
	sort edges >actual &&
	test_cmp expect actual &&
	test_must_fail tsort edges >/dev/null 2>loops &&
	test_grep "loop" loops
'

test_expect_success 'every include across folders is one the map in docs/design.md allows' '
	folder_map >map &&
	test_line_count -ge 10 map &&
	grep -v "^tests/" files | grep "/" >lib-files &&
	folder_edges $(cat lib-files) >edges &&
	test_line_count -ge 10 edges &&
	awk "NR == FNR { ok[\$1 \" \" \$2] = 1; if (\$2 == \"*\") any[\$1] = 1; next }
	     !(\$1 \" \" \$2 in ok) && !(\$1 in any) { print }" map edges >forbidden &&
	test_line_count = 0 forbidden &&
	cut -d" " -f1 edges | sort -u >from &&
	cut -d" " -f1 map | sort -u >mapped &&
	comm -23 from mapped >unmapped &&
	test_line_count = 0 unmapped
'

test_expect_success 'fleet/ is a library: it never prints and never exits (a target process ends with _exit)' '
	(cd "$SRC_DIR" && awk "/(^|[^a-z_])(printf|fprintf|puts|fputs|perror|exit|abort)[ \t]*\\(/ && !/fprintf\\(result,/ { print FILENAME \":\" FNR \": \" \$0 }" fleet/*.c) >bad &&
	test_line_count = 0 bad &&
	(cd "$SRC_DIR" && grep -c "_exit(" fleet/run.c) >n &&
	echo 1 >want && test_cmp want n
'

test_done
