#!/bin/sh
# /init of the test VM (busybox sh): set the guest up, load fpgadma.ko, run
# the job, report, power off.  Built into the initramfs by mkinitramfs.sh and
# driven by tests/vm/run-suite.sh through the kernel command line:
#
#   fpgadma.job=suite        run the tests of /tests/vm-tests.list (default)
#   fpgadma.job=demo         run fpgadma_demo
#   fpgadma.params=a=1|b=2   module parameters for insmod, separated by '|'
#                            (so that array values keep their commas:
#                            fpgadma.params=x=1,2|y=3 gives insmod x=1,2 y=3)
#   fpgadma.tests=t1|t2      run only these tests (default: the whole list)
#   fpgadma.demo_args=a|b    arguments for fpgadma_demo, separated by '|'
#   fpgadma.timeout=SECS     time limit of one test (default 300)
#   fpgadma.config=NAME      name of the VM configuration, exported to the
#                            tests as FPGADMA_VM_CONFIG
#   fpgadma.allow_no_module=1  a missing /fpgadma.ko is skipped instead of
#                            failed (only for trying the harness itself)
#
# Output on the console (ttyS0), one TAP line per check:
#   ok N - name | not ok N - name | ok N - name # SKIP reason
# The checks are insmod, every test, rmmod (must succeed) and pin-balance
# (/proc/vmstat nr_foll_pin_acquired == nr_foll_pin_released after rmmod).
# A test passes with exit status 0 and is skipped with 77: the skip reason is
# its last output line starting with "SKIP:", else its last line.  Each check
# starts with a line "# --- NAME"; test output follows with '# ' before each
# line, then the kernel log lines the check caused, with 'kmsg: ' before
# them (the console itself shows only messages more urgent than warnings),
# then the TAP line.  The demo's output stands as it is between
# FPGADMA-DEMO-BEGIN and FPGADMA-DEMO-END rc=N.  Last come the plan (1..N)
# and the marker line FPGADMA-SUITE-DONE pass=P fail=F skip=S, then the
# guest powers off.  Without the marker the host counts the run as crashed.
#
# A test runs as root in a fresh directory under /tmp (tmpfs), stdin from
# /dev/null, with FPGADMA_VM=1 and FPGADMA_VM_CONFIG set, /dev/fpgadma*
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
timeout=300
config=
allow_no_module=0
set -f
# shellcheck disable=SC2013 # the command line is words
for arg in $(cat /proc/cmdline); do
	val=$(echo "${arg#*=}" | tr -d '"')
	case $arg in
	fpgadma.job=*) job=$val ;;
	fpgadma.params=*) params=$(echo "$val" | tr '|' ' ') ;;
	fpgadma.tests=*) only=$(echo "$val" | tr '|' ' ') ;;
	fpgadma.demo_args=*) demo_args=$(echo "$val" | tr '|' ' ') ;;
	fpgadma.timeout=*) timeout=$val ;;
	fpgadma.config=*) config=$val ;;
	fpgadma.allow_no_module=*) allow_no_module=$val ;;
	esac
done
set +f
export FPGADMA_VM=1 FPGADMA_VM_CONFIG="$config"

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
echo "# fpgadma guest: job=$job config=${config:-?} kernel $(uname -r), $(nproc) cpu(s), $(awk '/^MemTotal/ { print int($2 / 1024) " MiB" }' /proc/meminfo)"
echo "# pins before insmod (acquired released): $(pins)"

# --- the module (and what it depends on)
module_loaded=0
while read -r m; do
	insmod "/modules/$m" || echo "# insmod /modules/$m failed"
done < /modules/load-order
echo "# --- insmod"
if [ -f /fpgadma.ko ]; then
	# shellcheck disable=SC2086 # one word per parameter
	if insmod /fpgadma.ko $params; then
		module_loaded=1
		chmod 666 /dev/fpgadma* 2>/dev/null
		for dev in /dev/fpgadma*; do [ -e "$dev" ] && echo "# $dev"; done
	fi
	kmsg
	if [ "$module_loaded" = 1 ]; then
		tap_ok "insmod${params:+ $params}"
	else
		tap_fail "insmod${params:+ $params}"
	fi
elif [ "$allow_no_module" = 1 ]; then
	kmsg
	tap_skip insmod "no /fpgadma.ko (fpgadma.allow_no_module=1)"
else
	kmsg
	echo "# /fpgadma.ko is missing from the initramfs"
	tap_fail insmod
fi

# run_prog PREFIX PROGRAM [ARGS...]: run with the time limit in a fresh
# directory, each output line passed through after PREFIX;
# sets rc and the files /tmp/.fpgadma-last and /tmp/.fpgadma-skip.
run_prog() {
	prefix=$1
	shift
	work=/tmp/work.$n
	mkdir -p "$work"
	rm -f /tmp/.fpgadma-rc /tmp/.fpgadma-last /tmp/.fpgadma-skip
	( cd "$work" && timeout -s KILL "$timeout" "$@" </dev/null 2>&1
	  echo $? > /tmp/.fpgadma-rc ) |
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s%s\n' "$prefix" "$line"
		printf '%s\n' "$line" > /tmp/.fpgadma-last
		case $line in SKIP:*) printf '%s\n' "${line#SKIP:}" > /tmp/.fpgadma-skip ;; esac
	done
	rc=$(cat /tmp/.fpgadma-rc 2>/dev/null || echo 255)
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
		echo "# not run: fpgadma.ko is not loaded"
		tap_fail "$name"
		return
	fi
	t0=$(uptime_s)
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
	if [ -n "$only" ]; then
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
	echo "FPGADMA-DEMO-END rc=$rc"
	kmsg
	if [ "$rc" = 0 ]; then tap_ok fpgadma_demo; else tap_fail fpgadma_demo; fi
	;;
*)
	tap_fail "job=$job"
	echo "# unknown fpgadma.job=$job (suite or demo)"
	;;
esac

# --- leaks: kmemleak (debug kernels), module unload, pinned pages
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	sleep 1
	echo scan > /sys/kernel/debug/kmemleak
	sed 's/^/kmemleak: /' /sys/kernel/debug/kmemleak
fi
echo "# --- rmmod"
if [ "$module_loaded" = 1 ]; then
	if rmmod fpgadma; then
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
finish
