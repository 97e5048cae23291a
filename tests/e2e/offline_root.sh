#!/usr/bin/env bash
# The offline-root ceremony end to end (docs/OPERATIONS.md): irp-ca creates a
# root in one directory (the offline machine) and a domain CA key in another
# (the server); only the CSR and the signed certificate travel between them.
# irp-server then runs with no root key anywhere under its directory, a device
# enrolls, and OpenSSL checks the name-constrained chain, the root's CRL with
# full-chain CRL checking, and a rotation to a second domain CA generation
# after which generation 1 is retired: it still serves its CRL and OCSP, and
# its devices still renew.
# Usage: offline_root.sh irp-ca irp-server idwallet [irpctl]
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CA_TOOL=$(realpath "$1"); SERVER=$(realpath "$2"); WALLET=$(realpath "$3")
CTL=$(realpath "${4:-$(dirname "$SERVER")/irpctl}")
work_dir offline-root
ROOTDIR="$WORK/offline-root"  # the offline machine
DOMDIR="$WORK/domain"         # the server
USB="$WORK/usb"               # what is carried between them
DOMAIN=offline.example
mode() { stat -c %a "$1"; }
pubkey_of_key() { openssl pkey -in "$1" -pubout 2>/dev/null; }
start_server() {
    : >"$WORK/server.log"
    "$SERVER" run --config "$DOMDIR/server.toml" 2>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do grep -q 'CRL and OCSP on' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
    PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
    ADMIN=$(sed -n 's/.*admin API on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/server.log" | head -1)
    HTTP=$(sed -n 's/.*CRL and OCSP on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/server.log" | head -1)
    [ -n "$PORT" ] && [ -n "$ADMIN" ] && [ -n "$HTTP" ] || { echo "server did not start:"; cat "$WORK/server.log"; exit 1; }
}
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; local rc=$?; SERVER_PID=""; return $rc; }
token() { "$SERVER" token --config "$DOMDIR/server.toml" --class default --device-id "$1"; }
leaf() { awk '/BEGIN CERT/{n++} n==1' "$WORK/$1/device.crt" >"$WORK/$1/leaf.pem"; echo "$WORK/$1/leaf.pem"; }
# The CRL number in decimal (OpenSSL 3 prints "crlNumber=0x02", 1.1 "crlNumber=02"); -1 if absent.
crl_number() {
    local v; v=$(openssl crl -in "$1" -noout -crlnumber 2>/dev/null | sed -n 's/^crlNumber=\(0x\)\{0,1\}//p')
    if [ -n "$v" ]; then echo $((16#$v)); else echo -1; fi
}
mkdir -p "$USB"
ROOT="$ROOTDIR/root-ca.pem"

echo "== the root ceremony (offline machine)"
expect_rc 0 "irp-ca root create" "$CA_TOOL" root create --dir "$ROOTDIR" --name "Example IoT Root" --years 20
check "the root key is 0600" test "$(mode "$ROOTDIR/root-ca.key")" = 600
check "the root directory is 0700" test "$(mode "$ROOTDIR")" = 700
check "the root is a self-signed CA" openssl verify -x509_strict -CAfile "$ROOT" "$ROOT"
check "the root key is ECDSA P-384 by default" bash -c "openssl x509 -in '$ROOT' -noout -text | grep -q 'NIST CURVE: P-384'"
cp "$ROOTDIR/root-ca.key" "$WORK/root-key.before"
expect_rc 2 "root create refuses to overwrite" "$CA_TOOL" root create --dir "$ROOTDIR" --name "Another Root"
check "... and the root key is untouched" cmp -s "$WORK/root-key.before" "$ROOTDIR/root-ca.key"
rm -f "$WORK/root-key.before"

echo "== the domain key (where it lives)"
expect_rc 0 "irp-ca domain-key" "$CA_TOOL" domain-key --dir "$DOMDIR" --domain "$DOMAIN"
check "the domain CA key is 0600" test "$(mode "$DOMDIR/domain-ca.key")" = 600
check "the domain directory is 0700" test "$(mode "$DOMDIR")" = 700
check "the CSR's self-signature verifies" openssl req -in "$DOMDIR/domain-ca.csr" -noout -verify
check "the CSR names the domain in its CN" bash -c "openssl req -in '$DOMDIR/domain-ca.csr' -noout -subject | grep -q 'CN *= *$DOMAIN'"
expect_rc 2 "domain-key refuses to overwrite" "$CA_TOOL" domain-key --dir "$DOMDIR" --domain "$DOMAIN"
cp "$DOMDIR/domain-ca.csr" "$USB/"

echo "== signing at the root"
expect_rc 2 "sign-domain refuses a CSR for another domain" \
    "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$USB/domain-ca.csr" --domain other.example
openssl req -in "$USB/domain-ca.csr" -outform DER -out "$WORK/bad.der"
LEN=$(stat -c %s "$WORK/bad.der")
BYTE=$(od -An -tu1 -j $((LEN - 3)) -N1 "$WORK/bad.der" | tr -d ' ')
printf "\\x$(printf %02x $((BYTE ^ 0xff)))" | dd of="$WORK/bad.der" bs=1 seek=$((LEN - 3)) conv=notrunc 2>/dev/null
expect_rc 1 "sign-domain refuses a CSR whose signature does not verify" \
    "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$WORK/bad.der" --domain "$DOMAIN" --out "$WORK/bad.pem"
expect_rc 2 "sign-domain refuses URI name constraints (urn:irp: names have no host)" \
    "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$USB/domain-ca.csr" --domain "$DOMAIN" --permit-uri-domain "$DOMAIN"
check "nothing was issued by the refused requests" test "$(grep -vc '^#' "$ROOTDIR/serials")" = 0
expect_rc 0 "irp-ca sign-domain --permit-dns $DOMAIN" \
    "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$USB/domain-ca.csr" --domain "$DOMAIN" --permit-dns "$DOMAIN" --years 5
check "... printing the certificate's path" grep -qx "$USB/domain-ca.pem" "$WORK/last.out"
expect_rc 2 "sign-domain never overwrites an issued certificate" \
    "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$USB/domain-ca.csr" --domain "$DOMAIN"
cp "$USB/domain-ca.pem" "$DOMDIR/"
CA1="$DOMDIR/domain-ca.pem"
CA1_SERIAL=$(openssl x509 -in "$CA1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
check "the root recorded the serial" grep -q "^$CA1_SERIAL	$DOMAIN	" "$ROOTDIR/serials"
check "... and kept a copy" cmp -s "$CA1" "$ROOTDIR/issued/$CA1_SERIAL.pem"
openssl x509 -in "$CA1" -noout -text >"$WORK/ca1.txt"
check "the domain CA shows pathlen:0" grep -q "CA:TRUE, pathlen:0" "$WORK/ca1.txt"
check "... basicConstraints critical" grep -q "Basic Constraints: critical" "$WORK/ca1.txt"
check "... keyUsage keyCertSign + cRLSign, critical" \
    bash -c "grep -A1 'Key Usage: critical' '$WORK/ca1.txt' | grep -q 'Certificate Sign, CRL Sign'"
check "... Name Constraints, critical" grep -q "Name Constraints: critical" "$WORK/ca1.txt"
check "... permitting DNS:$DOMAIN" bash -c "grep -A2 'Name Constraints' '$WORK/ca1.txt' | grep -q 'DNS:$DOMAIN'"
check "... with SKI and AKI" bash -c "grep -q 'Subject Key Identifier' '$WORK/ca1.txt' && grep -q 'Authority Key Identifier' '$WORK/ca1.txt'"
check "the domain CA verifies under the root" openssl verify -x509_strict -CAfile "$ROOT" "$CA1"
check "the domain CA holds the domain's key, not the root's" \
    test "$(openssl x509 -in "$CA1" -noout -pubkey)" = "$(pubkey_of_key "$DOMDIR/domain-ca.key")"

echo "== the server, without the root key"
expect_rc 0 "irp-ca server-tls" "$CA_TOOL" server-tls --dir "$DOMDIR" --domain "$DOMAIN"
check "... left out localhost (outside the name constraints)" grep -q "left out 'localhost'" "$WORK/last.out"
check "the TLS certificate names the domain and 127.0.0.1" bash -c \
    "openssl x509 -in '$DOMDIR/server-tls.pem' -noout -ext subjectAltName | grep -q 'DNS:$DOMAIN, IP Address:127.0.0.1'"
check "the TLS certificate verifies (sslserver)" \
    openssl verify -x509_strict -purpose sslserver -CAfile "$ROOT" -untrusted "$CA1" "$DOMDIR/server-tls.pem"
expect_rc 2 "server-tls refuses a name outside the constraints" \
    "$CA_TOOL" server-tls --dir "$DOMDIR" --domain "$DOMAIN" --dns other.example --force
cp "$ROOTDIR/root-ca.key" "$DOMDIR/stray.key"
ASSEMBLE=(--dir "$DOMDIR" --root-cert "$ROOT" --domain "$DOMAIN" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0)
expect_rc 2 "assemble refuses while the root key is under the domain directory" "$CA_TOOL" assemble "${ASSEMBLE[@]}"
check "... naming the file" grep -q "stray.key' is the ROOT's private key" "$WORK/last.out"
rm -f "$DOMDIR/stray.key"
expect_rc 0 "irp-ca assemble" "$CA_TOOL" assemble "${ASSEMBLE[@]}"
check "the class secret and admin token are 0600" \
    bash -c "test \$(stat -c %a '$DOMDIR/classes/default.secret') = 600 && test \$(stat -c %a '$DOMDIR/admin.token') = 600"
expect_rc 2 "assemble refuses to overwrite server.toml" "$CA_TOOL" assemble "${ASSEMBLE[@]}"
ROOT_PUB=$(openssl x509 -in "$ROOT" -noout -pubkey)
ROOT_KEY_FOUND=0; KEYS=0
while IFS= read -r f; do
    KEYS=$((KEYS + 1))
    [ "$(pubkey_of_key "$f")" = "$ROOT_PUB" ] && ROOT_KEY_FOUND=1
done < <(grep -rl "PRIVATE KEY" "$DOMDIR")
check "grep -r 'PRIVATE KEY' finds the domain CA and TLS keys ($KEYS)" test "$KEYS" = 2
check "... and none of them is the root key" test "$ROOT_KEY_FOUND" = 0
check "no file under the domain directory is the root key byte for byte" \
    bash -c "! grep -rqF \"\$(sed -n 2p '$ROOTDIR/root-ca.key')\" '$DOMDIR'"

start_server
check "irp-server run starts from the assembled directory" kill -0 "$SERVER_PID"
expect_rc 0 "idwallet enroll cam-001 under the name-constrained CA" "$WALLET" enroll --server "127.0.0.1:$PORT" \
    --trust "$ROOT" --device-id cam-001 --token "$(token cam-001)" --store "$WORK/cam-001"
L1=$(leaf cam-001)
check "openssl verify -x509_strict -purpose sslclient against the root" \
    openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" -untrusted "$CA1" "$L1"

echo "== the root's CRL"
expect_rc 0 "irp-ca root-crl (nothing revoked)" "$CA_TOOL" root-crl --root "$ROOTDIR" --days 365
check "root.crl is DER" openssl crl -inform DER -in "$ROOTDIR/root.crl" -noout
check "openssl crl -CAfile root -verify" openssl crl -in "$ROOTDIR/root.crl.pem" -CAfile "$ROOT" -verify -noout
N1=$(crl_number "$ROOTDIR/root.crl.pem")
check "... lists no revoked certificate" bash -c "openssl crl -in '$ROOTDIR/root.crl.pem' -noout -text | grep -q 'No Revoked Certificates'"
check "... nextUpdate about a year ahead" bash -c \
    "test \$(( \$(date -d \"\$(openssl crl -in '$ROOTDIR/root.crl.pem' -noout -nextupdate | cut -d= -f2)\" +%s) - \$(date +%s) )) -gt 31449600"
CRL_URL=$(openssl x509 -in "$L1" -noout -ext crlDistributionPoints | sed -n 's/.*URI:\(.*\)/\1/p')
curl -sf "$CRL_URL" -o "$WORK/domain.crl.der" && openssl crl -inform DER -in "$WORK/domain.crl.der" -out "$WORK/domain.crl.pem"
check "the domain CRL is served at the certificate's /crl URL" test -s "$WORK/domain.crl.pem"
check "openssl verify -crl_check_all accepts the device (root CRL + domain CRL)" \
    openssl verify -crl_check_all -CAfile "$ROOT" -untrusted "$CA1" -CRLfile "$ROOTDIR/root.crl.pem" \
    -CRLfile "$WORK/domain.crl.pem" "$L1"
expect_rc 2 "root-crl refuses a serial the root never issued" "$CA_TOOL" root-crl --root "$ROOTDIR" --revoke-serial 0badc0de
expect_rc 0 "irp-ca root-crl --revoke-serial (the domain CA, cACompromise)" \
    "$CA_TOOL" root-crl --root "$ROOTDIR" --revoke-serial "$CA1_SERIAL" --reason cACompromise
N2=$(crl_number "$ROOTDIR/root.crl.pem")
check "the first CRL is number 1" test "$N1" = 1
check "the CRL number increased ($N1 -> $N2)" test "$N2" -gt "$N1"
check "the new root CRL verifies" openssl crl -in "$ROOTDIR/root.crl.pem" -CAfile "$ROOT" -verify -noout
openssl crl -in "$ROOTDIR/root.crl.pem" -noout -text >"$WORK/rootcrl.txt"
check "... and lists the domain CA" grep -qi "Serial Number: $CA1_SERIAL" "$WORK/rootcrl.txt"
check "... with reason CA Compromise" grep -q "CA Compromise" "$WORK/rootcrl.txt"
openssl verify -crl_check_all -CAfile "$ROOT" -untrusted "$CA1" -CRLfile "$ROOTDIR/root.crl.pem" \
    -CRLfile "$WORK/domain.crl.pem" "$L1" >"$WORK/verify.out" 2>&1; RC=$?
check "openssl verify -crl_check_all now fails for the device" test "$RC" != 0
check "... with 'certificate revoked'" grep -q "certificate revoked" "$WORK/verify.out"
expect_rc 2 "revoking the same CA twice is refused" \
    "$CA_TOOL" root-crl --root "$ROOTDIR" --revoke-serial "$CA1_SERIAL" --reason cACompromise
expect_rc 0 "re-signing the root CRL" "$CA_TOOL" root-crl --root "$ROOTDIR"
N3=$(crl_number "$ROOTDIR/root.crl.pem")
check "... numbers keep increasing ($N2 -> $N3)" test "$N3" -gt "$N2"
check "... and the revocation stays listed" \
    bash -c "openssl crl -in '$ROOTDIR/root.crl.pem' -noout -text | grep -qi 'Serial Number: $CA1_SERIAL'"

echo "== rotation: a second generation"
expect_rc 0 "irp-ca rotate (new key + CSR, where the key lives)" "$CA_TOOL" rotate --dir "$DOMDIR" --domain "$DOMAIN"
G2="$DOMDIR/generations/2"
check "... in generations/2" grep -qx "$G2/domain-ca.csr" "$WORK/last.out"
check "... key 0600" test "$(mode "$G2/domain-ca.key")" = 600
expect_rc 2 "rotate refuses while generation 2 is unsigned" "$CA_TOOL" rotate --dir "$DOMDIR" --domain "$DOMAIN"
mkdir -p "$USB/g2" && cp "$G2/domain-ca.csr" "$USB/g2/"
expect_rc 0 "sign-domain for generation 2" "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$USB/g2/domain-ca.csr" \
    --domain "$DOMAIN" --permit-dns "$DOMAIN"
cp "$USB/g2/domain-ca.pem" "$G2/"
CA2="$G2/domain-ca.pem"
check "generation 2 has its own subject (G2)" bash -c "openssl x509 -in '$CA2' -noout -subject | grep -q 'IRP Domain CA $DOMAIN G2'"
check "generation 2 has a new key" test "$(openssl x509 -in "$CA2" -noout -pubkey)" != "$(openssl x509 -in "$CA1" -noout -pubkey)"
check "both CA certificates verify under the root" openssl verify -x509_strict -CAfile "$ROOT" "$CA1" "$CA2"
check "generation 2 is pathlen:0 with name constraints" bash -c \
    "openssl x509 -in '$CA2' -noout -text | grep -q 'pathlen:0' && openssl x509 -in '$CA2' -noout -text | grep -q 'Name Constraints'"
expect_rc 0 "server-tls for generation 2" "$CA_TOOL" server-tls --dir "$DOMDIR" --domain "$DOMAIN" --generation 2
cp "$DOMDIR/classes/default.secret" "$WORK/secret.before"
expect_rc 0 "assemble --generation 2 --force re-points server.toml" \
    "$CA_TOOL" assemble --dir "$DOMDIR" --root-cert "$ROOT" --generation 2 --force
check "... at generation 2" grep -q "generations/2/domain-ca.pem" "$DOMDIR/server.toml"
check "... retiring generation 1 ([[domain.retired]])" bash -c \
    "grep -A2 '^\[\[domain.retired\]\]' '$DOMDIR/server.toml' | grep -qx 'ca_certificate = \"domain-ca.pem\"'"
check "... and saying so" grep -q "retired $DOMDIR/domain-ca.pem" "$WORK/last.out"
check "... keeping the class secret" cmp -s "$WORK/secret.before" "$DOMDIR/classes/default.secret"
check "... and the listen addresses" grep -q '127.0.0.1:0' "$DOMDIR/server.toml"
check "the server stops cleanly" stop_server
start_server
expect_rc 0 "idwallet enroll cam-002 under generation 2" "$WALLET" enroll --server "127.0.0.1:$PORT" \
    --trust "$ROOT" --device-id cam-002 --token "$(token cam-002)" --store "$WORK/cam-002"
L2=$(leaf cam-002)
check "cam-002 is issued by generation 2" bash -c "openssl x509 -in '$L2' -noout -issuer | grep -q 'G2'"
check "cam-002 verifies under the root (sslclient)" \
    openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" -untrusted "$CA2" "$L2"

echo "== generation 1, retired: CRL, OCSP and renewal"
G1_ID=$(openssl x509 -in "$CA1" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr 'A-F' 'a-f')
G1_LEAF="$WORK/g1-leaf.pem"; cp "$L1" "$G1_LEAF"
G1_SERIAL=$(openssl x509 -in "$G1_LEAF" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
CTLC=("$CTL" --url "$ADMIN" --token-file "$DOMDIR/admin.token")
check "cam-001's CRL distribution point names generation 1's id ($G1_ID)" bash -c \
    "openssl x509 -in '$G1_LEAF' -noout -ext crlDistributionPoints | grep -q '/crl/$G1_ID.crl'"
check "the server logs generation 1 as retired at start" grep -q "retired_ca issuer=$G1_ID .*removable_after=" "$WORK/server.log"
check "an unknown issuer id is 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$HTTP/crl/00ff.crl")" = 404
openssl ocsp -issuer "$CA1" -cert "$G1_LEAF" -url "$HTTP/ocsp" -CAfile "$ROOT" -resp_text >"$WORK/g1-ocsp1.out" 2>&1
check "openssl ocsp says the generation-1 certificate is good" grep -q "g1-leaf.pem: good" "$WORK/g1-ocsp1.out"
check "... and verifies the response" grep -q "Response verify OK" "$WORK/g1-ocsp1.out"
check "... signed by generation 1 (responder id = its key id)" bash -c \
    "grep 'Responder Id:' '$WORK/g1-ocsp1.out' | tr -d ' :' | grep -qi 'responderid$G1_ID'"
echo "127.0.0.1:$PORT" >"$WORK/cam-001/server"  # the server's port changed with the restart
expect_rc 0 "cam-001 (generation 1) renews after the rotation" "$WALLET" renew --store "$WORK/cam-001"
L1R=$(leaf cam-001)
check "... and gets a generation-2 certificate" bash -c "openssl x509 -in '$L1R' -noout -issuer | grep -q 'G2'"
check "... that verifies under the root" openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" -untrusted "$CA2" "$L1R"
expect_rc 0 "irpctl revoke the generation-1 certificate" "${CTLC[@]}" revoke --serial "$G1_SERIAL" --reason keyCompromise
openssl ocsp -issuer "$CA1" -cert "$G1_LEAF" -url "$HTTP/ocsp" -CAfile "$ROOT" -resp_text >"$WORK/g1-ocsp2.out" 2>&1
check "openssl ocsp now says revoked" grep -q "g1-leaf.pem: revoked" "$WORK/g1-ocsp2.out"
check "... verified, signed by generation 1" bash -c "grep -q 'Response verify OK' '$WORK/g1-ocsp2.out' && \
    grep 'Responder Id:' '$WORK/g1-ocsp2.out' | tr -d ' :' | grep -qi 'responderid$G1_ID'"
curl -sf "$HTTP/crl/$G1_ID.crl" -o "$WORK/g1.crl.der" && openssl crl -inform DER -in "$WORK/g1.crl.der" -out "$WORK/g1.crl.pem"
check "/crl/<generation-1 id>.crl is served" test -s "$WORK/g1.crl.pem"
check "openssl crl -verify accepts it with the generation-1 CA" \
    openssl crl -in "$WORK/g1.crl.pem" -CAfile "$CA1" -verify -noout
check "... and not with the generation-2 CA" bash -c "! openssl crl -in '$WORK/g1.crl.pem' -CAfile '$CA2' -verify -noout"
check "... it lists the revoked serial" bash -c \
    "openssl crl -in '$WORK/g1.crl.pem' -noout -text | grep -qi 'serial number: $G1_SERIAL'"
G2_ID=$(openssl x509 -in "$CA2" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :' | tr 'A-F' 'a-f')
curl -sf "$HTTP/crl/$G2_ID.crl" | openssl crl -inform DER -out "$WORK/g2.crl.pem" 2>/dev/null
check "generation 2's CRL verifies with its CA and does not list it" bash -c \
    "openssl crl -in '$WORK/g2.crl.pem' -CAfile '$CA2' -verify -noout && \
     ! openssl crl -in '$WORK/g2.crl.pem' -noout -text | tr 'A-F' 'a-f' | grep -q '$G1_SERIAL'"
expect_rc 0 "irpctl crl" "${CTLC[@]}" crl
check "... shows both issuers" bash -c "grep -q 'current CA $G2_ID' '$WORK/last.out' && grep -q 'retired CA $G1_ID' '$WORK/last.out'"
check "/metrics has a CRL age per issuer" bash -c "curl -sf '$ADMIN/metrics' | grep -q 'irp_crl_age_seconds{issuer=\"$G1_ID\"} [0-9]'"
expect_rc 0 "rotate --root signs generation 3 in one step (root reachable)" \
    "$CA_TOOL" rotate --dir "$DOMDIR" --domain "$DOMAIN" --root "$ROOTDIR" --permit-dns "$DOMAIN"
check "generation 3 verifies under the root" openssl verify -x509_strict -CAfile "$ROOT" "$DOMDIR/generations/3/domain-ca.pem"
expect_rc 0 "irp-ca list" "$CA_TOOL" list --root "$ROOTDIR"
check "... shows three domain CAs, one revoked" bash -c \
    "test \$(grep -c '$DOMAIN' '$WORK/last.out') = 3 && grep -q cACompromise '$WORK/last.out'"
check "the server stops cleanly" stop_server

echo
echo "offline_root: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
