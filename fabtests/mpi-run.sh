#!/bin/sh
# Run mpi_pingpong (mpi_osc for osc-rdma) on two ranks of this machine with
# one of Open MPI's transports, and check that the transport asked for
# carried it.
#
# Usage: fabtests/mpi-run.sh TRANSPORT [PROVIDER]
#        fabtests/mpi-run.sh --run TRANSPORT [PROVIDER] [-- ARGS...]
#   vader     ob1 with the shared-memory BTL (the launcher alone is tested)
#   mtl-ofi   cm with the ofi MTL on libfabric provider PROVIDER
#   btl-ofi   ob1 with the ofi BTL (two-sided mode) on PROVIDER; Open MPI
#             4.1's ofi BTL needs FI_RMA | FI_ATOMIC from the provider
#   osc-rdma  one-sided atomics: fabtests/mpi_osc (next to this script or
#             $MPI_OSC) instead of mpi_pingpong, osc/rdma alone
#             (OMPI_MCA_osc=rdma) over ob1 with the ofi BTL in both modes
#             (btl_ofi_mode=2: FI_MSG for ob1, FI_RMA | FI_ATOMIC for
#             osc/rdma's puts, gets and atomics) on PROVIDER; see below
# PROVIDER defaults to fpgadma; its libfabric log (FI_LOG_LEVEL=info) must
# show it opened, and for fpgadma with FI_FPGADMA_MR_CACHE on (the default)
# that its registration cache served hits.  The program is next to this script or $MPI_PINGPONG.
# Exit status 0 pass, 77 skip (no mpirun), 1 fail.  Works on the host too,
# e.g. 'fabtests/mpi-run.sh mtl-ofi "tcp;ofi_rxm"' from the build directory
# (with FI_TCP_IFACE=lo).
#
# --run: mpi_pingpong ARGS with the same transport settings and nothing
# checked (bench/guest-bench.sh runs 'mpi_pingpong -b' so): no verbose
# component logs; for fpgadma libfabric's log at level info, of which only
# the lines of the provider's registration cache (its counters at each
# domain's close) are shown, as "pid PID: DOMAIN: registration cache: ...".
# The exit status is mpirun's, 77 when mpirun or the program is missing.
#
# osc-rdma (Open MPI 4.1.4 of Debian 12; the reasons are in mpi_osc.c):
# btl_ofi_progress_mode=manual (fpgadma's own model; the sockets provider's
# default progress thread makes each atomic take milliseconds).  The
# ofi BTL never takes an ofi_rxm provider ("tcp;ofi_rxm": the job
# fails, no BTL reaches the other rank): on the host try sockets, shm or
# "udp;ofi_rxd".  Two runs of mpi_osc -r ${MPI_OSC_ROUNDS:-50}:
#   1. network atomics (osc_rdma_acc_use_amo true, the default): windows
#      allocate, create and dynamic, compare-and-swap on dynamic only (-c),
#      no MPI_MAX/MPI_BXOR (-o): at the provider fi_fetch_atomic FI_SUM
#      (MPI_SUM, counts up to osc_rdma_network_max_amo, 32), FI_ATOMIC_WRITE
#      (MPI_REPLACE) and fi_compare_atomic FI_CSWAP, on uint64
#   2. osc_rdma_acc_use_amo=false: a dynamic window, every operation
#      (MPI_MAX and MPI_BXOR too) as osc/rdma's compare-and-swap loops
#      (fi_read and fi_compare_atomic FI_CSWAP)
# MPI_SUM of doubles is never a network atomic (the BTL says no floats):
# osc/rdma gets, adds and puts under its accumulate lock.  On one node
# osc/rdma reaches an allocated window through shared memory (CPU atomics)
# and a rank's own part of a created one too: the provider carries the
# other ranks' parts of created windows and every part of dynamic ones.
# Checked for each run: it passes; the windows were osc/rdma's (its "rdma
# component destroying window" line, osc_base_verbose, from each rank for
# each window: no other osc component is allowed, so no window could be
# made without it); the ofi BTL came up ("Using ofi btl", btl_base_verbose),
# which with the include list means PROVIDER answered its fi_getinfo for
# FI_MSG | FI_RMA | FI_ATOMIC; PROVIDER logged (FI_LOG_LEVEL=info); no
# "fi_*atomic failed" from the BTL (it aborts the job on one).  That the
# atomics above went to PROVIDER: on fpgadma, its log's count of the
# atomics each domain posted (a line at fi_close) must show fi_fetch_atomic
# and fi_compare_atomic calls in run 1, fi_compare_atomic in run 2.  (Open
# MPI itself cannot show it: Debian's build compiles out osc/rdma's
# per-operation trace, OSC_RDMA_VERBOSE.)  Other providers log no such
# count; there the proof is osc/rdma's code, which has no other way to a
# peer it reaches through the BTL.
# --run osc-rdma: give -o -c dynamic (or OMPI_MCA_osc_rdma_acc_use_amo=false
# and -c dynamic), as run 1 (run 2) does.
mode=check
if [ "${1:-}" = --run ]; then mode=run; shift; fi
transport=${1:-}
[ $# -eq 0 ] || shift
prov=fpgadma
case ${1-} in --) ;; "") [ $# -eq 0 ] || shift ;; *) prov=$1; shift ;; esac
[ "${1:-}" != -- ] || shift
if [ "$mode" = check ] && [ $# -gt 0 ]; then transport=; fi
here=$(cd "$(dirname "$0")" && pwd)
case $transport in
osc-rdma) prog=${MPI_OSC:-$here/mpi_osc} ;;
*) prog=${MPI_PINGPONG:-$here/mpi_pingpong} ;;
esac
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: no mpirun"; exit 77; }
[ -x "$prog" ] || { echo "SKIP: $prog not there (not built: no mpicc; or not copied into the guest)"; exit 77; }

# Root in a guest: allowed.  No ssh: the isolated launcher (local ranks only).
# CMA needs ptrace rights a guest may not give: vader copies through /dev/shm.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_plm=isolated OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
# Debian's openmpi-mca-params.conf leaves the ofi components out; the
# environment overrides it.  The components' own logs only when testing.
case $transport in
vader)
	export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader
	;;
mtl-ofi)
	export OMPI_MCA_pml=cm OMPI_MCA_mtl=ofi OMPI_MCA_mtl_ofi_provider_include="$prov"
	[ "$mode" = run ] || export OMPI_MCA_mtl_base_verbose=10 FI_LOG_LEVEL=info
	;;
btl-ofi)
	export OMPI_MCA_pml=ob1 OMPI_MCA_btl=ofi,self OMPI_MCA_btl_ofi_provider_include="$prov"
	export OMPI_MCA_btl_ofi_provider_exclude="" OMPI_MCA_btl_ofi_mode=1
	export OMPI_MCA_osc=^rdma
	[ "$mode" = run ] || export OMPI_MCA_btl_base_verbose=100 FI_LOG_LEVEL=info
	;;
osc-rdma)
	export OMPI_MCA_pml=ob1 OMPI_MCA_btl=ofi,self OMPI_MCA_btl_ofi_provider_include="$prov"
	export OMPI_MCA_btl_ofi_provider_exclude="" OMPI_MCA_btl_ofi_mode=2
	export OMPI_MCA_btl_ofi_progress_mode=manual OMPI_MCA_osc=rdma
	[ "$mode" = run ] || export OMPI_MCA_btl_base_verbose=100 OMPI_MCA_osc_base_verbose=100 \
		FI_LOG_LEVEL=info
	;;
*)
	echo "usage: $0 [--run] vader|mtl-ofi|btl-ofi|osc-rdma [PROVIDER] [-- ARGS (--run)]" >&2
	exit 1
	;;
esac

if [ "$mode" = run ]; then
	# fpgadma's registration cache counters are info lines of its log
	case $transport:$prov in
	vader:*) ;;
	*:fpgadma) export FI_LOG_LEVEL=info ;;
	esac
	rcf=${TMPDIR:-/tmp}/mpi-run.$$.rc
	{ mpirun -n 2 --oversubscribe "$prog" "$@" 2>&1; echo $? > "$rcf"; } |
		awk '!/^libfabric:/ { print; fflush(); next }
			/registration cache: / {
				split($0, f, ":"); m = $0; sub(/^[^>]*> /, "", m)
				print "pid " f[2] ": " m; fflush()
			}'
	rc=$(cat "$rcf" 2>/dev/null || echo 1)
	rm -f "$rcf"
	[ "$rc" -eq 0 ] || echo "mpi-run: mpirun exit status $rc"
	exit "$rc"
fi

log=${TMPDIR:-/tmp}/mpi-run.$$.log
status=0
if [ "$transport" = osc-rdma ]; then
	rounds=${MPI_OSC_ROUNDS:-50}
	: >"$log"
	# osc_run LABEL WINDOWS NEED ARGS...: one mpirun of mpi_osc, checked;
	# its output appended to $log.  WINDOWS: how many windows it makes.
	# NEED: the atomic calls (fetch, compare) that fpgadma's log lines
	# ("DOMAIN: atomics: N fi_atomic, N fi_fetch_atomic, N
	# fi_compare_atomic posted", at each domain's close) must count.
	osc_run() {
		label=$1 nwin=$2 need=$3
		shift 3
		echo "== $label: mpi_osc $*"
		mpirun -n 2 --oversubscribe "$prog" "$@" >"$log.1" 2>&1
		rc=$?
		grep -E '^(PASS|FAIL|ok )' "$log.1"
		grep -E 'Using ofi btl' "$log.1" | sort -u
		if [ "$rc" -ne 0 ] || ! grep -q '^PASS: mpi_osc' "$log.1"; then
			echo "mpirun exit status $rc; the last lines of its output:"
			grep -v '^libfabric:' "$log.1" | tail -n 30
			status=1
		fi
		n=$(grep -c 'rdma component destroying window' "$log.1")
		echo "osc/rdma windows freed (rank lines): $n, of $((2 * nwin)) made"
		if [ "$rc" -eq 0 ] && [ "$n" -lt $((2 * nwin)) ]; then
			echo "FAIL: not every window was osc/rdma's"
			status=1
		fi
		if ! grep -q 'Using ofi btl for send' "$log.1"; then
			echo "FAIL: the ofi BTL did not come up on $prov"
			case $prov in *ofi_rxm*)
				echo "(Open MPI 4.1's ofi BTL refuses every ofi_rxm provider:" \
					"\"ofi_rxm does not support FI_DELIVERY_COMPLETE\")" ;;
			esac
			status=1
		fi
		if grep -qE 'fi_(fetch_|compare_|)atomic failed|unsupported atomic op' "$log.1"; then
			grep -E 'fi_(fetch_|compare_|)atomic failed|unsupported atomic op' "$log.1" | head -n 5
			status=1
		fi
		if [ "$prov" = fpgadma ]; then
			# the provider's own count of the atomics it carried
			sums=$(sed -n 's/.*:fpgadma:.* atomics: \([0-9]*\) fi_atomic, \([0-9]*\) fi_fetch_atomic, \([0-9]*\) fi_compare_atomic.*/\1 \2 \3/p' \
				"$log.1" | awk '{ a += $1; f += $2; c += $3 } END { print a + 0, f + 0, c + 0 }')
			# shellcheck disable=SC2086 # three numbers
			set -- $sums
			echo "provider fpgadma's log: $1 fi_atomic, $2 fi_fetch_atomic, $3 fi_compare_atomic posted (all ranks)"
			for k in $need; do
				case $k in
				fetch) v=$2 ;;
				compare) v=$3 ;;
				esac
				if [ "$v" -eq 0 ]; then
					echo "FAIL: no fi_${k}_atomic went through fpgadma"
					status=1
				fi
			done
		fi
		cat "$log.1" >>"$log"
		rm -f "$log.1"
	}
	osc_run "network atomics (fetch-and-add, swap, compare-and-swap)" 3 \
		"fetch compare" -r "$rounds" -c dynamic -o
	(
		export OMPI_MCA_osc_rdma_acc_use_amo=false
		osc_run "osc_rdma_acc_use_amo=false (every operation as compare-and-swap)" 1 \
			compare -r "$rounds" -w dynamic
		exit "$status"
	) || status=1
else
	mpirun -n 2 --oversubscribe "$prog" >"$log" 2>&1
	rc=$?
	# The program's own lines, and what says which transport ran.
	grep -E '^(PASS|FAIL|ping-pong|fence|lock)|mtl:ofi:provider|Using ofi btl|Using vader btl' "$log" |
		sort -u | head -n 40
	if [ "$rc" -ne 0 ] || ! grep -q '^PASS: mpi_pingpong' "$log"; then
		echo "mpirun exit status $rc; the last lines of its output:"
		grep -v '^libfabric:' "$log" | tail -n 30
		status=1
	fi
fi
case $transport in
mtl-ofi|btl-ofi|osc-rdma)
	# The provider's own log lines ("libfabric:PID:TIME:DOMAIN:PROV:...")
	# prove it ran; of a layered one ("tcp;ofi_rxm"), the top one's.
	n=$(grep -c "^libfabric:[0-9]*:[0-9]*:[^:]*:${prov##*;}:" "$log")
	echo "libfabric log lines of provider ${prov##*;}: $n"
	if [ "$n" -eq 0 ]; then
		echo "FAIL: provider $prov did not log anything: it was not used"
		grep '^libfabric:' "$log" | grep -iE 'warn|fail|error' | tail -n 10
		status=1
	fi
	# fpgadma's registration cache says at each domain's close what it
	# did.  The ofi MTL sends from buffers it never registered, so with
	# the cache on (FI_FPGADMA_MR_CACHE unset or 1) it must have hit; the
	# ofi BTL registers its own buffers (FI_MR_ENDPOINT or its own keys:
	# no cache), its counters are only shown.
	if [ "$prov" = fpgadma ]; then
		grep -o 'registration cache: .*' "$log" | sed 's/^/  /'
		hits=$(grep -o 'registration cache: [0-9]* hits' "$log" |
			awk '{ s += $3 } END { print s + 0 }')
		echo "registration cache hits in all: $hits"
		if [ "$transport" = mtl-ofi ] && [ "${FI_FPGADMA_MR_CACHE:-1}" != 0 ] &&
			[ "$hits" -eq 0 ]; then
			echo "FAIL: the registration cache is on and nothing hit it"
			status=1
		fi
	fi
	;;
esac
rm -f "$log"
case $transport in vader) prov= ;; esac
[ "$status" -eq 0 ] && echo "PASS: mpi-run $transport${prov:+ ($prov)}"
exit "$status"
