#!/bin/sh
# The benchmarks of issue 5, run inside the VM by the bench job
# (tests/vm/guest-init.sh with fpgadma.job=bench; busybox sh, the modules
# loaded).  Usage: guest-bench.sh [-q] [--only=STEP,...]
#   -q            a few sizes and iterations only
#   --only=LIST   run only these steps (names below; env always runs)
#   --forward-prov=LIST  the forward step's network providers (default
#                 tcp,verbs)
#   --forward-rounds=N   the forward step's rounds (default 5, 1 with -q)
#   --forward-sizes=LIST the forward step's frame sizes (bytes, default
#                 4096,16384,65536,262144,1048576; -q 4096,65536,1048576)
#   --forward-slots=N    the sender's ring: N slots at every size (default
#                 8 MiB of frames, 64 to 1024 slots)
#
# Steps, each measured in this one boot so their ratios mean something:
#   env          the guest: kernel, vCPUs, memory, THP mode, the device
#   rxe          soft-RoCE on loopback: the modules from /modules/bench
#                (crc32_generic before rdma_rxe), rdma link add rxe_lo
#   reg          bench/reg_bench: libfpgadma, libfpgadma+mon (the memory
#                monitor), fi_mr_reg with the provider's cache off (cold) and
#                its cache hits (FI_FPGADMA_MR_CACHE=1), ibv_reg_mr on rxe;
#                and the munmap rows: mmap+munmap of 64 KiB no MR covers with
#                0 and 1000 monitored MRs (all in reg.tsv)
#   rma-fpga     fabtests/bench_rma -p fpgadma -m fpga: device reads and
#                writes against memcpy, small-op latency and rate (small
#                ones through the device memory mapped into the process,
#                the provider's default)
#   rma-fpga-engine  the same small operations (-S) with
#                FI_FPGADMA_MEM_MAP_MAX=0: every one through the DMA engine
#   host-fpgadma, host-shm   bench_rma -m host with -p fpgadma and -p shm
#   pingpong     bench_rma -m host -P (the ping-pong only, 8 B .. 64 KiB)
#                with -p fpgadma, the same with FI_FPGADMA_CHAN=0 (every
#                message through the kernel: fpgadma-kernel) and -p shm in
#                turn, --pingpong-rounds rounds (5, 1 with -q):
#                pingpong.tsv has each round's rows (test
#                pingpong-PROV#R) and, per size, the median of the rounds
#                (pingpong-PROV)
#   rate         bench_rma -m host -S (the rate rows only: host_read and
#                host_write, 8 B .. 4 KiB, a window in flight) with
#                -p fpgadma and -p shm in turn, as many rounds as the
#                ping-pong: rate.tsv has each round's rows (test
#                host_read@PROV#R, host_write@PROV#R) and, per test and
#                size, the median ops/s of the rounds (TEST@PROV)
#   host-nodesc-cache, host-nodesc-nocache, host-nodesc-shm
#                bench_rma -m host -U (buffers never registered, desc NULL,
#                64 KiB .. 16 MiB) with -p fpgadma and FI_FPGADMA_MR_CACHE=1,
#                then =0, and with -p shm (the anchor)
#   atomic-fpgadma, atomic-shm, atomic-fpga
#                bench_rma -A: 8-byte atomics (fi_atomic, fi_atomicmsg with
#                FI_DELIVERY_COMPLETE, fi_fetch_atomic FI_SUM,
#                fi_compare_atomic FI_CSWAP on one FI_UINT64), one and 64
#                in flight: -m host with -p fpgadma and -p shm (the
#                anchor), and -m fpga (the FPGA's memory, -p fpgadma)
#   stream       bench/stream_bench: paced streams (FPGADMA_CAP_STREAM),
#                the highest frame rate with no drop per frame size (4 KiB,
#                64 KiB, 64 KiB + 123, 1 MiB, 4 MiB), its throughput
#                against memcpy, latency and CPU time per GB; each rate held
#                for 30 s (1 s with -q, which stream.tsv then says); then
#                fabtests/bench_pstream, the same search through the
#                fpgadma provider: -P fi-copy (FI_MULTI_RECV receives,
#                stream-fi-copy.tsv) and -P fi-zc (the zero-copy ring,
#                stream-fi-zc.tsv), each a run of its own (its own time
#                limit; --only=stream-fi-copy or stream-fi-zc runs one alone)
#   mpi          Open MPI, 2 ranks: fabtests/mpi_pingpong -b (ping-pong
#                latency and bandwidth, 1 KiB .. 4 MiB, from buffers the
#                program never registered) through fabtests/mpi-run.sh --run:
#                cm + the ofi MTL on fpgadma with FI_FPGADMA_MR_CACHE=1
#                (mpi-cache), then =0 (mpi-nocache), and ob1 + vader, shared
#                memory (mpi-vader, the anchor); the provider's registration
#                cache counters become notes of the first two
#   rxe-read     perftest's ib_read_bw and ib_read_lat over rxe_lo, 8 B ..
#                4 KiB, server and client in this guest
#   post         bench/post_bench: where a small operation's time goes,
#                without instrumenting it: a system call, an empty ioctl,
#                POST refused after each of its checks, a work request
#                with no bytes, 8 B .. 4 KiB reads and writes of the
#                device's memory through libfpgadma, one in flight
#   stages       the module's per-stage times (debugfs fpgadma/<dev>/stages,
#                parameter stage_timing) over a 1 MiB registration loop and
#                bench_rma's operations of 8 B .. 4 KiB
#   forward      only in a two-node guest (tests/vm/run-suite.sh --job bench
#                --config twonode; there it is the default step, and the
#                result files are named env-twonode.tsv, forward.tsv and
#                skipped-twonode.tsv so that they sit beside the bench VM's):
#                per network provider (tcp, then verbs on rxe0) and frame
#                size (4 KiB, 16 KiB, 64 KiB, 256 KiB, 1 MiB; -q: 4 KiB,
#                64 KiB, 1 MiB), node a to node b over FI_EP_MSG: first the
#                network's own limit, upstream's fi_msg_bw -e msg at that
#                size (node a the client, which sends; a run of about
#                64 MiB, 16 MiB with -q, in windows of 16 MiB; twice,
#                spinning and with -c sread, the higher the limit), then
#                fabtests/fpga_forward zero copy, then --copy, each for 4 s
#                (2 s with -q), a ring of 8 MiB of frames (64 to 1024
#                slots), node a's FPGA stream paced at twice the
#                limit just measured (so that the network, not the source,
#                is what holds it back; the frames the source then drops
#                are counted, not failures).  All of it in rounds (3, 1
#                with -q), a round every size once: one run moves by more
#                than the goal's margin on this machine, the median of
#                three much less.  The pairing is
#                tests/vm/guest-twonode.sh's (both nodes run this step and
#                meet before each run); node a writes forward.tsv: a row
#                per provider, size, run (limit, zero-copy, copy) and round
#                (RUN#R) with MB/s and frames/s delivered and verified at
#                node b, the frames the source produced and lost, node
#                a's CPU seconds per GB (user, system) and, over verbs,
#                soft-RoCE's resends and RNR retries on node a during the
#                run; then the rows of the medians (RUN alone)
# A step whose program or device is missing is skipped with its reason
# (skipped.tsv).  Every result file is printed between the lines
# "FPGADMA-BENCH-FILE NAME" and "FPGADMA-BENCH-FILE-END" for
# bench/run-bench.sh to take out of the console; progress lines start with
# "bench: ".  Exit status 1 when a benchmark failed (wrong data, an error),
# else 0: nothing fails for being slow.
export PATH=/bench:/usr/sbin:/usr/bin:/sbin:/bin
export FI_PROVIDER_PATH=/usr/lib/fpgadma/libfabric

quick=0
only=
fwd_provs="tcp verbs"
fwd_rounds=
pp_rounds=
fwd_sizes_arg=
fwd_slots=
for arg in "$@"; do
	case $arg in
	-q|--quick) quick=1 ;;
	--only=*) only=",${arg#--only=}," ;;
	--forward-prov=*) fwd_provs=$(echo "${arg#--forward-prov=}" | tr ',' ' ') ;;
	--forward-sizes=*) fwd_sizes_arg=$(echo "${arg#--forward-sizes=}" | tr ',' ' ') ;;
	--forward-slots=*) fwd_slots=${arg#--forward-slots=} ;;
	--forward-rounds=*) fwd_rounds=${arg#--forward-rounds=} ;;
	--pingpong-rounds=*) pp_rounds=${arg#--pingpong-rounds=} ;;
	*) echo "guest-bench: unknown argument $arg"; exit 1 ;;
	esac
done
# Numbers of 1 or more, each (--forward-sizes: a list of them).
for v in $fwd_sizes_arg $fwd_slots $fwd_rounds $pp_rounds; do
	case $v in
	*[!0-9]*|0*) echo "guest-bench: --forward-sizes, --forward-slots, --forward-rounds and --pingpong-rounds want numbers of 1 or more, not '$v'"; exit 1 ;;
	esac
done
# A two-node guest (fpgadma.node): the forward step, and result files
# that do not replace the bench VM's (sfx).
node=${FPGADMA_NODE:-}
sfx=
if [ -n "$node" ]; then
	sfx=-twonode
	[ -n "$only" ] || only=,forward,
fi
# want STEP: whether STEP runs (--only).
want() { [ -z "$only" ] || case $only in *",$1,"*) true ;; *) false ;; esac; }
out=/tmp/bench-results
rm -rf "$out"
mkdir -p "$out"
dev=fpgadma${FPGADMA_TEST_DEV:-0}
status=0
# A step's time limit (s): a hung step must not take the others with it.
step_limit=$((1500 * ${FPGADMA_TEST_TIME_SCALE:-1}))

say() { echo "bench: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# emit NAME: print result file NAME between the markers.
emit() {
	[ -f "$out/$1" ] || return 0
	echo "FPGADMA-BENCH-FILE $1"
	cat "$out/$1"
	echo "FPGADMA-BENCH-FILE-END"
}

# skipped STEP REASON
skipped() {
	printf '%s\t%s\n' "$1" "$2" >> "$out/skipped$sfx.tsv"
	say "SKIP $1: $2"
}

# run STEP TSV PROGRAM [ARGS...]: one benchmark program, its output shown,
# its TSV printed when it ran.  Exit 77 is a skip (its "SKIP:" line the
# reason), a kill at the time limit a skip saying so, anything else but 0 a
# failure.  $run_after, when set, is a command run with STEP and TSV after
# a successful run, before the TSV is printed.
run_after=
run() {
	step=$1 tsv=$2
	shift 2
	say "$step: $*"
	t0=$(uptime_s)
	# shown as it comes (the table rows are the progress)
	{ timeout -s KILL "$step_limit" "$@" </dev/null 2>&1; echo $? > "$out/.rc"; } |
		tee "$out/$step.log" | sed 's/^/  /'
	rc=$(cat "$out/.rc")
	say "$step: exit $rc after $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.0f", b - a }') s"
	case $rc in
	0)
		[ -z "$run_after" ] || "$run_after" "$step" "$tsv"
		emit "$tsv"
		;;
	77)
		why=$(sed -n 's/^SKIP: *//p' "$out/$step.log" | tail -n 1)
		skipped "$step" "${why:-exit status 77}"
		;;
	137) skipped "$step" "stopped at its time limit of $step_limit s" ;;
	*)
		skipped "$step" "FAILED (exit status $rc): $(tail -n 1 "$out/$step.log")"
		status=1
		;;
	esac
}

# --- env
# The kernel's random generator: a real machine seeds it at boot; this
# guest has neither RDRAND (qemu64) nor virtio-rng, so it may still be
# unseeded, and an unseeded get_random_u32() (which the module calls for
# every key) costs tens of microseconds under TCG.  Reading /dev/random
# waits for the seeding and makes the kernel generate jitter entropy.
t0=$(uptime_s)
head -c 1 /dev/random > /dev/null
crng_wait=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')
say "env: the kernel's random generator is seeded (waited $crng_wait s)"
{
	printf 'key\tvalue\n'
	printf 'guest_kernel\t%s\n' "$(uname -r)"
	printf 'guest_cpus\t%s\n' "$(nproc)"
	printf 'guest_mem_mib\t%s\n' "$(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
	printf 'guest_thp\t%s\n' "$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
	printf 'guest_cmdline\t%s\n' "$(cat /proc/cmdline)"
	printf 'device\t/dev/%s, engine %s\n' "$dev" "$(cat "/sys/class/fpgadma/$dev/engine" 2>/dev/null)"
	printf 'quick\t%s\n' "$quick"
	printf 'crng_wait_s\t%s\n' "$crng_wait"
	[ -z "$node" ] || printf 'guest_node\t%s\n' "$node"
} > "$out/env$sfx.tsv"
emit "env$sfx.tsv"

# --- rxe: soft-RoCE on the loopback device
rxe_why=
if ! want rxe && ! want reg && ! want rxe-read; then
	rxe_why="not asked for (--only)"
elif [ ! -s /modules/bench/load-order ]; then
	rxe_why="rdma_rxe is not in the initramfs (not a module of this kernel)"
else
	while read -r m; do
		insmod "/modules/bench/$m" 2>/dev/null || grep -q "^${m%.ko} " /proc/modules ||
			say "insmod $m failed"
	done < /modules/bench/load-order
	if ! command -v rdma >/dev/null; then
		rxe_why="the rdma tool (iproute2) is not in the initramfs"
	elif ! out_rdma=$(rdma link add rxe_lo type rxe netdev lo 2>&1); then
		rxe_why="rdma link add rxe_lo type rxe netdev lo: $out_rdma"
	elif [ ! -d /sys/class/infiniband/rxe_lo ]; then
		rxe_why="rxe_lo did not appear in /sys/class/infiniband"
	fi
fi
if [ -z "$rxe_why" ]; then
	say "rxe: $(rdma link show rxe_lo/1 2>&1)"
elif [ "$rxe_why" != "not asked for (--only)" ]; then
	skipped rxe "$rxe_why"
fi

# --- registration
if [ "$quick" = 1 ]; then reg_args=-q; else reg_args=; fi
# shellcheck disable=SC2086 # one word per argument
! want reg || run reg reg.tsv reg_bench $reg_args -o "$out/reg.tsv"

# round_medians COL: the TSV on standard input (comments, a header, rows
# whose test ends in #ROUND) printed as it is, then for each test (its name
# without #ROUND) and size the row of the round whose column COL is the
# median (the lower middle one of an even number), named without #ROUND.
round_medians() {
	awk -F '\t' -v OFS='\t' -v col="$1" '
		{ print }
		$1 ~ /#[0-9]+$/ {
			p = $1; sub(/#.*/, "", p)
			k = p SUBSEP $3; n = ++N[k]; V[k, n] = $col + 0; L[k, n] = $0
			if (!(k in SEEN)) { SEEN[k] = 1; K[++nk] = k }
		}
		END {
			for (i = 1; i <= nk; i++) {
				k = K[i]; n = N[k]
				for (a = 1; a <= n; a++) idx[a] = a
				for (a = 2; a <= n; a++) for (b = a; b > 1 && V[k, idx[b - 1]] > V[k, idx[b]]; b--) { t = idx[b]; idx[b] = idx[b - 1]; idx[b - 1] = t }
				split(L[k, idx[int((n + 1) / 2)]], f, "\t")
				sub(/#.*/, "", f[1])
				print f[1], f[2], f[3], f[4], f[5], f[6], f[7]
			}
		}'
}

# pp_medians ROUNDS: pingpong.tsv from the rounds' pingpong-PROV-R.tsv:
# every round's rows as test pingpong-PROV#R, then per provider and size
# the round of the median usec (the lower middle one of an even number).
pp_medians() {
	{
		echo "# title: the ping-pong (bench_rma -m host -P), fpgadma, fpgadma with FI_FPGADMA_CHAN=0 (fpgadma-kernel) and shm in turn, $1 rounds"
		echo "# rows named pingpong-PROV#R are round R's; pingpong-PROV, the round of the median usec per size; usec: half a round trip"
		printf 'test\tmode\tsize\titers\tusec\tMBps\tops_per_s\n'
		for p in fpgadma fpgadma-kernel shm; do
			r=1
			while [ "$r" -le "$1" ]; do
				awk -F '\t' -v OFS='\t' -v t="pingpong-$p#$r" \
					'$1 == "pingpong" { $1 = t; print }' "$out/pingpong-$p-$r.tsv"
				r=$((r + 1))
			done
		done
	} | round_medians 5
}

# rate_medians ROUNDS: rate.tsv from the rounds' rate-PROV-R.tsv: every
# round's rows as test TEST@PROV#R, then per provider, test and size the
# round of the median ops/s (the lower middle one of an even number) as
# TEST@PROV.
rate_medians() {
	{
		echo "# title: the small-operation rate (bench_rma -m host -S), fpgadma and shm in turn, $1 rounds"
		echo "# rows named TEST@PROV#R are round R's; TEST@PROV, the round of the median ops/s per size"
		printf 'test\tmode\tsize\titers\tusec\tMBps\tops_per_s\n'
		for p in fpgadma shm; do
			r=1
			while [ "$r" -le "$1" ]; do
				awk -F '\t' -v OFS='\t' -v t="@$p#$r" \
					'$2 == "rate" && $3 ~ /^[0-9]+$/ { $1 = $1 t; print }' "$out/rate-$p-$r.tsv"
				r=$((r + 1))
			done
		done
	} | round_medians 7
}

# --- device RMA and host-to-host, fabtests/bench_rma
if [ "$quick" = 1 ]; then rma_args=-q; else rma_args=; fi
rma_steps="rma-fpga rma-fpga-engine host-fpgadma host-shm pingpong rate host-nodesc-cache host-nodesc-nocache host-nodesc-shm
	atomic-fpgadma atomic-shm atomic-fpga"
any_rma=0
for s in $rma_steps; do ! want "$s" || any_rma=1; done
if [ "$any_rma" = 0 ]; then
	:
elif command -v bench_rma >/dev/null; then
	# shellcheck disable=SC2086
	! want rma-fpga || run rma-fpga rma-fpga.tsv bench_rma -p fpgadma -m fpga $rma_args -o "$out/rma-fpga.tsv"
	# shellcheck disable=SC2086
	! want rma-fpga-engine || run rma-fpga-engine rma-fpga-engine.tsv env FI_FPGADMA_MEM_MAP_MAX=0 \
		bench_rma -p fpgadma -m fpga -S $rma_args -o "$out/rma-fpga-engine.tsv"
	# shellcheck disable=SC2086
	! want host-fpgadma || run host-fpgadma host-fpgadma.tsv bench_rma -p fpgadma -m host $rma_args -o "$out/host-fpgadma.tsv"
	# shellcheck disable=SC2086
	! want host-shm || run host-shm host-shm.tsv bench_rma -p shm -m host $rma_args -o "$out/host-shm.tsv"
	# The ping-pong alone, fpgadma and shm in turn, in rounds: one run
	# each varies more than the two differ (the other guest work, the
	# host's), so the goal is judged on the medians of the rounds.
	if want pingpong; then
		if [ -z "$pp_rounds" ]; then
			if [ "$quick" = 1 ]; then pp_rounds=1; else pp_rounds=5; fi
		fi
		pp_ok=1
		round=1
		while [ "$round" -le "$pp_rounds" ] && [ "$pp_ok" = 1 ]; do
			for p in fpgadma fpgadma-kernel shm; do
				# fpgadma-kernel: every message a SEND through the
				# kernel, as before the channels
				chan=1
				[ "$p" != fpgadma-kernel ] || chan=0
				# shellcheck disable=SC2086
				run "pingpong-$p#$round" "" env FI_FPGADMA_CHAN=$chan \
					bench_rma -p "${p%-kernel}" -m host -P $rma_args \
					-o "$out/pingpong-$p-$round.tsv"
				[ "$rc" = 0 ] || pp_ok=0
			done
			round=$((round + 1))
		done
		if [ "$pp_ok" = 1 ]; then
			pp_medians "$pp_rounds" > "$out/pingpong.tsv"
			emit pingpong.tsv
		else
			skipped pingpong "a round did not finish (above)"
		fi
	fi
	# The small-operation rate alone, in rounds as the ping-pong: one
	# run of each varies more than the two differ.
	if want rate; then
		if [ -z "$pp_rounds" ]; then
			if [ "$quick" = 1 ]; then pp_rounds=1; else pp_rounds=5; fi
		fi
		rt_ok=1
		round=1
		while [ "$round" -le "$pp_rounds" ] && [ "$rt_ok" = 1 ]; do
			for p in fpgadma shm; do
				# shellcheck disable=SC2086
				run "rate-$p#$round" "" bench_rma -p "$p" -m host -S $rma_args \
					-o "$out/rate-$p-$round.tsv"
				[ "$rc" = 0 ] || rt_ok=0
			done
			round=$((round + 1))
		done
		if [ "$rt_ok" = 1 ]; then
			rate_medians "$pp_rounds" > "$out/rate.tsv"
			emit rate.tsv
		else
			skipped rate "a round did not finish (above)"
		fi
	fi
	# The provider's registration cache, on and off, for buffers the
	# application never registered (-U), shm's figures beside them.
	# shellcheck disable=SC2086
	! want host-nodesc-cache || run host-nodesc-cache host-nodesc-cache.tsv \
		env FI_FPGADMA_MR_CACHE=1 bench_rma -p fpgadma -m host -U $rma_args -o "$out/host-nodesc-cache.tsv"
	# shellcheck disable=SC2086
	! want host-nodesc-nocache || run host-nodesc-nocache host-nodesc-nocache.tsv \
		env FI_FPGADMA_MR_CACHE=0 bench_rma -p fpgadma -m host -U $rma_args -o "$out/host-nodesc-nocache.tsv"
	# shellcheck disable=SC2086
	! want host-nodesc-shm || run host-nodesc-shm host-nodesc-shm.tsv \
		bench_rma -p shm -m host -U $rma_args -o "$out/host-nodesc-shm.tsv"
	# Atomics (-A): host to host through fpgadma and shm (the anchor),
	# and on the FPGA's memory.
	# shellcheck disable=SC2086
	! want atomic-fpgadma || run atomic-fpgadma atomic-fpgadma.tsv \
		bench_rma -A -p fpgadma -m host $rma_args -o "$out/atomic-fpgadma.tsv"
	# shellcheck disable=SC2086
	! want atomic-shm || run atomic-shm atomic-shm.tsv \
		bench_rma -A -p shm -m host $rma_args -o "$out/atomic-shm.tsv"
	# shellcheck disable=SC2086
	! want atomic-fpga || run atomic-fpga atomic-fpga.tsv \
		bench_rma -A -p fpgadma -m fpga $rma_args -o "$out/atomic-fpga.tsv"
else
	for s in $rma_steps; do
		! want "$s" || skipped "$s" "fabtests/bench_rma was not built"
	done
fi

# --- paced streams: the highest rate without a drop, per frame size
# Each rate found is held for stream_secs: the issue's 30 s in a full run
# (up to about 12 minutes per path for the five sizes when confirmations
# fail), 1 s with -q; the search's own trials are shorter.  Three paths,
# the same search: libfpgadma (bench/stream_bench, stream.tsv), and the
# fpgadma provider's copy mode and zero-copy ring (fabtests/bench_pstream,
# stream-fi-copy.tsv and stream-fi-zc.tsv), each path a run of its own so
# that each has the whole step_limit.
if [ "$quick" = 1 ]; then
	stream_secs=1 stream_args="-q -S 0.25"
else
	stream_secs=30 stream_args="-S 0.5"
fi
if want stream || want stream-fi-copy || want stream-fi-zc; then
	[ "$stream_secs" = 30 ] ||
		say "stream: each rate held for $stream_secs s, shortened from the 30 s the issue asks for"
	if ! want stream; then
		:
	elif ! command -v stream_bench >/dev/null; then
		skipped stream "bench/stream_bench is not in the initramfs"
	else
		# shellcheck disable=SC2086 # one word per argument
		run stream stream.tsv stream_bench -t "$stream_secs" $stream_args -o "$out/stream.tsv"
	fi
	for p in fi-copy fi-zc; do
		if ! want stream && ! want "stream-$p"; then
			:
		elif ! command -v bench_pstream >/dev/null; then
			skipped "stream-$p" "fabtests/bench_pstream is not in the initramfs (configure found no libfabric?)"
		elif [ ! -e "$FI_PROVIDER_PATH/libfpgadma-fi.so" ]; then
			skipped "stream-$p" "the fpgadma provider was not built"
		else
			# shellcheck disable=SC2086
			run "stream-$p" "stream-$p.tsv" bench_pstream -p fpgadma -P "$p" \
				-t "$stream_secs" $stream_args -o "$out/stream-$p.tsv"
		fi
	done
fi

# --- Open MPI from unregistered buffers: the cache on and off, and vader
# mpi_notes STEP TSV: the fpgadma provider's registration cache counters,
# which mpi-run.sh --run shows from each rank's libfabric log at
# MPI_Finalize, as notes at the end of TSV.
# shellcheck disable=SC2317 # called through $run_after
mpi_notes() {
	grep '^pid [0-9]*: .*registration cache: ' "$out/$1.log" | sed 's/^/# /' >> "$out/$2"
}
# want_mpi STEP: whether STEP runs (--only=mpi runs the three).
want_mpi() { want mpi || want "$1"; }
mpi_steps="mpi-cache mpi-nocache mpi-vader"
any_mpi=0
for s in $mpi_steps; do ! want_mpi "$s" || any_mpi=1; done
mpi_why=
if [ "$any_mpi" = 0 ]; then
	mpi_why=-
elif ! command -v mpirun >/dev/null; then
	mpi_why="Open MPI (mpirun) is not in the initramfs"
elif ! command -v mpi_pingpong >/dev/null || ! command -v mpi-run.sh >/dev/null; then
	mpi_why="fabtests/mpi_pingpong was not built (configure found no mpicc)"
fi
if [ "$mpi_why" = - ]; then
	:
elif [ -n "$mpi_why" ]; then
	for s in $mpi_steps; do
		! want_mpi "$s" || skipped "$s" "$mpi_why"
	done
else
	if [ "$quick" = 1 ]; then mpi_args=-q; else mpi_args=; fi
	export MPI_PINGPONG
	MPI_PINGPONG=$(command -v mpi_pingpong)
	run_after=mpi_notes
	for s in mpi-cache mpi-nocache; do
		want_mpi "$s" || continue
		if [ ! -e "$FI_PROVIDER_PATH/libfpgadma-fi.so" ]; then
			skipped "$s" "the fpgadma provider was not built"
			continue
		fi
		if [ "$s" = mpi-cache ]; then c=1; else c=0; fi
		# shellcheck disable=SC2086
		run "$s" "$s.tsv" env FI_FPGADMA_MR_CACHE=$c \
			mpi-run.sh --run mtl-ofi fpgadma -- -b $mpi_args -o "$out/$s.tsv"
	done
	run_after=
	# shellcheck disable=SC2086
	! want_mpi mpi-vader ||
		run mpi-vader mpi-vader.tsv mpi-run.sh --run vader -- -b $mpi_args -o "$out/mpi-vader.tsv"
fi

# --- perftest over rxe
# rxe_gid: the GID index of rxe_lo's RoCE v2 IPv4 address (127.0.0.1).
rxe_gid() {
	for g in /sys/class/infiniband/rxe_lo/ports/1/gids/*; do
		i=${g##*/}
		t=$(cat "/sys/class/infiniband/rxe_lo/ports/1/gid_attrs/types/$i" 2>/dev/null)
		case "$(cat "$g" 2>/dev/null)" in
		0000:0000:0000:0000:0000:ffff:*)
			case $t in *v2*) echo "$i"; return ;; esac ;;
		esac
	done
	echo 1
}

# perftest_row TEST MODE SIZE ITERS LOG: the result row of a perftest run
# in the contract's columns (test mode size iters usec MBps ops_per_s).
# perftest's columns are found by their header: MsgRate[Mpps], and
# t_typical[usec] (the median; t_avg without it).
perftest_row() {
	awk -v test="$1" -v mode="$2" -v size="$3" -v iters="$4" '
		/#bytes/ {
			n = split($0, h, /  +/); k = 0
			for (i = 1; i <= n; i++) {
				if (h[i] == "") continue
				k++
				if (h[i] ~ /MsgRate/) rate = k
				if (h[i] ~ /t_avg/) avg = k
				if (h[i] ~ /t_typical/) typ = k
			}
			next
		}
		$1 == size && $2 ~ /^[0-9]+$/ {
			if (mode == "rate" && rate) { ops = $rate * 1e6; us = ops > 0 ? 1e6 / ops : 0 }
			else if (mode == "lat" && (typ || avg)) { us = typ ? $typ : $avg; ops = us > 0 ? 1e6 / us : 0 }
			else next
			printf "%s\t%s\t%d\t%d\t%.3f\t%.3f\t%.1f\n", test, mode, size, iters, us,
				ops * size / 1e6, ops
			found = 1; exit
		}
		END { if (!found) exit 1 }' "$5"
}

# perftest_run PROGRAM MODE SIZE ITERS PORT: one server and client pair on
# rxe_lo; its result row appended to $out/perftest-rows.
perftest_run() {
	prog=$1 mode=$2 size=$3 iters=$4 port=$5
	set -- -d rxe_lo -x "$gid" -F -s "$size" -n "$iters" -p "$port"
	timeout -s KILL 300 "$prog" "$@" > "$out/perftest-server.log" 2>&1 &
	server=$!
	try=0
	while :; do
		sleep 1
		timeout -s KILL 300 "$prog" "$@" 127.0.0.1 > "$out/perftest-client.log" 2>&1 && break
		try=$((try + 1))
		if [ "$try" -ge 5 ] || ! kill -0 "$server" 2>/dev/null; then
			kill "$server" 2>/dev/null
			wait "$server"
			say "$prog -s $size: client failed:"
			sed 's/^/  /' "$out/perftest-client.log" "$out/perftest-server.log"
			return 1
		fi
	done
	wait "$server"
	if ! perftest_row "$prog" "$mode" "$size" "$iters" "$out/perftest-client.log" >> "$out/perftest-rows"; then
		say "$prog -s $size: no result line:"
		sed 's/^/  /' "$out/perftest-client.log"
		return 1
	fi
}

# perftest_one PROGRAM MODE SIZE ITERS: the run of median time among
# $perf_runs (rxe under TCG is noisy: one run now and then is several times
# slower or faster than the others).
perftest_one() {
	: > "$out/perftest-rows"
	r=0
	while [ "$r" -lt "$perf_runs" ]; do
		perftest_run "$@" "$port" || return 1
		port=$((port + 1))
		r=$((r + 1))
	done
	sort -t "$(printf '\t')" -k5,5n "$out/perftest-rows" |
		sed -n "$(( (perf_runs + 1) / 2 ))p" | tee -a "$out/rxe-read.tsv" | sed 's/^/  /'
}

if ! want rxe-read; then
	:
elif [ -n "$rxe_why" ]; then
	skipped rxe-read "$rxe_why"
elif ! command -v ib_read_bw >/dev/null || ! command -v ib_read_lat >/dev/null; then
	skipped rxe-read "perftest (ib_read_bw, ib_read_lat) is not in the initramfs"
else
	gid=$(rxe_gid)
	if [ "$quick" = 1 ]; then
		sizes="8 4096" bw_iters=200 lat_iters=100 perf_runs=1
	else
		sizes="8 16 32 64 128 256 512 1024 2048 4096" bw_iters=2000 lat_iters=300 perf_runs=3
	fi
	say "rxe-read: ib_read_bw and ib_read_lat on rxe_lo, GID index $gid, sizes $sizes, median of $perf_runs runs"
	{
		echo "# title: perftest ib_read_bw (rate) and ib_read_lat (lat) over soft-RoCE (rxe_lo), server and client in one guest"
		echo "# each row: the median of $perf_runs runs; lat: t_typical"
		printf 'test\tmode\tsize\titers\tusec\tMBps\tops_per_s\n'
	} > "$out/rxe-read.tsv"
	port=18515
	perf_ok=1
	for size in $sizes; do
		perftest_one ib_read_bw rate "$size" "$bw_iters" || perf_ok=0
		perftest_one ib_read_lat lat "$size" "$lat_iters" || perf_ok=0
	done
	[ "$perf_ok" = 1 ] || skipped rxe-read "some perftest runs failed (their output is above)"
	emit rxe-read.tsv
fi

# --- where a small operation's time goes, uninstrumented
if ! want post; then
	:
elif command -v post_bench >/dev/null; then
	run post post.tsv post_bench -d "${dev#fpgadma}" -o "$out/post.tsv"
else
	skipped post "bench/post_bench is not in the initramfs"
fi

# --- where the time goes: the module's stage counters
stages=/sys/kernel/debug/fpgadma/$dev/stages
param=/sys/module/fpgadma_core/parameters/stage_timing
# stage_table WORKLOAD: the stages file as rows of stages.tsv.  share: of
# reg_total for reg_* stages, of dereg_total for dereg_*, of a work
# request's life (queue_wait + engine: submission to completion) for
# queue_wait, engine and complete, and post_total (a POST call, with the
# work an engine ran inline) of itself.
stage_table() {
	awk -v w="$1" '
		NF >= 3 && $2 ~ /^[0-9]+$/ { n++; name[n] = $1; cnt[n] = $2; tot[n] = $3; t[$1] = $3 }
		END {
			for (i = 1; i <= n; i++) {
				s = name[i]
				if (s ~ /^reg_/) base = t["reg_total"]
				else if (s ~ /^dereg_/) base = t["dereg_total"]
				else if (s == "post_total") base = t["post_total"]
				else base = t["queue_wait"] + t["engine"]
				printf "%s\t%s\t%d\t%.0f\t%.0f\t%.3f\n", w, s, cnt[i],
					cnt[i] ? tot[i] / cnt[i] : 0, tot[i], base ? tot[i] / base : 0
			}
		}' "$stages"
}
if ! want stages; then
	:
elif [ ! -e "$param" ] || [ ! -e "$stages" ]; then
	skipped stages "the module has no stage timing ($param, $stages)"
else
	{
		echo "# title: the module's time per stage (stage_timing=1): a 1 MiB registration loop (reg-1MiB), bench_rma -m fpga -q -M 4096 (small-ops)"
		printf 'workload\tstage\tcount\tavg_ns\ttotal_ns\tshare\n'
	} > "$out/stages.tsv"
	echo 1 > "$param"
	echo 1 > "$stages"
	say "stages: 1 MiB registrations (4k pages, prefaulted)"
	if reg_bench -a libfpgadma -b 4k -T prefaulted -m 1M -M 1M -t 1 > "$out/stages-reg.log" 2>&1; then
		stage_table reg-1MiB >> "$out/stages.tsv"
	else
		sed 's/^/  /' "$out/stages-reg.log"
		status=1
	fi
	if command -v bench_rma >/dev/null; then
		say "stages: bench_rma -p fpgadma -m fpga -q -M 4096 (small reads and writes)"
		echo 1 > "$stages"
		if bench_rma -p fpgadma -m fpga -q -M 4096 > "$out/stages-rma.log" 2>&1; then
			stage_table small-ops >> "$out/stages.tsv"
		else
			sed 's/^/  /' "$out/stages-rma.log"
			status=1
		fi
	else
		skipped stages-small-ops "fabtests/bench_rma was not built"
	fi
	echo 0 > "$param"
	emit stages.tsv
fi

# --- forwarding between two nodes: the network's limit, zero copy, copy
# fwd_run NAME CMD...: a run of the pairing (tests/vm/guest-twonode.sh),
# its output shown and kept in $out/NAME.log; its exit status.
fwd_run() {
	f_name=$1
	shift
	say "forward: $f_name: $*"
	{ FPGADMA_TWONODE_CHECK=$f_name timeout -s KILL "$step_limit" "$@" </dev/null 2>&1
	  echo $? > "$out/.rc"; } | tee "$out/$f_name.log" | sed 's/^/  /'
	return "$(cat "$out/.rc")"
}
# fwd_row PROV SIZE SUFFIX LOG RXE: forward.tsv's row of fpga_forward's
# "forward-result:" line in LOG (node a's: the sender's, with node b's
# verdict in it), its run the mode followed by SUFFIX (#ROUND), RXE its
# last two columns (rxe_delta's).
fwd_row() {
	awk -v prov="$1" -v size="$2" -v sfx="$3" -v rxe="$5" '
		$1 == "forward-result:" {
			for (i = 2; i <= NF; i++) { k = $i; sub(/=.*/, "", k); v = $i; sub(/^[^=]*=/, "", v); r[k] = v }
			st = r["stream_secs"] + 0; wn = ""; ws = ""
			if (st > 0 && r["wait_full_secs"] != "") wn = sprintf("%.3f", r["wait_full_secs"] / st)
			if (st > 0 && r["wait_src_secs"] != "") ws = sprintf("%.3f", (r["wait_src_secs"] + r["nap_secs"]) / st)
			printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", prov, size, r["mode"] sfx,
				r["rx_MBps"], r["rx_frames_per_s"], r["verified"], r["rx_secs"], r["produced"],
				r["lost"], r["cpu_s_per_GB"], r["user_s_per_GB"], r["sys_s_per_GB"],
				r["copied_per_frame"], r["rate"], r["slots"], rxe, wn, ws
			found = 1; exit
		}
		END { exit !found }' "$4"
}
# fwd_medians PROV FILE: the rows without # of PROV, from its rows RUN#R
# in FILE: for limit-spin and limit-sread the median MBps of the rounds;
# for limit the higher of those two; for zero-copy and copy the whole row
# of the round with the median MBps.  With an even number of rounds the
# lower of the two middle ones.
fwd_medians() {
	awk -F '\t' -v OFS='\t' -v prov="$1" '
		$1 == prov && $3 ~ /#[0-9]+$/ {
			run = $3; sub(/#.*/, "", run)
			if (run == "limit") next
			k = $2 SUBSEP run; n = ++N[k]; V[k, n] = $4 + 0; L[k, n] = $0
			if (!($2 in SEEN)) { SEEN[$2] = 1; S[++ns] = $2 }
		}
		function med(k,    n, i, j, t, idx) {
			n = N[k]
			for (i = 1; i <= n; i++) idx[i] = i
			for (i = 2; i <= n; i++) for (j = i; j > 1 && V[k, idx[j - 1]] > V[k, idx[j]]; j--) { t = idx[j]; idx[j] = idx[j - 1]; idx[j - 1] = t }
			return idx[int((n + 1) / 2)]
		}
		END {
			for (i = 1; i <= ns; i++) {
				s = S[i]; lim = ""
				split("limit-spin limit-sread zero-copy copy", R, " ")
				for (r = 1; r <= 4; r++) {
					k = s SUBSEP R[r]
					if (!N[k]) continue
					split(L[k, med(k)], f, "\t"); f[3] = R[r]
					line = f[1]; for (c = 2; c <= 19; c++) line = line OFS f[c]
					print line
					if (r <= 2 && (lim == "" || f[4] + 0 > lim + 0)) { lim = f[4]; limrow = line }
				}
				if (lim != "") { sub(/\tlimit-(spin|sread)\t/, "\tlimit\t", limrow); print limrow }
			}
		}' "$2"
}
tw=/usr/libexec/fpgadma-twonode/guest-twonode.sh
if ! want forward; then
	:
elif [ -z "$node" ]; then
	# the bench VM's full run: the second boot measures it
	[ -z "$only" ] ||
		skipped forward "not a two-node guest (tests/vm/run-suite.sh --job bench --config twonode runs it)"
elif [ ! -x "$tw" ]; then
	skipped forward "$tw is missing (the .net side archive was not appended)"
elif ! fwd_run bench-setup "$tw" setup; then
	skipped forward "the link between the nodes could not be set up (above)"
	status=1
else
	if [ "$quick" = 1 ]; then
		fwd_sizes="4096 65536 1048576" fwd_secs=2 fwd_bytes=16777216
	else
		fwd_sizes="4096 16384 65536 262144 1048576" fwd_secs=4 fwd_bytes=67108864
	fi
	[ -z "$fwd_sizes_arg" ] || fwd_sizes=$fwd_sizes_arg
	if [ -z "$fwd_rounds" ]; then
		if [ "$quick" = 1 ]; then fwd_rounds=1; else fwd_rounds=5; fi
	fi
	if [ "$node" = a ]; then
		{
			echo "# title: node a's FPGA stream forwarded to node b (fabtests/fpga_forward) against the network's limit (upstream's fi_msg_bw -e msg, node a to node b), same provider, FI_EP_MSG"
			echo "# rounds: $fwd_rounds; a round measures every size once (limit, zero copy, copy); rows named RUN#R are round R's, rows without # the median of the rounds"
			echo "# limit rows: fi_msg_bw -e msg -W <window> -I <frames>, about $fwd_bytes bytes a run, windows of 16 MiB (at most 256 messages, at least 16), at least 4 windows; MBps as it prints it (10^6 bytes/s); limit-spin: its default completion method (spinning), limit-sread: -c sread (waiting, as fpga_forward does); limit: the higher (of a round's two; without #, of the two medians)"
			echo "# zero-copy and copy rows: fpga_forward for $fwd_secs s, the FPGA paced at twice the round's limit (rate, frames/s); MBps and frames_per_s: frames verified at node b over its time from first to last; produced and lost: the FPGA's frames and those it dropped for want of a free slot; cpu, user, sys: node a's forwarding process, seconds per GB forwarded (getrusage; the model's kernel threads that write the frames and the network's own kernel threads not counted); without #: the round of the median MBps, all its figures"
			echo "# asleep_network, asleep_source (zero-copy and copy rows): the parts of the forwarder's streaming time it slept with the most sends in flight it allows (waiting for the network) and with fewer and no frame to send (waiting for the FPGA)"
			echo "# rxe rows (verbs only): soft-RoCE's counters on node a over the run (/sys/class/infiniband/rxe0/ports/1/hw_counters): resends, its rcvd_seq_err (a packet lost on the link: everything after it sent again); rnr_retries, its rcvd_rnr_err (a send that found no receive posted, retried on a timer)"
			printf 'prov\tsize\trun\tMBps\tframes_per_s\tframes\tsecs\tproduced\tlost\tcpu_s_per_GB\tuser_s_per_GB\tsys_s_per_GB\tcopied_per_frame\tstream_rate\tslots\tresends\trnr_retries\tasleep_network\tasleep_source\n'
		} > "$out/forward.tsv"
	fi
	# fwd_limit_row PROV SIZE RUN MBPS ITERS [RXE]: a limit row of
	# forward.tsv (RXE: rxe_delta's two columns).
	fwd_limit_row() {
		printf '%s\t%s\t%s\t%s\t%s\t%s\t\t\t\t\t\t\t\t\t\t%s\t\t\n' "$1" "$2" "$3" "$4" \
			"$(awk -v m="$4" -v s="$2" 'BEGIN { printf "%.1f", m * 1e6 / s }')" "$5" "${6:-	}" >> "$out/forward.tsv"
	}
	# rxe_mark / rxe_delta: over verbs ($prov), soft-RoCE's
	# rcvd_seq_err and rcvd_rnr_err on this node, then their growth
	# since the mark as two columns (tab between; empty for tcp or
	# without rxe0).
	rxe_hw=/sys/class/infiniband/rxe0/ports/1/hw_counters
	rxe_mark() {
		rxe0_seq='' rxe0_rnr=''
		[ "$prov" = verbs ] || return 0
		rxe0_seq=$(cat "$rxe_hw/rcvd_seq_err" 2>/dev/null) rxe0_rnr=$(cat "$rxe_hw/rcvd_rnr_err" 2>/dev/null)
	}
	rxe_delta() {
		if [ -n "$rxe0_seq" ] && [ -n "$rxe0_rnr" ] && [ -r "$rxe_hw/rcvd_seq_err" ]; then
			printf '%s\t%s' $(($(cat "$rxe_hw/rcvd_seq_err") - rxe0_seq)) $(($(cat "$rxe_hw/rcvd_rnr_err") - rxe0_rnr))
		else
			printf '\t'
		fi
	}
	for prov in $fwd_provs; do
		# Rounds over the sizes, not one size at a time: a slow stretch
		# of the machine then lands in one round of several sizes, and
		# the median leaves it out.
		round=0 rc=0
		while [ "$round" -lt "$fwd_rounds" ] && [ "$rc" != 77 ]; do
			round=$((round + 1))
			for size in $fwd_sizes; do
				# The limit: fi_msg_bw with node a the client (the
				# sender).  It sends a window of messages, waits for
				# them and for the receiver's word, and sends the next:
				# a window of 16 MiB (at most 256 messages, tcp's queue
				# depth) keeps that pause small against the window's
				# time; at least 4 windows.  Twice: spinning on its
				# completion queues (its default) and waiting in
				# fi_cq_sread (-c sread, as fpga_forward waits: on one
				# vCPU a spinning process takes the CPU from the
				# kernel's network work, soft-RoCE's above all).  The
				# limit is the higher of the two.
				win=$((16777216 / size))
				[ "$win" -le 256 ] || win=256
				[ "$win" -ge 16 ] || win=16
				iters=$((fwd_bytes / size))
				[ "$iters" -ge $((4 * win)) ] || iters=$((4 * win))
				lim=
				for cm in spin sread; do
					rxe_mark
					fwd_run "bench-limit-$prov-$cm-$size-$round" env FPGADMA_TWONODE_SERVER=b "$tw" fabtest fi_msg_bw \
						"$prov" "$size" -e msg -I "$iters" -W "$win" -c "$cm"
					rc=$?
					rxe=$(rxe_delta)
					[ "$rc" != 77 ] || break
					if [ "$rc" != 0 ]; then
						say "forward: fi_msg_bw $prov $size -c $cm failed (exit status $rc)"
						status=1
						continue
					fi
					# this node's figure (node a's: the sender's)
					m=$(awk -v n="$node:" '$1 == "result:" && $3 == "node" && $4 == n { print $7; exit }' \
						"$out/bench-limit-$prov-$cm-$size-$round.log")
					[ -n "$m" ] || continue
					[ "$node" != a ] || fwd_limit_row "$prov" "$size" "limit-$cm#$round" "$m" "$iters" "$rxe"
					lim=$(awk -v a="$lim" -v b="$m" 'BEGIN { print (a == "" || b + 0 > a + 0) ? b : a }')
				done
				if [ "$rc" = 77 ]; then
					skipped "forward-$prov" "$(sed -n 's/^SKIP: *//p' "$out/bench-limit-$prov-$cm-$size-$round.log" | tail -n 1)"
					break
				fi
				[ "$node" != a ] || [ -z "$lim" ] || fwd_limit_row "$prov" "$size" "limit#$round" "$lim" "$iters"
				# The stream at twice the limit (200 MB/s without one),
				# at least 50 frames/s; node b ignores -r (the sender
				# tells it the period).
				rate=$(awk -v m="${lim:-100}" -v s="$size" 'BEGIN { r = int(2 * m * 1e6 / s + 1); print r < 50 ? 50 : r }')
				# The sender's ring: 8 MiB of frames, 64 to 1024 slots.
				# Small frames need many in flight; fpga_forward keeps
				# at most half the slots, the transmit queue's depth
				# and half node b's receives in flight, and the slots
				# beyond are where the FPGA writes ahead meanwhile.
				# 64 at least: with 32 (256 KiB and 1 MiB frames) the
				# half left 16 sends in flight.
				slots=$((8388608 / size))
				[ "$slots" -le 1024 ] || slots=1024
				[ "$slots" -ge 64 ] || slots=64
				[ -z "$fwd_slots" ] || slots=$fwd_slots
				for mode in zero-copy copy; do
					if [ "$mode" = copy ]; then copy=--copy; else copy=; fi
					f_log=$out/bench-fwd-$prov-$mode-$size-$round.log
					rxe_mark
					# shellcheck disable=SC2086 # $copy is one word or none
					fwd_run "bench-fwd-$prov-$mode-$size-$round" "$tw" forward "$prov" $copy -f "$size" \
						-w "$slots" -r "$rate" -t "$fwd_secs" -n 1000000000
					rc=$?
					rxe=$(rxe_delta)
					if [ "$rc" = 77 ]; then
						skipped "forward-$prov-$mode-$size" "$(sed -n 's/^SKIP: *//p' "$f_log" | tail -n 1)"
					elif [ "$rc" != 0 ]; then
						say "forward: fpga_forward $prov $mode $size failed (exit status $rc)"
						status=1
					elif [ "$node" = a ] && ! fwd_row "$prov" "$size" "#$round" "$f_log" "$rxe" >> "$out/forward.tsv"; then
						say "forward: fpga_forward $prov $mode $size printed no forward-result line"
						status=1
					fi
				done
				rc=0
			done
		done
		if [ "$node" = a ]; then
			fwd_medians "$prov" "$out/forward.tsv" > "$out/.medians"
			cat "$out/.medians" >> "$out/forward.tsv"
		fi
	done
	[ "$node" != a ] || emit forward.tsv
fi

[ ! -f "$out/skipped$sfx.tsv" ] || emit "skipped$sfx.tsv"
say "done, status $status"
exit "$status"
