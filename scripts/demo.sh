#!/usr/bin/env bash
# The fpgadma demo from nothing: install what is missing, build the library,
# the tools and the kernel module in the source tree, boot the module in
# QEMU and print what fpgadma_demo printed there, then what fabtests'
# fpga_pstream printed through the libfabric provider.  The exit status is the
# demo's (1 when the VM run itself failed: a crash, a kernel warning, a
# failed rmmod or pinned pages left behind).
#
# Usage: scripts/demo.sh [DEMO ARGUMENTS...]
# Build output goes to tests/vm/logs/demo-build.log; the VM's console to
# tests/vm/logs/default.log.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p tests/vm/logs
log=tests/vm/logs/demo-build.log
: > "$log"

step() { printf '==> %s\n' "$*" >&2; }
quietly() {
	if ! "$@" >> "$log" 2>&1; then
		printf 'demo: "%s" failed; the end of %s:\n' "$*" "$log" >&2
		tail -n 40 "$log" >&2
		exit 1
	fi
}

step "checking packages (scripts/install-deps.sh)"
quietly bash scripts/install-deps.sh
if [ ! -x configure ]; then
	step "generating configure (autogen.sh)"
	quietly ./autogen.sh
fi
if [ ! -f Makefile ]; then
	step "configuring"
	quietly ./configure
fi
step "building (make; log: $log)"
quietly make -j"$(nproc)"
# The demo's libfabric part (fabtests/fpga_pstream, a check program) when
# configure found libfabric.
if make -n fabtests/fpga_pstream > /dev/null 2>&1; then
	quietly make -j"$(nproc)" fabtests/fpga_pstream
fi

if [ $# -gt 0 ]; then
	FPGADMA_VM_DEMO_ARGS=$(IFS='|'; printf '%s' "$*")
	export FPGADMA_VM_DEMO_ARGS
fi
step "booting the module in QEMU and running fpgadma_demo"
exec bash tests/vm/run-suite.sh --job demo --config default
