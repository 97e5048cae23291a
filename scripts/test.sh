#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (packages when root), builds, and runs
# every test: doctest suites, the fuzz-corpus replays and the end-to-end test
# through CTest, first in a normal build, then under ASan + UBSan.
set -euo pipefail
# The PostgreSQL store tests start a private cluster; here they must run, not skip.
export IRP_REQUIRE_POSTGRES=1
# Likewise the PKCS#11 tests against a SoftHSM2 token (and pkcs11-tool).
export IRP_REQUIRE_SOFTHSM=1
# And the DNS SRV discovery test (dnsmasq in a private mount namespace: needs root).
export IRP_REQUIRE_DNS=1
# And the interop peers (nginx, OpenSSL, GnuTLS, NSS tools).
export IRP_REQUIRE_INTEROP=1
# And mDNS discovery (avahi-daemon in private network and mount namespaces: needs root and a build with Avahi).
export IRP_REQUIRE_MDNS=1
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$IRP_ROOT"

START=$(date +%s)
irp_install_packages

echo "== build (RelWithDebInfo)"
irp_build build
echo "== tests"
ctest --test-dir build --output-on-failure --parallel "$(nproc)"

if [ "${IRP_SKIP_SANITIZERS:-0}" != 1 ]; then
    echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
    irp_build build-asan -DCMAKE_BUILD_TYPE=Debug -DIRP_SANITIZE=ON
    echo "== tests under sanitizers"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir build-asan --output-on-failure --parallel "$(nproc)"
fi
echo "all tests passed in $(( $(date +%s) - START )) s"
