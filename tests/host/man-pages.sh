#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
# man-pages: every page of man/ renders without a warning and has a NAME
# line that makes a whatis entry, as lintian checks them:
#   man --warnings -E UTF-8 -l PAGE    prints nothing on standard error
#   lexgrog PAGE                       parses its NAME section
# in a man tree (man3/, man4/, ...) so that the .so links of man/*.3 resolve
# as they do once installed; and man/fi_fpgadma.7, which man/md2man.py
# renders from man/fi_fpgadma.7.md, is what md2man.py makes of the markdown
# now (it is carried rendered in the release tarball).
# Run by make check from the top build directory; skipped without man-db.
set -u
srcdir=${srcdir:-.}
fail=0
no() { echo "man-pages: $*" >&2; fail=1; }

if ! command -v man >/dev/null 2>&1 || ! command -v lexgrog >/dev/null 2>&1; then
	echo "SKIP: man-db (man, lexgrog) is not installed"
	exit 77
fi

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT

# The pages: man/*.[1-9] of the source tree, and the rendered fi_fpgadma.7
# wherever it is (the build tree in a VPATH build from git).
pages=
for f in man/*.[1-9] "$srcdir"/man/*.[1-9]; do
	[ -f "$f" ] || continue
	base=${f##*/}
	case " $pages " in *" $base "*) continue ;; esac
	pages="$pages $base"
	sec=${base##*.}
	mkdir -p "$tree/man$sec"
	cp "$f" "$tree/man$sec/$base"
done
[ -n "$pages" ] || { no "no page found in $srcdir/man"; exit 1; }
case " $pages " in *" fi_fpgadma.7 "*) ;; *) no "man/fi_fpgadma.7 is missing (make builds it)" ;; esac

n=0
for base in $pages; do
	sec=${base##*.}
	page=man$sec/$base
	n=$((n + 1))
	warnings=$(cd "$tree" && LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	[ -z "$warnings" ] || no "$page: $warnings"
	# A .so link is a whatis entry of the page it names.
	if ! grep -q '^\.so ' "$tree/$page"; then
		(cd "$tree" && lexgrog "$page" >/dev/null 2>&1) || no "$page: lexgrog finds no whatis entry in its NAME section"
	fi
done

# The rendered provider page is up to date with its markdown.
if [ -f "$srcdir/man/fi_fpgadma.7.md" ] && [ -f "$tree/man7/fi_fpgadma.7" ]; then
	if command -v python3 >/dev/null 2>&1; then
		if python3 "$srcdir/man/md2man.py" --name man/fi_fpgadma.7.md \
			-o "$tree/fi_fpgadma.7.now" "$srcdir/man/fi_fpgadma.7.md"; then
			cmp -s "$tree/fi_fpgadma.7.now" "$tree/man7/fi_fpgadma.7" ||
				no "man/fi_fpgadma.7 is not what man/md2man.py makes of man/fi_fpgadma.7.md (make man/fi_fpgadma.7)"
		else
			no "man/md2man.py failed on man/fi_fpgadma.7.md"
		fi
	else
		echo "man-pages: no python3: man/fi_fpgadma.7 not compared with its markdown"
	fi
fi

[ $fail -eq 0 ] && echo "man-pages: $n pages, no warning"
exit $fail
