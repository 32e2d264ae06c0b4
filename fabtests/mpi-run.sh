#!/bin/sh
# Run mpi_pingpong on two ranks of this machine with one of Open MPI's
# transports, and check that the transport asked for carried it.
#
# Usage: fabtests/mpi-run.sh TRANSPORT [PROVIDER]
#        fabtests/mpi-run.sh --run TRANSPORT [PROVIDER] [-- ARGS...]
#   vader     ob1 with the shared-memory BTL (the launcher alone is tested)
#   mtl-ofi   cm with the ofi MTL on libfabric provider PROVIDER
#   btl-ofi   ob1 with the ofi BTL (two-sided mode) on PROVIDER; Open MPI
#             4.1's ofi BTL needs FI_RMA | FI_ATOMIC from the provider
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
mode=check
if [ "${1:-}" = --run ]; then mode=run; shift; fi
transport=${1:-}
[ $# -eq 0 ] || shift
prov=fpgadma
case ${1-} in --) ;; "") [ $# -eq 0 ] || shift ;; *) prov=$1; shift ;; esac
[ "${1:-}" != -- ] || shift
if [ "$mode" = check ] && [ $# -gt 0 ]; then transport=; fi
here=$(cd "$(dirname "$0")" && pwd)
prog=${MPI_PINGPONG:-$here/mpi_pingpong}
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: no mpirun"; exit 77; }
[ -x "$prog" ] || { echo "SKIP: $prog not built (no mpicc)"; exit 77; }

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
*)
	echo "usage: $0 [--run] vader|mtl-ofi|btl-ofi [PROVIDER] [-- ARGS (--run)]" >&2
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
mpirun -n 2 --oversubscribe "$prog" >"$log" 2>&1
rc=$?
# The program's own lines, and what says which transport ran.
grep -E '^(PASS|FAIL|ping-pong|fence|lock)|mtl:ofi:provider|Using ofi btl|Using vader btl' "$log" |
	sort -u | head -n 40
status=0
if [ "$rc" -ne 0 ] || ! grep -q '^PASS: mpi_pingpong' "$log"; then
	echo "mpirun exit status $rc; the last lines of its output:"
	grep -v '^libfabric:' "$log" | tail -n 30
	status=1
fi
case $transport in
mtl-ofi|btl-ofi)
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
