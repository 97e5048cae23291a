#include "lifecycle/bootstrap.hpp"

#include "irp/core/transcript.hpp"

namespace irp::server {

const char* proof_name(Proof p) {
    switch (p) {
        case Proof::none: return "none";
        case Proof::token: return "token";
        case Proof::preregistered: return "preregistered";
        case Proof::idevid: return "idevid";
    }
    return "none";
}

namespace {

Error not_allowed(const std::string& cls, const char* what, unsigned methods) {
    return make_error(Code::bootstrap_not_allowed, "class '" + cls + "' does not enroll devices by " + what +
                                                       " (it accepts: " + bootstrap_methods_text(methods) + ")");
}

Result<Proof> check_token(const RequestReceived& req, const ClassRegistry& classes) {
    auto secrets = classes.secrets_for(req.class_id);
    if (!secrets) return secrets.error();
    // The device proves it holds HMAC(class secret, class||id) without
    // sending it: a MAC over the transcript (docs/PROTOCOL.md, "Bootstrap
    // token"). After a rotation the previous secret is tried too, during
    // its grace period.
    for (const auto& secret : *secrets) {
        const auto token = derive_device_token(secret, req.class_id, req.device_id);
        const auto expected = token_proof(token, req.transcript, req.csr_der);
        if (crypto::constant_time_equal(expected, req.token_proof)) return Proof::token;
    }
    return make_error(Code::bad_token_proof, "the bootstrap token proof does not verify for this device");
}

Result<Proof> check_preregistered(const RequestReceived& req, Store& store) {
    auto reg = store.find_registration(req.device_id);
    if (!reg) return reg.error();
    // One answer for "no registration" and "another key": a prober learns
    // nothing about which devices are registered.
    if (!*reg || (*reg)->class_id != req.class_id || (*reg)->public_key != req.bootstrap_key)
        return make_error(Code::not_registered, "no registration of this device with this key in this class");
    if (!crypto::verify_signature(req.bootstrap_key, bootstrap_message(req.transcript, req.csr_der),
                                  req.bootstrap_signature))
        return make_error(Code::bad_bootstrap_proof, "the bootstrap signature does not verify with the registered key");
    return Proof::preregistered;
}

Result<Proof> check_idevid(const RequestReceived& req, const ClassPolicy& policy, std::int64_t now) {
    const Bytes& leaf = req.bootstrap_chain.front();
    const std::vector<Bytes> intermediates(req.bootstrap_chain.begin() + 1, req.bootstrap_chain.end());
    if (auto v = crypto::verify_chain(leaf, intermediates, policy.idevid_roots, now, crypto::Usage::any); !v)
        return make_error(Code::bad_bootstrap_proof,
                          "the manufacturer certificate does not chain to a trusted manufacturer CA: " + v.error().message);
    auto info = crypto::parse_certificate(leaf);
    if (!info) return make_error(Code::bad_bootstrap_proof, "the manufacturer certificate does not parse");
    // An IDevID names its device by subject serialNumber (IEEE 802.1AR), or CN.
    if (info->subject_serial_number != req.device_id && info->subject_cn != req.device_id)
        return make_error(Code::identity_mismatch, "the manufacturer certificate names another device");
    const Bytes message = bootstrap_message(req.transcript, req.csr_der);
    if (!crypto::verify_signature(info->public_key, message, req.bootstrap_signature))
        return make_error(Code::bad_bootstrap_proof,
                          "the bootstrap signature does not verify with the manufacturer certificate's key");
    // The manufacturer made (or at least saw) the IDevID key: it must never
    // become the operational key. Compared by what the key does, not by its
    // encoding: the IDevID key's signature verifying under the CSR's key
    // means the same key however the CSR spells it (e.g. a compressed point).
    if (crypto::verify_signature(req.csr.public_key, message, req.bootstrap_signature))
        return make_error(Code::bad_bootstrap_proof,
                          "the CSR's key is the manufacturer certificate's key: the device must enroll a fresh key "
                          "pair, which the manufacturer never knew");
    return Proof::idevid;
}

}  // namespace

Result<Proof> check_bootstrap(const RequestReceived& req, const ClassPolicy& policy, const ClassRegistry& classes,
                              Store& store, std::int64_t now) {
    const std::string& cls = req.class_id;
    if (!req.token_proof.empty()) {
        if (!(policy.methods & kBootstrapToken)) return not_allowed(cls, "class token", policy.methods);
        return check_token(req, classes);
    }
    if (!req.bootstrap_key.empty()) {
        if (!(policy.methods & kBootstrapPreregistered)) return not_allowed(cls, "pre-registered key", policy.methods);
        return check_preregistered(req, store);
    }
    if (!req.bootstrap_chain.empty()) {
        if (!(policy.methods & kBootstrapIdevid)) return not_allowed(cls, "manufacturer certificate", policy.methods);
        return check_idevid(req, policy, now);
    }
    if (!(policy.methods & kBootstrapApproval)) return not_allowed(cls, "approval without a proof", policy.methods);
    return Proof::none;
}

}  // namespace irp::server
