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
