# Helpers for the cgroup suites (tests/integration/cgroups.bats on the
# hybrid host, tests/lab/cgroups.bats on pure cgroup v2).

cg_v2() { [[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]]; }

# cgpath ID: the cgroup cell recorded for a guest
cgpath() { jq -r .cgroupPath "$ROOT/$1/state.json"; }

# cgdir CTRL PATH: the directory of PATH for a controller
cgdir() {
	if cg_v2; then echo "/sys/fs/cgroup$2"; else echo "/sys/fs/cgroup/$1$2"; fi
}

# cg_gone PATH: no hierarchy has the directory any more
cg_gone() {
	local d
	for d in /sys/fs/cgroup /sys/fs/cgroup/*/; do
		[[ -e ${d%/}$1 ]] && { echo "cgroup left: ${d%/}$1" >&2; return 1; }
	done
	return 0
}

# cpu_ns PATH: the kernel's count of CPU time used by the cgroup, in ns
cpu_ns() {
	if cg_v2; then
		echo $(($(awk '$1 == "usage_usec" {print $2}' "/sys/fs/cgroup$1/cpu.stat") * 1000))
	else
		cat "/sys/fs/cgroup/cpuacct$1/cpuacct.usage"
	fi
}

# wait_for FILE [TENTHS]: until FILE exists
wait_for() {
	local i
	for i in $(seq "${2:-50}"); do [[ -s $1 ]] && return 0; sleep 0.1; done
	return 1
}

# out_mount: a host directory at /out in the container
out_mount() {
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
	cfg '.mounts += [{"destination": "/out", "type": "bind", "source": $o, "options": ["rbind", "rw"]}]' --arg o "$OUT"
}

now_ns() { date +%s%N; }

# usage_over PATH SECONDS: CPU share (percent of one CPU) over a window
usage_over() {
	local a b t0 t1
	a=$(cpu_ns "$1"); t0=$(now_ns)
	sleep "$2"
	b=$(cpu_ns "$1"); t1=$(now_ns)
	echo $(((b - a) * 100 / (t1 - t0)))
}

# The effects both suites prove (one function per @test).

cgt_memory_oom() {
	cfg '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
	args dd if=/dev/zero of=/dev/null bs=64M count=1
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 137 ]
	# the same process fits without the limit
	cfg 'del(.linux.resources.memory)'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	assert_clean
}

cgt_events_oom() {
	cfg '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
	args sh -c 'sleep 0.5; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 0.3'
	cell create --bundle "$BUNDLE" c1
	cell events --interval 10s c1 >"$BATS_TEST_TMPDIR/ev" &
	ev=$!
	sleep 0.2
	cell start c1
	# events ends when the container does
	wait $ev
	grep -q '"type":"oom"' "$BATS_TEST_TMPDIR/ev"
	[ "$(jq -r 'select(.type == "oom") | .id' "$BATS_TEST_TMPDIR/ev")" = c1 ]
}

cgt_pids() {
	cfg '.linux.resources.pids = {"limit": 10}'
	args sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & echo started $i; done; wait'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -ne 0 ]
	# the shell is one, nine children fit, the tenth child is process 11
	[[ $output == *"started 9"* ]]
	[[ $output != *"started 10"* ]]
	[[ $output == *"Resource temporarily unavailable"* ]]
}

cgt_cpu_quota() {
	cfg '.linux.resources.cpu = {"quota": 20000, "period": 100000}'
	args sh -c 'while :; do :; done'
	cell run -d --bundle "$BUNDLE" c1
	sleep 0.3
	pct=$(usage_over "$(cgpath c1)" 3)
	echo "usage: $pct%"
	[ "$pct" -ge 15 ] && [ "$pct" -le 25 ]
}

cgt_cpu_weights() {
	args sh -c 'while :; do :; done'
	if cg_v2; then
		cfg '.linux.resources = {"cpu": {"cpus": "0"}, "unified": {"cpu.weight": "100"}}'
		cell run -d --bundle "$BUNDLE" lo
		cfg '.linux.resources.unified."cpu.weight" = "400"'
	else
		cfg '.linux.resources.cpu = {"cpus": "0", "shares": 256}'
		cell run -d --bundle "$BUNDLE" lo
		cfg '.linux.resources.cpu.shares = 1024'
	fi
	cell run -d --bundle "$BUNDLE" hi
	sleep 0.5
	a0=$(cpu_ns "$(cgpath lo)") b0=$(cpu_ns "$(cgpath hi)")
	sleep 3
	a1=$(cpu_ns "$(cgpath lo)") b1=$(cpu_ns "$(cgpath hi)")
	ratio=$(((b1 - b0) * 100 / (a1 - a0)))
	echo "hi/lo = $ratio/100"
	[ "$ratio" -ge 300 ] && [ "$ratio" -le 520 ]
}

cgt_pause() {
	out_mount
	args sh -c 'i=0; while :; do i=$((i+1)); echo $i >/out/n.new; mv /out/n.new /out/n; sleep 0.05; done'
	cell run -d --bundle "$BUNDLE" c1
	wait_for "$OUT/n"
	cell pause c1
	[ "$(status_of c1)" = paused ]
	a=$(cat "$OUT/n")
	sleep 1
	[ "$(cat "$OUT/n")" = "$a" ]
	run cell pause c1
	assert_one_error pause "is paused"
	cell resume c1
	[ "$(status_of c1)" = running ]
	sleep 0.5
	[ "$(cat "$OUT/n")" -gt "$a" ]
	# a paused container can be force-deleted
	cell pause c1
	cell delete --force c1
	assert_clean
}

cgt_update() {
	out_mount
	cfg '.linux.resources.memory = {"limit": 33554432, "swap": 33554432}'
	args sh -c 'until dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null; do sleep 0.2; done; echo done >/out/done; sleep 100'
	cell run -d --bundle "$BUNDLE" c1
	sleep 1.5
	[ ! -e "$OUT/done" ]
	cell update --memory 128m --memory-swap 128m c1
	wait_for "$OUT/done" 50
	# and a pids limit from a resources file
	echo '{"pids": {"limit": 5}}' >"$BATS_TEST_TMPDIR/r.json"
	cell update --resources "$BATS_TEST_TMPDIR/r.json" c1
	[ "$(cell events --stats c1 | jq .data.pids.limit)" = 5 ]
}
