#!/usr/bin/env bash
# Installs IRP into a temporary prefix, builds examples/simulator against it
# with find_package(irp), and runs it: the package config, the exported
# targets and the installed headers must be enough for an embedder. Then a C
# program on irp::idwallet_c, and a relying party on irp::irp_rp alone.
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

# The C API: a C program links irp::idwallet_c from the installed package.
test -f "$WORK/prefix/include/irp/wallet.h"
mkdir -p "$WORK/capi"
cat >"$WORK/capi/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(capi_embed LANGUAGES C CXX)
find_package(irp REQUIRED)
add_executable(capi_embed main.c)
set_target_properties(capi_embed PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)
target_link_libraries(capi_embed PRIVATE irp::idwallet_c)
CMAKE
cat >"$WORK/capi/main.c" <<'C'
#include <stdio.h>
#include "irp/wallet.h"
int main(void) {
    irp_wallet_t* w = NULL;
    /* NULL options: refused, nothing else needed to run. */
    if (irp_wallet_new(NULL, NULL, &w) != IRP_WALLET_E_INVALID || w != NULL) return 1;
    printf("%s %d\n", irp_wallet_code_name(200), irp_wallet_api_version());
    return 0;
}
C
cmake -S "$WORK/capi" -B "$WORK/capi/build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/capi/build" >/dev/null
test "$("$WORK/capi/build/capi_embed")" = "bad_token_proof 1"

# The relying-party library alone: an application server finds the rp
# component and links irp::irp_rp, with its headers under irp/rp/.
test -f "$WORK/prefix/include/irp/rp/verifier.hpp"
test -f "$WORK/prefix/include/irp/rp/account.hpp"
test -n "$(find "$WORK/prefix" -name libirp_rp.a)"
mkdir -p "$WORK/rp"
cat >"$WORK/rp/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(rp_embed LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(irp REQUIRED COMPONENTS rp)
add_executable(rp_embed main.cpp)
target_link_libraries(rp_embed PRIVATE irp::irp_rp)
CMAKE
cat >"$WORK/rp/main.cpp" <<'CPP'
#include <cstdio>
#include "irp/rp/account.hpp"
#include "irp/rp/verifier.hpp"
int main() {
    // No trusted root: refused, as a value. The proof message is label, length, challenge.
    auto v = irp::rp::Verifier::create({});
    const auto m = irp::rp::peer_proof_message(irp::Bytes(irp::rp::kChallengeBytes, 7));
    std::printf("%s %zu %zu\n", v ? "created" : irp::code_name(v.error().code), m.size(),
                irp::rp::account_statement_message(irp::Bytes(3, 1)).size());
    return 0;
}
CPP
cmake -S "$WORK/rp" -B "$WORK/rp/build" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null
cmake --build "$WORK/rp/build" >/dev/null
test "$("$WORK/rp/build/rp_embed")" = "bad_argument 52 30"
# A component the package does not have is refused.
sed -i 's/COMPONENTS rp/COMPONENTS rp nosuch/' "$WORK/rp/CMakeLists.txt"
if cmake -S "$WORK/rp" -B "$WORK/rp/build2" -G Ninja -DCMAKE_PREFIX_PATH="$WORK/prefix" >/dev/null 2>&1; then
    echo "find_package(irp COMPONENTS nosuch) should fail"; exit 1
fi
echo "install_and_embed: simulator, C API and irp_rp embedded from the installed package"
