#!/bin/sh
# The network checks of the two-node configuration (VM guest; run-suite.sh
# --config twonode): both guests run every check, node a (10.77.0.1) as the
# server, node b (10.77.0.2) as the client, over the virtual Ethernet
# between their QEMU processes and soft-RoCE (rxe0) on it.
#
# Usage (the /tests/net-* wrappers of tests/vm/twonode.list):
#   guest-twonode.sh setup                 the link, rxe0, the peer reached
#   guest-twonode.sh ping                  ICMP to the peer
#   guest-twonode.sh pingpong PROV [ARGS]  libfabric's fi_pingpong (RDM)
#   guest-twonode.sh fabtest PROG PROV SIZE,... [ARGS]
#                                          one of upstream's fabtests
#                                          (fi_rma_bw, fi_msg_bw, ...),
#                                          a run for each size (-S)
#   guest-twonode.sh forward PROV [ARGS]   fabtests/fpga_forward: node a's
#                                          FPGA stream forwarded to node b
#                                          (node a listens and sends, node
#                                          b connects and receives)
#   guest-twonode.sh forward-linkdown PROV [ARGS]
#                                          the same, a long run, and node b
#                                          takes its link down 3 s in (ip
#                                          link set down): both programs
#                                          must end with a clear error
#                                          (exit 1, a FAIL: line); the link
#                                          comes back up after
#   guest-twonode.sh mpi TRANSPORT [ARGS]  an Open MPI job over both nodes
#                                          (2 ranks each: node a runs
#                                          mpirun, node b a dropbear server
#                                          for its rsh launcher), every rank
#                                          reading its node's FPGA through
#                                          fpgadma, the data combined with
#                                          MPI collectives, checked
#                                          (fabtests/mpi_fpga_reduce ARGS;
#                                          TRANSPORT tcp: the tcp BTL,
#                                          ofi-tcp or ofi-verbs: the ofi
#                                          MTL; the details in
#                                          tests/vm/twonode-mpi.sh)
# PROV is tcp or verbs: the RDM tests run tcp;ofi_rxm and verbs;ofi_rxm,
# a test given -e msg the core provider itself.
#
# From guest-init.sh (the kernel command line): FPGADMA_NODE (a or b),
# FPGADMA_NODE_ADDR (this node's address/prefix), FPGADMA_PEER_ADDR.  The
# first check that needs the link sets it up (once per boot): the kernel
# modules of /modules/net/load-order (the NIC's driver, rdma_rxe,
# rdma_ucm), the address on the first Ethernet interface, rdma link add rxe0
# type rxe netdev on it.  What soft-RoCE needs and the initramfs lacks
# (rdma_rxe, the rdma tool, libibverbs' rxe provider) makes the verbs
# checks skip, saying why, and so do missing programs (fi_pingpong,
# upstream's fabtests); a link that cannot be set up fails every check.
#
# The nodes meet before each step (meet NAME STATUS): node a listens on TCP
# port 7700 of the link (busybox nc), node b connects until it answers;
# each learns the other's status word and both know the other is there.
# The server side (node a) starts its program, waits until the program
# listens on its out-of-band port, then meets node b, which starts the
# client (see pair).  Each node reports its own result, its program's exit
# status, and prints the other's; the host counts both nodes' TAP lines.
# ofi_rxm's queues are sized for FI_UNIVERSE_SIZE=16 peers (below).
# Measured figures are printed as lines
#   result: CHECK node N: SIZE bytes RATE MB/s USEC usec/xfer
# (the program's own table: its MB/sec and usec/xfer columns), and for the
# forwarder also
#   forward: CHECK node a: SIZE bytes, MODE: CPU cpu-s/GB (user U, sys S),
#     C bytes copied by the CPU per frame, lost N
set -u

dir=/usr/libexec/fpgadma-twonode
state=/tmp/.fpgadma-twonode
node=${FPGADMA_NODE:-}
addr=${FPGADMA_NODE_ADDR:-}
peer=${FPGADMA_PEER_ADDR:-}
scale=${FPGADMA_TEST_TIME_SCALE:-1}
sync_port=7700
check=${FPGADMA_TWONODE_CHECK:-net}

# ofi_rxm sizes the CQ of its MSG endpoints as the universe size (default
# 256 peers) times their queues' depths, beyond the 32767 entries an rxe
# CQ holds ("Unable to create verbs CQ", fi_enable: EINVAL): two nodes
# need far fewer.
FI_UNIVERSE_SIZE=${FI_UNIVERSE_SIZE:-16}
export FI_UNIVERSE_SIZE

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
now() { cut -d. -f1 /proc/uptime; }

[ -n "$node" ] || [ -n "$addr" ] || [ -n "$peer" ] ||
	skip "not a two-node configuration (no fpgadma.node, fpgadma.addr and fpgadma.peer on the kernel command line)"
if [ -z "$node" ] || [ -z "$addr" ] || [ -z "$peer" ]; then
	fail "fpgadma.node, fpgadma.addr and fpgadma.peer must all be given"
fi
myip=${addr%/*}

# meet NAME STATUS [SECONDS]: wait for the other node to reach the step
# NAME (at most SECONDS, default 120, times the time scale); print its
# STATUS word.  Fails when the time runs out or the nodes disagree on
# the step.
meet() {
	m_name=$1 m_status=$2 m_limit=$(( ${3:-120} * scale ))
	# Once the other node failed to come, it is given 20 s a step: a dead
	# guest costs the rest of the checks little time.
	[ ! -f "$state/peer-lost" ] || m_limit=$((20 * scale))
	m_end=$(( $(now) + m_limit ))
	m_got=
	if [ "$node" = a ]; then
		m_got=$(echo "$m_name $m_status" | timeout "$m_limit" nc -l -p "$sync_port" 2>/dev/null)
	else
		while [ "$(now)" -lt "$m_end" ]; do
			m_got=$(echo "$m_name $m_status" | timeout 20 nc "$peer" "$sync_port" 2>/dev/null)
			[ -z "$m_got" ] || break
			sleep 1
		done
	fi
	if [ -z "$m_got" ]; then
		echo "meet $m_name: the other node did not come within $m_limit s" >&2
		touch "$state/peer-lost"
		return 1
	fi
	rm -f "$state/peer-lost"
	if [ "${m_got%% *}" != "$m_name" ]; then
		echo "meet $m_name: the other node is at step '${m_got%% *}'" >&2
		return 1
	fi
	echo "${m_got#* }"
}

# net_up: the link and rxe0, once per boot; sets rxe_why when soft-RoCE
# is not there (the verbs checks skip with it).
rxe_why=
net_up() {
	mkdir -p "$state"
	if [ -f "$state/failed" ]; then
		fail "the link could not be set up: $(cat "$state/failed")"
	fi
	if [ ! -f "$state/up" ]; then
		if ! net_setup > "$state/setup.log" 2>&1; then
			cat "$state/setup.log"
			tail -n 1 "$state/setup.log" > "$state/failed"
			fail "the link could not be set up: $(cat "$state/failed")"
		fi
		cat "$state/setup.log"
		touch "$state/up"
	fi
	rxe_why=$(cat "$state/rxe-why" 2>/dev/null)
	return 0
}

# link_back_or_skip: after a link-fault check of this boot, the peer must
# answer ping within 30 s.  When it does not, the virtual link itself has
# not come back.  A transmit queue that QEMU no longer served (a lost
# virtio notification; node a's kernel reporting NETDEV WATCHDOG) did
# that, before run-suite.sh gave the twonode guests maxcpus=2, and
# nothing in the guests can undo it; should the link still not come back,
# the check skips saying so (pin-balance still runs after the suite).
link_back_or_skip() {
	[ -f "$state/linkdown-done" ] || return 0
	lb_i=0
	while [ "$lb_i" -lt 30 ]; do
		ping -c 1 -W 1 "$peer" > /dev/null 2>&1 && return 0
		lb_i=$((lb_i + 1))
	done
	dmesg | grep "NETDEV WATCHDOG" | tail -n 2
	skip "the virtual link did not come back after the link-fault checks: the peer does not answer ping for 30 s (a transmit queue QEMU no longer serves shows as NETDEV WATCHDOG in a node's kernel log)"
}

net_setup() {
	if [ ! -f /modules/net/load-order ]; then
		echo "/modules/net is missing (the .net side archive was not appended)"
		return 1
	fi
	while read -r m; do
		grep -q "^${m%.ko} " /proc/modules && continue
		insmod "/modules/net/$m" || echo "insmod $m failed"
	done < /modules/net/load-order
	# The NIC's interface: the first one that is not loopback.
	ifc=
	i=0
	while [ -z "$ifc" ] && [ "$i" -lt 20 ]; do
		for f in /sys/class/net/*; do
			[ "${f##*/}" = lo ] || [ ! -e "$f/device" ] || { ifc=${f##*/}; break; }
		done
		[ -n "$ifc" ] || { sleep 0.5; i=$((i + 1)); }
	done
	if [ -z "$ifc" ]; then
		echo "no network interface appeared (the NIC's driver: $(tr '\n' ' ' < /modules/net/load-order))"
		return 1
	fi
	echo "$ifc" > "$state/ifc"
	ip addr add "$addr" dev "$ifc" || { echo "ip addr add $addr dev $ifc failed"; return 1; }
	ip link set "$ifc" up || { echo "ip link set $ifc up failed"; return 1; }
	i=0
	while [ "$(cat "/sys/class/net/$ifc/carrier" 2>/dev/null)" != 1 ] && [ "$i" -lt 20 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	echo "$ifc: $addr, driver $(basename "$(readlink "/sys/class/net/$ifc/device/driver")"), mac $(cat "/sys/class/net/$ifc/address"), carrier $(cat "/sys/class/net/$ifc/carrier" 2>/dev/null), mtu $(cat "/sys/class/net/$ifc/mtu")"
	# soft-RoCE on it
	why=
	if ! grep -q '^rdma_rxe ' /proc/modules; then
		why="rdma_rxe is not loaded (not in the initramfs: not a module of this kernel)"
	elif ! command -v rdma >/dev/null; then
		why="the rdma tool (iproute2) is not in the initramfs"
	elif [ ! -f /etc/libibverbs.d/rxe.driver ]; then
		why="libibverbs' rxe provider (ibverbs-providers) is not in the initramfs"
	elif ! out=$(rdma link add rxe0 type rxe netdev "$ifc" 2>&1); then
		why="rdma link add rxe0 type rxe netdev $ifc: $out"
	else
		i=0
		while [ ! -d /sys/class/infiniband/rxe0 ] && [ "$i" -lt 20 ]; do
			sleep 0.5
			i=$((i + 1))
		done
		if [ ! -d /sys/class/infiniband/rxe0 ]; then
			why="rxe0 did not appear in /sys/class/infiniband"
		else
			echo "rxe0: $(rdma link show rxe0/1 2>&1)"
			echo "rxe0: port state $(cat /sys/class/infiniband/rxe0/ports/1/state 2>/dev/null), GIDs: $(cat /sys/class/infiniband/rxe0/ports/1/gids/[0-9] 2>/dev/null | grep -v "^0000:0000:0000:0000:0000:0000:0000:0000$" | tr "\n" " ")"
		fi
	fi
	[ -z "$why" ] || echo "soft-RoCE: $why"
	printf '%s' "$why" > "$state/rxe-why"
	return 0
}

# provider PROV [ENDPOINT]: the libfabric provider name for tcp or verbs
# (an RDM endpoint through ofi_rxm, an FI_EP_MSG one on the core provider).
provider() {
	case $1 in
	tcp|verbs) ;;
	*) fail "unknown provider '$1' (tcp or verbs)" ;;
	esac
	if [ "${2:-rdm}" = msg ]; then echo "$1"; else echo "$1;ofi_rxm"; fi
}

# need_prov PROV: skip the verbs checks without rxe0.
need_prov() {
	if [ "$1" = verbs ] && [ -n "$rxe_why" ]; then
		skip "no soft-RoCE device: $rxe_why"
	fi
}

# listening PORT: a TCP socket of this node listens on PORT.
listening() {
	awk -v p=":$(printf '%04X' "$1")" '
		FNR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
		END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# results FILE: the result lines of a program's table in FILE.
results() {
	awk -v check="$check" -v node="$node" '
		$1 == "bytes" {
			m = u = 0
			for (i = 1; i <= NF; i++) {
				if ($i == "MB/sec") m = i
				if ($i == "usec/xfer") u = i
			}
			next
		}
		m && $1 ~ /^[0-9]+[kmg]?$/ {
			printf "result: %s node %s: %s bytes %s MB/s %s usec/xfer\n", check, node, $1, $m, u ? $u : "-"
		}' "$1"
}

# pair NAME PORT CMD...: node a runs CMD as the server, node b runs CMD
# with the server's address appended as the client; PORT is the TCP port
# the server listens on first (its out-of-band or control port).  The
# nodes meet three times: NAME-ready (node a's server listens, or not),
# NAME-done (node b's client ended: node a gives its server 30 s more)
# and NAME-result (each learns the other's exit status).  Fails unless
# this node's program exited 0.  FPGADMA_TWONODE_SERVER=b swaps the roles
# (node b serves, node a connects): upstream's bandwidth tests send from
# the client, and the benchmarks measure the link in the direction the
# forwarder sends, node a to node b (bench/guest-bench.sh).
pair() {
	p_name=$1 p_port=$2
	shift 2
	p_server=${FPGADMA_TWONODE_SERVER:-a}
	p_limit=$((150 * scale))
	# pair_expect=fail: the program must fail cleanly (exit 1, a FAIL:
	# line saying why), as when the link goes down under it
	p_expect=${pair_expect:-ok}
	p_out=$PWD/$p_name.out
	p_other=unknown p_status='' p_peer=''
	if [ "$node" = "$p_server" ]; then
		echo "node $node (server): $*"
		timeout -s KILL "$p_limit" "$@" > "$p_out" 2>&1 &
		p_pid=$!
		p_i=0 p_status=no
		while [ "$p_i" -lt $((600 * scale)) ]; do
			if listening "$p_port"; then p_status=ok; break; fi
			kill -0 "$p_pid" 2>/dev/null || break
			sleep 0.1
			p_i=$((p_i + 1))
		done
		if ! p_peer=$(meet "$p_name-ready" "$p_status"); then
			kill -9 "$p_pid" 2>/dev/null
			wait "$p_pid"
			cat "$p_out"
			fail "the other node did not come"
		fi
		if [ "$p_status" = ok ]; then
			meet "$p_name-done" - $((p_limit + 60)) >/dev/null
			p_i=0
			while kill -0 "$p_pid" 2>/dev/null && [ "$p_i" -lt $((300 * scale)) ]; do
				sleep 0.1
				p_i=$((p_i + 1))
			done
		fi
		kill -9 "$p_pid" 2>/dev/null
		wait "$p_pid"
		p_rc=$?
	else
		echo "node $node (client): $* $peer"
		p_peer=$(meet "$p_name-ready" ok) || fail "the other node did not come"
		if [ "$p_peer" = ok ]; then
			timeout -s KILL "$p_limit" "$@" "$peer" > "$p_out" 2>&1
			p_rc=$?
			meet "$p_name-done" "$p_rc" >/dev/null
		else
			p_rc=-
			: > "$p_out"
		fi
	fi
	p_other=$(meet "$p_name-result" "$p_rc" 60) || p_other=unknown
	cat "$p_out"
	results "$p_out"
	echo "node $node: exit status $p_rc; node $( [ "$node" = a ] && echo b || echo a)'s: $p_other"
	case $node=$p_server:$p_status$p_peer in
	a=a:no*|b=b:no*) fail "the server did not listen on port $p_port" ;;
	*:*no) fail "the server on node $p_server did not listen" ;;
	esac
	if [ "$p_expect" = fail ]; then
		case $p_rc in
		0) fail "exit status 0: the program did not notice the link going down" ;;
		1)
			grep -q '^FAIL: ' "$p_out" || fail "exit status 1 without a FAIL: line saying why"
			echo "node $node: ended with the error expected: $(grep '^FAIL: ' "$p_out" | head -n 1)"
			return 0
			;;
		137) fail "killed (time limit $p_limit s): the program hung when the link went down" ;;
		*) fail "exit status $p_rc, expected 1 (a clear error)" ;;
		esac
	fi
	case $p_rc in
	0) return 0 ;;
	137) fail "killed (time limit $p_limit s)" ;;
	*) fail "exit status $p_rc" ;;
	esac
}

# oob_port NAME: a port for the step NAME, the same on both nodes.
oob_port() {
	echo "$1" | awk '{
		c = "abcdefghijklmnopqrstuvwxyz0123456789_-"
		for (i = 1; i <= length($0); i++) h = (h * 31 + index(c, substr($0, i, 1))) % 400
		print 47600 + h
	}'
}

cmd=${1:-}
[ $# -eq 0 ] || shift
case $cmd in
setup)
	net_up
	# Both nodes are up: the first step they meet at, given time for the
	# slower one's boot and the checks before this one.
	if [ -z "$rxe_why" ]; then have=rxe0; else have=no-rxe0; fi
	other=$(meet setup "$have" 600) ||
		fail "the other node was not reached at $peer (port $sync_port)"
	echo "node $node ($myip) met the other node at $peer: it has ${other}"
	echo "node $node: ip addr: $(ip -4 addr show dev "$(cat "$state/ifc")" | awk '/inet / { print $2 }')"
	if command -v fi_info >/dev/null; then
		for p in tcp verbs; do
			[ "$p" = tcp ] || [ -z "$rxe_why" ] || continue
			out=$(FI_TCP_IFACE=$(cat "$state/ifc") fi_info -p "$p;ofi_rxm" -t FI_EP_RDM 2>&1)
			echo "fi_info -p '$p;ofi_rxm' -t FI_EP_RDM:"
			echo "$out" | grep -E 'provider:|fabric:|domain:' | head -n 6
			echo "$out" | grep -q 'provider:' || fail "libfabric finds no $p;ofi_rxm provider"
		done
	fi
	;;
ping)
	net_up
	meet ping - >/dev/null || fail "the other node did not come"
	ping -c 5 -w $((30 * scale)) "$peer" || fail "ping $peer failed"
	meet ping-done - >/dev/null
	;;
pingpong)
	prov=${1:?provider}
	shift
	net_up
	need_prov "$prov"
	command -v fi_pingpong >/dev/null || skip "fi_pingpong (libfabric-bin) is not in the initramfs"
	port=$(oob_port "$check")
	ifc=$(cat "$state/ifc")
	if [ "$node" = a ]; then ctl="-B $port"; else ctl="-P $port"; fi
	export FI_TCP_IFACE="$ifc" FI_VERBS_IFACE="$ifc"
	# shellcheck disable=SC2086 # $ctl is two words
	pair "$check" "$port" fi_pingpong -p "$(provider "$prov")" -e rdm $ctl "$@"
	;;
fabtest)
	prog=${1:?program}
	prov=${2:?provider}
	sizes=${3:?sizes}
	shift 3
	net_up
	need_prov "$prov"
	[ -x "$dir/bin/$prog" ] ||
		skip "upstream's $prog is not in the initramfs ($(cat "$dir/upstream-why" 2>/dev/null || echo 'tests/upstream-fabtests.sh builds them'))"
	ep=rdm
	for a in "$@"; do [ "$a" != msg ] || ep=msg; done
	ifc=$(cat "$state/ifc")
	export FI_TCP_IFACE="$ifc" FI_VERBS_IFACE="$ifc"
	# One run a size: the programs allocate their window (64 messages)
	# of the largest size they run, 8 MiB without -S.
	for size in $(echo "$sizes" | tr ',' ' '); do
		port=$(oob_port "$check-$size")
		pair "$check-$size" "$port" "$dir/bin/$prog" -p "$(provider "$prov" "$ep")" \
			-E="$port" -s "$myip" -S "$size" "$@"
	done
	;;
_linkdown)
	# _linkdown SECS CMD...: run CMD, take the link down SECS seconds in,
	# bring it up again once CMD ended; CMD's exit status
	secs=${1:?seconds}
	shift
	ifc=$(cat "$state/ifc")
	"$@" &
	l_pid=$!
	sleep "$secs"
	echo "node $node: ip link set $ifc down (with the program running)"
	ip link set "$ifc" down
	wait "$l_pid"
	l_rc=$?
	ip link set "$ifc" up
	i=0
	while [ "$(cat "/sys/class/net/$ifc/carrier" 2>/dev/null)" != 1 ] && [ "$i" -lt 40 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	echo "node $node: ip link set $ifc up: carrier $(cat "/sys/class/net/$ifc/carrier" 2>/dev/null)"
	exit "$l_rc"
	;;
forward|forward-linkdown)
	prov=${1:?provider}
	shift
	net_up
	need_prov "$prov"
	[ -x "$dir/bin/fpga_forward" ] ||
		skip "fabtests/fpga_forward is not in the initramfs (configure found no libfabric)"
	port=$(oob_port "$check")
	ifc=$(cat "$state/ifc")
	# fpgadma's provider (the .fabtests archive) beside libfabric's own
	export FI_TCP_IFACE="$ifc" FI_VERBS_IFACE="$ifc" FI_PROVIDER_PATH=/usr/lib/fpgadma/libfabric
	# Node a has the FPGA whose frames go out: it listens and sends.
	if [ "$node" = a ]; then role="-s --send"; else role="--recv"; fi
	if [ "$cmd" = forward-linkdown ]; then
		# long enough to be cut; a stalled link noticed within 5 s
		touch "$state/linkdown-done"
		pair_expect=fail
		set -- -n 1000000 -T 5 "$@"
		# shellcheck disable=SC2086 # $role is words
		if [ "$node" = b ]; then
			pair "$check" "$port" "$0" _linkdown 3 "$dir/bin/fpga_forward" -p "$prov" \
				-P "$port" $role "$@"
		else
			pair "$check" "$port" "$dir/bin/fpga_forward" -p "$prov" -P "$port" $role "$@"
		fi
		exit 0
	fi
	link_back_or_skip
	# shellcheck disable=SC2086 # $role is words
	pair "$check" "$port" "$dir/bin/fpga_forward" -p "$prov" -P "$port" $role "$@"
	# the sender's CPU time per GB (not a "result:" line: no MB/s in it)
	awk -v check="$check" -v node="$node" '
		$1 == "bytes" {
			c = 0
			for (i = 1; i <= NF; i++) col[$i] = i
			c = col["cpu-s/GB"]
			next
		}
		c && $1 ~ /^[0-9]+$/ {
			printf "forward: %s node %s: %s bytes, %s: %s cpu-s/GB (user %s, sys %s), %s bytes copied by the CPU per frame, lost %s\n",
				check, node, $1, $col["mode"], $c, $col["user-s/GB"], $col["sys-s/GB"], $col["copied-B/frame"], $col["lost"]
		}' "$PWD/$check.out"
	;;
mpi)
	net_up
	[ -r "$dir/twonode-mpi.sh" ] || skip "$dir/twonode-mpi.sh is not in the initramfs"
	# shellcheck source=tests/vm/twonode-mpi.sh
	. "$dir/twonode-mpi.sh"
	mpi_check "$@"
	;;
*)
	fail "unknown check '$cmd' (setup, ping, pingpong, fabtest, forward, forward-linkdown, mpi)"
	;;
esac
exit 0
