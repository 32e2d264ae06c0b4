#!/usr/bin/env bash
# Build the debug kernel of the VM suite's debug-kernel tier, once, and
# optionally the fpgadma modules against it.
#
# Usage: tests/vm/debug-kernel.sh [--module-dir DIR] [--rebuild]
#   --module-dir DIR  also build the fpgadma modules against the debug kernel (W=1),
#                     from a copy of kmod/ in DIR/kmod: the regular module
#                     in kmod/ stays as it is
#   --rebuild         build the kernel again even when the cache has it
#
# The kernel is Debian's linux-source-6.1 (LINUX_SOURCE, default
# /usr/src/linux-source-6.1.tar.xz) configured as 'make tinyconfig' plus
# tests/vm/debug-kernel.config (KASAN, lockdep, DMA-API debugging, kmemleak,
# UBSAN, ... and what the test VM needs), every option of which is checked in
# the final .config.  It is built (bzImage, then modules_prepare and the
# Module.symvers external modules need) in a cache outside the source tree:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/fpgadma/debug-kernel/KEY
# KEY being a hash of the fragment, the source package's version, the
# compiler's version and this script's recipe.  The build tree is the
# cache's linux/ and its log build.log.  A cache with the kernel is used as
# it is; other keys' caches are removed after a successful build (each holds
# a whole kernel tree).  Builds take about 10 minutes on 2 CPUs.
#
# Output (stdout), in shell assignment form, everything else on stderr:
#   KERNEL_IMAGE=<cache>/linux/arch/x86/boot/bzImage
#   KERNEL_DIR=<cache>/linux
#   MODULE=DIR/kmod/fpgadma_core.ko                 (with --module-dir)
#
# Environment: LINUX_SOURCE, JOBS (parallel make jobs, default: number of
# CPUs), FPGADMA_DEBUG_KERNEL_CACHE (the cache's top directory, default as
# above), FPGADMA_DEBUG_KERNEL_TIMEOUT (time limit of the kernel build in
# seconds, default 3600).
set -euo pipefail

src_dir=$(cd "$(dirname "$0")/../.." && pwd)
fragment=$src_dir/tests/vm/debug-kernel.config
tarball=${LINUX_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
jobs=${JOBS:-$(nproc)}
cache_top=${FPGADMA_DEBUG_KERNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fpgadma/debug-kernel}
build_timeout=${FPGADMA_DEBUG_KERNEL_TIMEOUT:-3600}
# Change this when the build steps below change, so that caches made by
# other steps are not taken.
recipe=1
module_dir=
rebuild=no

log() { printf 'debug-kernel: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--module-dir) module_dir=$2; shift 2 ;;
	--rebuild) rebuild=yes; shift ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done

[ -r "$fragment" ] || die "$fragment not found"
[ -r "$tarball" ] || die "$tarball not found (apt-get install linux-source-6.1, or scripts/install-deps.sh)"
for tool in make gcc flex bison bc tar xz sha256sum; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh installs what the build needs)"
done
[ -e /usr/include/libelf.h ] || [ -e /usr/include/gelf.h ] ||
	die "libelf headers not found (apt-get install libelf-dev): objtool needs them"

# --- the cache key
source_version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
[ -n "$source_version" ] || source_version=$(stat -L -c '%s %Y' "$tarball")
key=$({
	echo "recipe $recipe"
	echo "source $source_version"
	gcc --version | head -n 1
	cat "$fragment"
} | sha256sum | cut -c1-16)
cache=$cache_top/$key
tree=$cache/linux
image=$tree/arch/x86/boot/bzImage
stamp=$cache/complete

mkdir -p "$cache_top"
# One build at a time; a second caller waits, then finds the kernel built.
exec 9> "$cache_top/.lock"
if command -v flock >/dev/null; then
	flock -n 9 || { log "another build holds $cache_top/.lock: waiting"; flock 9; }
fi

# check_config CONFIG: every option of the fragment came out as asked.
check_config() {
	local config=$1 line sym bad=0
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*)
			grep -qxF -- "$line" "$config" && continue
			sym=${line%%=*}
			log "asked for $line, got: $(grep -E "^(# )?${sym}[= ]" "$config" || echo "(absent)")"
			bad=1
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			grep -qE "^$sym=" "$config" || continue
			log "asked for '$line', got: $(grep -E "^$sym=" "$config")"
			bad=1
			;;
		esac
	done < "$fragment"
	return "$bad"
}

# run_make LOG TARGET...: make in the tree, its output in LOG, a line of
# progress every 30 s.
run_make() {
	local logf=$1 pid t0 rc=0
	shift
	t0=$(date +%s)
	timeout -k 30 "$build_timeout" make -C "$tree" -j"$jobs" "$@" >> "$logf" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		for _ in 1 2 3 4 5 6; do
			sleep 5
			kill -0 "$pid" 2>/dev/null || break
		done
		kill -0 "$pid" 2>/dev/null || break
		log "  make $*: $(( $(date +%s) - t0 )) s, $(grep -c -E '^  (CC|AS|LD|AR)' "$logf" || true) steps"
	done
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		[ "$rc" -ne 124 ] || log "make $* hit the time limit (${build_timeout} s)"
		log "make $* failed (status $rc); the end of $logf:"
		tail -n 30 "$logf" | sed 's/^/  /' >&2
		return 1
	fi
}

build_kernel() {
	local logf=$cache/build.log t0 t1
	t0=$(date +%s)
	log "building the debug kernel in $cache (log: build.log; about 10 minutes with -j2)"
	rm -rf "$cache"
	mkdir -p "$cache"
	cp "$fragment" "$cache/debug-kernel.config"
	: > "$logf"

	log "extracting $tarball"
	tar -xJf "$tarball" -C "$cache"
	local top
	top=$(find "$cache" -mindepth 1 -maxdepth 1 -type d -name 'linux-source-*' | head -n 1)
	[ -n "$top" ] || die "$tarball: no linux-source-* directory in it"
	mv "$top" "$tree"

	log "configuring: tinyconfig + tests/vm/debug-kernel.config"
	{
		make -C "$tree" tinyconfig &&
		(cd "$tree" && scripts/kconfig/merge_config.sh -m .config "$cache/debug-kernel.config") &&
		make -C "$tree" olddefconfig
	} >> "$logf" 2>&1 || { tail -n 30 "$logf" >&2; die "configuring failed (see $logf)"; }
	check_config "$tree/.config" ||
		die "the kernel configuration does not have what tests/vm/debug-kernel.config asks for (dependencies missing?)"

	log "building bzImage and modules_prepare (make -j$jobs)"
	run_make "$logf" bzImage || die "the kernel build failed"
	# 'modules' writes the Module.symvers external modules are checked
	# against (there are no modules of its own to build).
	run_make "$logf" modules_prepare modules || die "modules_prepare failed"
	[ -f "$image" ] || die "no $image after the build"
	[ -f "$tree/Module.symvers" ] || die "no Module.symvers after the build"

	t1=$(date +%s)
	printf 'built %s in %s s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" $((t1 - t0)) > "$stamp"
	log "built $(cat "$tree/include/config/kernel.release") in $((t1 - t0)) s"

	# Older keys' trees are of no use any more.
	local old
	for old in "$cache_top"/*; do
		if [ ! -d "$old" ] || [ "$old" = "$cache" ]; then continue; fi
		log "removing the old cache ${old##*/}"
		rm -rf "$old"
	done
}

if [ "$rebuild" = yes ] || [ ! -f "$stamp" ] || [ ! -f "$image" ]; then
	build_kernel
else
	log "cached: $(cat "$tree/include/config/kernel.release") in $cache ($(cat "$stamp"))"
	check_config "$tree/.config" || die "the cached .config does not match the fragment: run with --rebuild"
fi
exec 9>&-

printf 'KERNEL_IMAGE=%q\n' "$image"
printf 'KERNEL_DIR=%q\n' "$tree"

[ -n "$module_dir" ] || exit 0

# --- the fpgadma modules against the debug kernel, from a fresh copy of kmod/ (Kbuild
# writes next to the sources).  Its Kbuild finds the ABI headers in
# ../include/uapi: a link to the source tree's include/ stands there.
mkdir -p "$module_dir"
module_dir=$(cd "$module_dir" && pwd)
rm -rf "$module_dir/kmod" "$module_dir/include"
mkdir -p "$module_dir/kmod"
cp "$src_dir/kmod/Kbuild" "$src_dir"/kmod/*.[ch] "$module_dir/kmod/"
rm -f "$module_dir"/kmod/*.mod.c
ln -s "$src_dir/include" "$module_dir/include"
module_log=$module_dir/module-build.log
log "building the fpgadma modules against the debug kernel (log: ${module_log})"
if ! make -C "$tree" M="$module_dir/kmod" W=1 -j"$jobs" modules > "$module_log" 2>&1; then
	sed 's/^/  /' "$module_log" >&2
	die "the fpgadma modules did not build against the debug kernel"
fi
if grep -q 'warning:' "$module_log"; then
	log "the W=1 build against the debug kernel printed warnings:"
	grep 'warning:' "$module_log" | sed 's/^/  /' >&2
fi
for ko in fpgadma_core.ko fpgadma_soft.ko fpgadma_edu.ko; do
	[ -f "$module_dir/kmod/$ko" ] || die "no $module_dir/kmod/$ko after the build"
done
printf 'MODULE=%q\n' "$module_dir/kmod/fpgadma_core.ko"
