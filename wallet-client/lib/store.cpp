// The POSIX directory store for a device's key and certificate.
//
// Install protocol (each step durable before the next):
//   1. write device.key.new (0600) and device.crt.new, each via temp+fsync+rename
//   2. rename device.key.new -> device.key
//   3. rename device.crt.new -> device.crt, fsync the directory
// Recovery on load, by what a crash can leave behind:
//   both .new files   -> step 1 finished: roll both forward
//   only device.crt.new -> crash between 2 and 3: roll it forward
//   only device.key.new -> step 1 unfinished: discard it (old pair intact)
#include <cstdio>
#include <mutex>
#include <fcntl.h>
#include <unistd.h>

#include "idwallet.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/platform/files.hpp"

namespace irp::wallet {

namespace {

class DirectoryStorage final : public Storage {
public:
    explicit DirectoryStorage(std::string dir)
        : dir_(std::move(dir)), key_(dir_ + "/device.key"), crt_(dir_ + "/device.crt"), crl_(dir_ + "/crl.der") {}

    Result<void> install(const Credentials& c) override {
        if (auto r = platform::make_dirs(dir_, 0700); !r) return r;
        std::string pem = crypto::to_pem(c.certificate, "CERTIFICATE");
        for (const auto& ca : c.chain) pem += crypto::to_pem(ca, "CERTIFICATE");
        if (auto r = platform::write_file_atomic(key_ + ".new", c.key->to_pem(), 0600); !r) return r;
        if (auto r = platform::write_file_atomic(crt_ + ".new", pem, 0644); !r) return r;
        return roll_forward();
    }

    Result<std::optional<Credentials>> load() override {
        if (auto r = recover(); !r) return r.error();
        if (!platform::file_exists(key_) && !platform::file_exists(crt_)) return std::optional<Credentials>{};
        auto key_pem = platform::read_file(key_);
        if (!key_pem) return key_pem.error();
        auto crt_pem = platform::read_file(crt_);
        if (!crt_pem) return crt_pem.error();
        auto key = crypto::PrivateKey::from_pem(*key_pem);
        if (!key) return make_error(Code::file_error, "'" + key_ + "': " + key.error().message);
        auto certs = crypto::pem_blocks(*crt_pem, "CERTIFICATE");
        if (!certs || certs->empty()) return make_error(Code::file_error, "'" + crt_ + "' holds no certificate");
        auto info = crypto::parse_certificate(certs->front());
        if (!info) return make_error(Code::file_error, "'" + crt_ + "': " + info.error().message);
        if (info->public_key != key->public_key_der())
            return make_error(Code::file_error, "'" + key_ + "' does not match the certificate in '" + crt_ + "'");
        Credentials c;
        c.key = std::make_shared<const crypto::PrivateKey>(std::move(key.value()));
        c.certificate = certs->front();
        c.chain.assign(certs->begin() + 1, certs->end());
        return std::optional<Credentials>(std::move(c));
    }

    Result<void> save_pending(const PendingEnrollment& p) override {
        if (auto r = platform::make_dirs(dir_, 0700); !r) return r;
        // The id file last: a pending.id always has its key beside it.
        if (auto r = platform::write_file_atomic(dir_ + "/pending.key", p.key->to_pem(), 0600); !r) return r;
        return platform::write_file_atomic(dir_ + "/pending.id",
                                           p.request_id + "\n" + p.device_id + "\n" + p.class_id + "\n", 0600);
    }

    Result<std::optional<PendingEnrollment>> load_pending() override {
        if (!platform::file_exists(dir_ + "/pending.id")) return std::optional<PendingEnrollment>{};
        auto id = platform::read_file(dir_ + "/pending.id", 1024);
        if (!id) return id.error();
        auto pem = platform::read_file(dir_ + "/pending.key");
        if (!pem) return pem.error();
        auto key = crypto::PrivateKey::from_pem(*pem);
        if (!key) return make_error(Code::file_error, "'" + dir_ + "/pending.key': " + key.error().message);
        std::vector<std::string> lines;
        std::size_t start = 0;
        for (std::size_t nl; (nl = id->find('\n', start)) != std::string::npos; start = nl + 1)
            lines.push_back(id->substr(start, nl - start));
        if (lines.size() != 3) return make_error(Code::file_error, "'" + dir_ + "/pending.id' is malformed");
        PendingEnrollment p;
        p.key = std::make_shared<const crypto::PrivateKey>(std::move(key.value()));
        p.request_id = lines[0];
        p.device_id = lines[1];
        p.class_id = lines[2];
        return std::optional<PendingEnrollment>(std::move(p));
    }

    Result<void> clear_pending() override {
        for (const char* f : {"/pending.id", "/pending.key"}) {
            const std::string path = dir_ + f;
            if (std::remove(path.c_str()) != 0 && platform::file_exists(path))
                return make_error(Code::file_error, "cannot remove '" + path + "'");
        }
        return {};
    }

    Result<void> save_crl(ByteView der) override {
        if (auto r = platform::make_dirs(dir_, 0700); !r) return r;
        return platform::write_file_atomic(crl_, std::string_view(reinterpret_cast<const char*>(der.data()), der.size()),
                                           0644);
    }

    Result<std::optional<Bytes>> load_crl() override {
        if (!platform::file_exists(crl_)) return std::optional<Bytes>{};
        auto der = platform::read_file(crl_, crypto::kMaxCrlBytes);
        if (!der) return der.error();
        return std::optional<Bytes>(Bytes(der->begin(), der->end()));
    }

    Result<void> wipe() override {
        if (auto r = clear_pending(); !r) return r;
        // The certificate first: a key without a certificate is not an identity.
        for (const std::string& path : {crt_ + ".new", crt_, key_ + ".new", key_, crl_}) {
            if (std::remove(path.c_str()) != 0 && platform::file_exists(path))
                return make_error(Code::file_error, "cannot remove '" + path + "'");
        }
        const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
        return {};
    }

private:
    Result<void> rename_durably(const std::string& from, const std::string& to) {
        if (std::rename(from.c_str(), to.c_str()) != 0)
            return make_error(Code::file_error, "cannot rename '" + from + "' to '" + to + "'");
        const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
        return {};
    }

    Result<void> roll_forward() {
        if (auto r = rename_durably(key_ + ".new", key_); !r) return r;
        return rename_durably(crt_ + ".new", crt_);
    }

    Result<void> recover() {
        const bool key_new = platform::file_exists(key_ + ".new");
        const bool crt_new = platform::file_exists(crt_ + ".new");
        if (key_new && crt_new) return roll_forward();
        if (crt_new) return rename_durably(crt_ + ".new", crt_);
        if (key_new) std::remove((key_ + ".new").c_str());
        return {};
    }

    std::string dir_;
    std::string key_;
    std::string crt_;
    std::string crl_;
};

// RAM only: for tests, benchmarks, and devices whose firmware persists the
// credentials some other way. Survives nothing.
class MemoryStorage final : public Storage {
public:
    Result<void> install(const Credentials& c) override {
        std::lock_guard lock(mu_);
        creds_ = c;
        return {};
    }
    Result<std::optional<Credentials>> load() override {
        std::lock_guard lock(mu_);
        return creds_;
    }
    Result<void> save_pending(const PendingEnrollment& p) override {
        std::lock_guard lock(mu_);
        pending_ = p;
        return {};
    }
    Result<std::optional<PendingEnrollment>> load_pending() override {
        std::lock_guard lock(mu_);
        return pending_;
    }
    Result<void> clear_pending() override {
        std::lock_guard lock(mu_);
        pending_.reset();
        return {};
    }
    Result<void> save_crl(ByteView der) override {
        std::lock_guard lock(mu_);
        crl_ = Bytes(der.begin(), der.end());
        return {};
    }
    Result<std::optional<Bytes>> load_crl() override {
        std::lock_guard lock(mu_);
        return crl_;
    }
    Result<void> wipe() override {
        std::lock_guard lock(mu_);
        pending_.reset();
        creds_.reset();
        crl_.reset();
        return {};
    }

private:
    std::mutex mu_;
    std::optional<Credentials> creds_;
    std::optional<PendingEnrollment> pending_;
    std::optional<Bytes> crl_;
};

}  // namespace

std::unique_ptr<Storage> open_memory_storage() { return std::make_unique<MemoryStorage>(); }

std::unique_ptr<Storage> open_directory_storage(const std::string& dir) {
    return std::make_unique<DirectoryStorage>(dir);
}

}  // namespace irp::wallet
