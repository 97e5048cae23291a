// Keys that live in a PKCS#11 token, on Botan 2 and the Cryptoki C API
// (the plumbing is in pkcs11_cryptoki.cpp; making and destroying key pairs
// in pkcs11_objects.cpp).
//
// A token key is presented to Botan as a Botan::Private_Key whose signature
// operation calls C_Sign. Everything that signs through PK_Signer or
// X509_Object::choose_sig_format (CSRs, certificates, CRLs, OCSP responses,
// TLS handshakes) works unchanged.
//
// Each key has its own session, guarded by a mutex: Cryptoki sessions must
// not be used by two threads at once, and the server signs from several.
#include <botan/data_src.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/exceptn.h>
#include <botan/hash.h>
#include <botan/pk_ops.h>
#include <botan/scan_name.h>
#include <botan/x509_key.h>

#include <mutex>
#include <stdexcept>

#include "botan_glue.hpp"
#include "pkcs11_cryptoki.hpp"

namespace irp::crypto {

namespace {

using namespace p11;

// ---- the session behind one key -----------------------------------------------------------

bool session_lost(CK_RV rv) {
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_USER_NOT_LOGGED_IN ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR ||
           rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID;
}

class TokenKey {
public:
    TokenKey(std::shared_ptr<Module> module, Pkcs11Uri uri, std::string_view pin)
        : module_(std::move(module)), uri_(std::move(uri)), pin_(pin.begin(), pin.end()) {}
    ~TokenKey() { close(); }
    TokenKey(const TokenKey&) = delete;
    TokenKey& operator=(const TokenKey&) = delete;

    // Finds the token, opens a session, logs in and finds the key.
    Result<void> connect();
    // The public key, read once at load time.
    Result<std::unique_ptr<Botan::Private_Key>> make_key(std::shared_ptr<TokenKey> self, KeyAlgorithm& alg);

    // One signature with `mechanism` over `data`; throws on failure. When
    // the token dropped the session (removed and re-inserted, restarted,
    // logged out) it reconnects once and tries again.
    Bytes sign(CK_MECHANISM_TYPE mechanism, ByteView data, std::size_t max_len) {
        std::lock_guard lock(mu_);
        for (int attempt = 0;; ++attempt) {
            if (session_ == CK_INVALID_HANDLE) {
                if (auto r = connect(); !r) throw_p11(r.error().message);
            }
            Bytes out(max_len);
            const CK_RV rv = sign_once(mechanism, data, out);
            if (rv == CKR_OK) return out;
            // Any failure may leave the signing operation active: start over
            // with a fresh session next time.
            close();
            if (attempt == 0 && session_lost(rv)) continue;
            throw_p11("signing with " + describe(uri_) + " failed: " + rv_name(rv));
        }
    }

private:
    CK_FUNCTION_LIST_PTR f() const { return module_->f(); }

    CK_RV sign_once(CK_MECHANISM_TYPE mechanism, ByteView data, Bytes& out) {
        CK_MECHANISM mech{mechanism, nullptr, 0};
        if (const CK_RV rv = f()->C_SignInit(session_, &mech, key_); rv != CKR_OK) return rv;
        if (always_authenticate_) {
            const CK_RV rv = f()->C_Login(session_, CKU_CONTEXT_SPECIFIC, pin_.data(), pin_.size());
            if (rv != CKR_OK) return rv;
        }
        CK_ULONG n = out.size();
        const CK_RV rv = f()->C_Sign(session_, const_cast<CK_BYTE_PTR>(data.data()), data.size(), out.data(), &n);
        if (rv == CKR_OK) out.resize(n);
        return rv;
    }

    void close() {
        if (session_ != CK_INVALID_HANDLE) f()->C_CloseSession(session_);
        session_ = CK_INVALID_HANDLE;
        key_ = CK_INVALID_HANDLE;
    }

    std::shared_ptr<Module> module_;
    Pkcs11Uri uri_;
    Botan::secure_vector<CK_UTF8CHAR> pin_;
    std::mutex mu_;
    CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
    bool always_authenticate_ = false;
};

Result<void> TokenKey::connect() {
    close();
    auto slot = find_slot(*module_, uri_);
    if (!slot) return slot.error();
    auto opened = open_session(*module_, *slot, uri_, ByteView(pin_.data(), pin_.size()), false);
    if (!opened) return opened.error();
    const CK_SESSION_HANDLE s = *opened;
    session_ = s;

    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof cls}};
    if (!uri_.object.empty()) tmpl.push_back({CKA_LABEL, uri_.object.data(), uri_.object.size()});
    if (!uri_.id.empty()) tmpl.push_back({CKA_ID, uri_.id.data(), uri_.id.size()});
    auto found = find_objects(f(), s, tmpl);
    if (!found) {
        close();
        return found.error();
    }
    if (found->empty()) {
        close();
        return make_error(Code::not_found, "no private key " + describe(uri_) + " (wrong object label or id?)");
    }
    if (found->size() > 1) {
        close();
        return make_error(Code::bad_argument, "several private keys match " + describe(uri_) + ": add id= to the URI");
    }
    key_ = found->front();
    always_authenticate_ = get_bool(f(), s, key_, CKA_ALWAYS_AUTHENTICATE).value_or(false);
    if (always_authenticate_ && pin_.empty()) {
        close();
        return make_error(Code::bad_argument, "key " + describe(uri_) + " needs the PIN for every signature");
    }
    return {};
}

// ---- the Botan side ---------------------------------------------------------------------------

constexpr const char* kNotExportable = "the private key lives in a PKCS#11 token and cannot be exported";

// Hashes here (EMSA1), signs the digest with CKM_ECDSA: every token has
// that mechanism, not all have CKM_ECDSA_SHA384. The token returns r || s,
// which is what Botan expects from a signature operation (PK_Signer DER-
// encodes it for X.509).
class EcdsaSignOp final : public Botan::PK_Ops::Signature {
public:
    EcdsaSignOp(std::shared_ptr<TokenKey> t, std::unique_ptr<Botan::HashFunction> hash, std::size_t order_bytes)
        : token_(std::move(t)), hash_(std::move(hash)), order_bytes_(order_bytes) {}
    void update(const uint8_t msg[], size_t len) override {
        if (hash_)
            hash_->update(msg, len);
        else
            raw_.insert(raw_.end(), msg, msg + len);
    }
    Botan::secure_vector<uint8_t> sign(Botan::RandomNumberGenerator&) override {
        Bytes digest = hash_ ? hash_->final_stdvec() : std::exchange(raw_, {});
        // EMSA1 keeps the leftmost order-bits of the digest (P-256 and
        // P-384 orders are whole bytes).
        if (digest.size() > order_bytes_) digest.resize(order_bytes_);
        const Bytes sig = token_->sign(CKM_ECDSA, digest, 2 * order_bytes_);
        if (sig.size() != 2 * order_bytes_) throw_p11("the token returned an ECDSA signature of the wrong size");
        return Botan::secure_vector<uint8_t>(sig.begin(), sig.end());
    }
    size_t signature_length() const override { return 2 * order_bytes_; }

private:
    std::shared_ptr<TokenKey> token_;
    std::unique_ptr<Botan::HashFunction> hash_;  // null: "Raw", the caller hashed
    Bytes raw_;
    std::size_t order_bytes_;
};

class TokenEcdsaKey final : public Botan::ECDSA_PublicKey, public virtual Botan::Private_Key {
public:
    TokenEcdsaKey(const Botan::EC_Group& group, const Botan::PointGFp& point, std::shared_ptr<TokenKey> t)
        : Botan::EC_PublicKey(group, point), Botan::ECDSA_PublicKey(group, point), token_(std::move(t)) {}

    Botan::secure_vector<uint8_t> private_key_bits() const override { throw Botan::Not_Implemented(kNotExportable); }

    std::unique_ptr<Botan::PK_Ops::Signature> create_signature_op(Botan::RandomNumberGenerator&,
                                                                  const std::string& params,
                                                                  const std::string&) const override {
        const Botan::SCAN_Name req(params);
        std::unique_ptr<Botan::HashFunction> hash;
        if (req.algo_name() == "EMSA1" && req.arg_count() == 1) {
            if (req.arg(0) != "Raw") hash = Botan::HashFunction::create_or_throw(req.arg(0));
        } else if (params != "Raw") {
            throw Botan::Invalid_Argument("PKCS#11 ECDSA key: unsupported padding " + params);
        }
        return std::make_unique<EcdsaSignOp>(token_, std::move(hash), domain().get_order_bytes());
    }

private:
    std::shared_ptr<TokenKey> token_;
};

// Pure Ed25519 (RFC 8032) with CKM_EDDSA and no parameters: the token
// hashes the whole message, so it is buffered here.
class Ed25519SignOp final : public Botan::PK_Ops::Signature {
public:
    explicit Ed25519SignOp(std::shared_ptr<TokenKey> t) : token_(std::move(t)) {}
    void update(const uint8_t msg[], size_t len) override { msg_.insert(msg_.end(), msg, msg + len); }
    Botan::secure_vector<uint8_t> sign(Botan::RandomNumberGenerator&) override {
        const Bytes sig = token_->sign(CKM_EDDSA, std::exchange(msg_, {}), 64);
        if (sig.size() != 64) throw_p11("the token returned an Ed25519 signature of the wrong size");
        return Botan::secure_vector<uint8_t>(sig.begin(), sig.end());
    }
    size_t signature_length() const override { return 64; }

private:
    std::shared_ptr<TokenKey> token_;
    Bytes msg_;
};

class TokenEd25519Key final : public Botan::Ed25519_PublicKey, public virtual Botan::Private_Key {
public:
    TokenEd25519Key(const Bytes& pub, std::shared_ptr<TokenKey> t)
        : Botan::Ed25519_PublicKey(pub.data(), pub.size()), token_(std::move(t)) {}

    Botan::secure_vector<uint8_t> private_key_bits() const override { throw Botan::Not_Implemented(kNotExportable); }

    std::unique_ptr<Botan::PK_Ops::Signature> create_signature_op(Botan::RandomNumberGenerator&,
                                                                  const std::string& params,
                                                                  const std::string&) const override {
        if (params != "" && params != "Pure")
            throw Botan::Invalid_Argument("PKCS#11 Ed25519 key: only pure Ed25519 is supported, not " + params);
        return std::make_unique<Ed25519SignOp>(token_);
    }

private:
    std::shared_ptr<TokenKey> token_;
};

Result<std::unique_ptr<Botan::Private_Key>> TokenKey::make_key(std::shared_ptr<TokenKey> self, KeyAlgorithm& alg) {
    const CK_SESSION_HANDLE s = session_;
    const auto key_type = get_ulong(f(), s, key_, CKA_KEY_TYPE);
    if (!key_type) return make_error(Code::internal, "cannot read CKA_KEY_TYPE of " + describe(uri_));
    if (*key_type != CKK_EC && *key_type != CKK_EC_EDWARDS)
        return make_error(Code::key_algorithm_not_allowed,
                          "key " + describe(uri_) + " is not an EC or Ed25519 key (CKA_KEY_TYPE " +
                              std::to_string(*key_type) + ")");
    if (get_bool(f(), s, key_, CKA_SIGN) == false)
        return make_error(Code::bad_argument, "key " + describe(uri_) + " may not sign (CKA_SIGN is false)");

    // The matching public-key object: same CKA_ID, else same label.
    Bytes params, point;
    const auto id = get_attribute(f(), s, key_, CKA_ID).value_or(Bytes{});
    const auto label = get_attribute(f(), s, key_, CKA_LABEL).value_or(Bytes{});
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof cls}};
    if (!id.empty())
        tmpl.push_back({CKA_ID, const_cast<uint8_t*>(id.data()), id.size()});
    else if (!label.empty())
        tmpl.push_back({CKA_LABEL, const_cast<uint8_t*>(label.data()), label.size()});
    std::unique_ptr<Botan::Public_Key> spki_key;
    if (tmpl.size() > 1) {
        auto pubs = find_objects(f(), s, tmpl);
        if (!pubs) return pubs.error();
        if (pubs->size() == 1) {
            params = get_attribute(f(), s, pubs->front(), CKA_EC_PARAMS).value_or(Bytes{});
            point = get_attribute(f(), s, pubs->front(), CKA_EC_POINT).value_or(Bytes{});
        }
    }
    if (point.empty()) {
        // PKCS#11 2.40: the private key may carry its SubjectPublicKeyInfo.
        const auto info = get_attribute(f(), s, key_, CKA_PUBLIC_KEY_INFO);
        if (!info || info->empty())
            return make_error(Code::bad_argument, "no public key for " + describe(uri_) +
                                                      ": the token needs a public-key object with the same CKA_ID "
                                                      "(CKA_EC_POINT, CKA_EC_PARAMS)");
        try {
            Botan::DataSource_Memory src(info->data(), info->size());
            spki_key.reset(Botan::X509::load_key(src));
        } catch (const std::exception& e) {
            return make_error(Code::bad_argument,
                              "CKA_PUBLIC_KEY_INFO of " + describe(uri_) + " does not parse: " + e.what());
        }
    }

    try {
        if (*key_type == CKK_EC_EDWARDS) {
            Bytes pub;
            if (spki_key) {
                pub = spki_key->public_key_bits();
            } else {
                if (params != kEd25519Oid && params != kEdwards25519Name)
                    return make_error(Code::key_algorithm_not_allowed,
                                      "key " + describe(uri_) + " is on an Edwards curve other than Ed25519");
                for (auto& c : ec_point_candidates(point))
                    if (c.size() == 32) pub = c;
            }
            if (pub.size() != 32)
                return make_error(Code::bad_argument, "the Ed25519 public key of " + describe(uri_) + " is malformed");
            alg = KeyAlgorithm::ed25519;
            return std::unique_ptr<Botan::Private_Key>(std::make_unique<TokenEd25519Key>(pub, std::move(self)));
        }
        std::optional<Botan::EC_Group> group;
        std::optional<Botan::PointGFp> pub;
        if (spki_key) {
            const auto* ec = dynamic_cast<const Botan::EC_PublicKey*>(spki_key.get());
            if (!ec)
                return make_error(Code::bad_argument, "CKA_PUBLIC_KEY_INFO of " + describe(uri_) + " is not an EC key");
            group = ec->domain();
            pub = ec->public_point();
        } else {
            group.emplace(params);
            for (auto& c : ec_point_candidates(point)) {
                try {
                    pub = group->OS2ECP(c);
                    break;
                } catch (const std::exception&) {
                }
            }
            if (!pub)
                return make_error(Code::bad_argument,
                                  "CKA_EC_POINT of " + describe(uri_) + " is not a point on its curve");
        }
        auto key = std::make_unique<TokenEcdsaKey>(*group, *pub, std::move(self));
        const auto a = algorithm_of(*key);
        if (!a || *a == KeyAlgorithm::ed25519)
            return make_error(Code::key_algorithm_not_allowed,
                              "key " + describe(uri_) + " is on a curve other than P-256 and P-384");
        alg = *a;
        return std::unique_ptr<Botan::Private_Key>(std::move(key));
    } catch (const std::exception& e) {
        return make_error(Code::bad_argument, "the public key of " + describe(uri_) + " does not decode: " + e.what());
    }
}

}  // namespace

Result<PrivateKey> PrivateKey::from_pkcs11(const std::string& module_path, std::string_view uri_text,
                                           std::string_view pin) {
    auto uri = parse_pkcs11_uri(uri_text);
    if (!uri) return uri.error();
    const std::string path = module_path.empty() ? uri->module_path : module_path;
    if (path.empty()) return make_error(Code::bad_argument, "no PKCS#11 module given for " + p11::describe(*uri));
    auto module = p11::open_module(path);
    if (!module) return module.error();
    // What loads this key again: the same URI, with the module it came from.
    Pkcs11Uri again = *uri;
    again.module_path = path;
    auto token = std::make_shared<TokenKey>(std::move(module.value()), std::move(uri.value()), pin);
    if (auto r = token->connect(); !r) return r.error();
    auto impl = std::make_unique<Impl>();
    auto key = token->make_key(token, impl->algorithm);
    if (!key) return key.error();
    impl->key = std::move(key.value());
    impl->token = true;
    impl->pkcs11_uri = format_pkcs11_uri(again);
    return PrivateKey(std::move(impl));
}

std::string PrivateKey::pkcs11_uri() const { return impl_->token ? impl_->pkcs11_uri : std::string(); }

}  // namespace irp::crypto
