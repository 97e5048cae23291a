#!/usr/bin/env bash
# Installs IRP into a temporary prefix, builds examples/simulator against it
# with find_package(irp), and runs it: the package config, the exported
# targets and the installed headers must be enough for an embedder.
# Usage: install_and_embed.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
BUILD=$1
SRC=$2
WORK=$(mktemp -d /tmp/irp-install.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cmake --install "$BUILD" --prefix "$WORK/prefix" >/dev/null
test -f "$WORK/prefix/include/irp/core/server_session.hpp"
test ! -e "$WORK/prefix/include/irp/v1"  # generated protobuf headers stay private
cmake -S "$SRC/examples/simulator" -B "$WORK/build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" \
      -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$WORK/build" >/dev/null
"$WORK/build/irp-simulator" 50 7
