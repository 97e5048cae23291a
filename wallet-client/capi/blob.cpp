#include "blob.hpp"

namespace irp::wallet::capi {

namespace {
constexpr std::string_view kPendingMagic = "irp-pending-v1\n";

Result<std::shared_ptr<const crypto::PrivateKey>> key_from(std::string_view text, const char* slot) {
    auto keys = crypto::pem_blocks(text, "PRIVATE KEY");
    if (!keys) return make_error(Code::file_error, std::string("the ") + slot + " slot: " + keys.error().message);
    if (keys->size() != 1) return make_error(Code::file_error, std::string("the ") + slot + " slot holds no single key");
    auto key = crypto::PrivateKey::from_pem(crypto::to_pem(keys->front(), "PRIVATE KEY"));
    if (!key) return make_error(Code::file_error, std::string("the ") + slot + " slot's key: " + key.error().message);
    return std::make_shared<const crypto::PrivateKey>(std::move(key.value()));
}
}  // namespace

std::string credentials_blob(const Credentials& c) {
    std::string out = c.key->to_pem();
    out += crypto::to_pem(c.certificate, "CERTIFICATE");
    for (const auto& ca : c.chain) out += crypto::to_pem(ca, "CERTIFICATE");
    return out;
}

Result<Credentials> parse_credentials_blob(std::string_view blob) {
    auto key = key_from(blob, "credentials");
    if (!key) return key.error();
    auto certs = crypto::pem_blocks(blob, "CERTIFICATE");
    if (!certs || certs->empty()) return make_error(Code::file_error, "the credentials slot holds no certificate");
    auto info = crypto::parse_certificate(certs->front());
    if (!info) return make_error(Code::file_error, "the credentials slot's certificate: " + info.error().message);
    if (info->public_key != (*key)->public_key_der())
        return make_error(Code::file_error, "the credentials slot's key does not match its certificate");
    Credentials c;
    c.key = std::move(key.value());
    c.certificate = std::move(certs->front());
    c.chain.assign(std::make_move_iterator(certs->begin() + 1), std::make_move_iterator(certs->end()));
    return c;
}

std::string pending_blob(const PendingEnrollment& p) {
    std::string out(kPendingMagic);
    out += p.request_id + "\n" + p.device_id + "\n" + p.class_id + "\n";
    return out + p.key->to_pem();
}

Result<PendingEnrollment> parse_pending_blob(std::string_view blob) {
    const auto malformed = [] { return make_error(Code::file_error, "the pending slot is malformed"); };
    if (!blob.starts_with(kPendingMagic)) return malformed();
    blob.remove_prefix(kPendingMagic.size());
    std::string_view lines[3];
    for (auto& l : lines) {
        const auto nl = blob.find('\n');
        if (nl == std::string_view::npos) return malformed();
        l = blob.substr(0, nl);
        blob.remove_prefix(nl + 1);
    }
    auto key = key_from(blob, "pending");
    if (!key) return key.error();
    PendingEnrollment p;
    p.key = std::move(key.value());
    p.request_id = std::string(lines[0]);
    p.device_id = std::string(lines[1]);
    p.class_id = std::string(lines[2]);
    return p;
}

}  // namespace irp::wallet::capi
