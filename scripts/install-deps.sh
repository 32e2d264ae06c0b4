#!/usr/bin/env bash
# Install every Debian package fpgadma needs to build and test.
#
# Idempotent: each package is checked with dpkg first, and apt-get (update
# and install) only runs when something is missing, so on a ready machine
# this does nothing.  Needs root (or sudo) only in that case.
#
# Besides the packages below, the VM tests boot the newest installed 6.1
# kernel image, and the module is built against that kernel's headers: they
# are installed too when missing (linux-headers-<release>).
#
# Environment: FPGADMA_EXTRA_PACKAGES="pkg ..." adds packages.
set -euo pipefail

packages=(
	# build
	gcc make autoconf automake libtool pkg-config
	libfabric-dev libfabric-bin
	# man/fi_fpgadma.7 rendered from its markdown (man/md2man.py); the man
	# page checks (man --warnings, lexgrog)
	python3 man-db groff-base
	# Debian packages and their test (scripts/package-test.sh): build,
	# DKMS, lintian, a clean chroot; the source copy comes from git
	dpkg-dev debhelper dh-dkms dkms lintian debootstrap git
	# kernel module: headers (built against) and image (booted by the tests)
	linux-image-amd64 linux-headers-amd64 kmod bc flex bison
	# module checks: sparse, and checkpatch.pl taken from the kernel source
	sparse linux-source-6.1 xz-utils perl
	# the debug-kernel tier's kernel, built from linux-source-6.1 (objtool)
	libelf-dev
	# VM tests: emulator, guest userland, initramfs tools
	qemu-system-x86 busybox-static cpio gzip libc-bin binutils
	# the MPI test (tests/mpi/): mpicc and mpirun, also copied into the guest
	openmpi-bin libopenmpi-dev
	# benchmarks (make bench): plots; verbs on the soft-RoCE device (rdma_rxe
	# is in Debian's kernel image) as the registration anchor, perftest's
	# ib_read_bw/ib_read_lat, the rdma tool (iproute2) to add the rxe link
	gnuplot-nox libibverbs-dev ibverbs-providers rdma-core perftest iproute2
	# the two-node VM configuration (tests/vm/twonode.list): soft-RoCE on the
	# link between the guests (rdma_rxe and virtio_net are modules of the
	# kernel image; iproute2's rdma tool adds rxe0, libibverbs' rxe provider
	# and librdmacm serve libfabric's verbs provider), Debian's fi_pingpong
	# (libfabric-bin), upstream's fi_rma_bw and fi_msg_bw (below)
	iproute2 ibverbs-providers librdmacm1 libfabric-bin
	# the two-node MPI check (net-mpi-*): Open MPI's rsh launcher reaches
	# node b through Debian's small ssh server and client (dropbear,
	# dbclient, dropbearkey for the test keys made at initramfs build time)
	dropbear-bin
	# the upstream conformance run (tests/upstream-fabtests.sh): libfabric's
	# fabtests from Debian's source package (apt-get source, dpkg-source
	# unpacking its .tar.xz; the deb-src entry below), or from a git
	# repository (git archive, autogen.sh), built against libfabric-dev
	dpkg-dev xz-utils git autoconf automake libtool make gcc libfabric-dev
)
# shellcheck disable=SC2206 # word splitting is the point
[ -n "${FPGADMA_EXTRA_PACKAGES:-}" ] && packages+=(${FPGADMA_EXTRA_PACKAGES})

log() { printf 'install-deps: %s\n' "$*"; }

is_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		log "need root to run: $*" >&2
		exit 1
	fi
}

updated=no
apt_install() {
	local -a env=(env DEBIAN_FRONTEND=noninteractive)
	if [ "$updated" = no ]; then
		log "apt-get update"
		as_root "${env[@]}" apt-get -q update
		updated=yes
	fi
	log "installing: $*"
	as_root "${env[@]}" apt-get -q -y --no-install-recommends install "$@"
}

# A deb-src entry for Debian's main archive, with the URIs, suites and key
# of its deb entry, so that 'apt-get source libfabric' works (the upstream
# fabtests, tests/upstream-fabtests.sh): written once, in deb822 form,
# unless some other entry has those sources already.
src_list=/etc/apt/sources.list.d/fpgadma-src.sources
# main_archive: "URIS|SUITES|SIGNED-BY" of the first deb entry of Debian's
# main archive (not -security, with component main), deb822 or one-line.
main_archive() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		if [ ! -f "$f" ] || [ "$f" = "$src_list" ]; then continue; fi
		awk '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && comps ~ /(^| )main( |$)/ &&
				    uris != "" && uris !~ /security/ && suites !~ /-security/) {
					print uris "|" suites "|" key; found = 1; exit
				}
				types = uris = suites = comps = key = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			/^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
			/^Signed-By:/ { sub(/^Signed-By:[ \t]*/, ""); key = $0 }
			END { if (!found) flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENT...
		awk '$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
				uri = $i; suite = $(i + 1)
				if (uri !~ /security/ && suite !~ /-security/ && / main( |$)/) {
					s[uri] = s[uri] (s[uri] == "" ? "" : " ") suite
					if (u == "") u = uri
				}
			}
			END { if (u != "") print u "|" s[u] "|" }' "$f"
	done
}
# has_deb_src URI: some entry other than ours has deb-src for URI.
has_deb_src() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		if [ ! -f "$f" ] || [ "$f" = "$src_list" ]; then continue; fi
		if grep -q "^deb-src.* ${1%/}/\{0,1\} " "$f" 2>/dev/null ||
		   awk -v uri="${1%/}" '
			/^[ \t]*$/ { t = u = ""; next }
			/^Types:/ && / deb-src( |$)/ { t = 1 }
			/^URIs:/ { for (i = 2; i <= NF; i++) { x = $i; sub(/\/$/, "", x); if (x == uri) u = 1 } }
			t && u { found = 1; exit }
			END { exit !found }' "$f"; then
			return 0
		fi
	done
	return 1
}
archive=$(main_archive | head -n 1)
if [ -z "$archive" ]; then
	log "no deb entry for Debian's main archive found: no deb-src entry added (apt-get source will fail; set FPGADMA_LIBFABRIC_SRC for the upstream fabtests)"
else
	IFS='|' read -r src_uris src_suites src_key <<<"$archive"
	src_want="# Debian's sources, for 'apt-get source libfabric' (the upstream fabtests):
# written by fpgadma's scripts/install-deps.sh from the deb entry.
Types: deb-src
URIs: $src_uris
Suites: $src_suites
Components: main${src_key:+
Signed-By: $src_key}"
	if [ -f "$src_list" ] && [ "$(cat "$src_list")" = "$src_want" ]; then
		:
	elif has_deb_src "${src_uris%% *}"; then
		:
	else
		log "adding $src_list (deb-src $src_uris $src_suites main)"
		printf '%s\n' "$src_want" | as_root tee "$src_list.tmp" >/dev/null
		as_root mv "$src_list.tmp" "$src_list"
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get -q update
		updated=yes
	fi
fi

missing=()
for p in "${packages[@]}"; do
	is_installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	apt_install "${missing[@]}"
fi

# The headers of the newest installed 6.1 image kernel: the build uses them
# by default and the VM boots that image, so the two must match.
newest=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' 'linux-image-6.1*' 2>/dev/null |
	sed -n 's/^installed linux-image-\(6\.1\.[0-9]*-[0-9]*-amd64\)$/\1/p' |
	sort -V | tail -n 1 || true)
if [ -z "$newest" ]; then
	log "no linux-image-6.1 kernel is installed (linux-image-amd64 should have brought one)" >&2
	exit 1
fi
if ! is_installed "linux-headers-$newest"; then
	apt_install "linux-headers-$newest"
fi
if [ ! -d "/lib/modules/$newest/build" ] || [ ! -e "/boot/vmlinuz-$newest" ]; then
	log "kernel $newest: /lib/modules/$newest/build or /boot/vmlinuz-$newest is missing" >&2
	exit 1
fi

if [ "${#missing[@]}" -eq 0 ] && [ "$updated" = no ]; then
	log "all packages present (kernel $newest)"
else
	log "done (kernel $newest)"
fi
