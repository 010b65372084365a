#!/bin/sh
test_description='docs/fleet.md: the Kubernetes Indexed Job and the GitHub Actions matrix parse, agree on the shard count, and their commands cover every target (issue #21)'
. "$(dirname "$0")/test-lib.sh"
. "$TEST_DIRECTORY/lib-apply.sh"

unset CAIRN_ENV CAIRN_DB CAIRN_LOCK_TIMEOUT CAIRN_APPLY_CONFIG

# block NAME: the YAML between <!-- NAME: begin --> and <!-- NAME: end -->.
block() {
	sed -n "/<!-- $1: begin -->/,/<!-- $1: end -->/p" "$SRC_DIR/docs/fleet.md" |
		sed -e "/^<!--/d" -e "/^\`\`\`/d"
}

test_expect_success 'the Job manifest parses: an Indexed Job whose completions is the shard count' '
	block fleet-manifest >job.yaml &&
	test -s job.yaml &&
	python3 - job.yaml >shards <<-\EOF &&
	import re, sys, yaml
	docs = list(yaml.safe_load_all(open(sys.argv[1])))
	assert len(docs) == 1, docs
	job = docs[0]
	assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job", job
	spec = job["spec"]
	assert spec["completionMode"] == "Indexed", spec
	c = spec["template"]["spec"]["containers"][0]
	cmd = " ".join(c["command"] + c["args"])
	m = re.search(r"--shard \"\$JOB_COMPLETION_INDEX/(\d+)\"", cmd)
	assert m, cmd
	assert int(m.group(1)) == spec["completions"], (m.group(1), spec["completions"])
	assert spec["template"]["spec"]["restartPolicy"] == "Never"
	mounts = {v["mountPath"] for v in c["volumeMounts"]}
	assert "/bundle/bundle.tar.gz".startswith(tuple(mounts)), mounts
	print(spec["completions"])
	EOF
	echo 4 >want && test_cmp want shards
'

test_expect_success 'the workflow parses: the matrix lists every shard of --shard I/N once' '
	block fleet-workflow >wf.yaml &&
	python3 - wf.yaml >shards <<-\EOF &&
	import re, sys, yaml
	wf = yaml.safe_load(open(sys.argv[1]))
	job = wf["jobs"]["fleet"]
	shards = job["strategy"]["matrix"]["shard"]
	run = [s["run"] for s in job["steps"] if "run" in s][0]
	m = re.search(r"--shard \$\{\{ matrix.shard \}\}/(\d+)", run)
	assert m, run
	n = int(m.group(1))
	assert sorted(shards) == list(range(n)), (shards, n)
	assert "fleet-merge" in wf["jobs"]["merge"]["steps"][-1]["run"]
	print(n)
	EOF
	echo 4 >want && test_cmp want shards
'

test_expect_success 'each index of the Job, run as its command says, applies its slice; the merge covers every target once' '
	apply_project shop &&
	apply_table shop 0001_users &&
	apply_build shop "$TRASH_DIRECTORY/bundle.tar.gz" &&
	for i in $(seq 1 30); do echo "tenant$i sqlite:tenant$i.db"; done >targets.txt &&
	python3 - job.yaml >cmd.sh <<-\EOF &&
	import sys, yaml
	c = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]
	print(c["args"][0])
	EOF
	sed -e "s|/bundle/bundle.tar.gz|bundle.tar.gz|" -e "s|--config /config/cairn-apply.yaml|$KEY|" \
		-e "s|/config/targets.txt|targets.txt|" -e "s|/results/|results/|" cmd.sh >run.sh &&
	mkdir results &&
	for i in 0 1 2 3; do
		JOB_COMPLETION_INDEX=$i sh run.sh >/dev/null || return 1
	done &&
	cairn-apply fleet-merge results/shard-*.jsonl -o all.jsonl 2>err &&
	test_grep "30 targets: 30 applied or current, 0 failed" err &&
	test_line_count = 30 all.jsonl &&
	for i in $(seq 1 30); do
		test "$(sqlite3 tenant$i.db "SELECT count(*) FROM cairn_migrations WHERE state = '"'"'applied'"'"'")" = 1 || return 1
	done &&
	cat results/shard-*.jsonl | wc -l >n && echo 30 >want && test_cmp want n
'

test_done
