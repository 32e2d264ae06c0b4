#!/usr/bin/env bash
# Generate configure and Makefile.in (needs autoconf, automake, libtool,
# pkg-config: scripts/install-deps.sh installs them).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p m4 build-aux
autoreconf --force --install --warnings=all,no-portability "$@"
