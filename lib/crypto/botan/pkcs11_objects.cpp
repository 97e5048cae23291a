// Key pairs made and destroyed inside a PKCS#11 token (crypto.hpp:
// PrivateKey::generate_in_token, destroy_pkcs11_key). A device wallet whose
// key must never exist in a file generates it here, and destroys the old one
// after a renewal and at a factory reset.
//
// The private half is made CKA_SENSITIVE and not CKA_EXTRACTABLE, so the
// token never reveals it (it also sets CKA_NEVER_EXTRACTABLE and
// CKA_ALWAYS_SENSITIVE, which an auditor can check). Both halves are token
// objects (CKA_TOKEN): they survive the session and the process.
#include <array>
#include <utility>

#include "botan_glue.hpp"
#include "pkcs11_cryptoki.hpp"

namespace irp::crypto {

namespace {

using namespace p11;

constexpr std::size_t kMaxLabel = 64;
constexpr std::size_t kMaxId = 64;

const Bytes kP256Oid = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};  // 1.2.840.10045.3.1.7
const Bytes kP384Oid = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};                    // 1.3.132.0.34

// The token cannot make this kind of key (or not with these parameters).
bool unsupported(CK_RV rv) {
    return rv == CKR_MECHANISM_INVALID || rv == CKR_MECHANISM_PARAM_INVALID || rv == CKR_CURVE_NOT_SUPPORTED ||
           rv == CKR_DOMAIN_PARAMS_INVALID || rv == CKR_ATTRIBUTE_VALUE_INVALID || rv == CKR_TEMPLATE_INCONSISTENT;
}

Error generation_failed(CK_RV rv, KeyAlgorithm alg, const Pkcs11Uri& uri) {
    const std::string what = std::string("cannot generate an ") + key_algorithm_name(alg) + " key pair in " +
                             describe(uri) + ": " + rv_name(rv);
    if (unsupported(rv)) return make_error(Code::key_algorithm_not_allowed, what);
    if (rv == CKR_USER_NOT_LOGGED_IN) return make_error(Code::bad_argument, what + " (the token needs the PIN)");
    if (rv == CKR_TOKEN_WRITE_PROTECTED || rv == CKR_SESSION_READ_ONLY)
        return make_error(Code::bad_argument, what + " (the token is read-only)");
    return make_error(Code::internal, what);
}

// Destroys `objects`; one already gone counts as done.
Result<void> destroy_all(const ScopedSession& s, const std::vector<CK_OBJECT_HANDLE>& objects, const Pkcs11Uri& uri) {
    for (const CK_OBJECT_HANDLE o : objects) {
        const CK_RV rv = s.f()->C_DestroyObject(s.h(), o);
        if (rv != CKR_OK && rv != CKR_OBJECT_HANDLE_INVALID)
            return make_error(rv == CKR_ACTION_PROHIBITED || rv == CKR_TOKEN_WRITE_PROTECTED ? Code::bad_argument
                                                                                              : Code::internal,
                              "cannot destroy " + describe(uri) + ": C_DestroyObject: " + rv_name(rv));
    }
    return {};
}

}  // namespace

Result<PrivateKey> PrivateKey::generate_in_token(const std::string& module_path, std::string_view token_uri,
                                                 std::string_view label, ByteView id, KeyAlgorithm alg,
                                                 std::string_view pin) {
    auto uri = parse_pkcs11_token_uri(token_uri);
    if (!uri) return uri.error();
    if (label.empty() || label.size() > kMaxLabel)
        return make_error(Code::bad_argument, "a PKCS#11 key label must be 1-64 bytes");
    if (id.empty() || id.size() > kMaxId) return make_error(Code::bad_argument, "a PKCS#11 key id must be 1-64 bytes");
    const std::string path = module_path.empty() ? uri->module_path : module_path;
    auto session = open_scoped(path, *uri, pin, true);
    if (!session) return session.error();
    const ScopedSession& s = **session;

    Pkcs11Uri key_uri = *uri;
    key_uri.object = std::string(label);
    key_uri.id.assign(id.begin(), id.end());
    key_uri.module_path = path;

    // A label or id already taken would make the new key ambiguous (and a
    // later destroy of one take both).
    const std::pair<CK_ATTRIBUTE, std::string> unique[] = {
        {{CKA_LABEL, key_uri.object.data(), key_uri.object.size()}, "label '" + key_uri.object + "'"},
        {{CKA_ID, key_uri.id.data(), key_uri.id.size()}, "id " + to_hex(key_uri.id)},
    };
    for (const auto& [attribute, what] : unique) {
        auto taken = find_objects(s.f(), s.h(), {attribute});
        if (!taken) return taken.error();
        if (!taken->empty())
            return make_error(Code::already_exists, "token '" + uri->token + "' already holds an object with " + what);
    }

    const bool edwards = alg == KeyAlgorithm::ed25519;
    const CK_MECHANISM_TYPE mechanism = edwards ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN;
    // Ask first: a token without the mechanism says so plainly here, where
    // C_GenerateKeyPair's answer varies between tokens.
    CK_SESSION_INFO si{};
    CK_MECHANISM_INFO mi{};
    if (s.f()->C_GetSessionInfo(s.h(), &si) == CKR_OK) {
        const CK_RV rv = s.f()->C_GetMechanismInfo(si.slotID, mechanism, &mi);
        if (rv == CKR_MECHANISM_INVALID || (rv == CKR_OK && !(mi.flags & CKF_GENERATE_KEY_PAIR)))
            return make_error(Code::key_algorithm_not_allowed,
                              "token '" + uri->token + "' cannot generate " + key_algorithm_name(alg) + " keys (no " +
                                  (edwards ? "CKM_EC_EDWARDS_KEY_PAIR_GEN" : "CKM_EC_KEY_PAIR_GEN") + ")");
    }
    // Ed25519: the curve name (what SoftHSM 2.6 expects), else the OID
    // (PKCS#11 3.0 allows both).
    std::vector<const Bytes*> params;
    switch (alg) {
        case KeyAlgorithm::ecdsa_p256: params = {&kP256Oid}; break;
        case KeyAlgorithm::ecdsa_p384: params = {&kP384Oid}; break;
        case KeyAlgorithm::ed25519: params = {&kEdwards25519Name, &kEd25519Oid}; break;
    }

    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::string lbl(label);
    Bytes key_id(id.begin(), id.end());
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    CK_RV rv = CKR_OK;
    for (const Bytes* p : params) {
        Bytes ec_params = *p;
        std::array<CK_ATTRIBUTE, 7> pub_tmpl = {{
            {CKA_TOKEN, &yes, sizeof yes},
            {CKA_PRIVATE, &no, sizeof no},
            {CKA_VERIFY, &yes, sizeof yes},
            {CKA_EC_PARAMS, ec_params.data(), ec_params.size()},
            {CKA_LABEL, lbl.data(), lbl.size()},
            {CKA_ID, key_id.data(), key_id.size()},
            {CKA_ENCRYPT, &no, sizeof no},
        }};
        std::array<CK_ATTRIBUTE, 9> priv_tmpl = {{
            {CKA_TOKEN, &yes, sizeof yes},
            {CKA_PRIVATE, &yes, sizeof yes},
            {CKA_SENSITIVE, &yes, sizeof yes},
            {CKA_EXTRACTABLE, &no, sizeof no},
            {CKA_SIGN, &yes, sizeof yes},
            {CKA_DERIVE, &no, sizeof no},
            {CKA_DECRYPT, &no, sizeof no},
            {CKA_LABEL, lbl.data(), lbl.size()},
            {CKA_ID, key_id.data(), key_id.size()},
        }};
        CK_MECHANISM mech{mechanism, nullptr, 0};
        rv = s.f()->C_GenerateKeyPair(s.h(), &mech, pub_tmpl.data(), pub_tmpl.size(), priv_tmpl.data(),
                                      priv_tmpl.size(), &pub, &priv);
        if (rv == CKR_OK || !unsupported(rv)) break;
    }
    if (rv != CKR_OK) return generation_failed(rv, alg, key_uri);

    // Unusable as made: leave nothing behind.
    const auto undo = [&](Code code, const std::string& why) {
        const std::string what = "the key pair generated as " + describe(key_uri) + " " + why;
        if (auto r = destroy_all(s, {priv, pub}, key_uri); !r)
            return make_error(code, what + ", and destroying it failed too (" + r.error().message + ")");
        return make_error(code, what + ", so it was destroyed");
    };
    auto key = from_pkcs11(path, format_pkcs11_uri(key_uri), pin);
    if (!key) return undo(key.error().code, "cannot be used (" + key.error().message + ")");
    if (key->algorithm() != alg)
        return undo(Code::key_algorithm_not_allowed, std::string("is ") + key_algorithm_name(key->algorithm()) +
                                                          ", not " + key_algorithm_name(alg));
    return key;
}

Result<void> destroy_pkcs11_key(const std::string& module_path, std::string_view uri_text, std::string_view pin) {
    auto uri = parse_pkcs11_uri(uri_text);
    if (!uri) return uri.error();
    auto session = open_scoped(module_path, *uri, pin, true);
    if (!session) return session.error();
    const ScopedSession& s = **session;

    const auto name = [&](CK_OBJECT_CLASS& cls, const Bytes& id) {
        std::vector<CK_ATTRIBUTE> t = {{CKA_CLASS, &cls, sizeof cls}};
        if (!uri->object.empty()) t.push_back({CKA_LABEL, uri->object.data(), uri->object.size()});
        if (!id.empty()) t.push_back({CKA_ID, const_cast<std::uint8_t*>(id.data()), id.size()});
        return t;
    };
    CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
    auto privs = find_objects(s.f(), s.h(), name(priv_cls, uri->id));
    if (!privs) return privs.error();
    if (privs->size() > 1)
        return make_error(Code::bad_argument, "several private keys match " + describe(*uri) +
                                                  ": add id= to the URI (nothing was destroyed)");
    // The public half: same CKA_ID as the private key (the PKCS#11
    // convention for a pair), else what the URI names. Looked for even when
    // the private key is gone, so that an interrupted destroy completes.
    Bytes id = uri->id;
    if (!privs->empty() && id.empty()) id = get_attribute(s.f(), s.h(), privs->front(), CKA_ID).value_or(Bytes{});
    if (auto r = destroy_all(s, *privs, *uri); !r) return r;
    auto pubs = find_objects(s.f(), s.h(), name(pub_cls, id));
    if (!pubs) return pubs.error();
    return destroy_all(s, *pubs, *uri);
}

}  // namespace irp::crypto
