#!/usr/bin/env bash
# make bench: every benchmark but one in one VM boot, then the
# forwarding benchmark in a boot of the two-node configuration, and a
# report.
#
# Usage: bench/run-bench.sh [--build-dir DIR] [--module FILE] [--quick]
#                           [--out DIR] [--log-dir DIR] [--no-build]
#                           [--no-twonode | --twonode-only]
#   --build-dir DIR  the build tree (default: the source tree; configured
#                    and built first when it has no Makefile)
#   --module FILE    the core module, the engines beside it (default:
#                    kmod/fpgadma_core.ko of the build tree)
#   --quick          a few sizes and iterations only (a smoke run, minutes)
#   --out DIR        the results folder (default:
#                    <build dir>/bench/results/<YYYY-MM-DD>-<host>)
#   --log-dir DIR    where the VM's console goes (default: the results
#                    folder; the console is kept there as console.log)
#   --no-build       build nothing (make bench has built what it needs)
#   --no-twonode     leave out the second boot (the forwarding benchmark)
#   --twonode-only   only the second boot (make bench-twonode): its files
#                    join what the results folder holds, and the report is
#                    written again from all of them
#
# Steps: scripts/install-deps.sh (installs what is missing, gnuplot and
# perftest among it); configure again when libibverbs or libfabric arrived
# since the last configure; make vm-prereqs; tests/vm/run-suite.sh --job
# bench --config bench (3 GiB, 2 vCPUs, QEMU TCG) running
# bench/guest-bench.sh; the result files out of the console into the
# results folder with host.tsv (this machine); then tests/vm/run-suite.sh
# --job bench --config twonode: two guests of 1 vCPU and 1 GiB each (the
# suite's two-node configuration: two 2-vCPU guests would put four busy
# vCPUs on the build machine's two cores), both running guest-bench.sh's
# forward step (node a's FPGA stream forwarded to node b over tcp and
# verbs, against fi_msg_bw between the same nodes), node a's console giving
# forward.tsv, env-twonode.tsv and skipped-twonode.tsv, and host-twonode.tsv
# (that boot's time and status); about 22 minutes: five rounds of every
# measurement, the report giving their medians (3 minutes with --quick: one
# round, three sizes).
# bench/report.sh writes report.md and the PNG plots there.  The exit
# status is the VM runs' (a benchmark that failed, a kernel warning, pins
# left behind); a slow machine never fails it.
#
# Environment: FPGADMA_VM_TIMEOUT (one boot's limit, here 3600 s by
# default), KERNEL_IMAGE, QEMU and MAKE as for the VM suite.
set -euo pipefail
src_dir=$(cd "$(dirname "$0")/.." && pwd)
build_dir=$src_dir
module=
quick=no
out=
log_dir=
build=yes
boot_bench=yes
boot_twonode=yes

die() { printf 'run-bench: %s\n' "$*" >&2; exit 2; }
step() { printf '==> %s\n' "$*"; }

while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
	--module) module=$2; shift 2 ;;
	--quick) quick=yes; shift ;;
	--out) out=$2; shift 2 ;;
	--log-dir) log_dir=$2; shift 2 ;;
	--no-build) build=no; shift ;;
	--no-twonode) boot_twonode=no; shift ;;
	--twonode-only) boot_bench=no boot_twonode=yes; shift ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done

step "checking packages (scripts/install-deps.sh)"
bash "$src_dir/scripts/install-deps.sh"

make_cmd=${MAKE:-make}
if [ "$build" = yes ]; then
	if [ ! -f "$build_dir/Makefile" ]; then
		step "configuring"
		[ -x "$src_dir/configure" ] || (cd "$src_dir" && ./autogen.sh)
		(cd "$build_dir" && "$src_dir/configure")
	elif { ! grep -q '^BENCH_CPPFLAGS_IBV = ' "$build_dir/Makefile" &&
	       [ -e /usr/include/infiniband/verbs.h ]; } ||
	     { ! grep -q '^BENCH_CPPFLAGS_FI = ' "$build_dir/Makefile" &&
	       [ -e /usr/include/rdma/fabric.h ]; }; then
		step "configuring again: libibverbs or libfabric was installed since"
		(cd "$build_dir" && ./config.status --recheck && ./config.status)
	fi
	step "building what the guest runs (make vm-prereqs)"
	if [ -n "${MAKE:-}" ]; then
		$make_cmd -C "$build_dir" vm-prereqs
	else
		$make_cmd -C "$build_dir" -j"$(nproc)" vm-prereqs
	fi
fi

[ -n "$out" ] || out=$build_dir/bench/results/$(date +%Y-%m-%d)-$(hostname -s 2>/dev/null || hostname)
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -n "$log_dir" ] || log_dir=$out
mkdir -p "$log_dir"
run_base=(bash "$src_dir/tests/vm/run-suite.sh" --build-dir "$build_dir" --job bench
	--log-dir "$log_dir")
[ -z "$module" ] || run_base+=(--module "$module")
export FPGADMA_VM_TIMEOUT=${FPGADMA_VM_TIMEOUT:-3600}
qemu=${QEMU:-qemu-system-x86_64}

# boot CONFIG CONSOLE: the bench job in CONFIG, its guest script's progress
# shown from CONSOLE as it comes; sets boot_rc and boot_secs.
boot() {
	local cfg=$1 console=$2 run_pid t0
	step "booting the $cfg configuration's bench job (console: $console)"
	: > "$console"
	t0=$(date +%s)
	boot_rc=0
	"${run_base[@]}" --config "$cfg" &
	run_pid=$!
	# Progress: the guest script's "bench: " lines and the tables as they come.
	tail -n +1 -F --pid="$run_pid" "$console" 2>/dev/null |
		grep --line-buffered -E '^(bench: |  )' | sed -u 's/\r$//' || true
	wait "$run_pid" || boot_rc=$?
	boot_secs=$(($(date +%s) - t0))
}

# extract CONSOLE: the result files between the marker lines of CONSOLE
# into the results folder (kernel messages that broke into the console
# dropped).
extract() {
	step "extracting the results of ${1##*/} into $out"
	tr -d '\r' < "$1" | awk -v dir="$out" '
		/^FPGADMA-BENCH-FILE-END$/ { if (f) close(f); f = ""; next }
		/^FPGADMA-BENCH-FILE / {
			name = $2
			if (name !~ /^[A-Za-z0-9._-]+$/) { print "run-bench: bad file name " name > "/dev/stderr"; next }
			f = dir "/" name; printf "" > f; files++; next
		}
		f && !/^\[ *[0-9]+\.[0-9]+\] / && !/^kmsg: / { print > f }
		END { printf "run-bench: %d result files\n", files }'
}

# host_tsv CONSOLE SECONDS STATUS: this machine and a boot, for the
# report's header.
host_tsv() {
	printf 'key\tvalue\n'
	printf 'date\t%s\n' "$(date '+%Y-%m-%d %H:%M %Z')"
	printf 'host\t%s\n' "$(hostname -s 2>/dev/null || hostname)"
	printf 'cpu\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	printf 'cores\t%s\n' "$(nproc)"
	printf 'mem_mib\t%s\n' "$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
	printf 'host_kernel\t%s\n' "$(uname -r)"
	printf 'qemu\t%s\n' "$("$qemu" --version 2>/dev/null | head -n 1)"
	# (the console's first line is the command, printf %q's: \, for ,)
	printf 'vm\t%s\n' "$({ sed -n '1s/^# //p' "$1" | grep -o -- '-m [^ ]* -smp [^ ]*' || true; } | sed 's/\\,/,/g')"
	printf 'vm_seconds\t%s\n' "$2"
	printf 'vm_status\t%s\n' "$3"
	printf 'quick\t%s\n' "$quick"
}

if [ "$quick" = yes ]; then
	export FPGADMA_VM_BENCH_ARGS=-q
fi
rc=0
if [ "$boot_bench" = yes ]; then
	console=$log_dir/bench.log
	boot bench "$console"
	[ "$boot_rc" = 0 ] || rc=$boot_rc
	extract "$console"
	[ "$console" -ef "$out/console.log" ] || cp "$console" "$out/console.log"
	host_tsv "$console" "$boot_secs" "$boot_rc" > "$out/host.tsv"
fi
if [ "$boot_twonode" = yes ]; then
	# Both guests run guest-bench.sh's forward step (its default there);
	# node a's console has the results.
	# (the bench VM's initramfs again, when it was just built)
	[ "$boot_bench" = no ] ||
		run_base+=(--initramfs "$build_dir/tests/vm/initramfs.cpio.gz")
	boot twonode "$log_dir/twonode-a.log"
	[ "$boot_rc" = 0 ] || rc=$boot_rc
	extract "$log_dir/twonode-a.log"
	host_tsv "$log_dir/twonode-a.log" "$boot_secs" "$boot_rc" > "$out/host-twonode.tsv"
	# both consoles, as console-twonode-a.log and -b.log
	for n in a b; do
		if [ "$log_dir" -ef "$out" ]; then
			mv "$out/twonode-$n.log" "$out/console-twonode-$n.log"
		else
			cp "$log_dir/twonode-$n.log" "$out/console-twonode-$n.log"
		fi
	done
	# a folder of its own (--twonode-only): the header's machine from it
	[ -f "$out/host.tsv" ] || cp "$out/host-twonode.tsv" "$out/host.tsv"
fi

step "writing the report"
bash "$src_dir/bench/report.sh" "$out"
echo "run-bench: $out/report.md"
exit "$rc"
