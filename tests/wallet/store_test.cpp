// Tests for the wallet's directory storage: install/load round trip, file
// modes, and recovery from each state an interrupted install can leave.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "idwallet.hpp"
#include "support/temp_dir.hpp"
#include "test_pki.hpp"

using namespace irp;
using irp::wallet::Credentials;
using irp::wallet::open_directory_storage;
using irp_test::device_profile;
using irp_test::Hierarchy;
using irp_test::make_key;

namespace {

using irp_test::TempDir;

void write(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    REQUIRE(out.good());
    out << data;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

int mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return static_cast<int>(st.st_mode & 07777);
}

std::string cert_pem(const Credentials& c) {
    std::string pem = crypto::to_pem(c.certificate, "CERTIFICATE");
    for (const auto& ca : c.chain) pem += crypto::to_pem(ca, "CERTIFICATE");
    return pem;
}

// Two complete credential sets for the same device (as before and after a
// renewal), under one hierarchy.
struct Fixture {
    TempDir tmp;
    std::string dir = tmp / "wallet";
    std::unique_ptr<crypto::Random> rng = crypto::deterministic_random(21);
    Hierarchy pki{*rng};
    Credentials a = make("dev-1");
    Credentials b = make("dev-1");
    std::string key_path = dir + "/device.key";
    std::string crt_path = dir + "/device.crt";

    Credentials make(const std::string& id) {
        Credentials c;
        c.key = make_key(*rng);
        c.certificate = pki.device(*c.key, device_profile("example.test", id), *rng);
        c.chain = {pki.ca, pki.root};
        return c;
    }

    // What load() returns, which must be a value.
    Credentials load_ok() {
        auto s = open_directory_storage(dir);
        auto r = s->load();
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        REQUIRE_MESSAGE(r->has_value(), "nothing installed");
        return std::move(**r);
    }

    void install_ok(const Credentials& c) {
        auto s = open_directory_storage(dir);
        auto r = s->install(c);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    }
};

void check_same(const Credentials& got, const Credentials& want) {
    REQUIRE(got.key);
    CHECK(got.key->public_key_der() == want.key->public_key_der());
    CHECK(got.certificate == want.certificate);
    CHECK(got.chain == want.chain);
}

}  // namespace

TEST_CASE("directory storage: install then load round-trips key, certificate and chain") {
    Fixture f;
    f.install_ok(f.a);
    const Credentials got = f.load_ok();
    check_same(got, f.a);
    // The loaded key is the private key, not just its public half: it signs
    // what the certificate's key verifies.
    const Bytes msg = to_bytes("renew-proof");
    CHECK(crypto::verify_signature(f.a.key->public_key_der(), msg, got.key->sign(msg, *f.rng)));

    CHECK(mode_of(f.key_path) == 0600);
    CHECK((mode_of(f.crt_path) & 0022) == 0);
    CHECK(mode_of(f.dir) == 0700);
    CHECK_FALSE(exists(f.key_path + ".new"));
    CHECK_FALSE(exists(f.crt_path + ".new"));

    SUBCASE("a second install replaces the pair") {
        f.install_ok(f.b);
        check_same(f.load_ok(), f.b);
        CHECK(mode_of(f.key_path) == 0600);
    }
    SUBCASE("a fresh storage object on the same directory sees the same pair") {
        check_same(f.load_ok(), f.a);
    }
}

TEST_CASE("directory storage: nothing installed loads as nullopt") {
    Fixture f;
    SUBCASE("the directory does not exist") {
        auto r = open_directory_storage(f.dir)->load();
        REQUIRE(r.ok());
        CHECK_FALSE(r->has_value());
    }
    SUBCASE("the directory is empty") {
        std::filesystem::create_directories(f.dir);
        auto r = open_directory_storage(f.dir)->load();
        REQUIRE(r.ok());
        CHECK_FALSE(r->has_value());
    }
}

TEST_CASE("directory storage: recovery from an interrupted install") {
    Fixture f;
    f.install_ok(f.a);  // the old pair

    SUBCASE("both .new files present: step 1 finished, roll both forward") {
        write(f.key_path + ".new", f.b.key->to_pem());
        write(f.crt_path + ".new", cert_pem(f.b));
        check_same(f.load_ok(), f.b);
        CHECK_FALSE(exists(f.key_path + ".new"));
        CHECK_FALSE(exists(f.crt_path + ".new"));
        // Recovery is durable: the next load sees the new pair from the final names.
        check_same(f.load_ok(), f.b);
    }
    SUBCASE("only device.crt.new: the key was already renamed, roll the certificate forward") {
        write(f.key_path, f.b.key->to_pem());
        write(f.crt_path + ".new", cert_pem(f.b));
        check_same(f.load_ok(), f.b);
        CHECK_FALSE(exists(f.crt_path + ".new"));
    }
    SUBCASE("only device.key.new: step 1 unfinished, discard it and keep the old pair") {
        write(f.key_path + ".new", f.b.key->to_pem());
        check_same(f.load_ok(), f.a);
        CHECK_FALSE(exists(f.key_path + ".new"));
        // And a later install still works.
        f.install_ok(f.b);
        check_same(f.load_ok(), f.b);
    }
}

TEST_CASE("directory storage: a key that does not match the certificate is an error") {
    Fixture f;
    f.install_ok(f.a);
    SUBCASE("another certificate") {
        write(f.crt_path, cert_pem(f.b));
    }
    SUBCASE("another key") {
        write(f.key_path, f.b.key->to_pem());
    }
    auto r = open_directory_storage(f.dir)->load();
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::file_error);
    CHECK(r.error().message.find("does not match") != std::string::npos);
}

TEST_CASE("directory storage: a half-present pair is an error, not an empty wallet") {
    Fixture f;
    f.install_ok(f.a);
    SUBCASE("certificate missing") {
        std::filesystem::remove(f.crt_path);
    }
    SUBCASE("key missing") {
        std::filesystem::remove(f.key_path);
    }
    auto r = open_directory_storage(f.dir)->load();
    CHECK_FALSE(r.ok());
}

TEST_CASE("storage: the CRL is saved whole, replaced whole, and gone after a factory reset") {
    Fixture f;
    const Bytes first = to_bytes("crl number one");
    const Bytes second(5000, 0xA7);
    auto check_store = [&](wallet::Storage& s, const std::string& file) {
        auto none = s.load_crl();
        REQUIRE(none.ok());
        CHECK_FALSE(none->has_value());
        REQUIRE(s.save_crl(first).ok());
        auto got = s.load_crl();
        REQUIRE(got.ok());
        REQUIRE(got->has_value());
        CHECK(**got == first);
        REQUIRE(s.save_crl(second).ok());
        got = s.load_crl();
        REQUIRE(got.ok());
        REQUIRE(got->has_value());
        CHECK(**got == second);
        if (!file.empty()) {
            CHECK(std::filesystem::file_size(file) == 5000u);
            CHECK(mode_of(file) == 0644);
            // No temporary file is left beside it.
            std::size_t entries = 0;
            for (const auto& e : std::filesystem::directory_iterator(f.dir)) entries += e.path().filename() != "device.key" &&
                                                                                    e.path().filename() != "device.crt";
            CHECK(entries == 1u);
        }
        REQUIRE(s.install(f.a).ok());
        REQUIRE(s.wipe().ok());
        got = s.load_crl();
        REQUIRE(got.ok());
        CHECK_FALSE(got->has_value());
        if (!file.empty()) CHECK_FALSE(exists(file));
    };
    SUBCASE("directory storage: DIR/crl.der") {
        auto s = open_directory_storage(f.dir);
        check_store(*s, f.dir + "/crl.der");
    }
    SUBCASE("memory storage") {
        auto s = wallet::open_memory_storage();
        check_store(*s, "");
    }
}
