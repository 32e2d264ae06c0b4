#!/bin/sh
# udev-rule: kmod/60-fpgadma.rules matches the nodes the module creates
# (class "fpgadma", names "fpgadma%d" in kmod/core.c), gives them to the
# group fpgadma with mode 0660, and make install puts it in udevrulesdir.
# Run by make check from the top build directory.
set -u
srcdir=${srcdir:-.}
rules=$srcdir/kmod/60-fpgadma.rules
main=$srcdir/kmod/core.c
fail=0
no() { echo "udev-rule: $*" >&2; fail=1; }

rule=$(grep -v '^#' "$rules" | grep -v '^$')
[ "$(printf '%s\n' "$rule" | wc -l)" -eq 1 ] || no "expected exactly one rule in $rules"
class=$(sed -n 's/.*class_create(THIS_MODULE, "\([^"]*\)").*/\1/p' "$main")
[ -n "$class" ] || no "no class_create in $main"
case $rule in *"SUBSYSTEM==\"$class\""*) ;; *) no "rule does not match SUBSYSTEM \"$class\"" ;; esac
grep -q '"fpgadma%d"' "$main" || no "device names in $main are no longer fpgadma%d"
# The KERNEL glob must match the names the module gives, and nothing else.
glob=$(printf '%s\n' "$rule" | sed -n 's/.*KERNEL=="\([^"]*\)".*/\1/p')
for name in fpgadma0 fpgadma7 fpgadma15; do
	case $name in $glob) ;; *) no "KERNEL==\"$glob\" does not match $name" ;; esac
done
for name in fpgadma fpgadmax tty0; do
	case $name in $glob) no "KERNEL==\"$glob\" matches $name" ;; *) ;; esac
done
case $rule in *'GROUP="fpgadma"'*) ;; *) no "rule does not set GROUP=\"fpgadma\"" ;; esac
case $rule in *'MODE="0660"'*) ;; *) no "rule does not set MODE=\"0660\"" ;; esac

# make install puts it where configure said, and nothing creates a group
# under DESTDIR.
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
dir=$(${MAKE:-make} -s print-udevrulesdir 2>/dev/null)
if ${MAKE:-make} -s install-udevrulesDATA DESTDIR="$dest" >/dev/null 2>&1 &&
   cmp -s "$rules" "$dest$dir/60-fpgadma.rules"; then
	:
else
	no "make install-udevrulesDATA did not install the rule into DESTDIR$dir"
fi
[ $fail -eq 0 ] && echo "udev-rule: $rule (installed into $dir)"
exit $fail
