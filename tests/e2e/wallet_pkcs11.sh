#!/usr/bin/env bash
# Device keys that never exist in a file: `idwallet enroll --pkcs11-token`
# against a real irp-server, with the key generated inside a SoftHSM2 token
# (in a private directory, SOFTHSM2_CONF). The store holds no private key
# and no PIN, only the key's PKCS#11 URI; the certificate's public key is
# the token's (read back with OpenSC's pkcs11-tool); the token says the key
# is sensitive and never extractable. `renew` and `check-in` find the token
# from the store alone; a renewal makes a new token key and destroys the old
# one; after a revocation the check-in resets the wallet and the key is
# destroyed in the token. `idwallet run --once` enrolls into the token too.
# Skips (exit 77) without SoftHSM2 or pkcs11-tool, unless
# IRP_REQUIRE_SOFTHSM=1 (scripts/test.sh): then it fails.
# Usage: wallet_pkcs11.sh irp-server idwallet irpctl
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2"); CTL=$(realpath "$3")

MOD="${IRP_SOFTHSM_MODULE:-}"
if [ -z "$MOD" ]; then
    for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
             /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so; do
        [ -f "$m" ] && MOD=$m && break
    done
fi
if [ -z "$MOD" ] || [ ! -f "$MOD" ] || ! command -v softhsm2-util >/dev/null || ! command -v pkcs11-tool >/dev/null; then
    if [ "${IRP_REQUIRE_SOFTHSM:-0}" = 1 ]; then
        echo "SoftHSM2 and pkcs11-tool are required (IRP_REQUIRE_SOFTHSM=1) (Debian: apt-get install softhsm2 opensc)"
        exit 1
    fi
    echo "skipped: SoftHSM2 or pkcs11-tool is not installed (Debian: apt-get install softhsm2 opensc)"
    exit 77
fi

work_dir wallet-p11

# The token: label "wallet", in $WORK/tokens.
mkdir -p "$WORK/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$WORK" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF="$WORK/softhsm2.conf"
PIN=wallet-pin-4711
softhsm2-util --init-token --free --label wallet --pin "$PIN" --so-pin 5678 >/dev/null || { echo "token init failed"; exit 1; }
printf '%s\n' "$PIN" >"$WORK/pin"
chmod 600 "$WORK/pin"
# SoftHSM (through OpenSSL) leaves a few objects at exit in a sanitizer build.
printf 'leak:libsofthsm2.so\nleak:libcrypto.so\n' >"$WORK/lsan.supp"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$WORK/lsan.supp"

P11=(pkcs11-tool --module "$MOD" --token-label wallet)
# objects: "TYPE label" per object on the token (the private ones too);
# "pkcs11-tool failed" (and status 1) when it cannot list them, so that no
# "nothing on the token" check passes by failing to look.
objects() {
    local out
    if ! out=$(set -o pipefail; "${P11[@]}" --login --pin "$PIN" --list-objects 2>/dev/null); then
        echo "pkcs11-tool failed"
        return 1
    fi
    awk '/Object;/ {t=$1} /label:/ {print t, $2}' <<<"$out"
}
# private_access LABEL: what the token says of access to that private key.
private_access() {
    "${P11[@]}" --login --pin "$PIN" --list-objects 2>/dev/null |
        awk -v l="$1" '/Object;/ {t=$1} /label:/ {lab=$2} /Access:/ && t == "Private" && lab == l {print}'
}
# label_in STORE: the CKA_LABEL named in STORE/device.key.
label_in() { sed -n 's/.*;object=\([^;?]*\).*/\1/p' "$1/device.key"; }
# cert_pub STORE OUT: the certificate's SubjectPublicKeyInfo, DER.
cert_pub() { openssl x509 -in "$1/device.crt" -pubkey -noout | openssl pkey -pubin -outform DER -out "$2"; }
# token_pub LABEL OUT: the token's public-key object, DER SubjectPublicKeyInfo.
token_pub() { "${P11[@]}" --read-object --type pubkey --label "$1" --output-file "$2" >/dev/null 2>&1; }

start_domain p11.example
DEV=dev-p11
STORE="$WORK/$DEV"
ENROLL=(enroll --server "127.0.0.1:$PORT" --trust "$ROOT" --device-id "$DEV" --token "$(token "$DEV")"
        --store "$STORE" --pkcs11-module "$MOD" --pkcs11-token "pkcs11:token=wallet" --pkcs11-pin-file "$WORK/pin")

echo "== options"
expect_rc 2 "--pkcs11-module needs --pkcs11-token" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id x --store "$WORK/x" --pkcs11-module "$MOD"
expect_rc 2 "a token URI that names a key is refused" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id x --store "$WORK/x" --pkcs11-module "$MOD" --pkcs11-token "pkcs11:token=wallet;object=k"

echo "== enroll with the key in the token"
printf 'not-the-pin\n' >"$WORK/wrongpin"
chmod 600 "$WORK/wrongpin"
expect_rc 2 "a wrong PIN is refused by the token" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id "$DEV" --token "$(token "$DEV")" --store "$WORK/wrong" --pkcs11-module "$MOD" \
    --pkcs11-token "pkcs11:token=wallet" --pkcs11-pin-file "$WORK/wrongpin"
check "... and nothing was left on the token" test -z "$(objects)"
expect_rc 0 "idwallet enroll --pkcs11-token" "$WALLET" "${ENROLL[@]}"
check "device.key is a PKCS#11 URI" grep -q '^pkcs11:token=wallet;object=device-[0-9a-f]*;id=' "$STORE/device.key"
check "... naming the module and the PIN file" grep -qF "module-path=$MOD&pin-source=file:$WORK/pin" "$STORE/device.key"
check "no private key anywhere in the store" bash -c "! grep -rq 'PRIVATE KEY' '$STORE'"
check "nor the PIN" bash -c "! grep -rqF '$PIN' '$STORE'"
check "the store remembers the token (pkcs11.uri)" grep -q '^pkcs11:token=wallet?module-path=' "$STORE/pkcs11.uri"
L1=$(label_in "$STORE")
check "the token holds the key pair $L1" test "$(objects | grep -c " $L1\$")" = 2
check "... the private half sensitive and never extractable" \
    grep -q 'sensitive, always sensitive, never extractable' <(private_access "$L1")
cert_pub "$STORE" "$WORK/cert1.der"; token_pub "$L1" "$WORK/tok1.der"
check "the certificate's public key is the token's" cmp -s "$WORK/cert1.der" "$WORK/tok1.der"
expect_rc 0 "idwallet show" "$WALLET" show --store "$STORE"
check "... names the token key" grep -q "^token:    pkcs11:token=wallet;object=$L1;" "$WORK/last.out"

echo "== renew: a new key in the token, the old one destroyed"
expect_rc 0 "idwallet renew (only --store)" "$WALLET" renew --store "$STORE"
L2=$(label_in "$STORE")
check "a new label ($L2)" test -n "$L2" -a "$L2" != "$L1"
check "the old key pair is gone from the token" test "$(objects | grep -c " $L1\$")" = 0
check "the new one is there" test "$(objects | grep -c " $L2\$")" = 2
check "exactly one key pair on the token" test "$(objects | wc -l)" = 2
cert_pub "$STORE" "$WORK/cert2.der"; token_pub "$L2" "$WORK/tok2.der"
check "the new certificate's public key is the new token key" cmp -s "$WORK/cert2.der" "$WORK/tok2.der"
check "still no private key in the store" bash -c "! grep -rq 'PRIVATE KEY' '$STORE'"
check "pkcs11.keys lists only the live key" test "$(grep -c . "$STORE/pkcs11.keys")" = 1

echo "== check-in signs with the token key"
expect_rc 0 "idwallet check-in" "$WALLET" check-in --store "$STORE"

echo "== revoked: the check-in resets the wallet and destroys the key in the token"
expect_rc 0 "irpctl revoke --device $DEV" "${CTLC[@]}" revoke --device "$DEV" --reason keyCompromise
expect_rc 11 "idwallet check-in (factory reset)" "$WALLET" check-in --store "$STORE"
check "device.key and device.crt are gone" test ! -e "$STORE/device.key" -a ! -e "$STORE/device.crt"
check "the key pair is gone from the token" test -z "$(objects)"

echo "== idwallet run --once enrolls into the token"
DEV2=dev-p11-run
STORE2="$WORK/$DEV2"
expect_rc 0 "idwallet run --once --pkcs11-token" "$WALLET" run --once --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id "$DEV2" --token "$(token "$DEV2")" --store "$STORE2" --pkcs11-module "$MOD" \
    --pkcs11-token "pkcs11:token=wallet?pin-source=file:$WORK/pin"
L3=$(label_in "$STORE2")
check "its key is in the token ($L3)" test "$(objects | grep -c " ${L3:-none}\$")" = 2
check "no private key in its store" bash -c "! grep -rq 'PRIVATE KEY' '$STORE2'"
cert_pub "$STORE2" "$WORK/cert3.der"; token_pub "$L3" "$WORK/tok3.der"
check "its certificate's public key is the token's" cmp -s "$WORK/cert3.der" "$WORK/tok3.der"

finish wallet_pkcs11
