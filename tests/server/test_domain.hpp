// Test support shared by the server tests (and the wallet exchange test): a
// temporary directory and a real domain made by `irp-server init`'s code,
// loaded the way `irp-server run` loads it.
#pragma once

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "ca/authority.hpp"
#include "ca/init.hpp"
#include "config/config.hpp"
#include "support/temp_dir.hpp"
#include "irp/crypto/crypto.hpp"
#include "store/store.hpp"

namespace irp_test {

// A fixed "now" (2023-11-14T22:13:20Z) so every certificate is reproducible.
inline constexpr std::int64_t kNow = 1'700'000'000;
inline constexpr std::int64_t kDay = 24 * 3600;

using TempDir = irp_test::TempDir;  // tests/support/temp_dir.hpp

inline std::string slurp(const std::string& path) { return read_text(path); }

inline void spit(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    REQUIRE_MESSAGE(out.good(), "cannot write " << path);
    out << data;
}

// Permission bits of `path` (what `ls -l` shows), or -1 if it does not exist.
inline int file_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return -1;
    return static_cast<int>(st.st_mode & 07777);
}

// The one certificate in a PEM file, as DER.
inline irp::Bytes pem_cert(const std::string& path) {
    auto blocks = irp::crypto::pem_blocks(slurp(path), "CERTIFICATE");
    REQUIRE(blocks.ok());
    REQUIRE(blocks->size() == 1);
    return blocks->front();
}

// A complete domain: `init_domain` into a temp dir, then load_config +
// load_domain + open_sqlite_store, exactly as the server starts.
// Not movable: an Authority keeps a reference to `material`.
class TestDomain {
public:
    explicit TestDomain(std::string domain = "example.test", std::uint64_t seed = 1, std::int64_t now = kNow) {
        auto rng = irp::crypto::deterministic_random(seed);
        irp::server::InitOptions o;
        o.dir = tmp_ / "domain";
        o.domain = std::move(domain);
        o.now_unix = now;
        auto init = irp::server::init_domain(o, *rng);
        REQUIRE_MESSAGE(init.ok(), (init.ok() ? "" : init.error().message));
        dir_ = o.dir;
        auto cfg = irp::server::load_config(init->config_path);
        REQUIRE_MESSAGE(cfg.ok(), (cfg.ok() ? "" : cfg.error().message));
        cfg_ = std::move(cfg.value());
        auto m = irp::server::load_domain(cfg_);
        REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
        material_ = std::move(m.value());
        auto s = irp::server::open_sqlite_store(cfg_.database);
        REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
        store_ = std::move(s.value());
    }
    TestDomain(const TestDomain&) = delete;
    TestDomain& operator=(const TestDomain&) = delete;

    const std::string& dir() const { return dir_; }
    const irp::server::Config& config() const { return cfg_; }
    const irp::server::DomainMaterial& material() const { return material_; }
    irp::server::Store& store() { return *store_; }
    const irp::Bytes& secret(const std::string& cls = "default") const {
        const auto it = material_.class_secrets.find(cls);
        REQUIRE(it != material_.class_secrets.end());
        return it->second;
    }

private:
    TempDir tmp_;
    std::string dir_;
    irp::server::Config cfg_;
    irp::server::DomainMaterial material_;
    std::unique_ptr<irp::server::Store> store_;
};

}  // namespace irp_test
