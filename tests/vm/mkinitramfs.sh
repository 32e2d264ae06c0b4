#!/usr/bin/env bash
# Build the initramfs the VM tests boot (a gzip'd newc cpio archive).
#
# Usage: tests/vm/mkinitramfs.sh [options]
#   --build-dir DIR    where the programs were built (default: the source tree)
#   --module FILE      the core module (default: kmod/fpgadma_core.ko in the
#                      build dir; the engines fpgadma_soft.ko and
#                      fpgadma_edu.ko are taken from beside it,
#                      then in the source tree)
#   --no-module        build without the module (experiments on the harness
#                      only: the guest then needs fpgadma.allow_no_module=1)
#   --tests-list FILE  test programs to include (default: tests/vm-tests.list)
#   --no-tests         include no test programs (for the demo)
#   --kmod NAME        also include kernel module NAME (and what it depends
#                      on) from /lib/modules/<release>; repeatable
#   --extra FILE       also include FILE (with its shared libraries when it is
#                      a program) at the same path; repeatable
#   --fabtests-list FILE  the fabtests to include (default:
#                      fabtests/vm-fabtests.list, when the build has them)
#   --no-fabtests      include no fabtests
#   --no-bench         build no side archive for the bench job
#   --upstream-fabtests PREFIX  upstream's fabtests installed in PREFIX
#                      (default: the cache of tests/upstream-fabtests.sh,
#                      when it has them)
#   --build-upstream-fabtests  build them into that cache when it lacks
#                      them (tests/upstream-fabtests.sh)
#   --no-upstream-fabtests  leave them out
#   --twonode-list FILE  the two-node configuration's checks (default:
#                      tests/vm/twonode.list; /dev/null: none)
#   --output FILE      default: <build dir>/tests/vm/initramfs.cpio.gz
#
# Contents: busybox (static) with its applet links; /init (guest-init.sh);
# /fpgadma_core.ko, /fpgadma_soft.ko, /fpgadma_edu.ko; /modules/ and
# /modules/load-order for modules they depend on;
# /tests/<name> for every name in the list and /tests/vm-tests.list (the
# names, in order); /usr/bin/fpgadma_demo and /usr/bin/fpgadma_info; every
# shared library these load (found with ldd) and the dynamic loader; /etc
# with passwd and group (root, nobody 65534), hosts, services.
#
# Fabtests (when configure found libfabric and they were built, and not
# --no-tests): each line of the fabtests list (see fabtests/vm-fabtests.list)
# becomes a test ft-NAME, a script /tests/ft-NAME that runs the program from
# /usr/libexec/fpgadma-fabtests/ with its environment and FI_PROVIDER_PATH
# set to /usr/lib/fpgadma/libfabric, where the provider libfpgadma-fi.so
# goes when it was built (a test that needs it, or Open MPI, and lacks it
# skips instead).  libfabric comes with its libraries (ldd); Open MPI
# (mpirun, orted, its and PMIx's plugins, help files and configuration) when
# a test runs fabtests/mpi-run.sh and mpi_pingpong was built.  They do not
# go into the base archive, which every configuration boots, but into side
# archives the harness appends (the kernel unpacks concatenated archives)
# for the configurations that run them, so that the others keep their
# memory: <output>.fabtests (libfabric, the provider, the programs, the
# ft-* scripts) and <output>.mpi (Open MPI).  A file <output>.configs has a
# line "NAME CONFIG,...|- base|fabtests|mpi" per test (ft-NAME for a
# fabtest): the configurations its list names ('-': none named, the list's
# default) and the side archive it needs.
#
# libfabric's own fabtests (upstream's, the installed libfabric's version,
# built by tests/upstream-fabtests.sh into a cache outside the tree), when
# a line of the fabtests list runs guest-runfabtests.sh (ft-runfabtests,
# configuration 'upstream'): a side archive <output>.upstream, appended
# after .fabtests for the configurations that run it, with the programs and
# runfabtests.sh in /usr/libexec/fpgadma-upstream-fabtests/bin, what
# runfabtests.sh needs beyond busybox (coreutils' timeout, util-linux's
# getopt and procps' ps in .../tools, bash, python3 with the part of its
# library that 'import errno' needs) and tests/vm/guest-runfabtests.sh in
# /usr/libexec/fpgadma-fabtests.  Without them the test skips, saying why
# (the reason tests/upstream-fabtests.sh gives).
#
# The bench job (when bench/reg_bench was built, and not --no-tests or
# --no-bench): a side archive <output>.bench, appended after .fabtests for
# that job only (tests/vm/run-suite.sh --job bench), with bench/guest-bench.sh
# and reg_bench in /bench/, stream_bench, post_bench, fabtests/bench_rma when it was built, perftest's
# ib_read_bw and ib_read_lat, iproute2's rdma tool, libibverbs' rxe provider
# and the kernel modules of soft-RoCE (rdma_rxe and what it depends on,
# crc32_generic first: rxe's checksum) in /modules/bench/ with their
# load-order; Open MPI (as for the .mpi archive, which the bench job does not
# append) with fabtests/mpi_pingpong and fabtests/mpi-run.sh in /bench/ when
# mpi_pingpong was built; what is not installed on this machine is left out,
# saying so, and the guest script skips what needs it.
#
# The two-node configuration (run-suite.sh --config twonode; not with
# --no-tests): the checks of the twonode list (see tests/vm/twonode.list)
# go into a side archive <output>.net, appended after .fabtests for the
# configurations that run them: a script /tests/NAME for each net-* check
# that runs tests/vm/guest-twonode.sh (in /usr/libexec/fpgadma-twonode/)
# with the line's arguments; the kernel modules of the link in /modules/net/
# with their load-order (the virtio NIC's driver, crc32_generic, rdma_rxe,
# rdma_ucm and what they depend on); iproute2's rdma tool, libibverbs' rxe
# provider with /etc/libibverbs.d/rxe.driver, libfabric-bin's fi_pingpong
# and fi_info; upstream's fabtests that the list runs (fabtest PROG), from
# the cache of tests/upstream-fabtests.sh, and fabtests/fpga_forward
# (forward and forward-linkdown lines), in /usr/libexec/fpgadma-twonode/bin.
# For the MPI check (mpi lines): Open MPI in the .mpi archive with
# fabtests/mpi_fpga_reduce, and in .net Debian's dropbear and dbclient,
# keys made with dropbearkey at build time (in <output dir>/twonode-keys),
# tests/vm/twonode-mpi.sh and the launcher's rsh agent; such a check's
# line in <output>.configs says net-mpi (the harness appends .fabtests,
# .mpi and .net).
# What is not there is left out, saying so, and the checks needing it skip.
# Its "also NAME" lines add twonode to the configurations of NAME (in
# <output>.configs).
#
# Test names are paths under tests/ without the prefix, one per line with
# the configurations that run the test (see tests/vm-tests.list), '#'
# starts a comment.  A libtool-built program may be a wrapper script: the
# real binary in .libs/ is taken then, and the libraries of the build tree
# (every .libs/ directory) go into the guest's library directory.  A file
# <output>.tests lists the test names, for the harness to count results.
set -euo pipefail

src_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$src_dir
module=
no_module=no
tests_list=
fabtests_list=
no_fabtests=no
no_bench=no
twonode_list=
output=
kmods=()
extras=()
up_mode=auto
up_prefix=

die() { printf 'mkinitramfs: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--build-dir) build_dir=$(cd "$2" && pwd); shift 2 ;;
	--module) module=$2; shift 2 ;;
	--no-module) no_module=yes; shift ;;
	--tests-list) tests_list=$2; shift 2 ;;
	--no-tests) tests_list=/dev/null; shift ;;
	--kmod) kmods+=("$2"); shift 2 ;;
	--extra) extras+=("$2"); shift 2 ;;
	--fabtests-list) fabtests_list=$2; shift 2 ;;
	--no-fabtests) no_fabtests=yes; shift ;;
	--no-bench) no_bench=yes; shift ;;
	--twonode-list) twonode_list=$2; shift 2 ;;
	--upstream-fabtests) up_prefix=$(cd "$2" && pwd); shift 2 ;;
	--build-upstream-fabtests) up_mode=build; shift ;;
	--no-upstream-fabtests) up_mode=no; shift ;;
	--output) output=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done

[ -n "$tests_list" ] || tests_list=$src_dir/tests/vm-tests.list
[ -n "$output" ] || output=$build_dir/tests/vm/initramfs.cpio.gz
if [ "$no_module" = no ] && [ -z "$module" ]; then
	for m in "$build_dir/kmod/fpgadma_core.ko" "$src_dir/kmod/fpgadma_core.ko"; do
		if [ -f "$m" ]; then module=$m; break; fi
	done
	[ -n "$module" ] || die "kmod/fpgadma_core.ko not found: build it first (make)"
fi
[ "$no_module" = yes ] || [ -f "$module" ] || die "module $module not found"
# The engine modules are built beside the core.
engines=(fpgadma_soft.ko fpgadma_edu.ko)
if [ "$no_module" = no ]; then
	for e in "${engines[@]}"; do
		[ -f "$(dirname "$module")/$e" ] || die "$(dirname "$module")/$e not found beside $module"
	done
fi
[ -r "$tests_list" ] || die "test list $tests_list not found"

busybox=
for b in /usr/bin/busybox /bin/busybox "$(command -v busybox || true)"; do
	if [ -n "$b" ] && [ -x "$b" ]; then busybox=$b; break; fi
done
[ -n "$busybox" ] || die "busybox not found (apt-get install busybox-static)"
command -v cpio >/dev/null || die "cpio not found (apt-get install cpio)"

out_dir=$(dirname "$output")
mkdir -p "$out_dir"
root=$out_dir/initramfs
rm -rf "$root"
mkdir -p "$root"
for d in usr/bin usr/sbin usr/lib usr/lib64 etc proc sys dev tmp run root mnt \
	var/tmp tests modules; do
	mkdir -p "$root/$d"
done
# The same merged /usr layout as the host, so a library keeps its path.
for d in bin sbin lib lib64; do ln -s "usr/$d" "$root/$d"; done

# Build-tree libraries (libtool's .libs directories) for ldd to resolve.
libpath=$(find "$build_dir" -maxdepth 3 -type d -name .libs -not -path '*/tests/vm/*' \
	2>/dev/null | sort | tr '\n' ':')

is_elf() { [ "$(od -An -tx1 -N4 "$1" 2>/dev/null | tr -d ' \n')" = 7f454c46 ]; }

# Libraries built here go into the loader's own directory.
sys_libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || true)
[ "$sys_libdir" != /usr/lib/ ] || sys_libdir=/usr/lib/x86_64-linux-gnu

# copy_with_libs SRC DEST: install program SRC at DEST in the guest, with
# every shared library it loads and the loader.
copy_with_libs() {
	local src=$1 dest=$2 line name path ldd_out
	install -D -m 0755 "$src" "$root$dest"
	is_elf "$src" || return 0
	if ! ldd_out=$(LD_LIBRARY_PATH=$libpath ldd "$src" 2>&1); then
		case $ldd_out in
		*"not a dynamic executable"*|*"statically linked"*) return 0 ;;
		*) die "ldd $src failed: $ldd_out" ;;
		esac
	fi
	while IFS= read -r line; do
		line=${line#"${line%%[![:space:]]*}"}
		case $line in
		*"statically linked"*|linux-vdso.so*|linux-gate.so*|"") ;;
		*"=> not found"*) die "$src: shared library ${line%% *} not found" ;;
		*" => "*)
			name=${line%% => *}
			path=${line#* => }
			path=${path% (0x*}
			case $path in
			/lib/*|/usr/lib/*|/lib64/*|/usr/lib64/*) copy_file "$path" "$path" ;;
			*) copy_file "$path" "$sys_libdir/$name" ;;
			esac
			;;
		/*)	# the loader
			copy_file "${line% (0x*}" "${line% (0x*}"
			;;
		esac
	done <<<"$ldd_out"
}

# copy_file SRC DEST: SRC (symbolic links resolved) at DEST in the guest,
# unless the archive being built ($root) or one unpacked before it
# ($lower_roots: a side archive leaves out what the base has) holds it.
lower_roots=()
copy_file() {
	local r
	for r in "$root" ${lower_roots[@]+"${lower_roots[@]}"}; do
		[ ! -e "$r$2" ] || return 0
	done
	install -D -m 0755 "$(readlink -f "$1")" "$root$2"
}

# new_root DIR: an empty staging directory with the merged-/usr links.
new_root() {
	rm -rf "$1"
	mkdir -p "$1/usr/bin" "$1/usr/sbin" "$1/usr/lib" "$1/usr/lib64"
	for d in bin sbin lib lib64; do ln -s "usr/$d" "$1/$d"; done
}

# pack DIR FILE: DIR as a gzip'd newc cpio archive.
pack() {
	(cd "$1" && find . -print0 | LC_ALL=C sort -z |
		cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -n -6 > "$2.tmp"
	mv "$2.tmp" "$2"
}

# resolve_prog REL: the real binary for build-tree path REL (a libtool
# wrapper script is replaced by the program it runs).
resolve_prog() {
	local rel=$1 dir base c
	dir=$(dirname "$rel")
	base=$(basename "$rel")
	for c in "$build_dir/$dir/.libs/$base" "$build_dir/$dir/.libs/lt-$base" "$build_dir/$rel"; do
		if [ -f "$c" ] && is_elf "$c"; then
			printf '%s\n' "$c"
			return 0
		fi
	done
	if [ -f "$build_dir/$rel" ]; then
		die "$build_dir/$rel is not a program and no .libs/$base exists (libtool wrapper?)"
	fi
	die "$build_dir/$rel not found: build it first (make check builds the tests)"
}

# --- busybox and its applets
copy_with_libs "$busybox" /usr/bin/busybox
while IFS= read -r applet; do
	applet=${applet#/}
	case $applet in ""|init|linuxrc|usr/bin/busybox|bin/busybox) continue ;; esac
	applet=usr/${applet#usr/}
	[ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s /usr/bin/busybox "$root/$applet"
done < <("$busybox" --list-full)

# --- the module and the modules it depends on
if [ "$no_module" = no ]; then
	install -m 0644 "$module" "$root/fpgadma_core.ko"
	for e in "${engines[@]}"; do
		install -m 0644 "$(dirname "$module")/$e" "$root/$e"
	done
	krel=$(modinfo -F vermagic "$module" 2>/dev/null | awk '{print $1}')
	deps=$(modinfo -F depends "$module" 2>/dev/null | tr ',' ' ')
	# shellcheck disable=SC2206 # one word per module name
	kmods=($deps ${kmods[@]+"${kmods[@]}"})
fi
# copy_kmods DIR NAME...: kernel modules NAME... and what they depend on,
# from /lib/modules/$krel, into DIR of the archive being built, their file
# names in DIR/load-order in the order they load (dependencies first, as
# modprobe lists them; each one once).
copy_kmods() {
	local dir=$1 km verb path base deps_out
	shift
	mkdir -p "$root$dir"
	: > "$root$dir/load-order"
	[ $# -gt 0 ] || return 0
	[ -n "${krel:-}" ] ||
		krel=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
	for km in "$@"; do
		deps_out=$(modprobe -S "$krel" --show-depends "$km") ||
			die "kernel module $km not found for $krel"
		while read -r verb path _; do
			[ "$verb" = insmod ] || continue
			base=$(basename "$path")
			base=${base%.xz} base=${base%.gz} base=${base%.zst}
			! grep -qx "$base" "$root$dir/load-order" || continue
			case $path in
			*.ko) cp "$path" "$root$dir/$base" ;;
			*.ko.xz) xz -dc "$path" > "$root$dir/$base" ;;
			*.ko.gz) gzip -dc "$path" > "$root$dir/$base" ;;
			*.ko.zst) zstd -qdc "$path" > "$root$dir/$base" ;;
			*) die "unknown module file $path" ;;
			esac
			echo "$base" >> "$root$dir/load-order"
		done <<<"$deps_out"
	done
}
copy_kmods /modules ${kmods[@]+"${kmods[@]}"}

# --- the tests, in the order of the list (NAME [@CONFIG,...] a line)
names=() test_cfgs=()
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%%#*}
	read -r name cfgs extra <<<"$line" || true
	[ -n "${name:-}" ] || continue
	case $name in /*|*..*) die "$tests_list: bad test name '$name'" ;; esac
	case ${cfgs:-} in ""|@?*) ;; *) die "$tests_list: $name: '$cfgs' is not @CONFIG,..." ;; esac
	[ -z "${extra:-}" ] || die "$tests_list: $name: more than NAME and @CONFIG,..."
	names+=("$name")
	test_cfgs+=("${cfgs#@}")
done < "$tests_list"
: > "$root/tests/vm-tests.list"
for name in ${names[@]+"${names[@]}"}; do
	copy_with_libs "$(resolve_prog "tests/$name")" "/tests/$name"
	printf '%s\n' "$name" >> "$root/tests/vm-tests.list"
done

# --- fabtests: libfabric, the provider, Open MPI (side archives)
ft_dir=/usr/libexec/fpgadma-fabtests
prov_dir=/usr/lib/fpgadma/libfabric
base_root=$root
ft_root=$out_dir/initramfs-fabtests
mpi_root=$out_dir/initramfs-mpi
up_root=$out_dir/initramfs-upstream
rm -rf "$ft_root" "$mpi_root" "$up_root" "$output.fabtests" "$output.mpi" "$output.upstream"
: > "$output.configs.tmp"
# where each test runs ('-': the list's default, general), and what it needs
for i in ${names[@]+"${!names[@]}"}; do
	printf '%s %s base\n' "${names[$i]}" "${test_cfgs[$i]:--}" >> "$output.configs.tmp"
done

# in_root DIR LOWER... -- CMD...: run CMD with the copies going to DIR,
# leaving out what the LOWER archives have.
in_root() {
	local dir=$1
	shift
	lower_roots=()
	while [ "$1" != -- ]; do lower_roots+=("$1"); shift; done
	shift
	[ -d "$dir" ] || new_root "$dir"
	root=$dir
	"$@"
	root=$base_root
	lower_roots=()
}

# copy_optional SRC: install SRC at its own path with its libraries, or
# leave it out (saying so) when one of them is missing on this machine:
# for plugins that the tests never load.
copy_optional() {
	if LD_LIBRARY_PATH=$libpath ldd "$1" 2>/dev/null | grep -q 'not found'; then
		echo "mkinitramfs: left out $1 (a library it needs is not installed)" >&2
		return 0
	fi
	copy_with_libs "$1" "$1"
}

# copy_tree DIR: DIR's files at the same place (data: help texts, configuration).
copy_tree() {
	local f
	[ -d "$1" ] || return 0
	while IFS= read -r f; do
		install -D -m 0644 "$f" "$root$f"
	done < <(find "$1" -type f)
}

# Open MPI's launcher and what it loads at run time.
copy_openmpi() {
	local orterun pkglibdir pkgdatadir sysconfdir pmixlib f
	orterun=$(readlink -f "$(command -v mpirun)")
	copy_with_libs "$orterun" /usr/bin/orterun
	ln -sf orterun "$root/usr/bin/mpirun"
	copy_with_libs "$(command -v orted)" /usr/bin/orted
	path_of() { ompi_info --path "$1" --parsable 2>/dev/null | sed -n "s/^path:$1://p"; }
	pkglibdir=$(path_of pkglibdir)
	pkgdatadir=$(path_of pkgdatadir)
	sysconfdir=$(path_of sysconfdir)
	[ -d "$pkglibdir" ] || die "Open MPI's plugin directory not found (ompi_info --path pkglibdir)"
	for f in "$pkglibdir"/*.so; do copy_optional "$f"; done
	# PMIx's plugins and help files, next to the libpmix Open MPI uses.
	pmixlib=$(ldd "$pkglibdir"/mca_pmix_*.so 2>/dev/null | awk '/libpmix\.so/ { print $3; exit }')
	if [ -n "$pmixlib" ]; then
		pmixlib=$(dirname "$(readlink -f "$pmixlib")")
		for f in "$pmixlib"/pmix/*.so; do [ -e "$f" ] && copy_optional "$f"; done
		copy_tree "$(dirname "$pmixlib")/share/pmix"
	fi
	copy_tree "$pkgdatadir"
	copy_tree "$sysconfdir"
}

# have_openmpi: whether Open MPI is installed here and fabtests/mpi_pingpong
# was built (configure found mpicc).
have_openmpi() {
	[ -x "$build_dir/fabtests/mpi_pingpong" ] && command -v mpirun >/dev/null &&
		command -v orted >/dev/null && command -v ompi_info >/dev/null
}

# Upstream's fabtests (ft-runfabtests): where they are (up_prefix) or why
# not (up_why), looked up once.
up_dir=/usr/libexec/fpgadma-upstream-fabtests
up_state='' up_why=''
find_upstream() {
	local out='' rc=0
	[ -z "$up_state" ] || return 0
	up_state=no
	if [ -n "$up_prefix" ]; then
		up_state=yes
	elif [ "$up_mode" = no ]; then
		up_why="upstream fabtests left out (mkinitramfs.sh --no-upstream-fabtests)"
	elif [ "$up_mode" = build ]; then
		out=$(bash "$src_dir/tests/upstream-fabtests.sh") || rc=$?
	else
		out=$(bash "$src_dir/tests/upstream-fabtests.sh" --cached 2>/dev/null) || rc=$?
	fi
	if [ -n "$out" ] && [ "$rc" -eq 0 ]; then
		up_prefix=$(tail -n 1 <<<"$out")
		up_state=yes
	elif [ -n "$out" ]; then
		up_why=$(sed -n 's/^SKIP: //p' <<<"$out" | tail -n 1)
		[ -n "$up_why" ] || up_why="tests/upstream-fabtests.sh failed (exit $rc)"
	fi
	if [ "$up_state" = yes ] && [ ! -x "$up_prefix/bin/runfabtests.sh" ]; then
		die "upstream fabtests: $up_prefix/bin/runfabtests.sh not found"
	fi
	return 0
}

# copy_upstream: upstream's programs and runfabtests.sh, what that script
# needs beyond busybox, and the guest's runner.
copy_upstream() {
	local f t py stdlib src_line
	for f in "$up_prefix"/bin/*; do
		[ -f "$f" ] || continue
		if is_elf "$f"; then
			copy_with_libs "$f" "$up_dir/bin/${f##*/}"
		elif [ "${f##*/}" = runfabtests.sh ]; then
			install -D -m 0755 "$f" "$root$up_dir/bin/runfabtests.sh"
		fi
	done
	# Busybox's timeout exits 143, not 124, and its ps has no -p: the real
	# ones, first in the runner's PATH (not over busybox's links).
	for t in /usr/bin/timeout /usr/bin/getopt /usr/bin/ps /usr/bin/bash; do
		[ -x "$t" ] || die "upstream fabtests: $t not found (coreutils, util-linux, procps, bash)"
	done
	for t in timeout getopt ps; do
		copy_with_libs "/usr/bin/$t" "$up_dir/tools/$t"
	done
	copy_with_libs /usr/bin/bash /usr/bin/bash
	# python3 for runfabtests.sh's "import errno; print(errno.ENODATA)":
	# errno is built in; startup needs the encodings package's utf-8, and
	# os.py and lib-dynload/ are the landmarks by which it finds its prefix.
	py=$(readlink -f /usr/bin/python3 2>/dev/null || true)
	if [ -z "$py" ] || [ ! -x "$py" ]; then
		die "upstream fabtests: /usr/bin/python3 not found (python3)"
	fi
	copy_with_libs "$py" "$py"
	ln -sf "${py##*/}" "$root/usr/bin/python3"
	stdlib=/usr/lib/${py##*/}
	for f in os.py encodings/__init__.py encodings/aliases.py encodings/utf_8.py; do
		[ -f "$stdlib/$f" ] || die "upstream fabtests: $stdlib/$f not found"
		install -D -m 0644 "$stdlib/$f" "$root$stdlib/$f"
	done
	mkdir -p "$root$stdlib/lib-dynload"
	install -D -m 0755 "$src_dir/tests/vm/guest-runfabtests.sh" "$root$ft_dir/guest-runfabtests.sh"
	# Which source they came from, without the host's paths.
	src_line=$(cat "$up_prefix/../source" 2>/dev/null || echo "unknown source")
	if [[ $src_line == FPGADMA_LIBFABRIC_SRC=* ]]; then
		src_line="FPGADMA_LIBFABRIC_SRC ${src_line#* }"
	fi
	printf '%s\n' "$src_line" > "$root$up_dir/source"
}

# add_fabtest LINE: one line of the fabtests list.
have_prov=no have_mpi=no mpi_copied=no up_copied=no
add_fabtest() {
	local name cfgs='' prog need_prov=no need_mpi=no need_up=no why='' src w a
	local -a envs=() args=()
	set -f
	# shellcheck disable=SC2086 # the line is words
	set -- $1
	set +f
	name=$1; shift
	case ${1:-} in @*) cfgs=${1#@}; shift ;; esac
	while [ $# -gt 0 ]; do
		case $1 in *=*) envs+=("$1"); shift ;; *) break ;; esac
	done
	[ $# -gt 0 ] || die "$fabtests_list: no program for $name"
	prog=$1; shift
	args=("$@")
	for a in ${envs[@]+"${envs[@]}"} ${args[@]+"${args[@]}"}; do
		case $a in *fpgadma*) need_prov=yes ;; esac
	done
	[ "$prog" != mpi-run.sh ] || need_mpi=yes
	if [ "$prog" = guest-runfabtests.sh ]; then need_up=yes need_prov=yes; fi
	if [ "$need_prov" = yes ] && [ "$have_prov" = no ]; then
		why="the fpgadma provider (prov/fpgadma/.libs/libfpgadma-fi.so) was not built"
	elif [ "$need_mpi" = yes ] && [ "$have_mpi" = no ]; then
		why="Open MPI is not there to test (mpirun, or fabtests/mpi_pingpong: configure found no mpicc)"
	elif [ "$need_up" = yes ]; then
		find_upstream
		[ "$up_state" = yes ] || why=$up_why
	fi
	if [ -z "$why" ]; then
		if [ "$need_up" = yes ]; then
			if [ "$up_copied" = no ]; then
				in_root "$up_root" "$base_root" "$ft_root" -- copy_upstream
				up_copied=yes
			fi
			src=$up_root
		elif [ "$need_mpi" = yes ]; then
			if [ "$mpi_copied" = no ]; then
				in_root "$mpi_root" "$base_root" "$ft_root" -- copy_openmpi
				in_root "$mpi_root" "$base_root" "$ft_root" -- copy_with_libs \
					"$(resolve_prog fabtests/mpi_pingpong)" "$ft_dir/mpi_pingpong"
				[ ! -x "$build_dir/fabtests/mpi_osc" ] ||
					in_root "$mpi_root" "$base_root" "$ft_root" -- copy_with_libs \
						"$(resolve_prog fabtests/mpi_osc)" "$ft_dir/mpi_osc"
				mpi_copied=yes
			fi
			src=$mpi_root
		else
			src=$ft_root
		fi
		if [ ! -e "$src$ft_dir/$prog" ]; then
			if [ -f "$src_dir/fabtests/$prog" ] && ! is_elf "$src_dir/fabtests/$prog"; then
				install -D -m 0755 "$src_dir/fabtests/$prog" "$src$ft_dir/$prog"
			elif [ "$src" = "$mpi_root" ]; then
				in_root "$mpi_root" "$base_root" "$ft_root" -- copy_with_libs \
					"$(resolve_prog "fabtests/$prog")" "$ft_dir/$prog"
			else
				in_root "$ft_root" "$base_root" -- copy_with_libs \
					"$(resolve_prog "fabtests/$prog")" "$ft_dir/$prog"
			fi
		fi
	fi
	[ -d "$ft_root" ] || new_root "$ft_root"
	mkdir -p "$ft_root/tests"
	w=$ft_root/tests/ft-$name
	{
		echo '#!/bin/sh'
		echo "# ft-$name, from the fabtests list (tests/vm/mkinitramfs.sh)"
		if [ -n "$why" ]; then
			printf 'echo %q\nexit 77\n' "SKIP: $why"
		else
			echo "export FI_PROVIDER_PATH=$prov_dir"
			printf 'exec env'
			for a in ${envs[@]+"${envs[@]}"}; do printf ' %q' "$a"; done
			printf ' %q' "$ft_dir/$prog" ${args[@]+"${args[@]}"}
			printf '\n'
		fi
	} > "$w"
	chmod 0755 "$w"
	names+=("ft-$name")
	printf '%s\n' "ft-$name" >> "$root/tests/vm-tests.list"
	if [ "$need_mpi" = yes ] && [ -z "$why" ]; then a=mpi; else a=fabtests; fi
	if [ "$need_up" = yes ] && [ -z "$why" ]; then a=upstream; fi
	printf '%s %s %s\n' "ft-$name" "${cfgs:--}" "$a" >> "$output.configs.tmp"
}

if [ "$tests_list" != /dev/null ] && [ "$no_fabtests" = no ]; then
	[ -n "$fabtests_list" ] || fabtests_list=$src_dir/fabtests/vm-fabtests.list
	# Built when any fabtest is (scripts/demo.sh builds fpga_pstream alone).
	ft_built=no
	for p in rdm_msg fpga_pstream; do
		if [ -x "$build_dir/fabtests/$p" ] || [ -x "$build_dir/fabtests/.libs/$p" ]; then
			ft_built=yes
		fi
	done
	if [ "$ft_built" = yes ]; then
		[ -r "$fabtests_list" ] || die "fabtests list $fabtests_list not found"
		prov_so=$build_dir/prov/fpgadma/.libs/libfpgadma-fi.so
		if [ -f "$prov_so" ]; then
			in_root "$ft_root" "$base_root" -- copy_with_libs "$prov_so" "$prov_dir/libfpgadma-fi.so"
			have_prov=yes
		fi
		# libfabric's own fi_info (libfabric-bin), for fabtests/fi-info.sh.
		if command -v fi_info >/dev/null; then
			in_root "$ft_root" "$base_root" -- copy_with_libs "$(command -v fi_info)" /usr/bin/fi_info
		fi
		if have_openmpi; then
			have_mpi=yes
		fi
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line%%#*}
			[ -n "${line//[[:space:]]/}" ] || continue
			add_fabtest "$line"
		done < "$fabtests_list"
	fi
fi

# --- the bench job's side archive
bench_root=$out_dir/initramfs-bench
rm -rf "$bench_root" "$output.bench"
# bench_optional PROGRAM DEST: PROGRAM with its libraries at DEST of the
# bench archive, or a note that it is left out.
bench_optional() {
	if [ -z "$1" ] || [ ! -x "$1" ]; then
		echo "mkinitramfs: bench: left out $2 (not installed here)" >&2
	elif LD_LIBRARY_PATH=$libpath ldd "$1" 2>/dev/null | grep -q 'not found'; then
		echo "mkinitramfs: bench: left out $2 (a library it needs is not installed)" >&2
	else
		copy_with_libs "$1" "$2"
	fi
}
add_bench() {
	local verbs_dir f
	install -D -m 0755 "$src_dir/bench/guest-bench.sh" "$root/bench/guest-bench.sh"
	copy_with_libs "$(resolve_prog bench/reg_bench)" /bench/reg_bench
	if [ -x "$build_dir/bench/stream_bench" ] || [ -x "$build_dir/bench/.libs/stream_bench" ]; then
		copy_with_libs "$(resolve_prog bench/stream_bench)" /bench/stream_bench
	fi
	if [ -x "$build_dir/bench/post_bench" ] || [ -x "$build_dir/bench/.libs/post_bench" ]; then
		copy_with_libs "$(resolve_prog bench/post_bench)" /bench/post_bench
	fi
	if [ -x "$build_dir/fabtests/bench_rma" ] || [ -x "$build_dir/fabtests/.libs/bench_rma" ]; then
		copy_with_libs "$(resolve_prog fabtests/bench_rma)" /bench/bench_rma
	fi
	if [ -x "$build_dir/fabtests/bench_pstream" ] || [ -x "$build_dir/fabtests/.libs/bench_pstream" ]; then
		copy_with_libs "$(resolve_prog fabtests/bench_pstream)" /bench/bench_pstream
	fi
	prov_so=$build_dir/prov/fpgadma/.libs/libfpgadma-fi.so
	if [ -f "$prov_so" ] && [ ! -e "$ft_root$prov_dir/libfpgadma-fi.so" ]; then
		copy_with_libs "$prov_so" "$prov_dir/libfpgadma-fi.so"
	fi
	bench_optional "$(command -v ib_read_bw || true)" /usr/bin/ib_read_bw
	bench_optional "$(command -v ib_read_lat || true)" /usr/bin/ib_read_lat
	bench_optional "$(command -v rdma || true)" /usr/bin/rdma
	# libibverbs finds its providers by the files in /etc/libibverbs.d.
	verbs_dir=$sys_libdir/libibverbs
	if compgen -G "$verbs_dir/librxe-*.so" >/dev/null; then
		for f in "$verbs_dir"/librxe-*.so; do copy_with_libs "$f" "$f"; done
		install -D -m 0644 /etc/libibverbs.d/rxe.driver "$root/etc/libibverbs.d/rxe.driver"
	else
		echo "mkinitramfs: bench: left out libibverbs' rxe provider (ibverbs-providers is not installed)" >&2
	fi
	# Open MPI and the program for the mpi step, in this archive of its own.
	if have_openmpi; then
		copy_openmpi
		copy_with_libs "$(resolve_prog fabtests/mpi_pingpong)" /bench/mpi_pingpong
		install -D -m 0755 "$src_dir/fabtests/mpi-run.sh" "$root/bench/mpi-run.sh"
	else
		echo "mkinitramfs: bench: left out Open MPI and mpi_pingpong (not installed here, or configure found no mpicc)" >&2
	fi
	if modprobe -S "${krel:-$(uname -r)}" --show-depends rdma_rxe >/dev/null 2>&1; then
		copy_kmods /modules/bench crc32_generic rdma_rxe
	else
		mkdir -p "$root/modules/bench"
		: > "$root/modules/bench/load-order"
		echo "mkinitramfs: bench: left out rdma_rxe (not a module of kernel ${krel:-?})" >&2
	fi
}
if [ "$tests_list" != /dev/null ] && [ "$no_bench" = no ] &&
   { [ -x "$build_dir/bench/reg_bench" ] || [ -x "$build_dir/bench/.libs/reg_bench" ]; }; then
	in_root "$bench_root" "$base_root" "$ft_root" -- add_bench
fi

# --- the two-node configuration's checks (side archive .net)
net_root=$out_dir/initramfs-net
net_dir=/usr/libexec/fpgadma-twonode
rm -rf "$net_root" "$output.net"
# net_note TEXT: what the .net archive leaves out.
net_note() { echo "mkinitramfs: twonode: $*" >&2; }
# net_optional PROGRAM DEST: PROGRAM with its libraries at DEST, or a note.
net_optional() {
	if [ -z "$1" ] || [ ! -x "$1" ]; then
		net_note "left out $2 (not installed here)"
	elif LD_LIBRARY_PATH=$libpath ldd "$1" 2>/dev/null | grep -q 'not found'; then
		net_note "left out $2 (a library it needs is not installed)"
	else
		copy_with_libs "$1" "$2"
	fi
}
# add_net: what every net-* check needs (the programs of 'fabtest PROG'
# lines come with add_net_fabtest).
add_net() {
	local m verbs_dir f
	local -a mods=() missing=()
	install -D -m 0755 "$src_dir/tests/vm/guest-twonode.sh" "$root$net_dir/guest-twonode.sh"
	# The link's modules: the NIC's driver (virtio-net on virtio-pci),
	# soft-RoCE (crc32_generic first: rxe's checksum) and the RDMA CM's
	# user interface (libfabric's verbs provider connects through it).
	[ -n "${krel:-}" ] ||
		krel=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
	for m in virtio_pci virtio_net crc32_generic rdma_rxe rdma_ucm; do
		if modprobe -S "$krel" --show-depends "$m" >/dev/null 2>&1; then
			mods+=("$m")
		else
			missing+=("$m")
		fi
	done
	[ "${#missing[@]}" -eq 0 ] ||
		net_note "left out kernel modules ${missing[*]} (not modules of kernel $krel)"
	copy_kmods /modules/net ${mods[@]+"${mods[@]}"}
	net_optional "$(command -v rdma || true)" /usr/bin/rdma
	net_optional "$(command -v fi_pingpong || true)" /usr/bin/fi_pingpong
	net_optional "$(command -v fi_info || true)" /usr/bin/fi_info
	verbs_dir=$sys_libdir/libibverbs
	if compgen -G "$verbs_dir/librxe-*.so" >/dev/null && [ -f /etc/libibverbs.d/rxe.driver ]; then
		for f in "$verbs_dir"/librxe-*.so; do copy_with_libs "$f" "$f"; done
		install -D -m 0644 /etc/libibverbs.d/rxe.driver "$root/etc/libibverbs.d/rxe.driver"
	else
		net_note "left out libibverbs' rxe provider (ibverbs-providers is not installed)"
	fi
}
# add_net_fabtest PROG: upstream's fabtest PROG, or why not (the check
# skips with it).
add_net_fabtest() {
	find_upstream
	if [ "$up_state" != yes ]; then
		printf '%s\n' "$up_why" > "$root$net_dir/upstream-why"
	elif [ ! -x "$up_prefix/bin/$1" ]; then
		net_note "upstream's fabtests have no $1"
	elif [ ! -e "$root$net_dir/bin/$1" ]; then
		copy_with_libs "$up_prefix/bin/$1" "$net_dir/bin/$1"
	fi
}
# add_net_forward: fabtests/fpga_forward (forward and forward-linkdown
# lines), when it was built.
add_net_forward() {
	if [ ! -x "$build_dir/fabtests/fpga_forward" ] && [ ! -x "$build_dir/fabtests/.libs/fpga_forward" ]; then
		net_note "left out fabtests/fpga_forward (not built: configure found no libfabric?)"
	elif [ ! -e "$root$net_dir/bin/fpga_forward" ]; then
		copy_with_libs "$(resolve_prog fabtests/fpga_forward)" "$net_dir/bin/fpga_forward"
	fi
}
# add_net_mpi: what the MPI check needs (mpi lines; see
# tests/vm/twonode-mpi.sh), once, or why not in $net_dir/mpi-why (the check
# skips with it): Open MPI in the .mpi archive (as for the fabtests' MPI
# tests) with fabtests/mpi_fpga_reduce in $ft_dir; in the .net archive
# dropbear and dbclient, the test's keys, the guest's script and the rsh
# agent Open MPI's launcher runs.  The keys are made here with dropbearkey,
# in the build's output directory next to the initramfs (twonode-keys/,
# kept across builds), never in the source tree.
net_mpi_added=no net_mpi_why=
add_net_mpi() {
	local keys=$out_dir/twonode-keys
	[ "$net_mpi_added" = no ] && [ -z "$net_mpi_why" ] || return 0
	if ! have_openmpi; then
		net_mpi_why="Open MPI is not there to test (openmpi-bin, or configure found no mpicc)"
	elif [ ! -x "$build_dir/fabtests/mpi_fpga_reduce" ]; then
		net_mpi_why="fabtests/mpi_fpga_reduce was not built (configure found no mpicc or no libfabric)"
	elif [ ! -f "$build_dir/prov/fpgadma/.libs/libfpgadma-fi.so" ] || [ ! -d "$ft_root" ]; then
		net_mpi_why="the fpgadma provider or the fabtests' side archive was not built"
	elif ! command -v dropbear >/dev/null || ! command -v dbclient >/dev/null ||
		! command -v dropbearkey >/dev/null; then
		net_mpi_why="dropbear, dbclient or dropbearkey is not installed here (dropbear-bin)"
	fi
	if [ -n "$net_mpi_why" ]; then
		mkdir -p "$net_root$net_dir"
		printf '%s\n' "$net_mpi_why" > "$net_root$net_dir/mpi-why"
		net_note "the MPI check will skip: $net_mpi_why"
		return 0
	fi
	if [ "$mpi_copied" = no ]; then
		in_root "$mpi_root" "$base_root" "$ft_root" -- copy_openmpi
		in_root "$mpi_root" "$base_root" "$ft_root" -- copy_with_libs \
			"$(resolve_prog fabtests/mpi_pingpong)" "$ft_dir/mpi_pingpong"
		mpi_copied=yes
	fi
	in_root "$mpi_root" "$base_root" "$ft_root" -- copy_with_libs \
		"$(resolve_prog fabtests/mpi_fpga_reduce)" "$ft_dir/mpi_fpga_reduce"
	mkdir -p "$keys"
	[ -f "$keys/host_key" ] || dropbearkey -t ed25519 -f "$keys/host_key" >/dev/null 2>&1 ||
		die "dropbearkey -t ed25519 -f $keys/host_key failed"
	[ -f "$keys/id_dropbear" ] || dropbearkey -t ed25519 -f "$keys/id_dropbear" >/dev/null 2>&1 ||
		die "dropbearkey -t ed25519 -f $keys/id_dropbear failed"
	dropbearkey -y -f "$keys/id_dropbear" 2>/dev/null | grep '^ssh-' > "$keys/authorized_keys" ||
		die "dropbearkey -y -f $keys/id_dropbear: no public key line"
	in_root "$net_root" "$base_root" "$ft_root" -- copy_net_mpi "$keys"
	net_mpi_added=yes
}
# copy_net_mpi KEYS: dropbear, dbclient, the keys of KEYS, the scripts.
copy_net_mpi() {
	copy_with_libs "$(command -v dropbear)" /usr/sbin/dropbear
	copy_with_libs "$(command -v dbclient)" /usr/bin/dbclient
	install -D -m 0600 "$1/host_key" "$root/etc/dropbear/dropbear_ed25519_host_key"
	install -D -m 0600 "$1/id_dropbear" "$root/root/.ssh/id_dropbear"
	install -D -m 0600 "$1/authorized_keys" "$root/root/.ssh/authorized_keys"
	chmod 0700 "$root/root/.ssh"
	printf '/bin/sh\n' > "$root/etc/shells"
	install -D -m 0755 "$src_dir/tests/vm/twonode-mpi.sh" "$root$net_dir/twonode-mpi.sh"
	# Open MPI's rsh launcher runs its agent as "AGENT HOST COMMAND...":
	# dbclient with the test's key, no host key check (the keys are
	# made for this closed link), no pty.
	cat > "$root$net_dir/twonode-mpi-rsh" <<'EOF_RSH'
#!/bin/sh
# the agent of Open MPI's rsh launcher in the two-node MPI check
# (tests/vm/twonode-mpi.sh, made by tests/vm/mkinitramfs.sh)
exec dbclient -y -y -T -i /root/.ssh/id_dropbear "$@"
EOF_RSH
	chmod 0755 "$root$net_dir/twonode-mpi-rsh"
}
# add_twonode LINE: one line of the twonode list.
net_added=no
add_twonode() {
	local name cmd i found=no w
	set -f
	# shellcheck disable=SC2086 # the line is words
	set -- $1
	set +f
	name=$1
	if [ "$name" = also ]; then
		[ $# -eq 2 ] || die "$twonode_list: 'also' takes one test name"
		for i in ${names[@]+"${!names[@]}"}; do
			[ "${names[$i]}" = "$2" ] && found=yes
		done
		if [ "$found" = no ]; then
			net_note "also $2: no such test in this initramfs (left out)"
			return 0
		fi
		# "NAME CONFIGS NEED": twonode added ('-' is the list's default, general)
		awk -v t="$2" '$1 == t { $2 = ($2 == "-" ? "general" : $2) ",twonode" } { print }' \
			"$output.configs.tmp" > "$output.configs.tmp2"
		mv "$output.configs.tmp2" "$output.configs.tmp"
		return 0
	fi
	[ $# -ge 2 ] || die "$twonode_list: no command for $name"
	case $name in net-*) ;; *) die "$twonode_list: $name: the checks' names start with net-" ;; esac
	cmd=$2
	case $cmd in setup|ping|pingpong|fabtest|forward|forward-linkdown|mpi) ;; *) die "$twonode_list: $name: unknown command '$cmd'" ;; esac
	if [ "$net_added" = no ]; then
		in_root "$net_root" "$base_root" "$ft_root" -- add_net
		net_added=yes
	fi
	if [ "$cmd" = fabtest ]; then
		[ $# -ge 5 ] || die "$twonode_list: $name: fabtest PROGRAM PROVIDER SIZE,... [ARGS...]"
		in_root "$net_root" "$base_root" "$ft_root" -- add_net_fabtest "$3"
	fi
	if [ "$cmd" = forward ] || [ "$cmd" = forward-linkdown ]; then
		[ $# -ge 3 ] || die "$twonode_list: $name: $cmd PROVIDER [ARGS...]"
		in_root "$net_root" "$base_root" "$ft_root" -- add_net_forward
	fi
	if [ "$cmd" = mpi ]; then
		[ $# -ge 3 ] || die "$twonode_list: $name: mpi TRANSPORT [ARGS...]"
		add_net_mpi
	fi
	shift
	mkdir -p "$net_root/tests"
	w=$net_root/tests/$name
	{
		echo '#!/bin/sh'
		echo "# $name, from the twonode list (tests/vm/mkinitramfs.sh)"
		printf 'exec env FPGADMA_TWONODE_CHECK=%q %q' "$name" "$net_dir/guest-twonode.sh"
		printf ' %q' "$@"
		printf '\n'
	} > "$w"
	chmod 0755 "$w"
	names+=("$name")
	printf '%s\n' "$name" >> "$root/tests/vm-tests.list"
	# the MPI check boots with the .mpi archive too (Open MPI)
	if [ "$cmd" = mpi ] && [ -z "$net_mpi_why" ]; then
		printf '%s twonode net-mpi\n' "$name" >> "$output.configs.tmp"
	else
		printf '%s twonode net\n' "$name" >> "$output.configs.tmp"
	fi
}
if [ "$tests_list" != /dev/null ]; then
	if [ -z "$twonode_list" ] && [ -r "$src_dir/tests/vm/twonode.list" ]; then
		twonode_list=$src_dir/tests/vm/twonode.list
	fi
	if [ -n "$twonode_list" ] && [ "$twonode_list" != /dev/null ]; then
		[ -r "$twonode_list" ] || die "twonode list $twonode_list not found"
		while IFS= read -r line || [ -n "$line" ]; do
			line=${line%%#*}
			[ -n "${line//[[:space:]]/}" ] || continue
			add_twonode "$line"
		done < "$twonode_list"
	fi
fi

# --- tools
for tool in fpgadma_demo fpgadma_info; do
	copy_with_libs "$(resolve_prog "tools/$tool")" "/usr/bin/$tool"
done

# --- anything else asked for
for f in ${extras[@]+"${extras[@]}"}; do
	[ -e "$f" ] || die "--extra $f: not found"
	f=$(readlink -f "$f")
	if is_elf "$f"; then copy_with_libs "$f" "$f"; else install -D -m 0644 "$f" "$root$f"; fi
done

# --- /etc
cat > "$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$root/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
nogroup:x:65534:
EOF
cat > "$root/etc/hosts" <<'EOF'
127.0.0.1	localhost
::1		localhost
EOF
cat > "$root/etc/nsswitch.conf" <<'EOF'
passwd: files
group: files
hosts: files
services: files
EOF
if [ -r /etc/services ]; then cp /etc/services "$root/etc/services"; fi
# A loader cache; the loader's built-in search path works without it too.
if command -v ldconfig >/dev/null 2>&1; then
	ldconfig -r "$root" 2>/dev/null || true
fi

install -m 0755 "$src_dir/tests/vm/guest-init.sh" "$root/init"
# The kernel opens /dev/console for init before devtmpfs is mounted; without
# the node (mknod needs root) init reopens the console itself.
mknod -m 0600 "$root/dev/console" c 5 1 2>/dev/null || true

pack "$root" "$output"
for side in fabtests mpi upstream bench net; do
	d=$out_dir/initramfs-$side
	[ ! -d "$d" ] || pack "$d" "$output.$side"
done
printf '%s\n' ${names[@]+"${names[@]}"} > "$output.tests"
mv "$output.configs.tmp" "$output.configs"
sides=
for side in fabtests mpi upstream bench net; do
	[ ! -f "$output.$side" ] || sides+=", .$side $(du -h "$output.$side" | cut -f1)"
done
printf 'mkinitramfs: %s (%s tests, %s%s)\n' "${output#"$build_dir"/}" "${#names[@]}" \
	"$(du -h "$output" | cut -f1)" "$sides"
