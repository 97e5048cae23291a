// The Cryptoki plumbing shared by the PKCS#11 files (pkcs11_cryptoki.hpp):
// loading modules, finding tokens, sessions and login, attributes, and the
// PKCS#11 URIs of crypto.hpp.
//
// Debian's Botan 2 is built without its PKCS#11 module (no BOTAN_HAS_PKCS11),
// so lib/crypto talks to the token itself: it dlopen()s the module named in
// the config and calls the Cryptoki C API.
#include "pkcs11_cryptoki.hpp"

#include <dlfcn.h>

#include <botan/ber_dec.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <stdexcept>

namespace irp::crypto {

namespace p11 {

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
        case CKR_ACTION_PROHIBITED: return "CKR_ACTION_PROHIBITED";
        case CKR_ATTRIBUTE_READ_ONLY: return "CKR_ATTRIBUTE_READ_ONLY";
        case CKR_ATTRIBUTE_VALUE_INVALID: return "CKR_ATTRIBUTE_VALUE_INVALID";
        case CKR_TEMPLATE_INCOMPLETE: return "CKR_TEMPLATE_INCOMPLETE";
        case CKR_TEMPLATE_INCONSISTENT: return "CKR_TEMPLATE_INCONSISTENT";
        case CKR_TOKEN_WRITE_PROTECTED: return "CKR_TOKEN_WRITE_PROTECTED";
        case CKR_SESSION_READ_ONLY: return "CKR_SESSION_READ_ONLY";
        case CKR_DOMAIN_PARAMS_INVALID: return "CKR_DOMAIN_PARAMS_INVALID";
        case CKR_CURVE_NOT_SUPPORTED: return "CKR_CURVE_NOT_SUPPORTED";
        default: break;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
    return buf;
}

[[noreturn]] void throw_p11(const std::string& what) { throw std::runtime_error("PKCS#11: " + what); }

const Bytes kEd25519Oid = {0x06, 0x03, 0x2b, 0x65, 0x70};  // 1.3.101.112
const Bytes kEdwards25519Name = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};

namespace {

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

std::mutex& modules_mutex() {
    static std::mutex mu;
    return mu;
}
// Leaked on purpose: a Module may outlive static destruction at exit.
std::map<std::string, std::weak_ptr<Module>>& modules() {
    static auto* m = new std::map<std::string, std::weak_ptr<Module>>();
    return *m;
}

std::string padded(const CK_UTF8CHAR* p, std::size_t n) {
    std::string s(reinterpret_cast<const char*>(p), n);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
}

}  // namespace

// ---- modules ---------------------------------------------------------------------------

Module::~Module() {
    // Under the registry lock, so a concurrent open_module cannot
    // C_Initialize while this C_Finalize runs. The last reference may drop
    // while another thread, already holding the lock, found this Module
    // expired and opened a successor: its C_Initialize saw "already
    // initialized", so it does not own the initialisation. Finalizing here
    // would pull the module out from under it; hand the ownership over.
    // `successor` is declared before the lock so that, should it hold the
    // last reference, its own destructor runs after the lock is released.
    std::shared_ptr<Module> successor;
    std::lock_guard lock(modules_mutex());
    if (!owns_init_) return;
    successor = modules()[path_].lock();
    if (successor && successor.get() != this) {
        successor->owns_init_ = true;
        return;
    }
    f_->C_Finalize(nullptr);
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


std::string describe(const Pkcs11Uri& u) {
    std::string s = u.token.empty() ? std::string("any token") : "token '" + u.token + "'";
    if (!u.object.empty()) s = "object '" + u.object + "' on " + s;
    if (!u.id.empty()) s += " (id " + to_hex(u.id) + ")";
    return s;
}

// ---- slots, sessions, login ---------------------------------------------------------------

Result<CK_SLOT_ID> find_slot(const Module& m, const Pkcs11Uri& uri) {
    CK_FUNCTION_LIST_PTR f = m.f();
    CK_ULONG n = 0;
    if (const CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &n); rv != CKR_OK)
        return make_error(Code::internal, "C_GetSlotList: " + rv_name(rv));
    std::vector<CK_SLOT_ID> slots(n);
    if (const CK_RV rv = f->C_GetSlotList(CK_TRUE, slots.data(), &n); rv != CKR_OK)
        return make_error(Code::internal, "C_GetSlotList: " + rv_name(rv));
    slots.resize(n);
    std::vector<CK_SLOT_ID> matches;
    std::string seen;
    for (CK_SLOT_ID slot : slots) {
        CK_TOKEN_INFO info{};
        if (f->C_GetTokenInfo(slot, &info) != CKR_OK) continue;
        if (!(info.flags & CKF_TOKEN_INITIALIZED)) continue;
        const std::string label = padded(info.label, sizeof info.label);
        const std::string serial = padded(info.serialNumber, sizeof info.serialNumber);
        seen += (seen.empty() ? "'" : ", '") + label + "'";
        if (!uri.token.empty() && label != uri.token) continue;
        if (!uri.serial.empty() && serial != uri.serial) continue;
        matches.push_back(slot);
    }
    if (matches.empty())
        return make_error(Code::bad_argument, "no token labelled '" + uri.token + "'" +
                                                  (uri.serial.empty() ? "" : " with serial '" + uri.serial + "'") +
                                                  " in PKCS#11 module '" + m.path() + "' (tokens: " +
                                                  (seen.empty() ? "none" : seen) + ")");
    if (matches.size() > 1)
        return make_error(Code::bad_argument, "several tokens match '" + uri.token + "': add serial= to the URI");
    return matches.front();
}

Result<CK_SESSION_HANDLE> open_session(const Module& m, CK_SLOT_ID slot, const Pkcs11Uri& uri, ByteView pin, bool rw) {
    CK_FUNCTION_LIST_PTR f = m.f();
    CK_TOKEN_INFO info{};
    if (const CK_RV rv = f->C_GetTokenInfo(slot, &info); rv != CKR_OK)
        return make_error(Code::internal, "C_GetTokenInfo: " + rv_name(rv));
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    const CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    if (const CK_RV rv = f->C_OpenSession(slot, flags, nullptr, nullptr, &s); rv != CKR_OK)
        return make_error(Code::internal, "C_OpenSession on token '" + uri.token + "': " + rv_name(rv));

    const bool protected_path = info.flags & CKF_PROTECTED_AUTHENTICATION_PATH;
    if (!pin.empty() || protected_path) {
        auto* p = pin.empty() ? nullptr : const_cast<CK_UTF8CHAR*>(pin.data());
        const CK_RV rv = f->C_Login(s, CKU_USER, p, pin.size());
        // Already logged in: another key of this process holds a session
        // on the same token (Cryptoki's login state is per application).
        if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
            f->C_CloseSession(s);
            if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_INVALID)
                return make_error(Code::bad_argument, "wrong PIN for token '" + uri.token + "' (" + rv_name(rv) + ")");
            if (rv == CKR_PIN_LOCKED)
                return make_error(Code::bad_argument, "the user PIN of token '" + uri.token + "' is locked");
            return make_error(Code::bad_argument, "cannot log in to token '" + uri.token + "': " + rv_name(rv));
        }
    } else if (info.flags & CKF_LOGIN_REQUIRED) {
        f->C_CloseSession(s);
        return make_error(Code::bad_argument, "token '" + uri.token + "' needs a PIN and none was given");
    }
    return s;
}

Result<std::unique_ptr<ScopedSession>> open_scoped(const std::string& module_path, const Pkcs11Uri& uri,
                                                   std::string_view pin, bool rw) {
    const std::string path = module_path.empty() ? uri.module_path : module_path;
    if (path.empty()) return make_error(Code::bad_argument, "no PKCS#11 module given for " + describe(uri));
    auto module = open_module(path);
    if (!module) return module.error();
    auto slot = find_slot(**module, uri);
    if (!slot) return slot.error();
    auto s = open_session(**module, *slot, uri, as_bytes(pin), rw);
    if (!s) return s.error();
    return std::make_unique<ScopedSession>(std::move(module.value()), *s);
}

}  // namespace p11

// ---- URIs ---------------------------------------------------------------------------

namespace {

Result<Pkcs11Uri> parse_uri(std::string_view uri, bool names_key) {
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
        auto value = p11::percent_decode(part.substr(eq + 1));
        if (!value) return bad("bad percent-encoding in '" + name + "'");
        if (!in_query) {
            if (!names_key && (name == "object" || name == "id" || name == "type"))
                return bad("'" + name + "' names a key: give only the token (token, serial)");
            if (name == "token") out.token = *value;
            else if (name == "serial") out.serial = *value;
            else if (name == "object") out.object = *value;
            else if (name == "id") out.id.assign(value->begin(), value->end());
            else if (name == "type") {
                if (*value != "private")
                    return bad("type must be 'private' (the key that signs), not '" + *value + "'");
            } else {
                return bad(names_key ? "unsupported path attribute '" + name + "' (token, serial, object, id, type)"
                                     : "unsupported path attribute '" + name + "' (token, serial)");
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
    for (auto part : p11::split_on(path, ';'))
        if (auto r = attribute(part, false); !r) return r.error();
    for (auto part : p11::split_on(query, '&'))
        if (auto r = attribute(part, true); !r) return r.error();
    if (names_key && out.object.empty() && out.id.empty()) return bad("name the key with object= (its label) or id=");
    return out;
}

// RFC 7512 pchar minus the separators we split on; everything else is
// percent-encoded (every byte of an id, so it reads as hex).
std::string percent_encode(std::string_view s, bool all) {
    static const char* hex = "0123456789abcdef";
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        const bool plain = !all && (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' ||
                                    c == '[' || c == ']' || c == '@' || c == '!' || c == '$' || c == '\'' ||
                                    c == '(' || c == ')' || c == '*' || c == '+' || c == ',' || c == '/');
        if (plain) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

}  // namespace

Result<Pkcs11Uri> parse_pkcs11_uri(std::string_view uri) { return parse_uri(uri, true); }
Result<Pkcs11Uri> parse_pkcs11_token_uri(std::string_view uri) { return parse_uri(uri, false); }

std::string format_pkcs11_uri(const Pkcs11Uri& u) {
    std::vector<std::string> path, query;
    if (!u.token.empty()) path.push_back("token=" + percent_encode(u.token, false));
    if (!u.serial.empty()) path.push_back("serial=" + percent_encode(u.serial, false));
    if (!u.object.empty()) path.push_back("object=" + percent_encode(u.object, false));
    if (!u.id.empty())
        path.push_back("id=" + percent_encode({reinterpret_cast<const char*>(u.id.data()), u.id.size()}, true));
    if (!u.object.empty() || !u.id.empty()) path.push_back("type=private");
    if (!u.module_path.empty()) query.push_back("module-path=" + percent_encode(u.module_path, false));
    if (!u.pin_source.empty()) query.push_back("pin-source=file:" + percent_encode(u.pin_source, false));
    std::string out = "pkcs11:";
    for (std::size_t i = 0; i < path.size(); ++i) out += (i ? ";" : "") + path[i];
    for (std::size_t i = 0; i < query.size(); ++i) out += (i ? "&" : "?") + query[i];
    return out;
}

}  // namespace irp::crypto
