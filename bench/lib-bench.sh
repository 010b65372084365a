# Shared by the benchmarks that run tools interleaved: source it after
# setting BENCH_DIR.
#
# The workloads run interleaved (round 1: every tool, round 2: every
# tool...) rather than tool by tool, so a burst of contention from elsewhere
# on the machine hits every tool alike; each row reports the median and the
# best wall time, the median CPU time (user + sys) of the process (for a
# client/server tool, the client's only), and the peak RSS.
T=$BENCH_DIR/.times
: >"$T"
timed() { # timed LABEL PREPARE COMMAND
	sh -c "$2"
	if /usr/bin/time -f "%e %U %S %M" -o "$BENCH_DIR/.t" sh -c "$3" >/dev/null 2>"$BENCH_DIR/.err"; then
		echo "$1|$(cat "$BENCH_DIR/.t")" >>"$T"
	else
		echo "bench: failed: $3" >&2
		cat "$BENCH_DIR/.err" >&2
		exit 1
	fi
}

# summary TITLE: a markdown table from $T, ratios against the first label.
summary() {
	echo
	echo "$1"
	echo
	echo "| tool | median wall | best wall | median CPU (user+sys) | peak RSS | median vs first |"
	echo "|:---|---:|---:|---:|---:|---:|"
	awk -F'|' '
	{ split($2, v, " "); label[NR] = $1; w[$1, ++n[$1]] = v[1]; c[$1, n[$1]] = v[2] + v[3];
	  if (v[4] > rss[$1]) rss[$1] = v[4]; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
	function median(a, l, cnt,   i, j, t, x) {
		for (i = 1; i <= cnt; i++) x[i] = a[l, i]
		for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
		return cnt % 2 ? x[(cnt + 1) / 2] : (x[cnt / 2] + x[cnt / 2 + 1]) / 2
	}
	END {
		for (i = 1; i <= k; i++) {
			l = order[i]; mw = median(w, l, n[l]); mc = median(c, l, n[l]);
			best = w[l, 1]; for (j = 2; j <= n[l]; j++) if (w[l, j] < best) best = w[l, j];
			if (i == 1) base = mw;
			printf "| %s | %.2f s | %.2f s | %.2f s | %.1f MiB | %.2f× |\n", l, mw, best, mc, rss[l] / 1024, mw / base
		}
	}' "$T"
	: >"$T"
}

