#!/usr/bin/env bash
# Shared set-up for scripts/demo.sh and scripts/test.sh: installs missing
# Debian packages (when run as root), configures and builds.
# Usage: source scripts/setup.sh; irp_setup [BUILD_DIR] [extra cmake args...]
set -euo pipefail

IRP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything the build, the tests and the demo use, by Debian package name.
IRP_PACKAGES=(
    build-essential cmake ninja-build pkg-config
    libbotan-2-dev libasio-dev libprotobuf-dev protobuf-compiler
    libtomlplusplus-dev libcli11-dev libsqlite3-dev doctest-dev libcpp-httplib-dev nlohmann-json3-dev
    libmicrohttpd-dev  # the public CRL/OCSP listener: event-driven, so slow peers cost no threads
    sqlite3 openssl xxd curl gnutls-bin
    faketime  # tests/e2e/daemon.sh: a domain CA made two days ago
    python3  # tests/e2e/daemon.sh and revocation.sh: raw sockets for the slow and oversized peers
    postgresql libpq-dev
    libp11-kit-dev softhsm2 opensc
    chromium  # tests/ui: the admin web page in headless Chromium (Playwright drives /usr/bin/chromium)
    nginx libnss3-tools  # tests/e2e/interop.sh: nginx with client certificates, NSS vfychain/certutil
    dnsmasq-base  # tests/e2e/domains.sh: a real DNS server answering _irp._tcp SRV queries
    libavahi-client-dev  # mDNS/DNS-SD discovery (_irp._tcp.local): irp-server advertises, idwallet browses
    avahi-daemon avahi-utils dbus iproute2  # tests/e2e/mdns.sh: a private avahi-daemon and system bus on a veth link
)

irp_install_packages() {
    local missing=()
    for p in "${IRP_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    irp_ui_test_modules
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}" >&2
        echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
        return 1
    fi
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# tests/ui's Node modules (playwright-core, pinned by package-lock.json), once.
irp_ui_test_modules() {
    [ -d "$IRP_ROOT/tests/ui/node_modules" ] && return 0
    if ! command -v npm >/dev/null; then
        echo "npm not found: the e2e_ui test needs node and npm (then: cd tests/ui && npm ci)" >&2
        return 0
    fi
    echo "installing tests/ui node modules (npm ci)"
    (cd "$IRP_ROOT/tests/ui" && npm ci --no-audit --no-fund >/dev/null)
}

# irp_build DIR [cmake args...]: configure (once) and build with every core.
irp_build() {
    local dir=$1; shift
    local werror=OFF
    [ "${CI:-}" = "true" ] && werror=ON
    if [ ! -f "$dir/build.ninja" ]; then
        cmake -S "$IRP_ROOT" -B "$dir" -G Ninja -DIRP_WERROR="$werror" "$@" >/dev/null
    fi
    cmake --build "$dir" --parallel "$(nproc)"
}
