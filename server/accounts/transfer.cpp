#include "accounts/transfer.hpp"

#include <algorithm>

namespace irp::server {

crypto::Digest transfer_digest(std::string_view domain, const Transfer& t) {
    Bytes m = to_bytes("IRP/1 transfer");
    append_field(m, as_bytes(domain));
    append_field(m, as_bytes(t.id));
    append_field(m, as_bytes(t.from_account));
    append_field(m, as_bytes(t.to_account));
    std::vector<std::string> devices = t.devices;
    std::sort(devices.begin(), devices.end());
    const auto n = static_cast<std::uint32_t>(devices.size());
    const std::uint8_t count[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                   static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
    append_field(m, count);
    for (const auto& d : devices) append_field(m, as_bytes(d));
    return crypto::sha256(m);
}

const char* transfer_signature_name(TransferSignature kind) {
    switch (kind) {
        case TransferSignature::offer: return "IRP/1 transfer-offer";
        case TransferSignature::accept: return "IRP/1 transfer-accept";
        case TransferSignature::reject: return "IRP/1 transfer-reject";
    }
    return "";
}

Bytes transfer_message(TransferSignature kind, const crypto::Digest& digest, std::string_view policy_text) {
    Bytes m = to_bytes(transfer_signature_name(kind));
    append_field(m, digest);
    if (kind == TransferSignature::accept) append_field(m, as_bytes(policy_text));
    return m;
}

Result<void> check_account_signature(const Account& account, ByteView message, ByteView signature) {
    if (account.public_key.empty())
        return make_error(Code::bad_possession_proof, "account '" + account.name + "' has no key to sign with");
    if (signature.empty() || signature.size() > 512 ||
        !crypto::verify_signature(account.public_key, message, signature))
        return make_error(Code::bad_possession_proof,
                          "the signature does not verify with the key of account '" + account.name + "'");
    return {};
}

}  // namespace irp::server
