#!/usr/bin/env bash
# End to end for the wallet's C API: examples/firmware-c, a plain C99 program
# with its own "flash" (one file per slot), clock and entropy and the POSIX TLS
# transport, against a real irp-server on loopback. Checked with OpenSSL and
# irpctl: enroll, renew, check-in (CRL), revocation -> reset, a wrong token,
# an untrusted server.
# Usage: firmware_c.sh irp-server irpctl irp-firmware-c
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); CTL=$(realpath "$2"); FW=$(realpath "$3")
work_dir firmware-c

start_domain fw.example
FLASH="$WORK/flash"
SLOT="$FLASH/credentials.slot"
fw() { "$FW" --server "127.0.0.1:$PORT" --trust "$ROOT" --flash "$FLASH" --timeout-ms 10000 "$@"; }
# The certificates of the credentials slot (after the key) into DIR/c1.pem, c2.pem, ...
split_slot() { rm -f "$2"/c*.pem; awk -v d="$2" '/BEGIN CERT/{n++} n{print > (d "/c" n ".pem")}' "$1"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }

echo "== enroll"
expect_rc 2 "a bad command line is a usage error" "$FW" --server "127.0.0.1:$PORT" --bogus
expect_rc 0 "enroll fw-1 from C" fw --device-id fw-1 --class default --token "$(token fw-1)"
cp "$WORK/last.out" "$WORK/enroll.out"
check "the program reports the install" grep -q "^enroll: installed serial" "$WORK/enroll.out"
check "the credentials slot is in the flash, mode 0600" test "$(stat -c %a "$SLOT" 2>/dev/null)" = 600
check "no temporary slot file is left behind" bash -c "! ls '$FLASH' | grep -q tmp"
split_slot "$SLOT" "$WORK"
check "openssl verify -x509_strict -purpose sslclient accepts the certificate in the flash" \
    openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" -untrusted "$WORK/c2.pem" "$WORK/c1.pem"
check "the certificate names the device" bash -c "openssl x509 -in '$WORK/c1.pem' -noout -subject | grep -q 'CN = fw-1'"
check "the key in the flash is the certificate's key" \
    test "$(openssl pkey -in "$SLOT" -pubout 2>/dev/null)" = "$(openssl x509 -in "$WORK/c1.pem" -noout -pubkey)"
SERIAL1=$(serial_of "$WORK/c1.pem")
check "the serial printed is the certificate's ($SERIAL1)" grep -qi "serial $SERIAL1 " "$WORK/enroll.out"
"${CTLC[@]}" certs --device fw-1 --status installed >"$WORK/certs.out" 2>&1
check "the server recorded the install (irpctl certs --status installed)" grep -qi "$SERIAL1" "$WORK/certs.out"

echo "== renew"
OLD_KEY=$(openssl pkey -in "$SLOT" -pubout 2>/dev/null)
expect_rc 0 "renew from C" fw --renew
check "the program reports the renewal" grep -q "^renew: installed serial" "$WORK/last.out"
split_slot "$SLOT" "$WORK"
SERIAL2=$(serial_of "$WORK/c1.pem")
check "the renewal brought a new serial ($SERIAL1 -> $SERIAL2)" test -n "$SERIAL2" -a "$SERIAL2" != "$SERIAL1"
check "... and a new key" test "$(openssl pkey -in "$SLOT" -pubout 2>/dev/null)" != "$OLD_KEY"
check "the renewed certificate verifies" \
    openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" -untrusted "$WORK/c2.pem" "$WORK/c1.pem"

echo "== check-in"
expect_rc 0 "check in from C" fw --check-in
check "the program reports the check-in" grep -q "^check-in: checked in; next check-in in [0-9]* s" "$WORK/last.out"
check "... and the CRL it stored" grep -q "CRL number [0-9]* stored" "$WORK/last.out"
check "the CRL slot verifies against the domain CA" \
    openssl crl -inform DER -in "$FLASH/crl.slot" -CAfile "$CA" -verify -noout

echo "== revocation: the next check-in resets the device"
expect_rc 0 "irpctl revoke --device fw-1" "${CTLC[@]}" revoke --device fw-1
expect_rc 11 "check-in after revocation exits 11 (reset)" fw --check-in
check "the program reports the reset" grep -q "^check-in: reset: .*207 certificate_not_active" "$WORK/last.out"
check "the flash no longer holds the key and certificate" test ! -e "$SLOT"
check "... nor the CRL" test ! -e "$FLASH/crl.slot"
expect_rc 7 "renew with an empty flash: nothing installed (storage)" fw --renew
check "... said as such" grep -q "IRP_WALLET_E_NOT_FOUND" "$WORK/last.out"
expect_rc 0 "the device enrolls again with its token" fw --device-id fw-1 --token "$(token fw-1)"

echo "== refusals"
FLASH="$WORK/flash2"; SLOT="$FLASH/credentials.slot"
expect_rc 4 "a wrong token exits 4" fw --device-id fw-2 --token "$(token fw-3)"
check "... naming error code 200 bad_token_proof" grep -q "code 200 bad_token_proof" "$WORK/last.out"
check "... and nothing is written to the flash" test ! -e "$SLOT"
"$SERVER" init --dir "$WORK/other" --domain other.example >/dev/null
expect_rc 3 "a server outside the trusted root is refused (TLS, exit 3)" \
    "$FW" --server "127.0.0.1:$PORT" --trust "$WORK/other/root-ca.pem" --flash "$FLASH" \
    --device-id fw-4 --token "$(token fw-4)"
check "... as IRP_WALLET_E_TLS (109)" grep -q "IRP_WALLET_E_TLS.*code 109 tls_failure" "$WORK/last.out"
check "... and nothing is written to the flash" test ! -e "$SLOT"

finish "e2e_firmware_c"
