# The two-node MPI check (VM guest; sourced by tests/vm/guest-twonode.sh
# for its lines "NAME mpi TRANSPORT [ARGS...]" of tests/vm/twonode.list):
# an Open MPI job of 4 ranks, 2 on each node, running
# fabtests/mpi_fpga_reduce: every rank reads its node's FPGA through the
# fpgadma provider and the ranks combine the data with MPI collectives
# across the nodes, every result checked (see the program).
#
# Decisions:
#   launcher   Open MPI's rsh launcher (plm rsh) on node a, its agent
#              twonode-mpi-rsh: Debian's dropbear client (dbclient) with
#              the test's key.  Node b runs Debian's dropbear server on its
#              link address only (port 22, public-key logins only, no
#              forwarding), which starts Open MPI's orted there.  The keys
#              (the host key, the client's key and its authorized_keys
#              line) are made with dropbearkey when the initramfs is built,
#              in the build's output directory; both nodes carry the same
#              ones: a closed test link between two guests.  The remote
#              side needs no PATH or LD_LIBRARY_PATH: Open MPI sits at its
#              Debian paths in both guests; dropbear passes its own
#              environment (-e) on, which allows root (the guest's only
#              user) to run Open MPI.
#   hosts      fpgadma-a and fpgadma-b (the guests' hostnames, set at
#              boot), in /etc/hosts with the link addresses; a hostfile of
#              both with slots=2 each, ranks 0 and 1 on node a, 2 and 3 on
#              node b; no binding (a guest has 1 vCPU).
#   transport  TRANSPORT tcp: ob1 with the tcp BTL between the nodes on the
#              link's subnet only, vader (shared memory) within a node.
#              ofi-tcp, ofi-verbs: cm with the ofi MTL on libfabric's
#              tcp;ofi_rxm or verbs;ofi_rxm (soft-RoCE rxe0 on the link;
#              skips without it), within a node too;
#              each rank's log line
#              of what the MTL took (mtl_base_verbose: the domain of the
#              one provider allowed, the link's interface or rxe0) must be
#              there, 2 on each node.  Open MPI's own out-of-band traffic goes on
#              the link.  The program's own libfabric use (fpgadma, the
#              FPGA) is separate from MPI's.
#   results    mpirun on node a prints the program's PASS line; each rank
#              writes its verdict to /tmp/fpgadma-mpi-CHECK/rank-R of its
#              node, and each node checks its own 2 files (its ranks ran
#              there and passed): node b's check is not node a's word.
#              After the job no orted and no rank may be left on either
#              node (the suite's pin-balance check comes after), and node b
#              stops its server.
# Missing Open MPI, dropbear, the program or the provider: the check skips
# on both nodes, saying why (both boot the same initramfs).
#
# Uses guest-twonode.sh's meet, net_up, skip, fail, listening, now and its
# variables (dir, state, node, addr, myip, peer, scale, check).
# shellcheck shell=sh disable=SC2154 # those variables are guest-twonode.sh's

mpi_prog=/usr/libexec/fpgadma-fabtests/mpi_fpga_reduce
mpi_rsh=$dir/twonode-mpi-rsh
mpi_ranks_per_node=2

# mpi_procs NAME: the pids of the processes whose command is NAME.
mpi_procs() {
	for f in /proc/[0-9]*/comm; do
		read -r c < "$f" 2>/dev/null || continue
		[ "$c" != "$1" ] || { f=${f%/comm}; echo "${f#/proc/}"; }
	done
}

# mpi_leftovers: wait up to 20 s for orted, the ranks and the launcher's
# dbclient to end on this node; kill what is left and say so (status 1).
mpi_leftovers() {
	ml_i=0
	while [ "$ml_i" -lt $((200 * scale)) ]; do
		[ -n "$(mpi_procs orted)$(mpi_procs mpi_fpga_reduce)$(mpi_procs dbclient)" ] || return 0
		sleep 0.1
		ml_i=$((ml_i + 1))
	done
	ml_left="$(mpi_procs orted) $(mpi_procs mpi_fpga_reduce) $(mpi_procs dbclient)"
	echo "node $node: left running after the job: orted/mpi_fpga_reduce/dbclient pids $ml_left (killed)"
	# shellcheck disable=SC2086 # pids
	kill -9 $ml_left 2>/dev/null
	return 1
}

# mpi_verdicts DIR: this node's ranks wrote DIR/rank-R, each PASS, on this
# host, mpi_ranks_per_node of them.
mpi_verdicts() {
	mv_n=0 mv_bad=0
	for f in "$1"/rank-*; do
		[ -f "$f" ] || continue
		mv_n=$((mv_n + 1))
		echo "node $node: $(cat "$f")"
		case $(cat "$f") in
		"PASS rank "*" on $(hostname):"*) ;;
		*) mv_bad=$((mv_bad + 1)) ;;
		esac
	done
	if [ "$mv_n" -ne "$mpi_ranks_per_node" ]; then
		echo "node $node: $mv_n ranks reported here, expected $mpi_ranks_per_node"
		return 1
	fi
	[ "$mv_bad" -eq 0 ] || { echo "node $node: $mv_bad of its ranks did not pass"; return 1; }
	return 0
}

mpi_check() {
	transport=${1:?transport}
	shift
	ifc=$(cat "$state/ifc")
	subnet=${myip%.*}.0/${addr#*/}
	# How MPI moves data: between the nodes on the link only; mpi_prov is
	# the libfabric provider the ofi MTL must report on both nodes.  The
	# options are words without blanks (expanded unquoted below).
	mpi_prov=
	case $transport in
	tcp)
		mpi_opts="--mca pml ob1 --mca btl tcp,self,vader --mca btl_tcp_if_include $subnet"
		mpi_opts="$mpi_opts --mca btl_vader_single_copy_mechanism none"
		;;
	ofi-tcp|ofi-verbs)
		need_prov "${transport#ofi-}"
		mpi_prov="${transport#ofi-};ofi_rxm"
		mpi_opts="--mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include $mpi_prov"
		mpi_opts="$mpi_opts --mca mtl_base_verbose 10 -x FI_TCP_IFACE=$ifc -x FI_VERBS_IFACE=$ifc"
		mpi_opts="$mpi_opts -x FI_UNIVERSE_SIZE=$FI_UNIVERSE_SIZE"
		;;
	*) fail "unknown MPI transport '$transport' (tcp, ofi-tcp, ofi-verbs)" ;;
	esac
	[ ! -f "$dir/mpi-why" ] || skip "$(cat "$dir/mpi-why")"
	for p in mpirun orted dropbear dbclient; do
		command -v "$p" >/dev/null || skip "$p is not in the initramfs (Open MPI and dropbear go in with the .mpi and .net side archives)"
	done
	[ -x "$mpi_prog" ] || skip "$mpi_prog is not in the initramfs (not built: configure found no mpicc or no libfabric)"
	if [ ! -f /etc/dropbear/dropbear_ed25519_host_key ] || [ ! -f /root/.ssh/id_dropbear ]; then
		skip "the test's dropbear keys are not in the initramfs"
	fi

	other=b
	[ "$node" = a ] || other=a
	peer_name=fpgadma-$other
	grep -q " $peer_name\$" /etc/hosts ||
		printf '%s fpgadma-%s\n%s %s\n' "$myip" "$node" "$peer" "$peer_name" >> /etc/hosts
	[ "$(hostname)" = "fpgadma-$node" ] || hostname "fpgadma-$node"
	out=/tmp/fpgadma-mpi-$check
	rm -rf "$out"
	# mpirun's time limit: with the meetings around it within the guest's
	# 300 s a check, so that a hung job is ended here and cleaned up
	# (SIGTERM: mpirun ends its job on both nodes; SIGKILL 10 s later)
	limit=$((150 * scale))
	log=$PWD/$check.out
	: > "$log"

	if [ "$node" = b ]; then
		# the server Open MPI's launcher reaches, on the link only
		env OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
			dropbear -F -E -e -s -j -k -r /etc/dropbear/dropbear_ed25519_host_key \
			-p "$myip:22" -P "$state/dropbear.pid" > "$PWD/$check.dropbear" 2>&1 &
		db_pid=$!
		st=no i=0
		while [ "$i" -lt $((300 * scale)) ]; do
			if listening 22; then st=ok; break; fi
			kill -0 "$db_pid" 2>/dev/null || break
			sleep 0.1
			i=$((i + 1))
		done
		echo "node b: dropbear on $myip:22: $st"
		if ! a_st=$(meet "$check-ready" "$st"); then
			kill "$db_pid" 2>/dev/null
			wait "$db_pid"
			fail "node a did not come"
		fi
		rc=-
		if [ "$st" = ok ]; then
			# node a's mpirun status when it ended
			rc=$(meet "$check-done" - $((limit + 60))) || rc=lost
		fi
		left=0
		mpi_leftovers || left=1
		kill "$db_pid" 2>/dev/null
		wait "$db_pid"
		echo "node b: dropbear's log:"
		sed 's/^/  /' "$PWD/$check.dropbear"
		own=0
		mpi_verdicts "$out" || own=1
		a_res=$(meet "$check-result" "$own" 60) || a_res=unknown
		echo "node b: mpirun on node a: exit status $rc; node a's check: $a_res"
		[ "$st" = ok ] || fail "dropbear did not listen on $myip:22"
		[ "$a_st" = ok ] || fail "node a was not ready (its status: $a_st)"
		[ "$left" -eq 0 ] || fail "processes of the job were left running on node b"
		[ "$own" -eq 0 ] || fail "node b's ranks did not all run and pass here"
		[ "$rc" = 0 ] || fail "mpirun on node a: exit status $rc"
		return 0
	fi

	# node a: launch the job once node b's server listens
	printf 'fpgadma-a slots=%s\nfpgadma-b slots=%s\n' "$mpi_ranks_per_node" \
		"$mpi_ranks_per_node" > "$state/hostfile"
	b_st=$(meet "$check-ready" ok) || fail "node b did not come"
	[ "$b_st" = ok ] || { meet "$check-result" 1 60 >/dev/null; fail "node b's dropbear server did not listen (node b: $b_st)"; }
	# shellcheck disable=SC2086 # $mpi_opts is words
	set -- mpirun --allow-run-as-root -np $((2 * mpi_ranks_per_node)) \
		--hostfile "$state/hostfile" --bind-to none \
		--mca plm rsh --mca plm_rsh_agent "$mpi_rsh" --mca plm_rsh_no_tree_spawn 1 \
		--mca oob_tcp_if_include "$subnet" $mpi_opts \
		-x FI_PROVIDER_PATH=/usr/lib/fpgadma/libfabric -x FPGADMA_TEST_TIME_SCALE="$scale" \
		"$mpi_prog" -N 2 -R "$mpi_ranks_per_node" -o "$out" "$@"
	echo "node a: $*"
	t0=$(now)
	OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
		timeout -s TERM -k 10 "$limit" "$@" > "$log" 2>&1
	rc=$?
	echo "node a: mpirun exit status $rc after $(( $(now) - t0 )) s"
	meet "$check-done" "$rc" >/dev/null || echo "node a: node b did not take the result"
	left=0
	mpi_leftovers || left=1
	own=0
	mpi_verdicts "$out" || own=1
	b_res=$(meet "$check-result" "$own" 60) || b_res=unknown
	cat "$log"
	echo "node a: node b's check of its ranks: $b_res"
	pass_line=$(grep '^PASS: mpi_fpga_reduce' "$log")
	case $rc in 137|143) fail "mpirun stopped (time limit $limit s; exit status $rc)" ;; esac
	[ "$rc" -ne 77 ] || skip "$(grep '^SKIP: ' "$log" | head -n 1) ($(grep 'rank .* on ' "$log" | head -n 1))"
	[ "$rc" -eq 0 ] || fail "mpirun exit status $rc"
	[ -n "$pass_line" ] || fail "no PASS line from mpi_fpga_reduce"
	[ "$left" -eq 0 ] || fail "processes of the job were left running on node a"
	[ "$own" -eq 0 ] || fail "node a's ranks did not all run and pass here"
	[ "$b_res" = 0 ] || fail "node b's ranks did not all run and pass there (node b: $b_res)"
	if [ -n "$mpi_prov" ]; then
		# The ofi MTL's choice, as each rank logs it (mtl_base_verbose):
		# Open MPI 4.1 names the domain it opened ("mtl:ofi:provider:
		# DOMAIN"), of the one provider its include list allows: tcp's
		# is the link's interface, verbs' the rxe device.
		case $mpi_prov in tcp*) dom=$ifc ;; *) dom=rxe0 ;; esac
		for h in fpgadma-a fpgadma-b; do
			n=$(grep -c "^\[$h:[0-9]*\] .*mtl:ofi:provider: $dom\$" "$log")
			echo "node a: ranks on $h whose ofi MTL opened $mpi_prov's domain $dom: $n"
			[ "$n" -eq "$mpi_ranks_per_node" ] ||
				fail "the ofi MTL did not run on $mpi_prov ($dom) in every rank on $h"
		done
	fi
	echo "mpi: $check: $pass_line"
	return 0
}
