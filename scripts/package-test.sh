#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
#
# package-test: the Debian packages, built and installed as a user would.
#
#   1. builds them (dpkg-buildpackage -us -uc -b) in a copy of the source
#      tree under a temporary directory, so the work tree stays as it is,
#      and runs lintian on them (no error allowed; warnings are listed);
#   2. makes a clean chroot of the host's Debian release with debootstrap
#      (minbase; the finished chroot is kept as a tarball in
#      ${XDG_CACHE_HOME:-$HOME/.cache}/fpgadma/debootstrap and the packages
#      apt downloads in .../apt-archives, so that a rerun downloads
#      nothing), from the mirror the host's apt uses;
#   3. installs there the kernel headers of the host's version
#      (linux-headers-amd64=VERSION), then the five packages with apt, which
#      brings what they depend on (DKMS among it): DKMS must have built and
#      installed the modules; pkg-config, a program compiled and linked
#      against libfpgadma, fi_info finding the provider with no
#      FI_PROVIDER_PATH, man finding the pages and rendering them without a
#      warning;
#   4. purges the packages: nothing of them may be left (DKMS's tree, the
#      modules, every file they installed);
#   5. unpacks the release tarball (make dist) into /usr/src of the chroot:
#      'dkms install fpgadma/VERSION' must build and install it as it is;
#   6. boots the modules DKMS built in step 3 for Debian's kernel in the
#      test VM (tests/vm/run-suite.sh, configuration default) with a quick
#      selection of the VM suite, when this tree is built.
#
# One line per check ("ok" or "FAIL"), the time of each phase, and last
# "package-test: N passed, N failed"; the exit status is nonzero when a
# check failed.  Needs root (debootstrap, chroot) and the packages
# scripts/install-deps.sh installs (dpkg-dev, debhelper, dh-dkms, lintian,
# debootstrap).
#
# Options:
#   --keep         keep the temporary directory (sources, packages, chroot)
#   --no-lintian   skip lintian
#   --debs DIR     test the .deb files in DIR instead of building them
# Environment: JOBS (parallel build jobs, default: number of CPUs),
# FPGADMA_PKG_CHECK=1 (let dpkg-buildpackage run make check, off by default:
# scripts/test-all.sh runs the host tests anyway), FPGADMA_MIRROR (the
# Debian mirror, default: the host's), TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

keep=no
lintian=yes
debs_dir=
while [ $# -gt 0 ]; do
	case $1 in
	--keep) keep=yes; shift ;;
	--no-lintian) lintian=no; shift ;;
	--debs) debs_dir=$(cd "$2" && pwd); shift 2 ;;
	-h | --help) sed -n '3,42p' "$0"; exit 0 ;;
	*) echo "package-test: unknown argument $1" >&2; exit 2 ;;
	esac
done

passed=0
failed=0
failures=()
ok() { passed=$((passed + 1)); printf 'ok    %s\n' "$*"; }
bad() { failed=$((failed + 1)); failures+=("$1"); printf 'FAIL  %s\n' "$*"; }
note() { printf '      %s\n' "$*"; }
# check NAME COMMAND...: one check, passed when COMMAND succeeds.
check() {
	local name=$1
	shift
	if "$@" >>"$log" 2>&1; then ok "$name"; else bad "$name"; fi
}
summary() {
	[ "${#failures[@]}" -eq 0 ] || echo "package-test: failed: ${failures[*]}"
	echo "package-test: $passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}
die() { echo "package-test: $*" >&2; bad "$1"; summary; exit 1; }

t_start=$(date +%s)
t_phase=$t_start
phase_done() {
	local now
	now=$(date +%s)
	printf 'time  %-28s %4d s\n' "$1" $((now - t_phase))
	t_phase=$now
}

trap 'echo "package-test: line $LINENO: exit status $? (set -e)" >&2' ERR
[ "$(id -u)" -eq 0 ] || { echo "package-test: needs root (debootstrap, chroot)" >&2; exit 1; }
for tool in dpkg-buildpackage debootstrap chroot; do
	command -v "$tool" >/dev/null || { echo "package-test: $tool missing (bash scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fpgadma-package-test.XXXXXX")
root=$work/root
log=$work/log
: >"$log"

# Every mount under the chroot goes before anything is removed.
unmount_all() {
	local m
	[ -d "$root" ] || return 0
	for m in $(awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
		umount "$m" 2>/dev/null || umount -l "$m" || true
	done
}
cleanup() {
	unmount_all
	if [ "$keep" = yes ]; then
		echo "package-test: kept $work"
	elif awk -v r="$root" '$2 == r || index($2, r "/") == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
		echo "package-test: something is still mounted under $root: $work not removed" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
echo "package-test: working in $work (log: $log)"

version=$(sed -n 's/^AC_INIT(\[fpgadma\], \[\([^]]*\)\].*/\1/p' configure.ac)
deb_version=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ "${deb_version%-*}" = "$version" ]; then
	ok "version: debian/changelog $deb_version is configure.ac's $version"
else
	bad "version: debian/changelog $deb_version, configure.ac $version"
fi

# --- 1. build --------------------------------------------------------------------
if [ -z "$debs_dir" ]; then
	# The source tree as git has it, with the changes not yet committed and
	# the new files not ignored: no build products of the work tree.
	src=$work/src/fpgadma-$version
	mkdir -p "$src"
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard |
			while IFS= read -r -d '' f; do
				if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
			done |
			tar --null -T - -cf - | tar -xf - -C "$src"
	else
		die "source: not a git work tree (the test copies the files git knows)"
	fi
	jobs=${JOBS:-$(nproc)}
	opts="parallel=$jobs"
	[ "${FPGADMA_PKG_CHECK:-0}" = 1 ] || opts="nocheck $opts"
	echo "package-test: dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS='$opts'), log in $work/build.log"
	if (cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
		ok "build: dpkg-buildpackage -us -uc -b"
	else
		tail -n 30 "$work/build.log"
		die "build: dpkg-buildpackage failed (see $work/build.log)"
	fi
	debs_dir=$work/src
	phase_done "build"
	if [ "$lintian" = yes ]; then
		if command -v lintian >/dev/null; then
			changes=$(ls "$debs_dir"/fpgadma_*.changes)
			lintian --fail-on error --tag-display-limit 0 "$changes" >"$work/lintian.log" 2>&1 && status=0 || status=$?
			errors=$(grep -c '^E: ' "$work/lintian.log" || true)
			warnings=$(grep -c '^W: ' "$work/lintian.log" || true)
			if [ "$status" -eq 0 ] && [ "$errors" -eq 0 ]; then
				ok "lintian: no error ($warnings warnings)"
			else
				bad "lintian: $errors errors, $warnings warnings (exit $status)"
			fi
			grep -E '^(E|W): ' "$work/lintian.log" | sed 's/^/      /' || true
		else
			bad "lintian: not installed (bash scripts/install-deps.sh)"
		fi
		phase_done "lintian"
	fi
fi

packages=(fpgadma-dkms libfpgadma0 libfpgadma-dev libfabric-fpgadma fpgadma-tools)
debs=()
for p in "${packages[@]}"; do
	f=$(ls "$debs_dir"/"${p}"_*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$f" ] || die "debs: no ${p}_*.deb in $debs_dir"
	debs+=("$f")
done
ok "debs: ${packages[*]}"

# --- 2. the chroot -----------------------------------------------------------------
. /etc/os-release
suite=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
arch=$(dpkg --print-architecture)

# The host's Debian mirror (and security mirror), from its apt sources:
# deb822 .sources files or one-line sources.list entries.
apt_uri() { # apt_uri SUITE: the first URI that serves SUITE
	local want=$1 f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v want="$want" '
			function flush() { if (!done && uri != "" && (" " suites " ") ~ (" " want " ") && types ~ /(^| )deb( |$)/) { print uri; done = 1; exit } uri = suites = types = "" }
			/^[ \t]*$/ { flush(); next }
			tolower($1) == "uris:" { uri = $2 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			END { flush() }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v want="$want" '$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i + 1) == want) print $i }' "$f"
	done
	return 0
}
mirror=${FPGADMA_MIRROR:-$(apt_uri "$suite" | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
security=$(apt_uri "$suite-security" | head -n 1)
security=${security:-http://security.debian.org/debian-security}
note "mirror $mirror ($suite, $suite-updates), security $security"

cache=${XDG_CACHE_HOME:-$HOME/.cache}/fpgadma
base="$cache/debootstrap/$suite-$arch-minbase-$(printf '%s' "$mirror" | md5sum | cut -c1-8).tar.gz"
archives=$cache/apt-archives
mkdir -p "$cache/debootstrap" "$archives"

if [ -f "$base" ]; then
	note "base system from the cache: $base"
else
	note "debootstrap --variant=minbase $suite (cold: the base goes to $base)"
	mkdir -p "$work/base"
	if ! debootstrap --variant=minbase --arch="$arch" "$suite" "$work/base" "$mirror" >"$work/debootstrap.log" 2>&1; then
		tail -n 20 "$work/debootstrap.log"
		die "debootstrap: failed (see $work/debootstrap.log)"
	fi
	rm -f "$work/base"/var/cache/apt/archives/*.deb
	tar -C "$work/base" -czf "$base.tmp" . && mv "$base.tmp" "$base"
	rm -rf "$work/base"
	phase_done "debootstrap (cold)"
fi
mkdir -p "$root"
tar -C "$root" -xzf "$base"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb $security $suite-security main
EOF
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No service starts in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
# Packages downloaded before: hard links when the cache is on the same
# file system.
for f in "$archives"/*.deb; do
	[ -f "$f" ] || continue
	ln -f "$f" "$root/var/cache/apt/archives/" 2>/dev/null || cp "$f" "$root/var/cache/apt/archives/"
done
mkdir -p "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive "$@"; }
apt_get() { in_root apt-get -q -y -o APT::Sandbox::User=root -o APT::Keep-Downloaded-Packages=true \
	--no-install-recommends "$@"; }
save_archives() {
	local f
	for f in "$root"/var/cache/apt/archives/*.deb; do
		[ -f "$f" ] || continue
		[ -f "$archives/${f##*/}" ] || ln -f "$f" "$archives/" 2>/dev/null || cp "$f" "$archives/"
	done
}

check "chroot: apt-get update" apt_get update
phase_done "chroot"

# --- 3. install and use ------------------------------------------------------------------
# The kernel headers of the host's version (what DKMS builds against).
hv=$(dpkg-query -W -f='${Version}' linux-headers-amd64 2>/dev/null || true)
if [ -n "$hv" ] && apt_get install "linux-headers-amd64=$hv" >>"$log" 2>&1; then
	ok "headers: linux-headers-amd64=$hv (the host's)"
elif apt_get install linux-headers-amd64 >>"$log" 2>&1; then
	ok "headers: linux-headers-amd64 $(in_root dpkg-query -W -f='${Version}' linux-headers-amd64) (the host has ${hv:-none})"
else
	die "headers: apt-get install linux-headers-amd64 failed"
fi
kvers=$(in_root sh -c 'ls /lib/modules' | sort -V)
note "kernels with headers in the chroot: $(echo "$kvers" | tr "\n" " ")"

debs_in_root=()
for f in "${debs[@]}"; do debs_in_root+=("/tmp/debs/${f##*/}"); done
if apt_get install "${debs_in_root[@]}" >"$work/install.log" 2>&1; then
	ok "install: apt-get install ${packages[*]} (with what they depend on)"
else
	tail -n 30 "$work/install.log"
	die "install: apt-get install failed (see $work/install.log)"
fi
sed -n 's/^\(Building for\|Building initial module\|Done\.\|Skipped\.\).*/&/p' "$work/install.log" | sed 's/^/      dkms: /' | sort -u
save_archives
phase_done "install (DKMS build)"

# What each package installed, for the purge check.
for p in "${packages[@]}"; do
	in_root dpkg -L "$p" >"$work/files.$p"
done

# DKMS: built and installed for every kernel whose headers are installed.
dkms_status=$(in_root dkms status 2>&1 || true)
note "dkms status: $(echo "$dkms_status" | tr '\n' ';')"
for k in $kvers; do
	if grep -Eq "^fpgadma/$version, $k, [^:]*: installed" <<<"$dkms_status"; then
		ok "dkms: fpgadma/$version installed for $k"
	else
		bad "dkms: fpgadma/$version not installed for $k"
	fi
	for m in fpgadma_core fpgadma_soft fpgadma_edu; do
		file=$(in_root modinfo -k "$k" -F filename "$m" 2>/dev/null || true)
		if [[ $file == */updates/dkms/$m.ko* ]]; then
			ok "module: $m of $k (modinfo: ${file#/lib/modules/"$k"/})"
		else
			bad "module: $m of $k not found by modinfo"
		fi
	done
done

# The modules DKMS built for the kernel the test VM boots (Debian's, the
# version of the headers installed here), kept for phase 6.
hostk=$(head -n 1 <<<"$kvers")
mkdir -p "$work/dkms-modules"
for m in fpgadma_core fpgadma_soft fpgadma_edu; do
	for f in "$root/lib/modules/$hostk/updates/dkms/$m".ko*; do
		[ -e "$f" ] || continue
		case $f in
		*.ko.xz) xz -dc "$f" >"$work/dkms-modules/$m.ko" ;;
		*.ko) cp "$f" "$work/dkms-modules/$m.ko" ;;
		esac
	done
done

# The udev rule and its group.
check "udev: /lib/udev/rules.d/60-fpgadma.rules" test -f "$root/lib/udev/rules.d/60-fpgadma.rules"
check "udev: the system group fpgadma exists" in_root getent group fpgadma

# pkg-config, and a program built against the installed headers and library.
apt_get install pkg-config gcc libc6-dev man-db libfabric-bin >"$work/tools.log" 2>&1 ||
	{ tail -n 20 "$work/tools.log"; die "tools: apt-get install pkg-config gcc libc6-dev man-db libfabric-bin failed"; }
save_archives
pc=$(in_root pkg-config --cflags --libs libfpgadma 2>&1) && pc_status=0 || pc_status=$?
if [ "$pc_status" -eq 0 ] && [[ " $pc " == *" -lfpgadma "* ]]; then
	ok "pkg-config --cflags --libs libfpgadma: $pc"
else
	bad "pkg-config --cflags --libs libfpgadma: $pc"
fi
pc_version=$(in_root pkg-config --modversion libfpgadma 2>&1 || true)
[ "$pc_version" = "$version" ] && ok "pkg-config --modversion libfpgadma: $pc_version" ||
	bad "pkg-config --modversion libfpgadma: '$pc_version', not $version"

cat >"$root/tmp/hello.c" <<'EOF'
#include <stdio.h>
#include <fpgadma.h>
#include <fpgadma-abi.h>

int main(void)
{
	struct fpgadma_context *ctx = NULL;
	int ret = fpgadma_open(0, &ctx);

	/* No device in a chroot: a clean error, not a crash. */
	printf("fpgadma_open(0): %s\n", ret ? fpgadma_strerror(ret) : "opened");
	if (!ret)
		fpgadma_close(ctx);
	return 0;
}
EOF
if in_root sh -c 'cd /tmp && gcc -Wall -Werror -o hello hello.c $(pkg-config --cflags --libs libfpgadma)' >>"$log" 2>&1; then
	ok "compile: a program against <fpgadma.h>, linked with -lfpgadma"
	if out=$(in_root /tmp/hello 2>&1); then
		ok "run: $out (the library resolved by ld.so)"
	else
		bad "run: /tmp/hello: $out"
	fi
else
	bad "compile: a program against <fpgadma.h> (see $log)"
fi

# The provider: found in libfabric's provider directory, no FI_PROVIDER_PATH.
provider=$(in_root sh -c 'ls /usr/lib/*/libfabric/libfpgadma-fi.so' 2>/dev/null || true)
[ -n "$provider" ] && ok "provider: $provider" || bad "provider: no libfpgadma-fi.so in /usr/lib/*/libfabric"
in_root fi_info -l >"$work/fi_info.list" 2>&1 || true
if grep -a -A1 '^fpgadma:' "$work/fi_info.list" >"$work/fi_info.out"; then
	ok "fi_info -l lists fpgadma ($(grep -a 'version' "$work/fi_info.out" | tr -d ' \t'); no FI_PROVIDER_PATH)"
else
	bad "fi_info -l does not list fpgadma"
fi
# (Output to a file first: grep -q ending a pipe early would make fi_info die
# of SIGPIPE, and pipefail count that.)
in_root env FI_LOG_LEVEL=info fi_info -p fpgadma >"$work/fi_info.log" 2>&1 || true
if grep -a -q 'registering provider: fpgadma' "$work/fi_info.log"; then
	ok "fi_info -p fpgadma: libfabric loads and registers the provider"
else
	bad "fi_info -p fpgadma: no 'registering provider: fpgadma' in libfabric's log"
fi

# The manual pages.
for page in fi_fpgadma:7 fpgadma:4 fpgadma-engine:9 libfpgadma:7 fpgadma_open:3 fpgadma_close:3 fpgadma_info:1 fpgadma_demo:1; do
	if where=$(in_root man -w "${page#*:}" "${page%:*}" 2>&1); then
		ok "man -w ${page#*:} ${page%:*}: $where"
	else
		bad "man -w ${page#*:} ${page%:*}: $where"
	fi
done
n=0
warned=0
for f in $(cat "$work"/files.* | grep '^/usr/share/man/man'); do
	[ -f "$root$f" ] || [ -L "$root$f" ] || continue
	n=$((n + 1))
	w=$(in_root sh -c "MANWIDTH=80 man --warnings -E UTF-8 -l '$f' 2>&1 >/dev/null")
	if [ -n "$w" ]; then
		warned=$((warned + 1))
		note "$f: $w"
	fi
done
[ "$warned" -eq 0 ] && ok "man --warnings: $n installed pages, no warning" ||
	bad "man --warnings: $warned of $n installed pages print warnings"
phase_done "checks"

# --- 4. purge: nothing left --------------------------------------------------------------
if apt_get purge "${packages[@]}" >"$work/purge.log" 2>&1; then
	ok "purge: apt-get purge ${packages[*]}"
else
	tail -n 20 "$work/purge.log"
	bad "purge: apt-get purge failed (see $work/purge.log)"
fi
left=$(in_root dkms status 2>&1 | grep fpgadma || true)
[ -z "$left" ] && ok "purge: dkms status shows no fpgadma" || bad "purge: dkms status: $left"
for d in "/usr/src/fpgadma-$version" /var/lib/dkms/fpgadma; do
	[ ! -e "$root$d" ] && ok "purge: $d is gone" || bad "purge: $d is still there"
done
kos=$(cd "$root" && find lib/modules -name 'fpgadma_*.ko*' 2>/dev/null || true)
[ -z "$kos" ] && ok "purge: no fpgadma_*.ko under /lib/modules" || bad "purge: modules left: $kos"
left_files=0
for p in "${packages[@]}"; do
	while IFS= read -r f; do
		case $f in /. | /usr | /usr/* | /lib | /lib/*) ;; *) continue ;; esac
		# Directories may be shared with other packages; files may not stay.
		if [ -e "$root$f" ] && [ ! -d "$root$f" ]; then
			left_files=$((left_files + 1))
			note "left: $f ($p)"
		fi
	done <"$work/files.$p"
done
[ "$left_files" -eq 0 ] && ok "purge: every file the packages installed is gone" ||
	bad "purge: $left_files files of the packages are left"
in_root fi_info -l >"$work/fi_info.purged" 2>&1 || true
if grep -a -q '^fpgadma:' "$work/fi_info.purged"; then
	bad "purge: fi_info -l still lists fpgadma"
else
	ok "purge: fi_info -l no longer lists fpgadma"
fi
in_root getent group fpgadma >/dev/null && note "the system group fpgadma stays after the purge, as system groups do"
phase_done "purge"

# --- 5. the release tarball is a DKMS source tree ----------------------------------------
# make dist in the (configured, built) package source; unpacked into
# /usr/src of the chroot, DKMS builds and installs it as it is, and removes
# it again.
if [ -n "${src:-}" ]; then
	tarball=fpgadma-$version.tar.gz
	if (cd "$src" && make dist) >"$work/dist.log" 2>&1 && [ -f "$src/$tarball" ]; then
		cp "$src/$tarball" "$root/tmp/"
		in_root tar -xzf "/tmp/$tarball" -C /usr/src
		for k in $kvers; do
			check "tarball: dkms install fpgadma/$version -k $k from the unpacked $tarball" \
				in_root dkms install "fpgadma/$version" -k "$k"
			file=$(in_root modinfo -k "$k" -F filename fpgadma_core 2>/dev/null || true)
			[[ $file == */updates/dkms/fpgadma_core.ko* ]] && ok "tarball: modinfo finds ${file#/lib/modules/"$k"/}" ||
				bad "tarball: modinfo does not find fpgadma_core of $k"
		done
		check "tarball: dkms remove fpgadma/$version --all" in_root dkms remove "fpgadma/$version" --all
		rm -rf "$root/usr/src/fpgadma-$version"
		kos=$(cd "$root" && find lib/modules -name 'fpgadma_*.ko*' 2>/dev/null || true)
		[ -z "$kos" ] && ok "tarball: nothing left after dkms remove" || bad "tarball: modules left: $kos"
	else
		bad "tarball: make dist failed (see $work/dist.log)"
	fi
	phase_done "release tarball (DKMS)"
else
	note "tarball: not tested (--debs: no source tree here)"
fi

# --- 6. the modules DKMS built, in the VM --------------------------------------------------
# They boot with Debian's kernel in the test VM (the version of the
# chroot's headers) and pass the quick selection below of
# the VM suite, with the test programs of this (built) tree.
quick='abi_bad|reg_errors|reg_sizes|data_mem|data_stream|wr_errors|host_ep_send|ep_bind|mon_invalidate|mon_keep|engine_unplug|ft-rdm_msg|ft-mr_cache'
if [ ! -f "$work/dkms-modules/fpgadma_core.ko" ]; then
	bad "vm: no module DKMS built for the VM's kernel $hostk to boot"
elif [ ! -x tests/abi_bad ] || [ ! -f Makefile ]; then
	note "vm: the DKMS-built modules not booted: this tree is not built (make)"
else
	if FPGADMA_VM_TESTS=$quick bash tests/vm/run-suite.sh --module "$work/dkms-modules/fpgadma_core.ko" \
		--config default --log-dir "$work/vm-logs" >"$work/vm.log" 2>&1; then
		rc=0
	else
		rc=$?
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$work/vm.log" | tail -n 1 || true)
	if [ "$rc" -eq 0 ] && [ -n "$line" ]; then
		ok "vm: the modules DKMS built boot in the VM (default) and pass the quick selection: $line"
	else
		tail -n 15 "$work/vm.log"
		bad "vm: the modules DKMS built, in the VM: ${line:-no summary} (exit $rc; see $work/vm-logs)"
	fi
	phase_done "DKMS modules in the VM"
fi

printf 'time  %-28s %4d s\n' "total" $(($(date +%s) - t_start))
summary
