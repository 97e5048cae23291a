// Account statements (include/irp/rp/account.hpp): the protobuf encoding
// (proto/irp/v1/account.proto) and its verification.
#include <algorithm>

#include "irp/rp/account.hpp"
#include "irp/v1/account.pb.h"

namespace irp::rp {

namespace {

constexpr std::uint32_t kVersion = 1;

std::string str(ByteView b) { return std::string(b.begin(), b.end()); }
ByteView view(const std::string& s) { return as_bytes(s); }

}  // namespace

Bytes account_statement_message(ByteView statement) {
    Bytes m = to_bytes(kAccountStatementLabel);
    append_field(m, statement);
    return m;
}

Result<Bytes> encode_account_statement(const AccountStatus& s, ByteView issuer_key_id) {
    Bytes serial;
    if (s.serial_hex.empty() || !from_hex(s.serial_hex, serial))
        return make_error(Code::bad_argument, "account statement: serial '" + s.serial_hex + "' is not hex");
    if (s.policy.size() > crypto::kMaxRights)
        return make_error(Code::bad_argument, "account statement: more than " + std::to_string(crypto::kMaxRights) +
                                                  " policy entries");
    irp::v1::AccountStatement m;
    m.set_version(kVersion);
    m.set_serial(str(serial));
    m.set_issuer_key_id(str(issuer_key_id));
    m.set_domain(s.domain);
    m.set_device_id(s.device_id);
    m.set_account(s.account);
    m.set_active(s.active);
    for (const auto& r : s.policy) {
        if (auto why = crypto::right_problem(r); !why.empty())
            return make_error(Code::bad_argument, "account statement: " + why);
        auto* p = m.add_policy();
        p->set_action(r.action);
        p->set_target(r.target);
    }
    m.set_produced_at(s.produced_at);
    m.set_next_update(s.next_update);
    std::string out;
    if (!m.SerializeToString(&out)) return make_error(Code::internal, "account statement: cannot serialise");
    return to_bytes(out);
}

Bytes encode_signed_account_statement(ByteView statement, ByteView signature) {
    irp::v1::SignedAccountStatement m;
    m.set_statement(str(statement));
    m.set_signature(str(signature));
    return to_bytes(m.SerializeAsString());
}

Result<AccountStatus> verify_account_statement(ByteView signed_statement, ByteView issuer_ca_der, std::int64_t now) {
    if (signed_statement.empty() || signed_statement.size() > kMaxAccountStatementBytes)
        return make_error(Code::malformed_message, "an account statement is 1 to " +
                                                       std::to_string(kMaxAccountStatementBytes) + " bytes, not " +
                                                       std::to_string(signed_statement.size()));
    irp::v1::SignedAccountStatement outer;
    if (!outer.ParseFromArray(signed_statement.data(), static_cast<int>(signed_statement.size())))
        return make_error(Code::malformed_message, "the account statement does not decode");
    auto ca = crypto::parse_certificate(issuer_ca_der);
    if (!ca) return make_error(Code::bad_argument, "issuer CA certificate: " + ca.error().message);
    if (!ca->is_ca) return make_error(Code::bad_argument, "the issuer certificate given is not a CA certificate");
    if (outer.signature().empty() || outer.signature().size() > kMaxSignatureBytes ||
        !crypto::verify_signature(ca->public_key, account_statement_message(view(outer.statement())),
                                  view(outer.signature())))
        return make_error(Code::bad_possession_proof,
                          "the account statement is not signed by the CA " + ca->subject);

    irp::v1::AccountStatement m;
    if (!m.ParseFromString(outer.statement()))
        return make_error(Code::malformed_message, "the signed account statement does not decode");
    if (m.version() != kVersion)
        return make_error(Code::malformed_message,
                          "account statement version " + std::to_string(m.version()) + " is not supported");
    if (static_cast<std::size_t>(m.policy_size()) > crypto::kMaxRights)
        return make_error(Code::malformed_message, "the account statement has more than " +
                                                       std::to_string(crypto::kMaxRights) + " policy entries");
    const ByteView key_id = view(m.issuer_key_id());
    if (key_id.empty() || !std::equal(key_id.begin(), key_id.end(), ca->subject_key_id.begin(), ca->subject_key_id.end()))
        return make_error(Code::unknown_certificate, "the account statement names another issuing CA than " +
                                                         ca->subject);
    if (m.serial().empty() || m.serial().size() > 20 || m.serial().front() == '\0')
        return make_error(Code::malformed_message, "the account statement's serial is malformed");
    if (m.produced_at() > now + kStatementClockSkewS)
        return make_error(Code::certificate_not_active, "the account statement was produced in the future");
    if (now >= m.next_update())
        return make_error(Code::certificate_not_active, "the account statement is out of date (next update passed)");

    AccountStatus s;
    s.serial_hex = to_hex(view(m.serial()));
    s.domain = m.domain();
    s.device_id = m.device_id();
    s.account = m.account();
    s.active = m.active();
    for (const auto& p : m.policy()) {
        crypto::Right r{p.action(), p.target()};
        if (auto why = crypto::right_problem(r); !why.empty())
            return make_error(Code::malformed_message, "account statement policy: " + why);
        s.policy.push_back(std::move(r));
    }
    s.produced_at = m.produced_at();
    s.next_update = m.next_update();
    return s;
}

bool account_allows(const PeerIdentity& peer, const AccountStatus& statement, std::string_view account,
                    std::string_view action, std::string_view target) {
    if (peer.revocation == PeerIdentity::Revocation::revoked || !statement.active) return false;
    if (statement.serial_hex != peer.serial_hex || statement.device_id != peer.device_id) return false;
    if (!account.empty() && statement.account != account) return false;
    return crypto::rights_allow(statement.policy, action, target);
}

}  // namespace irp::rp
