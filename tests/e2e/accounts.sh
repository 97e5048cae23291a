#!/usr/bin/env bash
# End-to-end accounts, certificate transfer and rights with the real
# binaries: rights set per class and per device are copied into certificates;
# certificates registered to the provider's account are offered in bulk to a
# customer, who accepts with its own key and attaches a policy (a wrong key is
# refused); the receiving account is told through the webhook; a relying
# party (irp-rp-check, on the irp_rp library) accepts a device only in its
# account and only for what the policy allows; a renewal stays in the
# account; the customer passes a device on to another customer, who first
# refuses and then accepts; revocation makes the statement inactive; the
# audit log records every owner.
# Usage: accounts.sh irp-server idwallet irpctl irp-webhook-receiver irp-rp-check
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2"); CTL=$(realpath "$3"); RECEIVER=$(realpath "$4"); RP=$(realpath "$5")
WORK=$(mktemp -d /tmp/irp-accounts.XXXXXX)
SERVER_PID=""; RECV_PID=""
cleanup() {
    for p in $SERVER_PID $RECV_PID; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== a domain, a webhook receiver, three customers' keys"
start_webhook_receiver "$RECEIVER"
"$SERVER" init --dir "$WORK/ca" --domain acct.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null || { echo "init failed"; exit 1; }
sed -i -e "/^\[webhook\]/a url = \"http://$HOOK/irp-events\"\nsecret_file = \"$WORK/webhook.secret\"" "$WORK/ca/server.toml"
start_server "$WORK/ca/server.toml" "$WORK/server.log"
ROOT="$WORK/ca/root-ca.pem"
CTLC=("$CTL" --url "$ADMIN" --token-file "$WORK/ca/admin.token")
for who in acme beta mallory; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/$who.key" 2>/dev/null
done
openssl genpkey -algorithm ED25519 -out "$WORK/beta.key" 2>/dev/null  # one customer signs with Ed25519
token() { "$SERVER" token --config "$WORK/ca/server.toml" --class default --device-id "$1"; }
enroll() {
    "$WALLET" --timeout-ms 10000 enroll --server "127.0.0.1:$PORT" --trust "$ROOT" --device-id "$1" \
        --token "$(token "$1")" --store "$WORK/$1"
}
serial_of() { openssl x509 -in "$WORK/$1/device.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
statement() { curl -fsS -o "$WORK/$1.stmt" "$HTTP/account/$(serial_of "$1")"; }
# rp DEVICE ACCOUNT ACTION TARGET [more]: the relying party's decision on a fresh statement.
rp() {
    local dev=$1 acct=$2 action=$3 target=$4; shift 4
    statement "$dev" || return 2
    "$RP" --root "$ROOT" --chain "$WORK/$dev/device.crt" --statement "$WORK/$dev.stmt" --account "$acct" \
        --action "$action" --target "$target" "$@"
}
wait_event() { for _ in $(seq 1 60); do grep -q "$1" "$WORK/events.log" && return 0; sleep 0.1; done; return 1; }

echo "== rights set by the administrator go into certificates"
expect_rc 0 "irpctl rights set --class default" "${CTLC[@]}" rights set --class default --allow read=service:mqtt
expect_rc 0 "irpctl rights set --device cam-2" "${CTLC[@]}" rights set --device cam-2 \
    --allow stream=service:video --allow 'read=device:cam-*'
check "a malformed right is refused by the server (400)" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
    -H 'Authorization: Bearer $(cat "$WORK/ca/admin.token")' -d '{\"rights\":[{\"action\":\"Bad Action\",\"target\":\"x\"}]}' \
    '$ADMIN/v1/rights/device/cam-2')\" = 400"
expect_rc 2 "... and by irpctl before it" "${CTLC[@]}" rights set --device cam-2 --allow 'Bad Action=x'
expect_rc 2 "... as is a right without a target" "${CTLC[@]}" rights set --device cam-2 --allow noequals
expect_rc 1 "rights for an unknown class are refused" "${CTLC[@]}" rights set --class nosuch --allow read=x
for d in cam-1 cam-2 cam-3 cam-4; do expect_rc 0 "enroll $d" enroll "$d"; done
check "cam-1's certificate carries the class's rights extension" \
    bash -c "openssl x509 -in '$WORK/cam-1/device.crt' -noout -text | grep -q '1.3.6.1.4.1.32473.1.1'"
expect_rc 0 "irpctl rights lists both" "${CTLC[@]}" rights
check "... the class" grep -q "class  *default *read=service:mqtt" "$WORK/last.out"
check "... and the device" grep -q "device *cam-2 *stream=service:video, read=device:cam-\*" "$WORK/last.out"
expect_rc 0 "irpctl rights clear --class default" "${CTLC[@]}" rights clear --class default
expect_rc 1 "clearing again: nothing to clear" "${CTLC[@]}" rights clear --class default

echo "== accounts"
expect_rc 0 "irpctl account create acme" "${CTLC[@]}" account create acme --public-key "$WORK/acme.key" --note "Acme Corp"
expect_rc 0 "irpctl account create beta (Ed25519)" "${CTLC[@]}" account create beta --public-key "$WORK/beta.key"
expect_rc 1 "a name is taken once" "${CTLC[@]}" account create acme --public-key "$WORK/mallory.key"
expect_rc 0 "irpctl accounts" "${CTLC[@]}" accounts
check "... lists the provider and both customers" bash -c "grep -q '^provider' '$WORK/last.out' && grep -q '^acme .*Acme Corp' '$WORK/last.out' && grep -q '^beta' '$WORK/last.out'"
expect_rc 3 "before any transfer the relying party denies cam-1 in acme" rp cam-1 acme read service:mqtt
check "... the certificate is in the provider's account" grep -q "account: provider (active)" "$WORK/last.out"
check "... and its certificate rights came from the class" grep -q "certificate rights: read=service:mqtt" "$WORK/last.out"

echo "== bulk transfer to acme: offered, notified, accepted with acme's key and policy"
expect_rc 0 "offer cam-1 and cam-2 (by serial) to acme" "${CTLC[@]}" transfer offer --to acme --id t-acme \
    --device cam-1 --serial "$(serial_of cam-2)" --note "PO 4711"
check "... both devices in it" grep -q "2 device(s): cam-1 cam-2" "$WORK/last.out"
check "acme is notified (webhook, signature verified)" wait_event '"event":"transfer.offered"'
expect_rc 1 "a device in an open offer cannot be offered again" "${CTLC[@]}" transfer offer --to beta --device cam-2
check "... HTTP 409" grep -q "HTTP 409" "$WORK/last.out"
expect_rc 1 "mallory's key cannot accept for acme" "${CTLC[@]}" transfer accept t-acme --key "$WORK/mallory.key" \
    --allow stream=service:video
check "... HTTP 403, bad_possession_proof" grep -q "HTTP 403" "$WORK/last.out"
expect_rc 0 "irpctl transfer show" "${CTLC[@]}" transfer show t-acme
check "... still offered" grep -q "offered" "$WORK/last.out"
expect_rc 3 "still the provider's: denied" rp cam-1 acme stream service:video
# The customer has no admin token: it signs offline what the provider shows it.
"${CTLC[@]}" --json transfer show t-acme >"$WORK/t-acme.json"
expect_rc 0 "acme signs the acceptance offline, with no API access" "$CTL" transfer sign --transfer "$WORK/t-acme.json" \
    --key "$WORK/acme.key" --allow stream=service:video --allow read=service:mqtt
SIG=$(tail -1 "$WORK/last.out")
sed 's/"acct.example"/"other.example"/' "$WORK/t-acme.json" | grep -v '"digest"' >"$WORK/t-other.json"
"$CTL" transfer sign --transfer "$WORK/t-other.json" --key "$WORK/acme.key" --allow stream=service:video \
    --allow read=service:mqtt >"$WORK/other.sig" 2>/dev/null
expect_rc 1 "a signature made for another domain is refused" "${CTLC[@]}" transfer accept t-acme \
    --signature "$(tail -1 "$WORK/other.sig")" --allow stream=service:video --allow read=service:mqtt
check "... HTTP 403" grep -q "HTTP 403" "$WORK/last.out"
expect_rc 1 "... as is acme's signature with another policy" "${CTLC[@]}" transfer accept t-acme --signature "$SIG" \
    --allow '*=*'
check "... HTTP 403" grep -q "HTTP 403" "$WORK/last.out"
expect_rc 0 "the provider submits acme's signed acceptance" "${CTLC[@]}" transfer accept t-acme --signature "$SIG" \
    --allow stream=service:video --allow read=service:mqtt
check "... accepted" grep -q "accepted" "$WORK/last.out"
check "the webhook tells of the acceptance" wait_event '"event":"transfer.accepted"'
expect_rc 1 "accepting twice is a conflict" "${CTLC[@]}" transfer accept t-acme --key "$WORK/acme.key"
check "... HTTP 409" grep -q "HTTP 409" "$WORK/last.out"
expect_rc 0 "irpctl owners cam-1" "${CTLC[@]}" owners cam-1
check "... provider, then acme now" bash -c "grep -q '^provider' '$WORK/last.out' && grep -q '^acme .* now .*stream=service:video' '$WORK/last.out'"
expect_rc 0 "irpctl account-status" "${CTLC[@]}" account-status "$(serial_of cam-1)"
check "... account acme, active" grep -q "account acme, active" "$WORK/last.out"

echo "== the relying party: only in acme, only what acme's policy allows"
expect_rc 0 "cam-1 may stream in acme" rp cam-1 acme stream service:video
expect_rc 0 "cam-2 may read mqtt in acme" rp cam-2 acme read service:mqtt
check "... and its certificate carries its own rights, not its class's" \
    grep -q "certificate rights: stream=service:video read=device:cam-\*$" "$WORK/last.out"
expect_rc 3 "cam-1 may not do what the policy does not say" rp cam-1 acme ota.push service:updates
expect_rc 3 "cam-1 is not beta's" rp cam-1 beta stream service:video
expect_rc 3 "cam-3 was never transferred" rp cam-3 acme stream service:video
cp "$WORK/cam-1.stmt" "$WORK/cam-1.old.stmt"
"$RP" --root "$ROOT" --chain "$WORK/cam-2/device.crt" --statement "$WORK/cam-1.old.stmt" --account acme \
    --action stream --target service:video >"$WORK/last.out" 2>&1
check "cam-1's statement does not vouch for cam-2" test $? = 3
check "a stale statement is refused" bash -c "'$RP' --root '$ROOT' --chain '$WORK/cam-1/device.crt' \
    --statement '$WORK/cam-1.stmt' --account acme --action stream --target service:video --now $(( $(date +%s) + 7200 )); test \$? = 1"
printf 'garbage' >"$WORK/bad.stmt"
check "a forged statement is refused" bash -c "'$RP' --root '$ROOT' --chain '$WORK/cam-1/device.crt' \
    --statement '$WORK/bad.stmt' --account acme --action stream --target service:video; test \$? = 1"
check "an unknown serial has no statement (404)" bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' '$HTTP/account/00ff')\" = 404"

echo "== a renewal stays in the account"
OLD=$(serial_of cam-1)
expect_rc 0 "cam-1 renews" "$WALLET" --timeout-ms 10000 renew --store "$WORK/cam-1"
check "... with a new serial" test "$(serial_of cam-1)" != "$OLD"
expect_rc 0 "the renewed certificate may still stream in acme" rp cam-1 acme stream service:video

echo "== acme passes cam-1 on to beta: refused once, then accepted with beta's own policy"
expect_rc 2 "an offer out of acme needs acme's key" "${CTLC[@]}" transfer offer --from acme --to beta --device cam-1
expect_rc 1 "... not mallory's" "${CTLC[@]}" transfer offer --from acme --to beta --device cam-1 \
    --id t-mallory --domain acct.example --key "$WORK/mallory.key"
check "... HTTP 403" grep -q "HTTP 403" "$WORK/last.out"
expect_rc 0 "acme offers cam-1 to beta" "${CTLC[@]}" transfer offer --from acme --to beta --device cam-1 \
    --key "$WORK/acme.key" --id t-beta-1 --domain acct.example
expect_rc 0 "beta rejects (signed)" "${CTLC[@]}" transfer reject t-beta-1 --key "$WORK/beta.key"
check "... rejected" grep -q "rejected" "$WORK/last.out"
expect_rc 0 "still acme's" rp cam-1 acme stream service:video
expect_rc 0 "acme offers again" "${CTLC[@]}" transfer offer --from acme --to beta --device cam-1 \
    --key "$WORK/acme.key" --id t-beta-2 --domain acct.example
expect_rc 0 "beta accepts with its policy" "${CTLC[@]}" transfer accept t-beta-2 --key "$WORK/beta.key" \
    --allow telemetry=service:mqtt
expect_rc 3 "cam-1 no longer works under acme's policy" rp cam-1 acme stream service:video
expect_rc 3 "... nor does beta's policy allow streaming" rp cam-1 beta stream service:video
expect_rc 0 "beta's policy is what counts now" rp cam-1 beta telemetry service:mqtt
expect_rc 0 "irpctl owners cam-1" "${CTLC[@]}" owners cam-1
check "... provider, acme (ended), beta now" bash -c "test \$(grep -c -E '^(provider|acme|beta) ' '$WORK/last.out') = 3 && grep -q '^beta .* now ' '$WORK/last.out'"

echo "== withdrawing an offer; revocation ends what a statement vouches for"
expect_rc 0 "offer cam-3 to acme" "${CTLC[@]}" transfer offer --to acme --device cam-3 --id t-cancel
expect_rc 0 "the provider cancels" "${CTLC[@]}" transfer cancel t-cancel
check "... cancelled" grep -q "cancelled" "$WORK/last.out"
expect_rc 1 "a cancelled offer cannot be accepted" "${CTLC[@]}" transfer accept t-cancel --key "$WORK/acme.key"
check "... HTTP 409" grep -q "HTTP 409" "$WORK/last.out"
expect_rc 0 "revoke cam-2" "${CTLC[@]}" revoke --serial "$(serial_of cam-2)" --reason keyCompromise
expect_rc 3 "the statement now says not active: denied" rp cam-2 acme read service:mqtt
check "... not active" grep -q "account: acme (not active)" "$WORK/last.out"
ISSUER=$("${CTLC[@]}" --json crl | sed -n 's/.*"issuer_id": "\([0-9a-f]*\)".*/\1/p' | head -1)
curl -fsS -o "$WORK/domain.crl" "$HTTP/crl/$ISSUER.crl"
expect_rc 1 "with the CRL the relying party refuses it outright" rp cam-2 acme read service:mqtt --crl "$WORK/domain.crl"
expect_rc 0 "... while cam-4 passes the CRL check (in no account, so the statement decides)" \
    bash -c "'$RP' --root '$ROOT' --chain '$WORK/cam-4/device.crt' --statement <(curl -fsS '$HTTP/account/$(serial_of cam-4)') \
        --crl '$WORK/domain.crl' --account '' --action read --target x; test \$? = 3"

echo "== the record"
expect_rc 0 "irpctl transfers --account acme" "${CTLC[@]}" transfers --account acme
check "... four transfers touch acme" test "$(grep -c '^t-' "$WORK/last.out")" = 4
expect_rc 0 "irpctl audit" "${CTLC[@]}" audit --limit 200
check "... the acceptance, by acme's key" grep -q "account:acme *transfer.accepted" "$WORK/last.out"
check "... the rejection, by beta's key" grep -q "account:beta *transfer.rejected" "$WORK/last.out"
check "... the rights changes" grep -q "rights.set" "$WORK/last.out"
check "the server kept serving (no crash)" kill -0 "$SERVER_PID"

finish accounts
