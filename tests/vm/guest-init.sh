#!/bin/sh
# /init of the test VM (busybox sh): set the guest up, load the fpgadma modules, run
# the job, report, power off.  Built into the initramfs by mkinitramfs.sh and
# driven by tests/vm/run-suite.sh through the kernel command line:
#
#   fpgadma.job=suite        run the tests of /tests/vm-tests.list (default)
#   fpgadma.job=demo         run fpgadma_demo
#   fpgadma.job=bench        run the benchmarks: /bench/guest-bench.sh, from
#                            the side archive the bench job appends (time
#                            limit 3600 s unless fpgadma.timeout is given)
#   fpgadma.bench_args=a|b   arguments for guest-bench.sh, separated by '|'
#   fpgadma.params=a=1|b=2   module parameters for insmod, separated by '|'
#                            (so that array values keep their commas:
#                            fpgadma.params=x=1,2|y=3 gives insmod x=1,2 y=3);
#                            fpgadma_soft.x=1 goes to the soft engine's
#                            module, fpgadma_edu.x=1 to the edu engine's,
#                            others to fpgadma_core
#   fpgadma.tests=t1|t2      run only these tests (default: the whole list;
#                            '-': none)
#   fpgadma.demo_args=a|b    arguments for fpgadma_demo, separated by '|'
#   fpgadma.timeout=SECS     time limit of one test (default 300; of the
#                            bench job 3600)
#   fpgadma.config=NAME      name of the VM configuration, exported to the
#                            tests as FPGADMA_VM_CONFIG
#   fpgadma.test_engine=E    the tests target the first device whose engine
#                            (sysfs) is E: its index is exported to them as
#                            FPGADMA_TEST_DEV (default: device 0); without
#                            such a device the insmod check fails
#   fpgadma.time_scale=N     multiply the tests' time limits by N (exported
#                            as FPGADMA_TEST_TIME_SCALE; default 1)
#   fpgadma.allow_no_module=1  a missing /fpgadma_core.ko is skipped instead of
#                            failed (only for trying the harness itself)
#   fpgadma.node=a|b         one of the two guests of a two-node configuration
#   fpgadma.addr=IP/PREFIX   ... its address on the link between them
#   fpgadma.peer=IP          ... the other guest's: the three exported to
#                            the tests as FPGADMA_NODE, FPGADMA_NODE_ADDR
#                            and FPGADMA_PEER_ADDR (the net-* checks,
#                            tests/vm/guest-twonode.sh, set the link up);
#                            the host name is fpgadma-<node>
#
# Output on the console (ttyS0), one TAP line per check:
#   ok N - name | not ok N - name | ok N - name # SKIP reason
# The checks are insmod, every test, rmmod (must succeed) and pin-balance
# (/proc/vmstat nr_foll_pin_acquired == nr_foll_pin_released after rmmod);
# then, on a kernel that has them (the debug-kernel tier's), kmemleak (two
# scans after rmmod find nothing), dma-api (DMA-API debugging counted no
# error and is still on) and lockdep (still on: it reported nothing).
# A test passes with exit status 0 and is skipped with 77: the skip reason is
# its last output line starting with "SKIP:", else its last line.  A test
# that runs cases of its own (ft-runfabtests) may report each with a line
# "FPGADMA-CASE ok|not ok NAME" or "FPGADMA-CASE skip NAME # REASON": a
# TAP line "TEST: NAME" of its own, counted, before the test's.  Each check
# starts with a line "# --- NAME"; test output follows with '# ' before each
# line, then the kernel log lines the check caused, with 'kmsg: ' before
# them (the console itself shows only messages more urgent than warnings),
# then the TAP line.  The demo's output stands as it is between
# FPGADMA-DEMO-BEGIN and FPGADMA-DEMO-END rc=N, the bench job's between
# FPGADMA-BENCH-BEGIN and FPGADMA-BENCH-END rc=N (its result files inside,
# each between FPGADMA-BENCH-FILE NAME and FPGADMA-BENCH-FILE-END).  Last come the plan (1..N)
# and the marker line FPGADMA-SUITE-DONE pass=P fail=F skip=S, then the
# guest powers off.  Without the marker the host counts the run as crashed.
#
# A test runs as root in a fresh directory under /tmp (tmpfs), stdin from
# /dev/null, with FPGADMA_VM=1, FPGADMA_VM_CONFIG, FPGADMA_TEST_TIME_SCALE
# and (with fpgadma.test_engine) FPGADMA_TEST_DEV set, /dev/fpgadma*
# mode 666, 32 huge pages reserved and hugetlbfs at /dev/hugepages (both
# when memory allows), transparent huge pages in madvise mode, loopback up,
# and a user nobody (65534) to drop to.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
umask 022

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# Reopen the console: the kernel may have found no /dev/console node.
exec </dev/console >/dev/console 2>&1
mkdir -p /dev/pts /dev/shm /dev/hugepages
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
echo 32 > /proc/sys/vm/nr_hugepages 2>/dev/null || true
mount -t hugetlbfs -o mode=1777 hugetlbfs /dev/hugepages 2>/dev/null ||
	echo "# hugetlbfs not mounted"
echo madvise > /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null ||
	echo "# transparent hugepages: madvise mode not set"
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
hostname fpgadma-vm

# --- the job, from the kernel command line
job=suite
params=
only=
demo_args=
bench_args=
timeout=
config=
allow_no_module=0
test_engine=
time_scale=1
node=
node_addr=
peer_addr=
set -f
# shellcheck disable=SC2013 # the command line is words
for arg in $(cat /proc/cmdline); do
	val=$(echo "${arg#*=}" | tr -d '"')
	case $arg in
	fpgadma.job=*) job=$val ;;
	fpgadma.params=*) params=$(echo "$val" | tr '|' ' ') ;;
	fpgadma.tests=*) only=$(echo "$val" | tr '|' ' ') ;;
	fpgadma.demo_args=*) demo_args=$(echo "$val" | tr '|' ' ') ;;
	fpgadma.bench_args=*) bench_args=$(echo "$val" | tr '|' ' ') ;;
	fpgadma.timeout=*) timeout=$val ;;
	fpgadma.config=*) config=$val ;;
	fpgadma.allow_no_module=*) allow_no_module=$val ;;
	fpgadma.test_engine=*) test_engine=$val ;;
	fpgadma.time_scale=*) time_scale=$val ;;
	fpgadma.node=*) node=$val ;;
	fpgadma.addr=*) node_addr=$val ;;
	fpgadma.peer=*) peer_addr=$val ;;
	esac
done
set +f
[ "$only" != - ] || only=none
if [ -z "$timeout" ]; then
	# The bench job is one long program; a test is a short one.
	if [ "$job" = bench ]; then timeout=3600; else timeout=300; fi
fi
timeout=$((timeout * time_scale))
export FPGADMA_VM=1 FPGADMA_VM_CONFIG="$config" FPGADMA_TEST_TIME_SCALE="$time_scale"
if [ -n "$node" ]; then
	export FPGADMA_NODE="$node" FPGADMA_NODE_ADDR="$node_addr" FPGADMA_PEER_ADDR="$peer_addr"
	hostname "fpgadma-$node"
fi

# --- reporting
n=0
pass=0
fail=0
skip=0
tap_ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
tap_fail() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
tap_skip() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n - $1 # SKIP $2"; }
kmsg() { dmesg -c 2>/dev/null | sed 's/^/kmsg: /'; }
pins() {
	# The counters are per-CPU deltas folded now and then: fold them first.
	echo 1 > /proc/sys/vm/stat_refresh 2>/dev/null || true
	awk '$1 == "nr_foll_pin_acquired" { a = $2 }
	     $1 == "nr_foll_pin_released" { r = $2 }
	     END { print a + 0, r + 0 }' /proc/vmstat
}
uptime_s() { cut -d' ' -f1 /proc/uptime; }

finish() {
	kmsg
	echo "1..$n"
	echo "FPGADMA-SUITE-DONE pass=$pass fail=$fail skip=$skip"
	sync
	poweroff -f
	echo o > /proc/sysrq-trigger
	sleep 60
}

kmsg	# the boot log, apart from what the checks below cause
echo "# fpgadma guest: job=$job config=${config:-?}${node:+ node $node} kernel $(uname -r), $(nproc) cpu(s), $(awk '/^MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
echo "# pins before insmod (acquired released): $(pins)"

# --- the module (and what it depends on)
module_loaded=0
while read -r m; do
	insmod "/modules/$m" || echo "# insmod /modules/$m failed"
done < /modules/load-order
# Parameters go to the module their prefix names (fpgadma_soft.ndevs=2,
# fpgadma_edu.X=...), unprefixed ones to the core.
core_params='' soft_params='' edu_params=''
for p in $params; do
	case $p in
	fpgadma_soft.*) soft_params="$soft_params ${p#fpgadma_soft.}" ;;
	fpgadma_edu.*) edu_params="$edu_params ${p#fpgadma_edu.}" ;;
	fpgadma_core.*) core_params="$core_params ${p#fpgadma_core.}" ;;
	*) core_params="$core_params $p" ;;
	esac
done
# The core, then its engines: the soft FPGA and QEMU's edu device.
load_modules() {
	# shellcheck disable=SC2086 # one word per parameter
	insmod /fpgadma_core.ko $core_params || return 1
	# shellcheck disable=SC2086
	insmod /fpgadma_soft.ko $soft_params || { rmmod fpgadma_core; return 1; }
	# shellcheck disable=SC2086
	insmod /fpgadma_edu.ko $edu_params ||
		{ rmmod fpgadma_soft; rmmod fpgadma_core; return 1; }
}
echo "# --- insmod"
if [ -f /fpgadma_core.ko ]; then
	if load_modules; then
		module_loaded=1
		chmod 666 /dev/fpgadma* 2>/dev/null
		for dev in /dev/fpgadma*; do
			[ -e "$dev" ] || continue
			echo "# $dev: engine $(cat "/sys/class/fpgadma/${dev#/dev/}/engine" 2>/dev/null)"
		done
	fi
	test_dev_ok=1
	if [ "$module_loaded" = 1 ] && [ -n "$test_engine" ]; then
		test_dev_ok=0
		for e in /sys/class/fpgadma/fpgadma*/engine; do
			[ -r "$e" ] || continue
			[ "$(cat "$e")" = "$test_engine" ] || continue
			d=${e%/engine}
			FPGADMA_TEST_DEV=${d##*/fpgadma}
			export FPGADMA_TEST_DEV
			echo "# the tests target /dev/fpgadma$FPGADMA_TEST_DEV ($test_engine engine)"
			test_dev_ok=1
			break
		done
		[ "$test_dev_ok" = 1 ] || echo "# no device with the $test_engine engine appeared"
	fi
	kmsg
	if [ "$module_loaded" = 1 ] && [ "$test_dev_ok" = 1 ]; then
		tap_ok "insmod${params:+ $params}"
	else
		tap_fail "insmod${params:+ $params}"
	fi
elif [ "$allow_no_module" = 1 ]; then
	kmsg
	tap_skip insmod "no /fpgadma_core.ko (fpgadma.allow_no_module=1)"
else
	kmsg
	echo "# /fpgadma_core.ko is missing from the initramfs"
	tap_fail insmod
fi

# run_prog PREFIX PROGRAM [ARGS...]: run with the time limit in a fresh
# directory, each output line passed through after PREFIX;
# sets rc and the files /tmp/.fpgadma-last and /tmp/.fpgadma-skip.
# A program that runs cases of its own (ft-runfabtests) reports each with a
# line "FPGADMA-CASE ok NAME", "FPGADMA-CASE not ok NAME" or
# "FPGADMA-CASE skip NAME # REASON": it becomes a TAP line
# "<check>: NAME" there and then, counted like any other ($case_check is
# the check's name).
case_check=
run_prog() {
	prefix=$1
	shift
	work=/tmp/work.$n
	mkdir -p "$work"
	rm -f /tmp/.fpgadma-rc /tmp/.fpgadma-last /tmp/.fpgadma-skip /tmp/.fpgadma-cases
	( cd "$work" && timeout -s KILL "$timeout" "$@" </dev/null 2>&1
	  echo $? > /tmp/.fpgadma-rc ) |
	{
	cn=0	# the pipeline's end runs in a subshell: the cases go by file
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in
		"FPGADMA-CASE ok "*|"FPGADMA-CASE not ok "*|"FPGADMA-CASE skip "*)
			cn=$((cn + 1))
			c=${line#FPGADMA-CASE }
			case $c in
			"ok "*)
				echo "ok $((n + cn)) - ${case_check:-$1}: ${c#ok }"
				echo pass >> /tmp/.fpgadma-cases
				;;
			"not ok "*)
				echo "not ok $((n + cn)) - ${case_check:-$1}: ${c#not ok }"
				echo fail >> /tmp/.fpgadma-cases
				;;
			*)
				c=${c#skip }
				echo "ok $((n + cn)) - ${case_check:-$1}: ${c%% # *} # SKIP ${c#* # }"
				echo skip >> /tmp/.fpgadma-cases
				;;
			esac
			continue
			;;
		esac
		printf '%s%s\n' "$prefix" "$line"
		printf '%s\n' "$line" > /tmp/.fpgadma-last
		case $line in SKIP:*) printf '%s\n' "${line#SKIP:}" > /tmp/.fpgadma-skip ;; esac
	done
	}
	rc=$(cat /tmp/.fpgadma-rc 2>/dev/null || echo 255)
	if [ -f /tmp/.fpgadma-cases ]; then
		while read -r r; do
			n=$((n + 1))
			case $r in
			pass) pass=$((pass + 1)) ;;
			fail) fail=$((fail + 1)) ;;
			skip) skip=$((skip + 1)) ;;
			esac
		done < /tmp/.fpgadma-cases
		rm -f /tmp/.fpgadma-cases
	fi
	cd /
	rm -rf "$work"
}

run_test() {
	name=$1
	echo "# --- $name"
	if [ ! -x "/tests/$name" ]; then
		echo "# /tests/$name is missing"
		tap_fail "$name"
		return
	fi
	if [ "$module_loaded" = 0 ] && [ "$allow_no_module" != 1 ]; then
		echo "# not run: the fpgadma modules are not loaded"
		tap_fail "$name"
		return
	fi
	t0=$(uptime_s)
	case_check=$name
	run_prog '# ' "/tests/$name"
	t1=$(uptime_s)
	# Everything about a test comes before its TAP line.
	echo "# time $name: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"
	case $rc in
	0|77) ;;
	137) echo "# killed (time limit ${timeout} s)" ;;
	*) echo "# exit status $rc" ;;
	esac
	held=$(pins | awk '$1 != $2 { print $1 - $2 }')
	[ -z "$held" ] || echo "# $held pages still pinned after $name exited"
	kmsg
	case $rc in
	0) tap_ok "$name" ;;
	77)
		reason=$(cat /tmp/.fpgadma-skip 2>/dev/null || cat /tmp/.fpgadma-last 2>/dev/null)
		reason=$(echo "$reason" | sed 's/^[[:space:]]*//')
		tap_skip "$name" "${reason:-no reason given}"
		;;
	*) tap_fail "$name" ;;
	esac
}

case $job in
suite)
	if [ "$only" = none ]; then
		list=
	elif [ -n "$only" ]; then
		list=$only
	else
		list=$(cat /tests/vm-tests.list)
	fi
	for t in $list; do
		run_test "$t"
	done
	;;
demo)
	echo "# --- fpgadma_demo"
	echo FPGADMA-DEMO-BEGIN
	# shellcheck disable=SC2086 # one word per argument
	run_prog '' fpgadma_demo $demo_args
	demo_rc=$rc
	# The same device through the libfabric provider, as an HPC code
	# would: fi_mr_reg, fi_write/fi_read, the stream's receives.
	if [ -x /tests/ft-fpga_pstream ]; then
		echo "libfabric: fabtests' fpga_pstream through the fpgadma provider"
		run_prog '' /tests/ft-fpga_pstream
		[ "$rc" = 0 ] || demo_rc=$rc
	else
		echo "libfabric: not shown (no libfabric or no fpga_pstream in this build)"
	fi
	echo "FPGADMA-DEMO-END rc=$demo_rc"
	kmsg
	if [ "$demo_rc" = 0 ]; then tap_ok fpgadma_demo; else tap_fail fpgadma_demo; fi
	;;
bench)
	echo "# --- bench"
	if [ ! -x /bench/guest-bench.sh ]; then
		echo "# /bench/guest-bench.sh is missing (the bench side archive was not appended)"
		tap_fail bench
	elif [ "$module_loaded" = 0 ]; then
		echo "# not run: the fpgadma modules are not loaded"
		tap_fail bench
	else
		echo FPGADMA-BENCH-BEGIN
		# shellcheck disable=SC2086 # one word per argument
		run_prog '' /bench/guest-bench.sh $bench_args
		echo "FPGADMA-BENCH-END rc=$rc"
		kmsg
		if [ "$rc" = 0 ]; then tap_ok bench; else tap_fail bench; fi
	fi
	;;
*)
	tap_fail "job=$job"
	echo "# unknown fpgadma.job=$job (suite, demo or bench)"
	;;
esac

# --- leaks: module unload, pinned pages
echo "# --- rmmod"
if [ "$module_loaded" = 1 ]; then
	# engines first: the core is in use while they are loaded
	if rmmod fpgadma_edu && rmmod fpgadma_soft && rmmod fpgadma_core; then
		kmsg
		tap_ok rmmod
	else
		lsmod | sed 's/^/# /'
		kmsg
		tap_fail rmmod
	fi
else
	tap_skip rmmod "module not loaded"
fi
read -r acquired released <<EOF
$(pins)
EOF
echo "# pins after rmmod (acquired released): $acquired $released"
if [ "$acquired" = "$released" ]; then
	tap_ok pin-balance
else
	echo "# $((acquired - released)) pages still pinned"
	tap_fail pin-balance
fi

# --- the checkers of a debug kernel, where it has them
if [ -e /sys/kernel/debug/kmemleak ]; then
	# Everything the module allocated is freed by now.  kmemleak reports an
	# object older than 5 s found unreferenced and unchanged by two scans.
	echo "# --- kmemleak"
	sleep 5
	if echo scan > /sys/kernel/debug/kmemleak &&
	   echo scan > /sys/kernel/debug/kmemleak; then
		leaks=$(cat /sys/kernel/debug/kmemleak)
		kmsg
		if [ -z "$leaks" ]; then
			tap_ok kmemleak
		else
			echo "$leaks" | sed 's/^/# /'
			echo "# kmemleak: $(echo "$leaks" | grep -c 'unreferenced object') unreferenced objects"
			tap_fail kmemleak
		fi
	else
		kmsg
		echo "# kmemleak does not scan: it turned itself off (see the kernel log)"
		tap_fail kmemleak
	fi
fi
dma_debug=/sys/kernel/debug/dma-api
if [ -r $dma_debug/error_count ] && grep -q 'dma_debug=off' /proc/cmdline; then
	echo "# --- dma-api"
	tap_skip dma-api "dma_debug=off on the command line (the faults configuration)"
elif [ -r $dma_debug/error_count ]; then
	echo "# --- dma-api"
	errors=$(cat $dma_debug/error_count)
	disabled=$(cat $dma_debug/disabled 2>/dev/null || echo N)
	echo "# DMA-API debugging: $errors errors, disabled=$disabled," \
		"$(cat $dma_debug/nr_total_entries 2>/dev/null) entries, $(cat $dma_debug/min_free_entries 2>/dev/null) least free"
	kmsg
	if [ "$errors" = 0 ] && [ "$disabled" = N ]; then
		tap_ok dma-api
	else
		[ "$disabled" = N ] || echo "# DMA-API debugging turned itself off"
		tap_fail dma-api
	fi
fi
if [ -r /proc/lockdep_stats ]; then
	# lockdep turns itself off after its first report or when it runs out
	# of room: the rest of the run went unchecked then.
	echo "# --- lockdep"
	debug_locks=$(awk '$1 == "debug_locks:" { print $2 }' /proc/lockdep_stats)
	kmsg
	if [ "$debug_locks" = 1 ]; then
		tap_ok lockdep
	else
		echo "# lockdep turned itself off (debug_locks=${debug_locks:-?}): see the kernel log"
		tap_fail lockdep
	fi
fi
finish
