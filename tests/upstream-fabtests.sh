#!/usr/bin/env bash
# Build libfabric's own fabtests (upstream's test programs and their
# runfabtests.sh), of the version of the installed libfabric, once, into a
# cache outside the source tree, for the VM suite's upstream conformance run
# (configuration 'upstream', test ft-runfabtests: runfabtests.sh -t quick
# against the fpgadma provider).
#
# Usage: tests/upstream-fabtests.sh [--cached] [--rebuild]
#   --cached    do not build: report the cache when it is complete, else
#               skip (exit 77)
#   --rebuild   build again even when the cache is complete
#
# The version is the installed libfabric1's (dpkg-query), e.g. 1.17.0-3,
# upstream version 1.17.0.  The sources, in this order:
#   1. Debian's source package: 'apt-get source libfabric=<version>' in a
#      temporary directory (needs a deb-src entry for Debian's archive:
#      scripts/install-deps.sh adds one); its orig tarball carries
#      fabtests/ with its configure script;
#   2. else FPGADMA_LIBFABRIC_SRC: a libfabric source directory (its
#      fabtests/ must be of the same version) or a git repository of
#      libfabric with the tag v<upstream version> (its fabtests/ taken with
#      'git archive', then ./autogen.sh).
# Nothing is built or unpacked in the source tree.  fabtests is configured
# with --with-libfabric=/usr (the system's libfabric, libfabric-dev), built
# with make -j2 (JOBS overrides) and installed into the cache:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/fpgadma/upstream-fabtests/<version>/
#     prefix/bin/      fi_* programs, runfabtests.sh
#     prefix/share/fabtests/
#     source           which source was used (one line)
#     build.log
# (FPGADMA_UPSTREAM_FABTESTS_CACHE replaces the top directory.)  The
# programs must load the system's libfabric.so.1, which is checked.
#
# Output: the line "Source: ..." naming the source used (on stderr, with
# the rest of the log), and on stdout the prefix directory; exit 0.  When
# neither source is there (or the build fails): on stdout one line
# "SKIP: <reason>", exit 77 (a missing source) or 1 (a failed build).
set -euo pipefail

jobs=${JOBS:-2}
cache_top=${FPGADMA_UPSTREAM_FABTESTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fpgadma/upstream-fabtests}
cached_only=no
rebuild=no

log() { printf 'upstream-fabtests: %s\n' "$*" >&2; }
skip() { printf 'SKIP: %s\n' "$*"; log "skipped: $*"; exit 77; }
fail() { printf 'SKIP: %s\n' "$*"; log "failed: $*"; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--cached) cached_only=yes; shift ;;
	--rebuild) rebuild=yes; shift ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) log "unknown argument: $1 (see --help)"; exit 2 ;;
	esac
done

deb_version=$(dpkg-query -W -f='${Version}' libfabric1 2>/dev/null || true)
[ -n "$deb_version" ] ||
	skip "upstream fabtests: libfabric1 is not installed (scripts/install-deps.sh)"
# 1.17.0-3 -> 1.17.0 (no epoch, no Debian revision)
up_version=${deb_version#*:}
up_version=${up_version%-*}
cache=$cache_top/$deb_version
prefix=$cache/prefix

complete() {
	[ -f "$cache/source" ] && [ -x "$prefix/bin/runfabtests.sh" ] &&
		[ -x "$prefix/bin/fi_getinfo_test" ]
}

if complete && [ "$rebuild" = no ]; then
	log "cache: $cache ($(cat "$cache/source"))"
	printf '%s\n' "$prefix"
	exit 0
fi
if [ "$cached_only" = yes ]; then
	skip "upstream fabtests $up_version are not built (bash tests/upstream-fabtests.sh; without Debian's source package set FPGADMA_LIBFABRIC_SRC)"
fi
[ -f /usr/include/rdma/fabric.h ] ||
	skip "upstream fabtests: libfabric-dev is not installed (scripts/install-deps.sh)"

mkdir -p "$cache"
work=$(mktemp -d "$cache/work.XXXXXX")
trap 'rm -rf "$work"' EXIT
buildlog=$cache/build.log
: > "$buildlog"

# The sources: fabtests/ in $work/src/fabtests, $source saying whence.
source=
mkdir -p "$work/apt"
log "trying Debian's source package: apt-get source libfabric=$deb_version"
if (cd "$work/apt" && apt-get source -q "libfabric=$deb_version") >> "$buildlog" 2>&1; then
	d=$(find "$work/apt" -mindepth 2 -maxdepth 2 -type d -name fabtests | head -n 1)
	if [ -n "$d" ]; then
		mkdir -p "$work/src"
		mv "$d" "$work/src/fabtests"
		source="Debian's source package libfabric $deb_version"
	else
		log "Debian's source package libfabric $deb_version has no fabtests/ directory"
	fi
else
	log "apt-get source libfabric=$deb_version failed (no deb-src entry, or the mirror lacks the source):"
	tail -n 3 "$buildlog" | sed 's/^/  /' >&2
fi
rm -rf "$work/apt"

if [ -z "$source" ] && [ -n "${FPGADMA_LIBFABRIC_SRC:-}" ]; then
	src=$FPGADMA_LIBFABRIC_SRC
	tag=v$up_version
	[ -d "$src" ] || fail "FPGADMA_LIBFABRIC_SRC=$src is not a directory"
	if git -C "$src" rev-parse --git-dir >/dev/null 2>&1 &&
	   git -C "$src" rev-parse -q --verify "refs/tags/$tag^{commit}" >/dev/null; then
		log "taking fabtests/ of tag $tag from the git repository $src"
		mkdir -p "$work/src"
		git -C "$src" archive --format=tar "$tag" fabtests | tar -x -C "$work/src"
		source="FPGADMA_LIBFABRIC_SRC=$src (git tag $tag), not Debian's package"
	elif [ -f "$src/fabtests/configure.ac" ]; then
		v=$(sed -n 's/^AC_INIT(\[fabtests\], *\[\([^]]*\)\].*/\1/p' "$src/fabtests/configure.ac")
		[ "$v" = "$up_version" ] ||
			fail "FPGADMA_LIBFABRIC_SRC=$src: its fabtests are version ${v:-unknown}, the installed libfabric is $up_version"
		log "copying fabtests/ from the source directory $src"
		mkdir -p "$work/src"
		cp -a "$src/fabtests" "$work/src/fabtests"
		source="FPGADMA_LIBFABRIC_SRC=$src (source directory), not Debian's package"
	elif git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		fail "FPGADMA_LIBFABRIC_SRC=$src: the git repository has no tag $tag"
	else
		fail "FPGADMA_LIBFABRIC_SRC=$src: neither a libfabric source directory (fabtests/configure.ac) nor a git repository"
	fi
fi
[ -n "$source" ] ||
	skip "upstream fabtests $up_version: no source (apt-get source libfabric=$deb_version failed; set FPGADMA_LIBFABRIC_SRC to a libfabric source tree or git repository)"

echo "Source: $source" >&2
rm -f "$cache/source"
ft=$work/src/fabtests
(
	set -e
	cd "$ft"
	if [ ! -x configure ]; then
		echo "+ ./autogen.sh"
		./autogen.sh
	fi
	echo "+ ./configure --prefix=$prefix --with-libfabric=/usr"
	./configure --prefix="$prefix" --with-libfabric=/usr
	echo "+ make -j$jobs"
	make -j"$jobs"
	rm -rf "$prefix"
	echo "+ make install"
	make install
) >> "$buildlog" 2>&1 || {
	tail -n 30 "$buildlog" | sed 's/^/  /' >&2
	rm -rf "$prefix"
	fail "upstream fabtests $up_version: the build failed (see $buildlog)"
}

# The programs load the system's libfabric, not one of their own.
lib=$(ldd "$prefix/bin/fi_getinfo_test" | awk '$1 ~ /^libfabric\.so/ { print $3 }')
case $lib in
/usr/lib/*|/lib/*) log "fi_getinfo_test loads $lib" ;;
*) rm -rf "$prefix"; fail "upstream fabtests: fi_getinfo_test loads '${lib:-no libfabric}', not the system's" ;;
esac
printf '%s\n' "$source" > "$cache/source"
log "built into $prefix ($(find "$prefix/bin" -name 'fi_*' -type f | wc -l) programs)"
printf '%s\n' "$prefix"
