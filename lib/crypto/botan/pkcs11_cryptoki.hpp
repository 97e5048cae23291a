// Internal to lib/crypto/botan: the Cryptoki plumbing shared by the PKCS#11
// files. pkcs11_cryptoki.cpp: modules, slots, sessions and login,
// attributes, PKCS#11 URIs. pkcs11.cpp: a token key presented to Botan
// (from_pkcs11). pkcs11_objects.cpp: key pairs made and destroyed in a
// token (generate_in_token, destroy_pkcs11_key).
//
// Header: <p11-kit/pkcs11.h> (libp11-kit-dev), the standard Cryptoki 2.40
// API; nothing of p11-kit itself is linked.
#pragma once

#include <p11-kit/pkcs11.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::crypto::p11 {

std::string rv_name(CK_RV rv);

// A signing error on an established key: Botan's callers (PK_Signer and
// the X.509 code) turn exceptions into our Result errors.
[[noreturn]] void throw_p11(const std::string& what);

// Lifetimes: one Module per module path, shared by everything opened from
// it; C_Initialize when the first user opens it, C_Finalize when the last
// one is gone (unless someone else in the process had initialised the
// module). The library is never dlclose()d: modules such as SoftHSM do not
// survive being unloaded and loaded again, and dlopen of the same path is a
// no-op.
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
    CK_FUNCTION_LIST_PTR f_ = nullptr;
    bool owns_init_ = false;  // C_Finalize on destruction; guarded by the registry lock
};

// Errors: file_error (cannot load), internal (C_Initialize failed).
Result<std::shared_ptr<Module>> open_module(const std::string& path);

// ---- slots, sessions, login ----------------------------------------------------

// "object 'x' on token 'y' (id 0102)", for messages.
std::string describe(const Pkcs11Uri& u);

// The one initialised token whose label and serial match `uri` (either may
// be empty: any). bad_argument when none or several match.
Result<CK_SLOT_ID> find_slot(const Module& m, const Pkcs11Uri& uri);

// Opens a session on `slot` (read-write when `rw`) and logs the user in
// with `pin`; with an empty PIN only a token with a protected
// authentication path is logged in, and a token with CKF_LOGIN_REQUIRED is
// refused. Errors: bad_argument (PIN), internal.
Result<CK_SESSION_HANDLE> open_session(const Module& m, CK_SLOT_ID slot, const Pkcs11Uri& uri, ByteView pin, bool rw);

// A session of its own, closed at the end of the scope: for the short
// administrative operations (generate, destroy).
class ScopedSession {
public:
    ScopedSession(std::shared_ptr<Module> m, CK_SESSION_HANDLE h) : m_(std::move(m)), h_(h) {}
    ~ScopedSession() {
        if (h_ != CK_INVALID_HANDLE) m_->f()->C_CloseSession(h_);
    }
    ScopedSession(const ScopedSession&) = delete;
    ScopedSession& operator=(const ScopedSession&) = delete;

    CK_FUNCTION_LIST_PTR f() const { return m_->f(); }
    CK_SESSION_HANDLE h() const { return h_; }
    const Module& module() const { return *m_; }

private:
    std::shared_ptr<Module> m_;
    CK_SESSION_HANDLE h_ = CK_INVALID_HANDLE;
};

// Module (`module_path`, else the URI's module-path), token and logged-in
// session for `uri`, in one step.
Result<std::unique_ptr<ScopedSession>> open_scoped(const std::string& module_path, const Pkcs11Uri& uri,
                                                   std::string_view pin, bool rw);

// ---- attributes and objects -----------------------------------------------------

std::optional<Bytes> get_attribute(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                   CK_ATTRIBUTE_TYPE type);
std::optional<CK_ULONG> get_ulong(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
                                  CK_ATTRIBUTE_TYPE type);
std::optional<bool> get_bool(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type);
Result<std::vector<CK_OBJECT_HANDLE>> find_objects(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s,
                                                   std::vector<CK_ATTRIBUTE> tmpl);

// The point inside CKA_EC_POINT: a DER OCTET STRING by the standard, the
// bare encoding from some tokens.
std::vector<Bytes> ec_point_candidates(const Bytes& v);

// CKA_EC_PARAMS for Ed25519: the OID (PKCS#11 3.0) and the curve name as a
// PrintableString (what SoftHSM 2.6 writes and expects).
extern const Bytes kEd25519Oid;
extern const Bytes kEdwards25519Name;

}  // namespace irp::crypto::p11
