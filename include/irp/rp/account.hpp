// Account statements (docs/PROTOCOL.md, "Accounts and certificate
// transfer"): a domain CA server says, signed with the key of the CA that
// issued a certificate, which account that certificate is active in and what
// the account's policy allows. A relying party (a cloud service, a video
// server) accepts a device only when the device proved its certificate
// (Verifier) AND a fresh statement puts that certificate, active, in the
// expected account with a policy allowing what the device asks.
//
// No I/O and no clock: the caller fetches the statement (GET
// <http-base>/account/<serial-hex> on the domain's HTTP listener), may cache
// it until next_update, and passes "now" in. Nothing here throws.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/rights.hpp"
#include "irp/rp/verifier.hpp"

namespace irp::rp {

inline constexpr std::size_t kMaxAccountStatementBytes = 16 * 1024;
// A statement produced up to this long "in the future" is accepted (clocks drift).
inline constexpr std::int64_t kStatementClockSkewS = 300;

struct AccountStatus {
    std::string serial_hex;  // lower-case hex, no leading zero bytes (as PeerIdentity::serial_hex)
    std::string domain;
    std::string device_id;
    std::string account;
    bool active = false;  // false: revoked, expired or released
    std::vector<crypto::Right> policy;
    std::int64_t produced_at = 0;
    std::int64_t next_update = 0;
};

// The bytes the CA signs:
//   "IRP/1 account-statement" (23 ASCII bytes) || u32 big-endian length || statement
inline constexpr std::string_view kAccountStatementLabel = "IRP/1 account-statement";
Bytes account_statement_message(ByteView statement);

// Server side: the serialized AccountStatement (proto/irp/v1/account.proto)
// of `s`, naming the issuing CA by `issuer_key_id` (its SKI). bad_argument
// for a serial that is not hex or a policy entry right_problem() refuses.
Result<Bytes> encode_account_statement(const AccountStatus& s, ByteView issuer_key_id);
// The SignedAccountStatement carrying `statement` and its `signature`.
Bytes encode_signed_account_statement(ByteView statement, ByteView signature);

// Decodes a SignedAccountStatement and checks it: at most
// kMaxAccountStatementBytes and 64 policy entries (else malformed_message),
// version 1, signed by the key of `issuer_ca_der` (bad_possession_proof
// otherwise), naming that CA's subjectKeyIdentifier (unknown_certificate
// otherwise), and current: produced_at <= now + kStatementClockSkewS and
// now < next_update (certificate_not_active otherwise). `issuer_ca_der`
// must be a CA certificate (bad_argument) and must be the one whose key
// signed the peer's certificate: pass PeerIdentity::issuer_der, never a
// certificate taken from the peer's chain by position (a peer could put its
// own "CA" there and sign its own statement).
Result<AccountStatus> verify_account_statement(ByteView signed_statement, ByteView issuer_ca_der, std::int64_t now);

// Does `statement` let `peer` do `action` on `target` in `account`? True
// only when the statement is about the peer's certificate (same serial and
// device id), says active, names `account` (or `account` is empty: any),
// the peer is not revoked, and the account's policy allows the action
// (crypto::rights_allow: default deny).
bool account_allows(const PeerIdentity& peer, const AccountStatus& statement, std::string_view account,
                    std::string_view action, std::string_view target);

}  // namespace irp::rp
