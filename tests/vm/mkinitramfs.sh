#!/usr/bin/env bash
# Build the initramfs the VM tests boot (a gzip'd newc cpio archive).
#
# Usage: tests/vm/mkinitramfs.sh [options]
#   --build-dir DIR    where the programs were built (default: the source tree)
#   --module FILE      the module (default: kmod/fpgadma.ko in the build dir,
#                      then in the source tree)
#   --no-module        build without the module (experiments on the harness
#                      only: the guest then needs fpgadma.allow_no_module=1)
#   --tests-list FILE  test programs to include (default: tests/vm-tests.list)
#   --no-tests         include no test programs (for the demo)
#   --kmod NAME        also include kernel module NAME (and what it depends
#                      on) from /lib/modules/<release>; repeatable
#   --extra FILE       also include FILE (with its shared libraries when it is
#                      a program) at the same path; repeatable
#   --output FILE      default: <build dir>/tests/vm/initramfs.cpio.gz
#
# Contents: busybox (static) with its applet links; /init (guest-init.sh);
# /fpgadma.ko; /modules/ and /modules/load-order for modules it depends on;
# /tests/<name> for every name in the list and /tests/vm-tests.list (the
# names, in order); /usr/bin/fpgadma_demo and /usr/bin/fpgadma_info; every
# shared library these load (found with ldd) and the dynamic loader; /etc
# with passwd and group (root, nobody 65534), hosts, services.
#
# Test names are paths under tests/ without the prefix, one per line, '#'
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
output=
kmods=()
extras=()

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
	--output) output=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument: $1 (see --help)" ;;
	esac
done

[ -n "$tests_list" ] || tests_list=$src_dir/tests/vm-tests.list
[ -n "$output" ] || output=$build_dir/tests/vm/initramfs.cpio.gz
if [ "$no_module" = no ] && [ -z "$module" ]; then
	for m in "$build_dir/kmod/fpgadma.ko" "$src_dir/kmod/fpgadma.ko"; do
		if [ -f "$m" ]; then module=$m; break; fi
	done
	[ -n "$module" ] || die "kmod/fpgadma.ko not found: build it first (make)"
fi
[ "$no_module" = yes ] || [ -f "$module" ] || die "module $module not found"
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

# copy_file SRC DEST: SRC (symbolic links resolved) at DEST in the guest.
copy_file() {
	[ -e "$root$2" ] || install -D -m 0755 "$(readlink -f "$1")" "$root$2"
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
	install -m 0644 "$module" "$root/fpgadma.ko"
	krel=$(modinfo -F vermagic "$module" 2>/dev/null | awk '{print $1}')
	deps=$(modinfo -F depends "$module" 2>/dev/null | tr ',' ' ')
	# shellcheck disable=SC2206 # one word per module name
	kmods=($deps ${kmods[@]+"${kmods[@]}"})
fi
: > "$root/modules/load-order"
if [ "${#kmods[@]}" -gt 0 ]; then
	[ -n "${krel:-}" ] ||
		krel=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n 1)
	for km in "${kmods[@]}"; do
		# modprobe lists a module's dependencies first.
		modprobe -S "$krel" --show-depends "$km" | while read -r verb path _; do
			[ "$verb" = insmod ] || continue
			base=$(basename "$path")
			grep -qx "$base" "$root/modules/load-order" && continue
			case $path in
			*.ko) cp "$path" "$root/modules/$base" ;;
			*.ko.xz) xz -dc "$path" > "$root/modules/${base%.xz}"; base=${base%.xz} ;;
			*.ko.gz) gzip -dc "$path" > "$root/modules/${base%.gz}"; base=${base%.gz} ;;
			*.ko.zst) zstd -qdc "$path" > "$root/modules/${base%.zst}"; base=${base%.zst} ;;
			*) die "unknown module file $path" ;;
			esac
			echo "$base" >> "$root/modules/load-order"
		done
	done
fi

# --- the tests, in the order of the list
names=()
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%%#*}
	line=$(printf '%s' "$line" | tr -d '[:space:]')
	[ -n "$line" ] || continue
	case $line in /*|*..*) die "$tests_list: bad test name '$line'" ;; esac
	names+=("$line")
done < "$tests_list"
: > "$root/tests/vm-tests.list"
for name in ${names[@]+"${names[@]}"}; do
	copy_with_libs "$(resolve_prog "tests/$name")" "/tests/$name"
	printf '%s\n' "$name" >> "$root/tests/vm-tests.list"
done

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

tmp=$output.tmp
(cd "$root" && find . -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -n -6 > "$tmp"
mv "$tmp" "$output"
printf '%s\n' ${names[@]+"${names[@]}"} > "$output.tests"
printf 'mkinitramfs: %s (%s tests, %s)\n' "${output#"$build_dir"/}" "${#names[@]}" \
	"$(du -h "$output" | cut -f1)"
