// Test support: a SoftHSM2 token for the PKCS#11 tests (crypto and server).
//
// One token per test binary, in a private directory named by SOFTHSM2_CONF:
// label "irp", user PIN 1234, SO PIN 5678, made with softhsm2-util. Keys
// are generated on it through the Cryptoki C API, the private half
// CKA_SENSITIVE and not CKA_EXTRACTABLE, as a production CA key would be.
//
// This helper shares the module with the library under test (dlopen of the
// same path is the same module): it initialises Cryptoki only when nobody
// has, and then finalises it again, so never call it while a key it did
// not see being loaded is about to be loaded, i.e. use it between loads.
//
// When SoftHSM2 is not installed the tests skip with a message, unless
// IRP_REQUIRE_SOFTHSM=1 (scripts/test.sh sets it): then they fail.
#pragma once

#include <doctest/doctest.h>

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"

// SoftHSM 2.6.1 leaks a few OpenSSL objects per EdDSA C_SignInit. Nothing
// of ours calls OpenSSL (Botan does our crypto), so LeakSanitizer may
// ignore what libcrypto allocates in the binaries that use this helper; the
// stack goes through libsofthsm2 only when unwound slowly, so both are named.
#if defined(__SANITIZE_ADDRESS__)
extern "C" __attribute__((weak, used)) const char* __lsan_default_suppressions() {
    return "leak:libsofthsm2.so\nleak:libcrypto.so\n";
}
#endif

namespace irp_softhsm {

inline constexpr const char* kToken = "irp";
inline constexpr const char* kPin = "1234";
inline constexpr const char* kSoPin = "5678";

enum class Curve { p256, p384, ed25519 };

struct KeyAttributes {
    bool found = false;
    bool extractable = true;
    bool sensitive = false;
    bool never_extractable = false;
    CK_RV value_rv = CKR_OK;  // what reading the private value (CKA_VALUE) gives
};

inline std::string find_module() {
    if (const char* e = std::getenv("IRP_SOFTHSM_MODULE"); e && *e) return std::filesystem::exists(e) ? e : "";
    for (const char* p : {"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
                          "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib64/pkcs11/libsofthsm2.so"})
        if (std::filesystem::exists(p)) return p;
    return "";
}

inline int run_quiet(const std::string& command) {
    const int st = std::system((command + " >/dev/null 2>&1").c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

class SoftHsm {
public:
    // The token for this process, made on first use; nullptr (after a
    // MESSAGE, or a FAIL under IRP_REQUIRE_SOFTHSM=1) without SoftHSM2.
    static SoftHsm* get() {
        static std::unique_ptr<SoftHsm> instance = make();
        if (!instance) {
            const char* req = std::getenv("IRP_REQUIRE_SOFTHSM");
            if (req && std::string(req) == "1")
                FAIL("SoftHSM2 is required (IRP_REQUIRE_SOFTHSM=1) but softhsm2-util or libsofthsm2.so is missing "
                     "(Debian: apt-get install softhsm2)");
            MESSAGE("skipped: SoftHSM2 is not installed (Debian: apt-get install softhsm2)");
        }
        return instance.get();
    }

    ~SoftHsm() {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    const std::string& module() const { return module_; }
    const std::string& dir() const { return dir_; }

    // A key pair labelled `label` with CKA_ID `id` on both halves.
    void generate(const std::string& label, const irp::Bytes& id, Curve curve) {
        Session s(*this);
        static const irp::Bytes p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
        static const irp::Bytes p384 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
        static const irp::Bytes ed25519 = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
        const irp::Bytes& params = curve == Curve::p256 ? p256 : curve == Curve::p384 ? p384 : ed25519;
        CK_MECHANISM mech{curve == Curve::ed25519 ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, nullptr, 0};
        CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
        std::string lbl = label;
        irp::Bytes key_id = id, ec_params = params;
        std::vector<CK_ATTRIBUTE> pub = {
            {CKA_TOKEN, &yes, sizeof yes},         {CKA_VERIFY, &yes, sizeof yes},
            {CKA_EC_PARAMS, ec_params.data(), ec_params.size()},
            {CKA_LABEL, lbl.data(), lbl.size()},   {CKA_ID, key_id.data(), key_id.size()},
        };
        std::vector<CK_ATTRIBUTE> priv = {
            {CKA_TOKEN, &yes, sizeof yes},       {CKA_PRIVATE, &yes, sizeof yes},
            {CKA_SIGN, &yes, sizeof yes},        {CKA_SENSITIVE, &yes, sizeof yes},
            {CKA_EXTRACTABLE, &no, sizeof no},   {CKA_LABEL, lbl.data(), lbl.size()},
            {CKA_ID, key_id.data(), key_id.size()},
        };
        CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
        const CK_RV rv = s.f->C_GenerateKeyPair(s.h, &mech, pub.data(), pub.size(), priv.data(), priv.size(), &hpub,
                                                &hpriv);
        REQUIRE_MESSAGE(rv == CKR_OK, "C_GenerateKeyPair(" << label << ") failed: 0x" << std::hex << rv);
    }

    // What the token says about the private key labelled `label`.
    KeyAttributes private_attributes(const std::string& label) {
        Session s(*this);
        KeyAttributes a;
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        std::string lbl = label;
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, lbl.data(), lbl.size()}};
        REQUIRE(s.f->C_FindObjectsInit(s.h, tmpl, 2) == CKR_OK);
        CK_OBJECT_HANDLE o = 0;
        CK_ULONG n = 0;
        REQUIRE(s.f->C_FindObjects(s.h, &o, 1, &n) == CKR_OK);
        s.f->C_FindObjectsFinal(s.h);
        if (n != 1) return a;
        a.found = true;
        CK_BBOOL ext = CK_TRUE, sens = CK_FALSE, never = CK_FALSE;
        CK_ATTRIBUTE flags[] = {{CKA_EXTRACTABLE, &ext, sizeof ext},
                                {CKA_SENSITIVE, &sens, sizeof sens},
                                {CKA_NEVER_EXTRACTABLE, &never, sizeof never}};
        REQUIRE(s.f->C_GetAttributeValue(s.h, o, flags, 3) == CKR_OK);
        a.extractable = ext == CK_TRUE;
        a.sensitive = sens == CK_TRUE;
        a.never_extractable = never == CK_TRUE;
        unsigned char value[128];
        CK_ATTRIBUTE v{CKA_VALUE, value, sizeof value};
        a.value_rv = s.f->C_GetAttributeValue(s.h, o, &v, 1);
        return a;
    }

    // How many objects (keys of either half, any class) are labelled
    // `label`; with an empty label, how many objects the token holds.
    int object_count(const std::string& label = "") {
        Session s(*this);
        std::string lbl = label;
        CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, lbl.data(), lbl.size()}};
        REQUIRE(s.f->C_FindObjectsInit(s.h, tmpl, label.empty() ? 0 : 1) == CKR_OK);
        int count = 0;
        for (;;) {
            CK_OBJECT_HANDLE o[16];
            CK_ULONG n = 0;
            REQUIRE(s.f->C_FindObjects(s.h, o, 16, &n) == CKR_OK);
            if (n == 0) break;
            count += static_cast<int>(n);
        }
        s.f->C_FindObjectsFinal(s.h);
        return count;
    }

    // Closes every session on the token, the library's included: what a
    // token restart or a re-inserted smart card does to a running server.
    void close_all_sessions() {
        Session s(*this);
        REQUIRE(s.f->C_CloseAllSessions(s.slot) == CKR_OK);
        s.h = CK_INVALID_HANDLE;
    }

private:
    SoftHsm() = default;

    static std::unique_ptr<SoftHsm> make() {
        const std::string module = find_module();
        if (module.empty() || run_quiet("command -v softhsm2-util") != 0) return nullptr;
        std::unique_ptr<SoftHsm> h(new SoftHsm());
        h->module_ = module;
        std::string tmpl = (std::filesystem::temp_directory_path() / "irp-softhsm-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        h->dir_ = tmpl;
        std::filesystem::create_directory(h->dir_ + "/tokens");
        {
            std::ofstream conf(h->dir_ + "/softhsm2.conf");
            conf << "directories.tokendir = " << h->dir_ << "/tokens\nobjectstore.backend = file\nlog.level = ERROR\n";
        }
        ::setenv("SOFTHSM2_CONF", (h->dir_ + "/softhsm2.conf").c_str(), 1);
        const int rc = run_quiet(std::string("softhsm2-util --init-token --free --label ") + kToken + " --pin " + kPin +
                                 " --so-pin " + kSoPin);
        REQUIRE_MESSAGE(rc == 0, "softhsm2-util --init-token failed");
        return h;
    }

    // A logged-in session of our own.
    struct Session {
        void* lib = nullptr;
        CK_FUNCTION_LIST_PTR f = nullptr;
        bool owns_init = false;
        CK_SLOT_ID slot = 0;
        CK_SESSION_HANDLE h = CK_INVALID_HANDLE;

        explicit Session(const SoftHsm& hsm) {
            lib = ::dlopen(hsm.module_.c_str(), RTLD_NOW | RTLD_LOCAL);
            REQUIRE(lib != nullptr);
            auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(lib, "C_GetFunctionList"));
            REQUIRE(static_cast<bool>(get));
            REQUIRE(get(&f) == CKR_OK);
            CK_C_INITIALIZE_ARGS args{};
            args.flags = CKF_OS_LOCKING_OK;
            const CK_RV rv = f->C_Initialize(&args);
            REQUIRE((rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED));
            owns_init = rv == CKR_OK;
            CK_SLOT_ID slots[8];
            CK_ULONG n = 8;
            REQUIRE(f->C_GetSlotList(CK_TRUE, slots, &n) == CKR_OK);
            bool found = false;
            for (CK_ULONG i = 0; i < n && !found; ++i) {
                CK_TOKEN_INFO info{};
                if (f->C_GetTokenInfo(slots[i], &info) != CKR_OK) continue;
                std::string label(reinterpret_cast<const char*>(info.label), sizeof info.label);
                while (!label.empty() && label.back() == ' ') label.pop_back();
                if (label == kToken) {
                    slot = slots[i];
                    found = true;
                }
            }
            REQUIRE(found);
            REQUIRE(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h) == CKR_OK);
            const CK_RV login = f->C_Login(h, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(kPin)), 4);
            REQUIRE((login == CKR_OK || login == CKR_USER_ALREADY_LOGGED_IN));
        }
        ~Session() {
            if (h != CK_INVALID_HANDLE) f->C_CloseSession(h);
            if (owns_init) f->C_Finalize(nullptr);
            // No dlclose: like the library, never unload a module.
        }
        Session(const Session&) = delete;
        Session& operator=(const Session&) = delete;
    };

    std::string module_;
    std::string dir_;
};

}  // namespace irp_softhsm
