#!/usr/bin/env bash
# Boot the test VM in one or more configurations and judge what it reports.
#
# Usage: tests/vm/run-suite.sh [--config NAME]... [--job suite|demo|bench]
#                              [--build-dir DIR] [options]
#   --config NAME      a configuration below; repeatable (default: all of
#                      them)
#   --job suite|demo   run the tests (default) or fpgadma_demo, whose output
#                      alone is then printed, the exit status being its own
#   --job bench        run the benchmarks (bench/guest-bench.sh, with the
#                      initramfs's .bench side archive appended): the check
#                      'bench' passes when they ran; bench/run-bench.sh takes
#                      their results out of the console (use --config bench;
#                      --config twonode: the forwarding benchmark between the
#                      two guests, with the .net archive appended too)
#   --build-dir DIR    the build tree (default: the source tree)
#   --module FILE      the core module to test, the engines beside it
#                      (default: kmod/fpgadma_core.ko)
#   --initramfs FILE   boot this initramfs instead of building one with
#                      mkinitramfs.sh (its test names in FILE.tests)
#   --log-dir DIR      the consoles' directory (default: <build dir>/tests/vm/logs)
#   --allow-no-module  build and boot without the module (trying the harness
#                      only; never for real runs)
#   --list-configs     print the configurations and exit
#
# Configurations (memory, vCPUs, extra kernel arguments):
#   default    1 GiB, 1 vCPU
#   swiotlb    1 GiB, 1 vCPU, swiotlb=force (every DMA mapping bounces)
#   smp2       1 GiB, 2 vCPUs
#   smp4       1 GiB, 4 vCPUs, two soft devices (ndevs=2): the concurrency
#              and isolation tests only
#   faults     1 GiB, 1 vCPU, dma_debug=off: fault_walk, kill_paths,
#              lifecycle_exit (for the debug tier; not in the default list)
#   smallmem   320 MiB, 1 vCPU
#   pressure   1 GiB, 1 vCPU, page_poison=1 movablecore=256M: only the
#              memory-pressure tests (ring_pressure runs only here)
#   edu        256 MiB, 1 vCPU, QEMU's edu PCI device (all memory within its
#              28-bit DMA reach, no IOMMU); the tests target the edu device
#              (fpgadma_soft is loaded with ndevs=0), with -icount
#   iommu      1 GiB, 1 vCPU, q35 with an emulated Intel IOMMU (strict
#              invalidation) and the edu device; the tests target it
#   bench      3 GiB, 2 vCPUs: for the bench job (not in the default list)
#   edu-highmem 1 GiB, 1 vCPU, the edu device without IOMMU, memory beyond
#              its reach, a soft device beside it: only edu_reach and
#              ft-prov_info (fi_info with both engines) run
#   upstream   10 GiB, 2 vCPUs, the soft FPGA: libfabric's own
#              runfabtests.sh -t quick against fpgadma (ft-runfabtests,
#              each of its cases a check), with the .upstream side archive
#              (upstream's fabtests: tests/upstream-fabtests.sh builds them
#              once); a test's time limit 3600 s, the boot's 4200 s (not in
#              the default list)
#   twonode    two guests, node a and node b, each 1 GiB, 1 vCPU (QEMU
#              -smp 1,maxcpus=2: see config_setup), linked by a virtual
#              Ethernet between their QEMU processes (virtio-net, QEMU's
#              dgram netdev on a UDP socket of 127.0.0.1 made for it
#              (link_socket), connected to the other's; 10.77.0.1/24 and
#              10.77.0.2/24),
#              soft-RoCE (rxe0) on it in each: the net-* checks of
#              tests/vm/twonode.list (ping, fi_pingpong, upstream's fi_rma_bw
#              and fi_msg_bw between the nodes over tcp and verbs on rxe0,
#              with the .net side archive; an Open MPI job over both
#              nodes, with .mpi too) and the tests that list names
#              with 'also', on both nodes; the boot's time limit 1800 s
# Each test runs in the configurations its list line names
# (tests/vm-tests.list, fabtests/vm-fabtests.list; <initramfs>.configs), by
# default the general ones: default, swiotlb, smp2, smallmem, edu and iommu,
# where the tests target the edu device or skip saying why.  A
# configuration that runs fabtests boots the initramfs with the side
# archives they need appended (<initramfs>.fabtests, .mpi, .upstream).
#
# Environment:
#   KERNEL_IMAGE               kernel to boot (default: KERNEL_IMAGE of the
#                              build tree's Makefile, else the newest
#                              /boot/vmlinuz-*)
#   QEMU                       emulator (default: qemu-system-x86_64)
#   FPGADMA_VM_APPEND          kernel arguments added in every configuration
#   FPGADMA_VM_APPEND_<NAME>   ... in configuration NAME only (upper case, - as _,
#                              e.g. FPGADMA_VM_APPEND_SWIOTLB)
#   FPGADMA_VM_QEMU_ARGS       QEMU arguments added in every configuration
#   FPGADMA_VM_PARAMS          module parameters, '|' separated (a=1|b=2; the
#                              engines' with their module's prefix:
#                              fpgadma_soft.inline_max=0)
#   FPGADMA_VM_TESTS           run only these tests, '|' separated
#   FPGADMA_VM_TIER            "debug" (make vm-check-debug): leave out the
#                              tests whose list line says nodebug
#   FPGADMA_VM_DEMO_ARGS       arguments of fpgadma_demo, '|' separated
#   FPGADMA_VM_BENCH_ARGS      arguments of bench/guest-bench.sh, '|' separated
#   FPGADMA_VM_TEST_TIMEOUT    time limit of one test in the guest (300 s)
#   FPGADMA_VM_TIMEOUT         time limit of one boot (900 s; upstream 4200 s)
#
# Each boot's console goes to <build dir>/tests/vm/logs/<config>.log (a
# two-node configuration's to <config>-a.log and <config>-b.log, each
# judged as a run of its own, config/a and config/b, both counted; the
# measured figures of the net-* checks, their "result:" lines, are printed
# after them).  A configuration fails when a check reports 'not ok', when
# the guest never printed its FPGADMA-SUITE-DONE marker (crash, hang, time
# limit: the checks it did not report count as failed) or when the kernel
# log shows a WARNING, BUG, oops, "Bad page state", a general protection
# fault, a panic, a call trace or a kmemleak report (check 'kernel-log');
# the OOM killer's report is allowed only during the tests that cause it on
# purpose (oom_tests).  The last line is "N passed, N failed, N skipped"
# over all configurations; the exit status is nonzero when anything failed.
set -euo pipefail

src_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$src_dir
configs=()
job=suite
module=
initramfs=
allow_no_module=no

die() { printf 'run-suite: %s\n' "$*" >&2; exit 2; }

all_configs="default swiotlb smp2 smp4 smallmem pressure faults edu iommu edu-highmem bench upstream twonode"
default_configs="default swiotlb smp2 smp4 smallmem pressure edu iommu edu-highmem twonode"

# config_setup NAME: sets mem, smp, cfg_append, cfg_qemu, cfg_accel (how QEMU
# emulates), cfg_nodes (guests: 1, or 2 linked by a virtual Ethernet, each
# with mem and smp), cfg_params (module parameters, '|' separated),
# cfg_engine (the engine the tests target: soft or edu), cfg_scale (factor for the guest's
# time limits), cfg_boot_timeout (the boot's time limit unless
# FPGADMA_VM_TIMEOUT).  Which tests a configuration runs, the test lists
# say (tests/vm-tests.list, fabtests/vm-fabtests.list).
config_setup() {
	cfg_name=$1
	mem=1G smp=1 cfg_append='' cfg_qemu=() cfg_params='' cfg_engine=soft
	cfg_scale=1 cfg_boot_timeout=900 cfg_nodes=1
	# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
	cfg_accel=(-accel tcg,thread=multi)
	case $1 in
	default) ;;
	swiotlb) cfg_append="swiotlb=force" ;;
	smp2) smp=2 ;;
	smallmem)
		# Small, not starved: the soft device's 64 MiB of on-board
		# memory, the 32 huge pages guest-init reserves (64 MiB) and the
		# unpacked initramfs (20 MiB) come out of it; at 256 MiB the
		# OOM killer took engine_unplug's 16 MiB registration once the
		# suite had grown (2026-12-06).
		mem=320M
		;;
	bench)
		# The benchmarks: room for 256 MiB registrations three ways,
		# a server and a client on two vCPUs.
		mem=3G smp=2
		;;
	upstream)
		# runfabtests.sh -t quick: some 90 cases one after the other,
		# server and client on two vCPUs, each case up to its own 120 s
		# limit (fpgadma.timeout: the whole run is one test).
		# 10 GiB: fi_rdm_atomic's server and client each fill three
		# buffers of 64 x 8 MiB (its window times its largest message
		# size, the buffer, the results and the compare values), 6 GiB
		# in all; at 6 GiB the OOM killer ended both.
		mem=10G smp=2
		cfg_append="fpgadma.timeout=3600"
		cfg_boot_timeout=4200
		;;
	smp4)
		# 4 vCPUs (on however many host cores): the concurrency tests;
		# two soft devices, so that cross_dev can use one's keys on
		# the other.
		smp=4
		cfg_params="fpgadma_soft.ndevs=2"
		;;
	edu|iommu)
		# The edu device's transfers are 100 ms timers of QEMU's virtual
		# clock: with -icount and sleep=off an idle guest jumps to the
		# next timer instead of waiting for it (single-threaded TCG).
		# shellcheck disable=SC2054
		cfg_accel=(-accel tcg -icount shift=0,sleep=off)
		cfg_params="fpgadma_soft.ndevs=0"
		cfg_engine=edu cfg_scale=4
		if [ "$1" = edu ]; then
			# All of memory within the device's 28-bit reach.
			mem=256M
			cfg_qemu=(-device edu)
		else
			cfg_append="intel_iommu=on iommu.strict=1"
			# shellcheck disable=SC2054
			cfg_qemu=(-machine q35,kernel-irqchip=split
				-device intel-iommu,intremap=on,caching-mode=on -device edu)
		fi
		;;
	faults)
		# For the debug kernel: DMA-API debugging off, so that injected
		# allocation failures (fail-nth) cannot switch it off mid-boot.
		cfg_append="dma_debug=off"
		;;
	pressure)
		# Freed pages poisoned and checked when reused (a device write
		# after an unpin shows), a movable zone long-term pins must
		# avoid: the memory-pressure tests only.
		cfg_append="page_poison=1 movablecore=256M"
		;;
	edu-highmem)
		# Memory beyond the device's reach and no IOMMU: registrations
		# on it must fail cleanly; the soft device is there too.
		cfg_qemu=(-device edu)
		cfg_engine=edu
		;;
	twonode)
		# Two guests of 1 vCPU each (on the 2-core build machine) and a
		# link between them (run_nodes); their programs' time limits
		# are their own (tests/vm/guest-twonode.sh).  maxcpus=2, a
		# second vCPU that is never plugged in: TCG translates a guest
		# that can have only one vCPU without its memory barriers
		# (mfence and lock-prefixed instructions become plain code, as
		# no other vCPU could tell), yet QEMU's own thread that serves
		# the virtio NIC's rings works on them beside the vCPU, and
		# virtio's notification handshake needs those barriers.
		# Without them the host lets the guest's load of QEMU's event
		# index pass its store of the ring's index: a kick is lost,
		# QEMU waits for the next one, the guest (its kick given, as it
		# believes) waits for QEMU, and the transmit queue never moves
		# again (node a's kernel: NETDEV WATCHDOG ... transmit queue 0
		# timed out), now and then under soft-RoCE's load.
		smp=1,maxcpus=2
		cfg_nodes=2
		cfg_boot_timeout=1800
		;;
	*) die "unknown configuration '$1' (one of: $all_configs)" ;;
	esac
}

# The configurations a test runs in when its list names none, and what
# "general" stands for in a list (tests/vm-tests.list).
general_configs="default swiotlb smp2 smallmem edu iommu"

# config_tests NAME...: the names of the tests this configuration runs,
# from the arguments (the whole list), in their order: those whose list
# line names it (<initramfs>.configs).  With FPGADMA_VM_TIER=debug (make
# vm-check-debug) not those whose line also says "nodebug": the checks of
# a test program against libfabric's other providers or of MPI over shared
# memory, which run nothing of the module's.
config_tests() {
	local t cfgs
	for t in "$@"; do
		cfgs=${test_configs[$t]:-general}
		cfgs=${cfgs//general/${general_configs// /,}}
		[[ ,$cfgs, == *,"$cfg_name",* ]] || continue
		if [ "${FPGADMA_VM_TIER:-}" = debug ] && [[ ,$cfgs, == *,nodebug,* ]]; then
			continue
		fi
		echo "$t"
	done
	return 0
}

while [ $# -gt 0 ]; do
	case $1 in
	--config) configs+=("$2"); shift 2 ;;
	--job) job=$2; shift 2 ;;
	--build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
	--module) module=$2; shift 2 ;;
	--initramfs) initramfs=$2; shift 2 ;;
	--log-dir) log_dir=$2; shift 2 ;;
	--allow-no-module) allow_no_module=yes; shift ;;
	--list-configs) echo "$all_configs"; exit 0 ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done
case $job in suite|demo|bench) ;; *) die "--job must be suite, demo or bench" ;; esac
# shellcheck disable=SC2206 # the default list is words
[ "${#configs[@]}" -gt 0 ] || configs=($default_configs)
for c in "${configs[@]}"; do config_setup "$c"; done

qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || die "$qemu not found (apt-get install qemu-system-x86)"

kernel=${KERNEL_IMAGE:-}
if [ -z "$kernel" ] && [ -f "$build_dir/Makefile" ]; then
	kernel=$(sed -n 's/^KERNEL_IMAGE = //p' "$build_dir/Makefile" | head -n 1)
fi
if [ -z "$kernel" ]; then
	kernel=$(find /boot -maxdepth 1 -name 'vmlinuz-*' 2>/dev/null | sort -V | tail -n 1)
fi
if [ -z "$kernel" ] || [ ! -r "$kernel" ]; then
	die "no readable kernel image '${kernel}' (set KERNEL_IMAGE or install linux-image-amd64)"
fi

vm_dir=$build_dir/tests/vm
[ -n "${log_dir:-}" ] || log_dir=$vm_dir/logs
mkdir -p "$log_dir"

if [ -z "$initramfs" ]; then
	initramfs=$vm_dir/initramfs.cpio.gz
	mk=(bash "$src_dir/tests/vm/mkinitramfs.sh" --build-dir "$build_dir" --output "$initramfs")
	[ -z "$module" ] || mk+=(--module "$module")
	[ "$allow_no_module" = no ] || mk+=(--no-module)
	[ "$job" = bench ] || mk+=(--no-bench)
	if [ "$job" = demo ]; then
		# No test programs, but the fabtests' side archive with only
		# fpga_pstream: the demo's stream through the libfabric provider.
		demo_lists=$(mktemp -d)
		: > "$demo_lists/tests"
		grep -E '^fpga_pstream[[:space:]]' "$src_dir/fabtests/vm-fabtests.list" \
			> "$demo_lists/fabtests" || true
		"${mk[@]}" --tests-list "$demo_lists/tests" \
			--fabtests-list "$demo_lists/fabtests" --no-upstream-fabtests \
			--twonode-list /dev/null >&2 ||
			{ rm -rf "$demo_lists"; die "could not build the initramfs"; }
		rm -rf "$demo_lists"
	elif ! "${mk[@]}"; then
		echo "run-suite: could not build the initramfs: no configuration booted"
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi
fi
[ -f "$initramfs" ] || die "initramfs $initramfs not found"

# Every test in the initramfs; each configuration runs some of them.
all_tests=()
if [ -f "$initramfs.tests" ]; then
	mapfile -t all_tests < <(grep . "$initramfs.tests")
fi
declare -A test_configs=() test_needs=()
if [ -f "$initramfs.configs" ]; then
	while read -r t c a; do
		[ -n "$t" ] || continue
		[ "$c" = - ] || test_configs[$t]=$c
		test_needs[$t]=${a:-base}
	done < "$initramfs.configs"
fi

# initrd_for NAME...: the initramfs that has what tests NAME... need: the
# base one, or it with side archives appended (built once, next to it):
# .fabtests, then .mpi, .upstream and .net when a test needs them (.net
# after .fabtests, when the build has fabtests: libfabric is there; the
# two-node MPI check, need net-mpi, takes all three of .fabtests, .mpi and
# .net).
initrd_for() {
	local t need_ft=no need_mpi=no need_up=no need_net=no f
	for t in "$@"; do
		case ${test_needs[$t]:-} in
		mpi) need_ft=yes need_mpi=yes ;;
		upstream) need_ft=yes need_up=yes ;;
		fabtests) need_ft=yes ;;
		net)
			need_net=yes
			[ ! -f "$initramfs.fabtests" ] || need_ft=yes
			;;
		net-mpi) need_net=yes need_mpi=yes need_ft=yes ;;
		esac
	done
	if [ "$need_ft" = no ] && [ "$need_net" = no ]; then echo "$initramfs"; return; fi
	f=$initramfs.with
	[ "$need_ft" = no ] || f=$initramfs.with-fabtests
	[ "$need_mpi" = no ] || f=$initramfs.with-mpi
	[ "$need_up" = no ] || f+=-upstream
	[ "$need_net" = no ] || f+=-net
	if [ ! -f "$f" ] || [ "$f" -ot "$initramfs" ]; then
		cat "$initramfs" > "$f.tmp"
		[ "$need_ft" = no ] || cat "$initramfs.fabtests" >> "$f.tmp"
		[ "$need_mpi" = no ] || cat "$initramfs.mpi" >> "$f.tmp"
		[ "$need_up" = no ] || cat "$initramfs.upstream" >> "$f.tmp"
		[ "$need_net" = no ] || cat "$initramfs.net" >> "$f.tmp"
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# initrd_demo: the demo's initramfs with its fabtests' side archive
# (libfabric, the provider, fpga_pstream), built once next to it.
initrd_demo() {
	local f=$initramfs.with-fabtests
	if [ ! -f "$f" ] || [ "$f" -ot "$initramfs" ]; then
		cat "$initramfs" "$initramfs.fabtests" > "$f.tmp"
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# initrd_bench: the initramfs with the fabtests' side archive (libfabric,
# the provider) and the bench job's appended (built once, next to it).
initrd_bench() {
	local f=$initramfs.with-bench
	[ -f "$initramfs.bench" ] ||
		die "$initramfs.bench not found: build bench/reg_bench first (make)"
	if [ ! -f "$f" ] || [ "$f" -ot "$initramfs" ]; then
		cat "$initramfs" > "$f.tmp"
		[ ! -f "$initramfs.fabtests" ] || cat "$initramfs.fabtests" >> "$f.tmp"
		cat "$initramfs.bench" >> "$f.tmp"
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# initrd_bench_net: initrd_bench's with the two-node checks' side archive
# (the link's modules, tests/vm/guest-twonode.sh, upstream's fi_msg_bw,
# fabtests/fpga_forward) appended: the bench job of a two-node
# configuration (the forward step of bench/guest-bench.sh).
initrd_bench_net() {
	local f=$initramfs.with-bench-net b
	[ -f "$initramfs.net" ] ||
		die "$initramfs.net not found: the two-node checks' side archive (tests/vm/twonode.list) was not built"
	b=$(initrd_bench)
	if [ ! -f "$f" ] || [ "$f" -ot "$b" ]; then
		cat "$b" "$initramfs.net" > "$f.tmp"
		mv "$f.tmp" "$f"
	fi
	echo "$f"
}

# Kernel log lines that fail a run (kmemleak reports come as "unreferenced
# object"; lockdep's as WARNING or BUG, or "INFO: trying to register
# non-static key" with a call trace; DMA-API debugging's as a WARNING with
# "DMA-API: <driver> <device>: ", else as "DMA-API: device driver ..." or
# its running out of memory).  Test output ('# ' lines) is only looked at
# where a kernel message with its timestamp broke into it.
kernel_bad='WARNING:|BUG:|Oops|Bad page state|general protection fault|Kernel panic|Call Trace:|unreferenced object|suspected memory leak|UBSAN:|KASAN:|INFO: task .* blocked|rcu: INFO|DMAR: [[]DMA (Write|Read)'
kernel_bad+='|pagealloc: memory corruption|INFO: trying to register non-static key|DMA-API: [^ ]+ [^ ]+: |DMA-API: device driver|DMA-API: .*(out of memory|ENOMEM)|memory leak detector disabled'
# Tests that run the OOM killer on purpose (its report is theirs to make).
oom_tests="kill_paths"
# Tests that map one page for the device more than 7 times at once.
overlap_tests="ft-mr_reg"
# Tests that make kernel allocations fail on purpose (fail-nth).
alloc_fail_tests="fault_walk"

total_pass=0 total_fail=0 total_skip=0
status=0

# run_config NAME
run_config() {
	local cfg=$1 log append var extra_append t0 t1 rc params tests initrd
	config_setup "$cfg"
	log=$log_dir/$cfg.log

	# The checks a complete run reports: insmod, the tests (or the demo),
	# rmmod, pin-balance.
	expected_names=()
	tests=
	if [ "$job" = demo ]; then
		expected_names=(fpgadma_demo)
	elif [ "$job" = bench ]; then
		expected_names=(bench)
	elif [ -n "${FPGADMA_VM_TESTS:-}" ]; then
		mapfile -t expected_names < <(tr '|' '\n' <<<"$FPGADMA_VM_TESTS" | grep .)
		tests=$FPGADMA_VM_TESTS
	else
		mapfile -t expected_names < <(config_tests ${all_tests[@]+"${all_tests[@]}"})
		if [ "${#expected_names[@]}" -ne "${#all_tests[@]}" ]; then
			tests=$(IFS='|'; echo "${expected_names[*]}")
			# No test at all: guest-init reads '-' as none.
			[ -n "$tests" ] || tests=-
		fi
	fi
	expected=$((${#expected_names[@]} + 3))
	if [ "$job" = bench ] && [ "$cfg_nodes" -gt 1 ]; then
		initrd=$(initrd_bench_net)
	elif [ "$job" = bench ]; then
		initrd=$(initrd_bench)
	elif [ "$job" = demo ] && [ -f "$initramfs.fabtests" ]; then
		initrd=$(initrd_demo)
	else
		initrd=$(initrd_for ${expected_names[@]+"${expected_names[@]}"})
	fi
	params=$cfg_params
	[ -z "${FPGADMA_VM_PARAMS:-}" ] || params+="${params:+|}$FPGADMA_VM_PARAMS"

	var=FPGADMA_VM_APPEND_$(tr '[:lower:]-' '[:upper:]_' <<<"$cfg")
	extra_append=${!var:-}
	append="console=ttyS0 tsc=reliable panic=-1 loglevel=4 fpgadma.job=$job fpgadma.config=$cfg"
	[ -z "$cfg_append" ] || append+=" $cfg_append"
	[ -z "$params" ] || append+=" fpgadma.params=$params"
	[ -z "$tests" ] || append+=" fpgadma.tests=$tests"
	[ "$cfg_engine" = soft ] || append+=" fpgadma.test_engine=$cfg_engine"
	[ "$cfg_scale" = 1 ] || append+=" fpgadma.time_scale=$cfg_scale"
	[ -z "${FPGADMA_VM_DEMO_ARGS:-}" ] || append+=" fpgadma.demo_args=$FPGADMA_VM_DEMO_ARGS"
	[ -z "${FPGADMA_VM_BENCH_ARGS:-}" ] || append+=" fpgadma.bench_args=$FPGADMA_VM_BENCH_ARGS"
	[ -z "${FPGADMA_VM_TEST_TIMEOUT:-}" ] || append+=" fpgadma.timeout=$FPGADMA_VM_TEST_TIMEOUT"
	[ "$allow_no_module" = no ] || append+=" fpgadma.allow_no_module=1"
	[ -z "${FPGADMA_VM_APPEND:-}" ] || append+=" $FPGADMA_VM_APPEND"
	[ -z "$extra_append" ] || append+=" $extra_append"

	if [ "$cfg_nodes" -gt 1 ]; then
		run_nodes "$cfg" "$initrd" "$append"
		return
	fi
	qemu_cmd "$initrd" "$append"

	[ "$job" = demo ] || echo "config $cfg: booting ${kernel##*/} (-m $mem -smp $smp${cfg_append:+, $cfg_append}); console in ${log#"$build_dir"/}"
	{ printf '#'; printf ' %q' "${cmd[@]}"; printf '\n'; } > "$log"
	t0=$(date +%s)
	rc=0
	"${cmd[@]}" < /dev/null >> "$log" 2>&1 || rc=$?
	t1=$(date +%s)
	judge "$cfg" "$log" "$rc" $((t1 - t0))
}

# qemu_cmd INITRD APPEND [QEMU ARGS...]: sets cmd, the command that boots
# the guest of the configuration set up (config_setup).
qemu_cmd() {
	local initrd=$1 append=$2
	shift 2
	# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
	cmd=(timeout -k 10 "${FPGADMA_VM_TIMEOUT:-$cfg_boot_timeout}" "$qemu"
		"${cfg_accel[@]}" -cpu qemu64 -m "$mem" -smp "$smp"
		-nographic -no-reboot -nic none -vga none
		"${cfg_qemu[@]}" "$@"
		-kernel "$kernel" -initrd "$initrd" -append "$append")
	# shellcheck disable=SC2206 # word splitting is the point
	[ -z "${FPGADMA_VM_QEMU_ARGS:-}" ] || cmd+=($FPGADMA_VM_QEMU_ARGS)
}

# free_port: a port below the ephemeral range that no TCP or UDP socket of
# this machine uses.
free_port() {
	local used p
	used=$(awk 'FNR > 1 { split($2, a, ":"); print a[2] }' /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null)
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 12000))
		grep -qx "$(printf '%04X' "$p")" <<<"$used" || { echo "$p"; return 0; }
	done
	die "no free port found for the link between the guests"
}

# The receive buffer of each guest's link socket (bytes; the kernel
# doubles it): room for a few MiB of frames the other guest sent while
# this one was busy.  Without it (the system's 208 KiB) an RDMA read's
# response, a thousand frames in one burst from soft-RoCE, overflowed the
# socket, each loss cost soft-RoCE a retransmission timeout, and a run of
# them ended a QP (retry exceeded): fi_pingpong's 1 MiB round trip over
# verbs took 2 to 4 s, and sometimes failed.
link_rcvbuf=$((8 << 20))

# link_socket LPORT RPORT CMD...: run CMD with a UDP socket bound to
# 127.0.0.1:LPORT and connected to 127.0.0.1:RPORT as its file descriptor 3,
# its receive buffer link_rcvbuf (SO_RCVBUFFORCE as root, else SO_RCVBUF
# up to net.core.rmem_max): QEMU's own UDP socket netdev cannot size its
# socket, its dgram netdev takes one made for it (local.type=fd).
# shellcheck disable=SC2317 # called through the cmd_a and cmd_b arrays
link_socket() {
	perl -MSocket -MFcntl -MPOSIX=dup2 -e '
		my ($lport, $rport, $buf, @cmd) = @ARGV;
		socket(my $s, PF_INET, SOCK_DGRAM, 0) or die "socket: $!\n";
		setsockopt($s, SOL_SOCKET, SO_RCVBUFFORCE, $buf) or
			setsockopt($s, SOL_SOCKET, SO_RCVBUF, $buf) or die "SO_RCVBUF: $!\n";
		bind($s, pack_sockaddr_in($lport, INADDR_LOOPBACK)) or
			die "bind 127.0.0.1:$lport: $!\n";
		connect($s, pack_sockaddr_in($rport, INADDR_LOOPBACK)) or
			die "connect 127.0.0.1:$rport: $!\n";
		fileno($s) == 3 or dup2(fileno($s), 3) or die "dup2: $!\n";
		open(my $fd3, "+<&=", 3) or die "fd 3: $!\n";
		fcntl($fd3, F_SETFD, 0) or die "fcntl: $!\n";
		exec { $cmd[0] } @cmd or die "$cmd[0]: $!\n";
	' "$1" "$2" "$link_rcvbuf" "${@:3}"
}

# run_nodes NAME INITRD APPEND: boot the two guests of a two-node
# configuration, each with a virtio NIC on a QEMU dgram netdev whose UDP
# socket (link_socket) sends its guest's frames to the other's port of
# 127.0.0.1.  Datagrams that find the other side's receive ring full (under
# soft-RoCE's load, or its link set down) are dropped, which TCP and
# soft-RoCE recover from, rather than held back as a stream (the TCP mode)
# holds them.  The transmit queue that stalled for good under load (NETDEV
# WATCHDOG), in either mode, was a lost virtio notification, not the
# socket: see the twonode case of config_setup.  The guests learn their node,
# address and peer from the kernel command line (guest-init.sh); the
# net-* checks set the link up (tests/vm/guest-twonode.sh).  Each node's
# console is judged as a run of its own (NAME/a, NAME/b).
run_nodes() {
	local cfg=$1 initrd=$2 append=$3 port='' port_b='' n attempt t0 ta tb
	local log_a=$log_dir/$cfg-a.log log_b=$log_dir/$cfg-b.log
	local pid_a='' pid_b='' rc_a=0 rc_b=0 res
	local -a cmd_a=() cmd_b=()
	[ "$job" != demo ] || die "configuration $cfg runs the suite or the benchmarks (--job suite or bench)"
	# shellcheck disable=SC2064 # the pids as they are now
	trap 'kill $pid_a $pid_b 2>/dev/null; exit 130' INT TERM
	for attempt in 1 2 3; do
		port=$(free_port)
		port_b=$(free_port)
		[ "$port" != "$port_b" ] || continue
		# shellcheck disable=SC2054 # commas belong to QEMU's option syntax
		qemu_cmd "$initrd" "$append fpgadma.node=a fpgadma.addr=10.77.0.1/24 fpgadma.peer=10.77.0.2" \
			-netdev "dgram,id=link,local.type=fd,local.str=3" \
			-device "virtio-net-pci,netdev=link,mac=52:54:00:77:00:01,speed=10000,duplex=full,romfile="
		cmd_a=(link_socket "$port" "$port_b" "${cmd[@]}")
		# shellcheck disable=SC2054
		qemu_cmd "$initrd" "$append fpgadma.node=b fpgadma.addr=10.77.0.2/24 fpgadma.peer=10.77.0.1" \
			-netdev "dgram,id=link,local.type=fd,local.str=3" \
			-device "virtio-net-pci,netdev=link,mac=52:54:00:77:00:02,speed=10000,duplex=full,romfile="
		cmd_b=(link_socket "$port_b" "$port" "${cmd[@]}")
		[ "$attempt" -gt 1 ] || echo "config $cfg: booting ${kernel##*/} (2 guests, each -m $mem -smp $smp${cfg_append:+, $cfg_append}), linked by UDP 127.0.0.1:$port <-> 127.0.0.1:$port_b; consoles in ${log_a#"$build_dir"/}, ${log_b#"$build_dir"/}"
		{ printf '#'; printf ' %q' "${cmd_a[@]}"; printf '\n'; } > "$log_a"
		{ printf '#'; printf ' %q' "${cmd_b[@]}"; printf '\n'; } > "$log_b"
		t0=$(date +%s)
		"${cmd_a[@]}" < /dev/null >> "$log_a" 2>&1 &
		pid_a=$!
		"${cmd_b[@]}" < /dev/null >> "$log_b" 2>&1 &
		pid_b=$!
		sleep 2
		if kill -0 "$pid_a" 2>/dev/null && kill -0 "$pid_b" 2>/dev/null; then
			break
		fi
		# A QEMU gone at once: a taken port (another socket got it
		# first: retry), or another failure.
		kill "$pid_a" "$pid_b" 2>/dev/null || true
		wait "$pid_a" || rc_a=$?
		wait "$pid_b" || rc_b=$?
		grep -q 'Address already in use' "$log_a" "$log_b" || break
		rc_a=0 rc_b=0
	done
	wait "$pid_b" || rc_b=$?
	tb=$(date +%s)
	if [ -n "$pid_a" ] && kill -0 "$pid_a" 2>/dev/null; then
		wait "$pid_a" || rc_a=$?
	fi
	ta=$(date +%s)
	trap - INT TERM
	judge "$cfg/a" "$log_a" "$rc_a" $((ta - t0))
	judge "$cfg/b" "$log_b" "$rc_b" $((tb - t0))
	# "# result: CHECK node N: SIZE bytes RATE MB/s USEC usec/xfer", one
	# line a check and size with both nodes' figures
	res=$(cat "$log_a" "$log_b" | tr -d '\r' | awk '
		$1 == "#" && $2 == "result:" && $4 == "node" {
			k = $3 " " $6 " B:"
			if (!(k in line)) { order[++n] = k; line[k] = "" }
			line[k] = line[k] sprintf(" node %s %s MB/s %s us/xfer;", substr($5, 1, 1), $8, $10)
		}
		END { for (i = 1; i <= n; i++) printf "    %s%s\n", order[i], substr(line[order[i]], 1, length(line[order[i]]) - 1) }')
	[ -z "$res" ] || printf '  measured between the nodes (each node its program'"'"'s figures):\n%s\n' "$res"
	n=$((ta > tb ? ta - t0 : tb - t0))
	echo "config $cfg: both nodes done in $n s"
}

# judge NAME LOG QEMU_STATUS SECONDS: count the results of one boot.
judge() {
	local cfg=$1 log=$2 qrc=$3 secs=$4 clean pass fail skip done_line missing bad
	clean=$(tr -d '\r' < "$log")
	pass=$(grep -E '^ok [0-9]+ - ' <<<"$clean" | grep -c -v ' # SKIP' || true)
	skip=$(grep -E -c '^ok [0-9]+ - .* # SKIP' <<<"$clean" || true)
	fail=$(grep -E -c '^not ok [0-9]+ - ' <<<"$clean" || true)
	done_line=$(grep -E '^FPGADMA-SUITE-DONE ' <<<"$clean" | tail -n 1 || true)
	local -a failed_names=()
	mapfile -t failed_names < <(sed -n -E 's/^not ok [0-9]+ - //p' <<<"$clean")

	# The guest's own counts hold over the TAP lines seen, should a kernel
	# message have broken into one of them.
	if [[ $done_line =~ pass=([0-9]+)\ fail=([0-9]+)\ skip=([0-9]+) ]]; then
		pass=${BASH_REMATCH[1]} fail=${BASH_REMATCH[2]} skip=${BASH_REMATCH[3]}
	fi
	missing=0
	if [ -z "$done_line" ]; then
		missing=$((expected - pass - skip - fail))
		[ "$missing" -ge 1 ] || missing=1
		local why=crashed
		if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
			why="hit the time limit (${FPGADMA_VM_TIMEOUT:-$cfg_boot_timeout} s)"
		elif [ "$qrc" -ne 0 ]; then
			why="stopped (QEMU exit status $qrc)"
		fi
		failed_names+=("no FPGADMA-SUITE-DONE: the guest $why $(running_check "$clean"); $missing checks unreported")
		fail=$((fail + missing))
	fi

	# The OOM killer's report (a call trace among it) is expected of the
	# tests in oom_tests, which make it happen on purpose; anywhere else it
	# fails the run like any other trace.
	# Likewise DMA-API debugging's one-time warning that more than 7
	# device-writable mappings cover a cacheline, during the tests in
	# overlap_tests, which register the same memory many times over as
	# verbs allows (leaked mappings show in pin-balance and kmemleak).
	# And the allocation-failure report (vmalloc error, page allocation
	# failure) that fault_walk's injected failures cause: from its first
	# line to the end of that test's messages.
	bad=$(awk -v re="$kernel_bad" -v oom_tests=" $oom_tests " \
		  -v overlap_tests=" $overlap_tests " -v alloc_fail_tests=" $alloc_fail_tests " '
		# "# --- NAME" starts a check (a test printing "--- words" does not)
		/^# --- [^ ]+$/ { test = substr($0, 7); during = " (during " test ")"; in_oom = 0; in_ov = 0; in_af = 0 }
		/vmalloc error:|page allocation failure:/ && index(alloc_fail_tests, " " test " ") { in_af = 1 }
		in_af { next }
		/invoked oom-killer:/ && index(oom_tests, " " test " ") { in_oom = 1 }
		in_oom && /Out of memory: Killed process/ { in_oom = 0; next }
		in_oom { next }
		/DMA-API: exceeded 7 overlapping mappings of cacheline/ &&
			index(overlap_tests, " " test " ") { in_ov = 1 }
		in_ov && /---\[ end trace/ { in_ov = 0; next }
		in_ov { next }
		$0 !~ re { next }
		/^(ok|not ok) [0-9]+ - / { next }
		/^# / && !/\[ *[0-9]+\.[0-9]+\] / { next }
		{ print NR during ": " $0 }' <<<"$clean")
	if [ -n "$bad" ]; then
		fail=$((fail + 1))
		failed_names+=("kernel-log")
	else
		pass=$((pass + 1))
	fi

	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	[ "$fail" -eq 0 ] || status=1

	if [ "$job" = demo ]; then
		demo_report "$clean"
		if [ "$fail" -gt 0 ]; then
			{
				echo "demo: the VM run was not clean (${failed_names[*]}); console in ${log#"$build_dir"/}"
				[ -z "$bad" ] || { echo "kernel log:"; head -n 40 <<<"$bad" | sed 's/^/  /'; }
			} >&2
		fi
		return
	fi

	echo "config $cfg: $pass passed, $fail failed, $skip skipped (${secs} s)"
	local name
	for name in ${failed_names[@]+"${failed_names[@]}"}; do
		echo "  FAILED: $name"
		[ "$name" != kernel-log ] || continue
		show_test_output "$clean" "$name"
	done
	if [ -n "$bad" ]; then
		echo "  kernel log of $cfg (console line, check: text):"
		head -n 40 <<<"$bad" | sed 's/^/    /'
		[ "$(wc -l <<<"$bad")" -le 40 ] || echo "    ..."
	fi
	if [ -z "$done_line" ]; then
		echo "  last console lines:"
		tail -n 25 <<<"$clean" | sed 's/^/    /'
	fi
}

# running_check CONSOLE: "during NAME", NAME being the first check the
# guest did not report.
running_check() {
	local name
	if ! grep -E -q '^(not )?ok [0-9]+ - insmod' <<<"$1"; then
		echo "during insmod"
		return
	fi
	for name in ${expected_names[@]+"${expected_names[@]}"}; do
		if ! grep -E -q "^(not )?ok [0-9]+ - $name( # SKIP.*)?\$" <<<"$1"; then
			echo "during $name"
			return
		fi
	done
	echo "after the tests"
}

# show_test_output CONSOLE NAME: what a failed check printed between its
# "# --- NAME" line and its TAP line (the last 40 lines of it).
show_test_output() {
	awk -v name="$2" '
		/^# --- / { nbuf = 0; next }
		/^(ok|not ok) [0-9]+ - / {
			if ($0 ~ /^not ok/ && substr($0, index($0, " - ") + 3) == name) {
				first = nbuf > 40 ? nbuf - 39 : 1
				for (i = first; i <= nbuf; i++) print "    " buf[i]
				exit
			}
			nbuf = 0
			next
		}
		/^(# |kmsg: )/ { buf[++nbuf] = $0 }
	' <<<"$1"
}

# demo_report CONSOLE: print fpgadma_demo's output, take its exit status.
demo_report() {
	local rc_line
	awk '
		/^FPGADMA-DEMO-BEGIN/ { on = 1; next }
		/^FPGADMA-DEMO-END/ { on = 0; next }
		on && !/^\[ *[0-9]+\.[0-9]+\] / && !/^kmsg: / { print }
	' <<<"$1"
	rc_line=$(grep -E '^FPGADMA-DEMO-END rc=[0-9]+' <<<"$1" | tail -n 1 || true)
	if [ -z "$rc_line" ]; then
		echo "demo: fpgadma_demo did not finish" >&2
		demo_rc=1
	else
		demo_rc=${rc_line#FPGADMA-DEMO-END rc=}
	fi
}

demo_rc=0
for c in "${configs[@]}"; do
	run_config "$c"
done

if [ "$job" = demo ]; then
	if [ "$demo_rc" -ne 0 ]; then exit "$demo_rc"; fi
	exit "$status"
fi
echo "$total_pass passed, $total_fail failed, $total_skip skipped"
exit "$status"
