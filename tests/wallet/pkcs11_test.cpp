// Device keys that never leave a PKCS#11 token: key pairs generated in the
// token and destroyed again (crypto::PrivateKey::generate_in_token,
// destroy_pkcs11_key), and the wallet's directory store keeping its keys
// there (wallet::use_token_keys): enroll and renew against the real server
// side in memory, the old key destroyed after a renewal, refused keys and
// wiped ones destroyed, no PEM private key in the store. Against SoftHSM2
// (tests/crypto/softhsm.hpp): skipped without it, failed under
// IRP_REQUIRE_SOFTHSM=1.
#include <doctest/doctest.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "../crypto/softhsm.hpp"
#include "../server/test_domain.hpp"
#include "enroll_service.hpp"
#include "idwallet.hpp"
#include "irp/core/frame.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"
#include "in_memory_server.hpp"
#include "irp_wallet_posix.h"
#include "support/temp_dir.hpp"

using namespace irp;
using irp_softhsm::SoftHsm;
using irp_test::InMemoryTransport;
using irp_test::kDay;
using irp_test::kNow;
using irp_test::TempDir;
using irp_test::TestDomain;

namespace {

const std::string kTokenUri = std::string("pkcs11:token=") + irp_softhsm::kToken;

std::string message_of(const Error& e) { return std::string(code_name(e.code)) + ": " + e.message; }

template <typename T>
T ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : message_of(r.error())));
    return std::move(r.value());
}
void ok(Result<void> r) { REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : message_of(r.error()))); }

crypto::PrivateKey generate(SoftHsm& hsm, const std::string& label, std::uint8_t id, KeyAlgorithm alg) {
    const Bytes key_id = {0x77, id};
    return ok(crypto::PrivateKey::generate_in_token(hsm.module(), kTokenUri, label, key_id, alg, irp_softhsm::kPin));
}

// True when some line of some file under `dir` is `line` (the PIN is too
// short to look for as a substring: a hex id may hold it).
bool has_line(const std::string& dir, const std::string& line) {
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        const std::string text = irp_test::read_text(e.path().string());
        std::size_t start = 0;
        for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
            if (text.compare(start, nl - start, line) == 0 && nl - start == line.size()) return true;
        if (text.substr(start) == line) return true;
    }
    return false;
}

// Every file under `dir`, concatenated: what a thief copying the store gets.
std::string everything_in(const std::string& dir) {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
        if (e.is_regular_file()) all += irp_test::read_text(e.path().string());
    return all;
}

// A domain, and a wallet directory whose keys live in the SoftHSM token.
struct TokenWallet : irp_test::InMemoryServer {
    SoftHsm& hsm;
    std::unique_ptr<crypto::Random> wallet_rng = crypto::system_random();
    TempDir tmp;
    std::string dir = tmp / "wallet";
    std::string pin_file = tmp / "pin";
    std::unique_ptr<wallet::Storage> storage = wallet::open_directory_storage(dir);
    wallet::Clock clock{[] { return Time{0}; }, [this] { return now; }};

    explicit TokenWallet(SoftHsm& h) : InMemoryServer("example.test", 3, 41), hsm(h) {
        irp_test::write_file(pin_file, std::string(irp_softhsm::kPin) + "\n");
        std::filesystem::permissions(pin_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        ok(wallet::use_token_keys(dir, {hsm.module(), kTokenUri, pin_file}));
    }

    wallet::Outcome enroll(const wallet::EnrollOptions& o) {
        InMemoryTransport t(svc, d.material(), *server_rng);
        return ok(wallet::enroll(t, *storage, o, *wallet_rng, clock));
    }
    Result<wallet::Outcome> try_renew(bool skewed = false) {
        InMemoryTransport t(svc, d.material(), *server_rng, {}, skewed);
        wallet::RenewOptions ro;
        ro.trusted_roots = {d.material().root_der};
        return wallet::renew(t, *storage, ro, *wallet_rng, clock);
    }
    wallet::Outcome renew() { return ok(try_renew()); }

    // What a fresh process finds in the store.
    wallet::Credentials installed() {
        auto c = ok(wallet::open_directory_storage(dir)->load());
        REQUIRE(c.has_value());
        return std::move(*c);
    }
};

std::string label_of(const crypto::PrivateKey& k) {
    auto u = ok(crypto::parse_pkcs11_uri(k.pkcs11_uri()));
    return u.object;
}

}  // namespace

TEST_CASE("pkcs11: a key pair generated in the token signs, never leaves it, and is destroyed") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    auto rng = crypto::system_random();
    const std::vector<std::pair<KeyAlgorithm, std::string>> algs = {
        {KeyAlgorithm::ecdsa_p256, "gen-p256"},
        {KeyAlgorithm::ecdsa_p384, "gen-p384"},
        {KeyAlgorithm::ed25519, "gen-ed"},  // CKM_EC_EDWARDS_KEY_PAIR_GEN: SoftHSM 2.6 has it
    };
    std::uint8_t id = 1;
    for (const auto& [alg, label] : algs) {
        CAPTURE(label);
        std::string uri;
        Bytes pub;
        {
            auto key = generate(*hsm, label, id++, alg);
            CHECK(key.in_token());
            CHECK(key.algorithm() == alg);
            CHECK(crypto::spki_algorithm(key.public_key_der()) == alg);
            uri = key.pkcs11_uri();
            CHECK(uri.starts_with(kTokenUri + ";object=" + label + ";id=%77%"));
            CHECK(uri.find("type=private?module-path=" + hsm->module()) != std::string::npos);
            CHECK(uri.find(irp_softhsm::kPin) == std::string::npos);

            // Signs, and the signature verifies with the public key.
            const Bytes msg = {'h', 'e', 'l', 'l', 'o'};
            const Bytes sig = key.sign(msg, *rng);
            REQUIRE_FALSE(sig.empty());
            CHECK(crypto::verify_signature(key.public_key_der(), msg, sig));
            CHECK_FALSE(crypto::verify_signature(key.public_key_der(), Bytes{'h', 'e', 'l', 'l', '0'}, sig));
            // No export, by us or by the token.
            CHECK_THROWS_AS((void)key.to_pem(), std::logic_error);
            CHECK_FALSE(key.to_encrypted_pem("passphrase", *rng).ok());
            pub = key.public_key_der();
        }
        const auto a = hsm->private_attributes(label);
        REQUIRE(a.found);
        CHECK_FALSE(a.extractable);
        CHECK(a.sensitive);
        CHECK(a.never_extractable);
        CHECK(a.value_rv == CKR_ATTRIBUTE_SENSITIVE);  // reading CKA_VALUE fails
        CHECK(hsm->object_count(label) == 2);           // the private and the public half

        // The URI loads it again (module-path in it; the PIN given apart).
        {
            auto again = ok(crypto::PrivateKey::from_pkcs11("", uri, irp_softhsm::kPin));
            CHECK(again.public_key_der() == pub);
            CHECK(again.pkcs11_uri() == uri);
        }

        ok(crypto::destroy_pkcs11_key("", uri, irp_softhsm::kPin));
        CHECK(hsm->object_count(label) == 0);
        CHECK_FALSE(hsm->private_attributes(label).found);
        auto gone = crypto::PrivateKey::from_pkcs11("", uri, irp_softhsm::kPin);
        REQUIRE_FALSE(gone.ok());
        CHECK(gone.error().code == Code::not_found);
        // Destroying again is not an error: an interrupted clean-up reruns.
        ok(crypto::destroy_pkcs11_key("", uri, irp_softhsm::kPin));
    }
}

TEST_CASE("pkcs11: generate_in_token refuses what it should, and leaves nothing behind") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    const int before = hsm->object_count();
    const Bytes id = {0x78, 0x01};
    const auto refused = [&](const std::string& token_uri, const std::string& label, const Bytes& key_id,
                             const std::string& pin) {
        auto r = crypto::PrivateKey::generate_in_token(hsm->module(), token_uri, label, key_id,
                                                       KeyAlgorithm::ecdsa_p256, pin);
        REQUIRE_FALSE(r.ok());
        return r.error();
    };
    CHECK(refused(kTokenUri + ";object=x", "r-1", id, irp_softhsm::kPin).code == Code::bad_argument);
    CHECK(refused("pkcs11:token=no-such-token", "r-1", id, irp_softhsm::kPin).code == Code::bad_argument);
    CHECK(refused(kTokenUri, "r-1", id, "4321").code == Code::bad_argument);
    CHECK(refused(kTokenUri, "r-1", id, "").code == Code::bad_argument);  // SoftHSM needs a login
    CHECK(refused(kTokenUri, "", id, irp_softhsm::kPin).code == Code::bad_argument);
    CHECK(refused(kTokenUri, "r-1", {}, irp_softhsm::kPin).code == Code::bad_argument);
    CHECK(refused(kTokenUri, std::string(65, 'x'), id, irp_softhsm::kPin).code == Code::bad_argument);
    CHECK(hsm->object_count() == before);

    // A label or id already on the token: refused, the first key intact.
    std::string uri;
    {
        auto first = generate(*hsm, "r-dup", 0x10, KeyAlgorithm::ecdsa_p256);
        uri = first.pkcs11_uri();
    }
    CHECK(refused(kTokenUri, "r-dup", {0x77, 0x11}, irp_softhsm::kPin).code == Code::already_exists);
    CHECK(refused(kTokenUri, "r-other", {0x77, 0x10}, irp_softhsm::kPin).code == Code::already_exists);
    CHECK(hsm->object_count("r-dup") == 2);
    CHECK(hsm->object_count("r-other") == 0);
    ok(crypto::destroy_pkcs11_key(hsm->module(), uri, irp_softhsm::kPin));
    CHECK(hsm->object_count() == before);

    // A URI written back parses to what it was made from.
    crypto::Pkcs11Uri u;
    u.token = "a;b c";
    u.object = "dev?1&2=3";
    u.id = {0x00, 0xff, '%'};
    u.module_path = "/opt/p11/lib x.so";
    u.pin_source = "/etc/pin;file";
    const auto back = ok(crypto::parse_pkcs11_uri(crypto::format_pkcs11_uri(u)));
    CHECK(back.token == u.token);
    CHECK(back.object == u.object);
    CHECK(back.id == u.id);
    CHECK(back.module_path == u.module_path);
    CHECK(back.pin_source == u.pin_source);
}

TEST_CASE("pkcs11 store: enroll and renew keep the key in the token; the old key is destroyed after the new install") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    const int before = hsm->object_count();
    TokenWallet w(*hsm);

    const auto out = w.enroll(w.enroll_options("p11-dev-1"));
    REQUIRE(out.kind == wallet::Outcome::Kind::installed);
    CHECK(out.install_confirmed);
    auto first = w.installed();
    REQUIRE(first.key->in_token());
    const std::string first_label = label_of(*first.key);
    CHECK(first_label.starts_with("device-"));
    CHECK(hsm->object_count(first_label) == 2);
    CHECK(hsm->object_count() == before + 2);
    CHECK(ok(crypto::parse_certificate(first.certificate)).public_key == first.key->public_key_der());

    // The store holds references, never a private key.
    const std::string key_file = irp_test::read_text(w.dir + "/device.key");
    CHECK(key_file == first.key->pkcs11_uri() + "\n");
    CHECK(key_file.find("pin-source=file:" + w.pin_file) != std::string::npos);
    CHECK(everything_in(w.dir).find("PRIVATE KEY") == std::string::npos);
    CHECK_FALSE(has_line(w.dir, irp_softhsm::kPin));
    CHECK(everything_in(w.dir).find("pin-value") == std::string::npos);

    SUBCASE("renewal: a new token key; the old one is destroyed once the new certificate is in") {
        w.now = kNow + 200 * kDay;
        const auto out2 = w.renew();
        REQUIRE(out2.kind == wallet::Outcome::Kind::installed);
        auto second = w.installed();
        REQUIRE(second.key->in_token());
        const std::string second_label = label_of(*second.key);
        CHECK(second_label != first_label);
        CHECK(second.key->public_key_der() != first.key->public_key_der());
        CHECK(hsm->object_count(first_label) == 0);
        CHECK(hsm->object_count(second_label) == 2);
        CHECK(hsm->object_count() == before + 2);
        CHECK(everything_in(w.dir).find("PRIVATE KEY") == std::string::npos);

        SUBCASE("a store opened later (renew, check-in) finds the token from device.key alone") {
            std::filesystem::remove(w.dir + "/pkcs11.uri");
            w.now = kNow + 400 * kDay;
            REQUIRE(w.renew().kind == wallet::Outcome::Kind::installed);
            auto third = w.installed();
            REQUIRE(third.key->in_token());
            CHECK(hsm->object_count(second_label) == 0);
            CHECK(hsm->object_count() == before + 2);
        }
        SUBCASE("factory reset destroys the key in the token") {
            ok(w.storage->wipe());
            CHECK(hsm->object_count(second_label) == 0);
            CHECK(hsm->object_count() == before);
            CHECK_FALSE(std::filesystem::exists(w.dir + "/device.key"));
            CHECK_FALSE(std::filesystem::exists(w.dir + "/pkcs11.keys"));
            CHECK(std::filesystem::exists(w.dir + "/pkcs11.uri"));  // kept: where the next key goes
        }
    }
    SUBCASE("a failed renewal keeps the old key and destroys the one made for it") {
        w.now = kNow + 200 * kDay;
        const auto r = w.try_renew(true);  // proofs over the wrong channel: refused
        REQUIRE(r.ok());
        CHECK(r->kind == wallet::Outcome::Kind::rejected);  // after the CSR made with a new token key
        CHECK(w.installed().key->public_key_der() == first.key->public_key_der());
        CHECK(hsm->object_count(first_label) == 2);
        CHECK(hsm->object_count() == before + 2);
    }
    SUBCASE("the C API's POSIX storage refuses it (its slots carry PEM keys)") {
        irp_wallet_callbacks_t cb{};
        cb.struct_size = sizeof cb;
        irp_wallet_posix_t* st = nullptr;
        REQUIRE(irp_wallet_posix_defaults(&cb, IRP_WALLET_POSIX_STORAGE, w.dir.c_str(), &st) == IRP_WALLET_OK);
        std::vector<std::uint8_t> buf(16384);
        std::size_t len = 0;
        CHECK(cb.load(cb.storage_ctx, IRP_WALLET_SLOT_CREDENTIALS, buf.data(), buf.size(), &len) ==
              IRP_WALLET_E_STORAGE);
        CHECK(std::string(cb.storage_error(cb.storage_ctx)).find("PKCS#11 token") != std::string::npos);
        irp_wallet_posix_free(st);
        CHECK(hsm->object_count(first_label) == 2);
    }
    ok(w.storage->wipe());
    CHECK(hsm->object_count() == before);
}

TEST_CASE("pkcs11 store: keys of refused enrollments, held requests and interrupted exchanges are destroyed") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    const int before = hsm->object_count();
    TokenWallet w(*hsm);

    SUBCASE("an enrollment refused by the server") {
        auto o = w.enroll_options("p11-dev-2");
        o.token[0] ^= 0x01;
        const auto out = w.enroll(o);
        CHECK(out.kind == wallet::Outcome::Kind::rejected);
        CHECK(out.rejection.code == Code::bad_token_proof);
        CHECK(hsm->object_count() == before);
        CHECK_FALSE(std::filesystem::exists(w.dir + "/pkcs11.keys"));
    }
    SUBCASE("a held request keeps its key as a reference until it is cleared") {
        auto key = ok(w.storage->generate_key(KeyAlgorithm::ecdsa_p256, *w.wallet_rng));
        REQUIRE(key->in_token());
        ok(w.storage->save_pending({key, "req-1", "p11-dev-3", "default"}));
        CHECK(irp_test::read_text(w.dir + "/pending.key") == key->pkcs11_uri() + "\n");
        auto held = ok(wallet::open_directory_storage(w.dir)->load_pending());
        REQUIRE(held.has_value());
        CHECK(held->key->in_token());
        CHECK(held->key->public_key_der() == key->public_key_der());
        CHECK(hsm->object_count() == before + 2);
        ok(w.storage->clear_pending());
        CHECK(hsm->object_count() == before);
    }
    SUBCASE("a key generated just before a crash is destroyed by the next change") {
        std::string label;
        {
            auto key = ok(w.storage->generate_key(KeyAlgorithm::ed25519, *w.wallet_rng));
            label = label_of(*key);
            CHECK(key->algorithm() == KeyAlgorithm::ed25519);
        }  // ... and the process dies here: no install, no discard
        w.storage = wallet::open_directory_storage(w.dir);  // its locks go with it
        CHECK(hsm->object_count(label) == 2);
        ok(wallet::open_directory_storage(w.dir)->clear_pending());
        CHECK(hsm->object_count(label) == 0);
        CHECK(hsm->object_count() == before);
    }
    SUBCASE("another store's sweep leaves a key in flight alone") {
        auto b = wallet::open_directory_storage(w.dir);  // e.g. `idwallet renew` beside `idwallet run`
        auto key = ok(w.storage->generate_key(KeyAlgorithm::ecdsa_p256, *w.wallet_rng));
        const std::string label = label_of(*key);
        ok(b->clear_pending());
        ok(b->wipe());
        CHECK(hsm->object_count(label) == 2);
        // ... and its store can still hold it, then install it.
        ok(w.storage->save_pending({key, "req-2", "p11-dev-5", "default"}));
        CHECK(hsm->object_count(label) == 2);
        auto held = ok(b->load_pending());
        REQUIRE(held.has_value());
        CHECK(held->key->public_key_der() == key->public_key_der());

        // Once it is named, a sweep destroys what no file names.
        auto stray = ok(b->generate_key(KeyAlgorithm::ecdsa_p256, *w.wallet_rng));
        const std::string stray_label = label_of(*stray);
        b->discard_key(*stray);
        CHECK(hsm->object_count(stray_label) == 0);
        CHECK(hsm->object_count(label) == 2);
        CHECK(hsm->object_count() == before + 2);
        ok(w.storage->clear_pending());
        CHECK(hsm->object_count() == before);
    }
    SUBCASE("a held request whose token key is gone is forgotten, not failed on forever") {
        auto key = ok(w.storage->generate_key(KeyAlgorithm::ecdsa_p256, *w.wallet_rng));
        ok(w.storage->save_pending({key, "req-3", "p11-dev-6", "default"}));
        ok(crypto::destroy_pkcs11_key("", key->pkcs11_uri(), irp_softhsm::kPin));
        auto held = ok(wallet::open_directory_storage(w.dir)->load_pending());
        CHECK_FALSE(held.has_value());
        CHECK_FALSE(std::filesystem::exists(w.dir + "/pending.id"));
        CHECK_FALSE(std::filesystem::exists(w.dir + "/pending.key"));
        CHECK_FALSE(std::filesystem::exists(w.dir + "/pkcs11.keys"));
        CHECK(hsm->object_count() == before);
    }
    SUBCASE("a store without pkcs11.uri and a software key makes software keys") {
        TempDir other;
        auto s = wallet::open_directory_storage(other / "w");
        auto key = ok(s->generate_key(KeyAlgorithm::ecdsa_p256, *w.wallet_rng));
        CHECK_FALSE(key->in_token());
    }
    SUBCASE("use_token_keys refuses what cannot work") {
        const auto refused = [&](const wallet::TokenKeyOptions& o) {
            auto r = wallet::use_token_keys(w.dir, o);
            REQUIRE_FALSE(r.ok());
            return r.error().code;
        };
        CHECK(refused({hsm->module(), kTokenUri + ";object=k", w.pin_file}) == Code::bad_argument);
        CHECK(refused({"", kTokenUri, w.pin_file}) == Code::bad_argument);
        CHECK(refused({hsm->module(), kTokenUri, w.tmp / "no-pin"}) == Code::file_error);
        CHECK(refused({w.tmp / "no.so", kTokenUri, w.pin_file}) == Code::file_error);
        // A PIN file others may read.
        std::filesystem::permissions(w.pin_file, std::filesystem::perms::group_read, std::filesystem::perm_options::add);
        auto r = wallet::use_token_keys(w.dir, {hsm->module(), kTokenUri, w.pin_file});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::file_error);
        CHECK(r.error().message.find("chmod 600") != std::string::npos);
    }
    ok(w.storage->wipe());
    CHECK(hsm->object_count() == before);
}
