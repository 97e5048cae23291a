// Keys that live in a PKCS#11 token, on Botan 2 and the Cryptoki C API.
//
// Debian's Botan 2 is built without its PKCS#11 module (no BOTAN_HAS_PKCS11),
// so this file talks to the token itself: it dlopen()s the module named in
// the config, finds the token and the key, and presents the key to Botan as
// a Botan::Private_Key whose signature operation calls C_Sign. Everything
// that signs through PK_Signer or X509_Object::choose_sig_format (CSRs,
// certificates, CRLs, OCSP responses, TLS handshakes) works unchanged.
//
// Header: <p11-kit/pkcs11.h> (libp11-kit-dev), the standard Cryptoki 2.40
// API; nothing of p11-kit itself is linked.
//
// Lifetimes: one Module per module path, shared by the keys loaded from it;
// C_Initialize when the first key is loaded, C_Finalize when the last one is
// gone (unless someone else in the process had initialised the module). The
// library is never dlclose()d: modules such as SoftHSM do not survive being
// unloaded and loaded again, and dlopen of the same path is a no-op.
// Each key has its own session, guarded by a mutex: Cryptoki sessions must
// not be used by two threads at once, and the server signs from several.
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <botan/ber_dec.h>
#include <botan/data_src.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/exceptn.h>
#include <botan/hash.h>
#include <botan/pk_ops.h>
#include <botan/scan_name.h>
#include <botan/x509_key.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>

#include "botan_glue.hpp"

namespace irp::crypto {

namespace {

std::string rv_name(CK_RV rv) {
    switch (rv) {
        case CKR_OK: return "CKR_OK";
        case CKR_HOST_MEMORY: return "CKR_HOST_MEMORY";
        case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
        case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
        case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
        case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
        case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
        case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
        case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
        case CKR_DEVICE_MEMORY: return "CKR_DEVICE_MEMORY";
        case CKR_DEVICE_REMOVED: return "CKR_DEVICE_REMOVED";
        case CKR_FUNCTION_CANCELED: return "CKR_FUNCTION_CANCELED";
        case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
        case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
        case CKR_KEY_FUNCTION_NOT_PERMITTED: return "CKR_KEY_FUNCTION_NOT_PERMITTED";
        case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
        case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
        case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
        case CKR_OPERATION_ACTIVE: return "CKR_OPERATION_ACTIVE";
        case CKR_OPERATION_NOT_INITIALIZED: return "CKR_OPERATION_NOT_INITIALIZED";
        case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
        case CKR_PIN_INVALID: return "CKR_PIN_INVALID";
        case CKR_PIN_LEN_RANGE: return "CKR_PIN_LEN_RANGE";
        case CKR_PIN_EXPIRED: return "CKR_PIN_EXPIRED";
        case CKR_PIN_LOCKED: return "CKR_PIN_LOCKED";
        case CKR_SESSION_CLOSED: return "CKR_SESSION_CLOSED";
        case CKR_SESSION_COUNT: return "CKR_SESSION_COUNT";
        case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
        case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
        case CKR_TOKEN_NOT_RECOGNIZED: return "CKR_TOKEN_NOT_RECOGNIZED";
        case CKR_USER_ALREADY_LOGGED_IN: return "CKR_USER_ALREADY_LOGGED_IN";
        case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
        case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
        case CKR_USER_TYPE_INVALID: return "CKR_USER_TYPE_INVALID";
        case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
        case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
        case CKR_CRYPTOKI_ALREADY_INITIALIZED: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
        case CKR_FUNCTION_NOT_SUPPORTED: return "CKR_FUNCTION_NOT_SUPPORTED";
        default: break;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
    return buf;
}

// A signing error on an established key: Botan's callers (PK_Signer and
// the X.509 code) turn exceptions into our Result errors.
[[noreturn]] void throw_p11(const std::string& what) { throw std::runtime_error("PKCS#11: " + what); }

// ---- URIs ---------------------------------------------------------------------------

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
        const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) return std::nullopt;
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

std::vector<std::string_view> split_on(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    if (s.empty()) return out;
    for (std::size_t start = 0;;) {
        const std::size_t at = s.find(sep, start);
        out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
        if (at == std::string_view::npos) return out;
        start = at + 1;
    }
}

// ---- modules ---------------------------------------------------------------------------

class Module {
public:
    Module(std::string path, CK_FUNCTION_LIST_PTR f, bool owns_init)
        : path_(std::move(path)), f_(f), owns_init_(owns_init) {}
    ~Module();
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    CK_FUNCTION_LIST_PTR f() const { return f_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    CK_FUNCTION_LIST_PTR f_;
    bool owns_init_;
};

std::mutex& modules_mutex() {
    static std::mutex mu;
    return mu;
}
// Leaked on purpose: a Module may outlive static destruction at exit.
std::map<std::string, std::weak_ptr<Module>>& modules() {
    static auto* m = new std::map<std::string, std::weak_ptr<Module>>();
    return *m;
}

Module::~Module() {
    // Under the registry lock, so a concurrent open_module cannot
    // C_Initialize while this C_Finalize runs.
    std::lock_guard lock(modules_mutex());
    if (owns_init_) f_->C_Finalize(nullptr);
}

Result<std::shared_ptr<Module>> open_module(const std::string& path) {
    std::lock_guard lock(modules_mutex());
    auto& slot = modules()[path];
    if (auto m = slot.lock()) return m;
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* err = ::dlerror();
        return make_error(Code::file_error,
                          "cannot load PKCS#11 module '" + path + "': " + (err ? err : "dlopen failed"));
    }
    auto get_list = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(handle, "C_GetFunctionList"));
    if (!get_list) return make_error(Code::file_error, "'" + path + "' is not a PKCS#11 module (no C_GetFunctionList)");
    CK_FUNCTION_LIST_PTR f = nullptr;
    if (const CK_RV rv = get_list(&f); rv != CKR_OK || !f)
        return make_error(Code::internal, "PKCS#11 module '" + path + "': C_GetFunctionList: " + rv_name(rv));
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    const CK_RV rv = f->C_Initialize(&args);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED)
        return make_error(Code::internal, "PKCS#11 module '" + path + "': C_Initialize: " + rv_name(rv));
    auto m = std::make_shared<Module>(path, f, rv == CKR_OK);
    slot = m;
    return m;
}

// ---- attributes and objects -------------------------------------------------------------

std::string padded(const CK_UTF8CHAR* p, std::size_t n) {
    std::string s(reinterpret_cast<const char*>(p), n);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
}

std::optional<Bytes> get_attribute(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                   CK_ATTRIBUTE_TYPE type) {
    CK_ATTRIBUTE a{type, nullptr, 0};
    if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
        return std::nullopt;
    Bytes v(a.ulValueLen);
    a.pValue = v.data();
    if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK) return std::nullopt;
    v.resize(a.ulValueLen);
    return v;
}

std::optional<CK_ULONG> get_ulong(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                  CK_ATTRIBUTE_TYPE type) {
    CK_ULONG v = 0;
    CK_ATTRIBUTE a{type, &v, sizeof v};
    if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen != sizeof v) return std::nullopt;
    return v;
}

std::optional<bool> get_bool(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                             CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL v = CK_FALSE;
    CK_ATTRIBUTE a{type, &v, sizeof v};
    if (f->C_GetAttributeValue(s, o, &a, 1) != CKR_OK || a.ulValueLen != sizeof v) return std::nullopt;
    return v == CK_TRUE;
}

Result<std::vector<CK_OBJECT_HANDLE>> find_objects(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
                                                   std::vector<CK_ATTRIBUTE> tmpl) {
    if (const CK_RV rv = f->C_FindObjectsInit(s, tmpl.data(), tmpl.size()); rv != CKR_OK)
        return make_error(Code::internal, "C_FindObjectsInit: " + rv_name(rv));
    std::vector<CK_OBJECT_HANDLE> out;
    CK_RV rv = CKR_OK;
    for (;;) {
        CK_OBJECT_HANDLE batch[16];
        CK_ULONG n = 0;
        rv = f->C_FindObjects(s, batch, 16, &n);
        if (rv != CKR_OK || n == 0) break;
        out.insert(out.end(), batch, batch + n);
    }
    f->C_FindObjectsFinal(s);
    if (rv != CKR_OK) return make_error(Code::internal, "C_FindObjects: " + rv_name(rv));
    return out;
}

// The point inside CKA_EC_POINT: a DER OCTET STRING by the standard, the
// bare encoding from some tokens.
std::vector<Bytes> ec_point_candidates(const Bytes& v) {
    std::vector<Bytes> out;
    try {
        std::vector<uint8_t> inner;
        Botan::BER_Decoder(v).decode(inner, Botan::OCTET_STRING).verify_end();
        out.emplace_back(inner.begin(), inner.end());
    } catch (const std::exception&) {
    }
    out.push_back(v);
    return out;
}

// ---- the session behind one key -----------------------------------------------------------

bool session_lost(CK_RV rv) {
    return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_USER_NOT_LOGGED_IN ||
           rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_ERROR ||
           rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID;
}

std::string describe(const Pkcs11Uri& u) {
    std::string s = u.token.empty() ? std::string("any token") : "token '" + u.token + "'";
    if (!u.object.empty()) s = "object '" + u.object + "' on " + s;
    if (!u.id.empty()) s += " (id " + to_hex(u.id) + ")";
    return s;
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

    Result<CK_SLOT_ID> find_slot();

    std::shared_ptr<Module> module_;
    Pkcs11Uri uri_;
    Botan::secure_vector<CK_UTF8CHAR> pin_;
    std::mutex mu_;
    CK_SESSION_HANDLE session_ = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE key_ = CK_INVALID_HANDLE;
    bool always_authenticate_ = false;
};

Result<CK_SLOT_ID> TokenKey::find_slot() {
    CK_ULONG n = 0;
    if (const CK_RV rv = f()->C_GetSlotList(CK_TRUE, nullptr, &n); rv != CKR_OK)
        return make_error(Code::internal, "C_GetSlotList: " + rv_name(rv));
    std::vector<CK_SLOT_ID> slots(n);
    if (const CK_RV rv = f()->C_GetSlotList(CK_TRUE, slots.data(), &n); rv != CKR_OK)
        return make_error(Code::internal, "C_GetSlotList: " + rv_name(rv));
    slots.resize(n);
    std::vector<CK_SLOT_ID> matches;
    std::string seen;
    for (CK_SLOT_ID slot : slots) {
        CK_TOKEN_INFO info{};
        if (f()->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
        if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
        const std::string label = padded(info.label, sizeof info.label);
        const std::string serial = padded(info.serialNumber, sizeof info.serialNumber);
        seen += (seen.empty() ? "'" : ", '") + label + "'";
        if (!uri_.token.empty() && label != uri_.token) continue;
        if (!uri_.serial.empty() && serial != uri_.serial) continue;
        matches.push_back(slot);
    }
    if (matches.empty())
        return make_error(Code::bad_argument, "no token labelled '" + uri_.token + "'" +
                                                  (uri_.serial.empty() ? "" : " with serial '" + uri_.serial + "'") +
                                                  " in PKCS#11 module '" + module_->path() + "' (tokens: " +
                                                  (seen.empty() ? "none" : seen) + ")");
    if (matches.size() > 1)
        return make_error(Code::bad_argument, "several tokens match '" + uri_.token + "': add serial= to the URI");
    return matches.front();
}

Result<void> TokenKey::connect() {
    close();
    auto slot = find_slot();
    if (!slot) return slot.error();
    CK_TOKEN_INFO info{};
    if (const CK_RV rv = f()->C_GetTokenInfo(*slot, &info); rv != CKR_OK)
        return make_error(Code::internal, "C_GetTokenInfo: " + rv_name(rv));
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    if (const CK_RV rv = f()->C_OpenSession(*slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s); rv != CKR_OK)
        return make_error(Code::internal, "C_OpenSession on token '" + uri_.token + "': " + rv_name(rv));
    session_ = s;

    const bool protected_path = info.flags & CKF_PROTECTED_AUTHENTICATION_PATH;
    if (!pin_.empty() || protected_path) {
        const CK_RV rv = f()->C_Login(s, CKU_USER, pin_.empty() ? nullptr : pin_.data(), pin_.size());
        // Already logged in: another key of this process holds a session
        // on the same token (Cryptoki's login state is per application).
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            close();
            if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID)
                return make_error(Code::bad_argument, "wrong PIN for token '" + uri_.token + "' (" + rv_name(rv) + ")");
            if (rv == CKR_PIN_LOCKED)
                return make_error(Code::bad_argument, "the user PIN of token '" + uri_.token + "' is locked");
            return make_error(Code::bad_argument, "cannot log in to token '" + uri_.token + "': " + rv_name(rv));
        }
    } else if (info.flags & CKF_LOGIN_REQUIRED) {
        close();
        return make_error(Code::bad_argument, "token '" + uri_.token + "' needs a PIN and none was given");
    }

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
        return make_error(Code::bad_argument, "no private key " + describe(uri_) + " (wrong object label or id?)");
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

const Bytes kEd25519Oid = {0x06, 0x03, 0x2b, 0x65, 0x70};                                     // 1.3.101.112
const Bytes kEdwards25519Name = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};

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

Result<Pkcs11Uri> parse_pkcs11_uri(std::string_view uri) {
    const auto bad = [&](const std::string& why) {
        return make_error(Code::bad_argument, "PKCS#11 URI: " + why);
    };
    if (!is_pkcs11_uri(uri)) return bad("must start with 'pkcs11:'");
    std::string_view rest = uri.substr(7);
    std::string_view path = rest, query;
    if (const auto q = rest.find('?'); q != std::string_view::npos) {
        path = rest.substr(0, q);
        query = rest.substr(q + 1);
    }
    Pkcs11Uri out;
    std::vector<std::string> seen;
    const auto attribute = [&](std::string_view part, bool in_query) -> Result<void> {
        const auto eq = part.find('=');
        if (eq == std::string_view::npos || eq == 0) return bad("'" + std::string(part) + "' is not name=value");
        const std::string name(part.substr(0, eq));
        if (std::find(seen.begin(), seen.end(), name) != seen.end()) return bad("'" + name + "' is given twice");
        seen.push_back(name);
        auto value = percent_decode(part.substr(eq + 1));
        if (!value) return bad("bad percent-encoding in '" + name + "'");
        if (!in_query) {
            if (name == "token") out.token = *value;
            else if (name == "serial") out.serial = *value;
            else if (name == "object") out.object = *value;
            else if (name == "id") out.id.assign(value->begin(), value->end());
            else if (name == "type") {
                if (*value != "private")
                    return bad("type must be 'private' (the key that signs), not '" + *value + "'");
            } else {
                return bad("unsupported path attribute '" + name + "' (token, serial, object, id, type)");
            }
            return {};
        }
        if (name == "pin-source") {
            std::string p = *value;
            if (p.starts_with("file://")) p = p.substr(7);
            else if (p.starts_with("file:")) p = p.substr(5);
            if (!p.starts_with("/")) return bad("pin-source must be file:/absolute/path");
            out.pin_source = p;
        } else if (name == "module-path") {
            if (!value->starts_with("/")) return bad("module-path must be an absolute path");
            out.module_path = *value;
        } else if (name == "pin-value") {
            return bad("pin-value is not accepted: keep the PIN in a file (pin-source) or in IRP_PKCS11_PIN");
        } else {
            return bad("unsupported query attribute '" + name + "' (pin-source, module-path)");
        }
        return {};
    };
    for (auto part : split_on(path, ';'))
        if (auto r = attribute(part, false); !r) return r.error();
    for (auto part : split_on(query, '&'))
        if (auto r = attribute(part, true); !r) return r.error();
    if (out.object.empty() && out.id.empty()) return bad("name the key with object= (its label) or id=");
    return out;
}

Result<PrivateKey> PrivateKey::from_pkcs11(const std::string& module_path, std::string_view uri_text,
                                           std::string_view pin) {
    auto uri = parse_pkcs11_uri(uri_text);
    if (!uri) return uri.error();
    const std::string path = module_path.empty() ? uri->module_path : module_path;
    if (path.empty()) return make_error(Code::bad_argument, "no PKCS#11 module given for " + describe(*uri));
    auto module = open_module(path);
    if (!module) return module.error();
    auto token = std::make_shared<TokenKey>(std::move(module.value()), std::move(uri.value()), pin);
    if (auto r = token->connect(); !r) return r.error();
    auto impl = std::make_unique<Impl>();
    auto key = token->make_key(token, impl->algorithm);
    if (!key) return key.error();
    impl->key = std::move(key.value());
    impl->token = true;
    return PrivateKey(std::move(impl));
}

}  // namespace irp::crypto
