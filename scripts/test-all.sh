#!/usr/bin/env bash
# Every check of the project, as CI runs it (.ci/run):
#   install-deps, then autogen.sh, configure --enable-werror and make;
#   kernel style of kmod/ (make checkpatch), the module's W=1 build without
#   a single warning (make module-warnings) and sparse (make module-sparse);
#   the host tests (make check without the VM suite);
#   make distcheck (the release tarball built out of tree, its host tests);
#   the Debian packages built, installed with DKMS in a clean chroot and
#   purged, and the modules DKMS built booted in the VM with a quick
#   selection of the VM suite (scripts/package-test.sh);
#   the VM suite in every configuration (make vm-check), the two-node one
#   (twonode: two guests linked by a virtual Ethernet, libfabric's tcp and
#   verbs providers between them over soft-RoCE) among them, with the upstream
#   conformance run (configuration 'upstream': libfabric's own
#   runfabtests.sh -t quick against fpgadma) when libfabric's fabtests are
#   built (tests/upstream-fabtests.sh builds them once, from Debian's
#   source package or FPGADMA_LIBFABRIC_SRC; without a source it is one
#   counted skip, with the reason);
#   the debug-kernel tier: the VM suite on a kernel with KASAN, lockdep,
#   DMA-API debugging, kmemleak and UBSAN (make vm-check-debug; building
#   that kernel the first time takes about 10 minutes).
# Each static check and the build count as one check; the host tests, the
# VM suite and the debug-kernel tier count their own results.  The last
# line printed is "N passed, N failed, N skipped"; the exit status is
# nonzero when anything failed.
#
# Environment: VM_CONFIGS="default swiotlb smp2 smp4 smallmem pressure edu iommu edu-highmem twonode" (the VM suite's
# configurations), DEBUG_VM_CONFIGS (the debug-kernel tier's, default
# "default swiotlb smp2 smp4 faults"; empty skips the tier, counted as one skip), JOBS
# (parallel make jobs, default: number of CPUs), UPSTREAM_FABTESTS=no (leave
# the upstream conformance run out, counted as one skip).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${JOBS:-$(nproc)}
vm_configs=${VM_CONFIGS:-default swiotlb smp2 smp4 smallmem pressure edu iommu edu-highmem twonode}
debug_vm_configs=${DEBUG_VM_CONFIGS-default swiotlb smp2 smp4 faults}
passed=0
failed=0
skipped=0
failures=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT

banner() { printf '\n======== %s\n' "$*"; }
pass() { passed=$((passed + ${2:-1})); }
fail() { failed=$((failed + ${2:-1})); failures+=("$1"); }

# check NAME COMMAND...: one check, passed when COMMAND succeeds.
check() {
	local name=$1
	shift
	banner "$name: $*"
	if "$@"; then
		echo "-------- $name: passed"
		pass "$name"
	else
		echo "-------- $name: FAILED"
		fail "$name"
	fi
}

summary() {
	echo
	if [ "${#failures[@]}" -gt 0 ]; then
		echo "test-all: failed: ${failures[*]}"
	fi
	echo "$passed passed, $failed failed, $skipped skipped"
	[ "$failed" -eq 0 ]
}

banner "install-deps"
if ! bash scripts/install-deps.sh; then
	fail install-deps
	summary || exit 1
fi

build() {
	./autogen.sh && ./configure --enable-werror && make -j"$jobs"
}
check build build
if [ "$failed" -gt 0 ]; then
	echo "test-all: the build failed, nothing else can run"
	skipped=$((skipped + 8))
	summary || exit 1
fi

check checkpatch make checkpatch
check module-warnings make module-warnings
check module-sparse make module-sparse

# Host tests: the counts of automake's test harness.
banner "host tests: make check FPGADMA_VM_SUITE=no"
status=0
make -j"$jobs" check FPGADMA_VM_SUITE=no 2>&1 | tee "$out" || status=$?
count() { sed -n "s/^# $1: *\([0-9][0-9]*\).*/\1/p" "$out" | tail -n 1; }
if grep -q '^# TOTAL:' "$out"; then
	pass "host tests" $(( $(count PASS) + $(count XFAIL) ))
	skipped=$((skipped + $(count SKIP)))
	n=$(( $(count FAIL) + $(count XPASS) + $(count ERROR) ))
	[ "$n" -eq 0 ] || fail "host tests" "$n"
	if [ "$status" -ne 0 ] && [ "$n" -eq 0 ]; then fail "host tests (make check)"; fi
elif [ "$status" -ne 0 ]; then
	fail "host tests (make check)"
fi

# The release tarball builds out of tree and passes its host tests.
check distcheck make -j"$jobs" distcheck

# The Debian packages (scripts/package-test.sh): built, lintian, installed
# with DKMS in a clean Debian 12 chroot, checked, purged; it ends with its
# own "package-test: N passed, N failed".
banner "package test: bash scripts/package-test.sh"
status=0
bash scripts/package-test.sh 2>&1 | tee "$out" || status=$?
line=$(grep -E '^package-test: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n 1 || true)
if [ -n "$line" ]; then
	read -r _ p _ f _ <<<"$line"
	pass "package test" "$p"
	[ "$f" -eq 0 ] || fail "package test" "$f"
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then fail "package test (exit $status)"; fi
else
	fail "package test (no summary: exit $status)"
fi

# suite NAME TARGET VAR=VALUE: run a make target that ends with its own
# "N passed, N failed, N skipped" line and count that line.
suite() {
	local name=$1 target=$2 var=$3 line p f s status=0
	banner "$name: make $target $var"
	make "$target" "$var" 2>&1 | tee "$out" || status=$?
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -n 1 || true)
	if [ -z "$line" ]; then
		fail "$name (no summary: make $target exited $status)"
		return
	fi
	read -r p _ f _ s _ <<<"$line"
	pass "$name" "$p"
	skipped=$((skipped + s))
	[ "$f" -eq 0 ] || fail "$name" "$f"
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then fail "$name (make $target)"; fi
}

# libfabric's own fabtests, for the VM suite's upstream conformance run:
# built once into a cache outside the tree; its configuration runs only
# when they are there, else the reason is one counted skip.
if [ "${UPSTREAM_FABTESTS:-yes}" = no ]; then
	banner "upstream fabtests: skipped (UPSTREAM_FABTESTS=no)"
	skipped=$((skipped + 1))
else
	banner "upstream fabtests: bash tests/upstream-fabtests.sh"
	status=0
	up_out=$(bash tests/upstream-fabtests.sh) || status=$?
	if [ "$status" -eq 0 ]; then
		echo "-------- upstream fabtests: in $(tail -n 1 <<<"$up_out"); the VM suite runs configuration upstream"
		[[ " $vm_configs " == *" upstream "* ]] || vm_configs+=" upstream"
	else
		reason=$(sed -n 's/^SKIP: //p' <<<"$up_out" | tail -n 1)
		if [ "$status" -eq 77 ]; then
			echo "-------- upstream fabtests: SKIPPED: ${reason:-no reason given}"
			skipped=$((skipped + 1))
		else
			echo "-------- upstream fabtests: FAILED: ${reason:-exit $status}"
			fail "upstream fabtests (build)"
		fi
	fi
fi

# The VM suite, then the debug-kernel tier (the suite on the debug kernel).
suite "VM suite" vm-check VM_CONFIGS="$vm_configs"
if [ -n "$debug_vm_configs" ]; then
	suite "debug-kernel tier" vm-check-debug DEBUG_VM_CONFIGS="$debug_vm_configs"
else
	banner "debug-kernel tier: skipped (DEBUG_VM_CONFIGS is empty)"
	skipped=$((skipped + 1))
fi

summary
