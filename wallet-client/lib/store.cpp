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
//
// A key in a PKCS#11 token is written as its URI (one line) where a software
// key is PEM, so the same protocol installs it. Token keys are then
// collected like garbage (idwallet.hpp, open_directory_storage): listed in
// pkcs11.keys from before they exist, and destroyed by the sweep after any
// change once no key file names them. So the old key goes only after the
// new pair is installed, and no crash leaves a key behind for good.
//
// Several store objects (processes) may share the directory. flock(2):
// a key is in flight from generate_key until install, save_pending or
// discard_key, and its store holds LOCK_SH on DIR/.keys-in-flight that long;
// a sweep runs only under LOCK_EX|LOCK_NB on it (else it is skipped: a later
// change sweeps). Every read-modify-write of pkcs11.keys is under LOCK_EX on
// DIR/.keys-lock.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <set>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "idwallet.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/platform/files.hpp"

namespace irp::wallet {

namespace {

// A user PIN read from a file, wiped when done with.
struct Pin {
    std::string value;
    ~Pin() { std::fill(value.begin(), value.end(), '\0'); }
};

// The PIN for a token URI: its pin-source file (first line), else
// IRP_PKCS11_PIN, else none (no login).
Result<void> read_pin(const crypto::Pkcs11Uri& u, Pin& out) {
    if (!u.pin_source.empty()) {
        auto text = platform::read_file(u.pin_source, 4096);
        if (!text) return make_error(Code::file_error, "the PKCS#11 PIN: " + text.error().message);
        out.value = text->substr(0, text->find_first_of("\r\n"));
        std::fill(text->begin(), text->end(), '\0');
        if (out.value.empty())
            return make_error(Code::file_error, "the PKCS#11 PIN file '" + u.pin_source + "' is empty");
    } else if (const char* env = std::getenv("IRP_PKCS11_PIN"); env && *env) {
        out.value = env;
    }
    return {};
}

// An flock(2) on a file of the store directory (made if missing), held
// until release() or destruction. Its own open file description, so it
// excludes other objects of this process as well as other processes.
class FileLock {
public:
    FileLock() = default;
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    ~FileLock() { release(); }

    // False: not taken (the file cannot be opened, or LOCK_NB and held).
    bool take(const std::string& path, int op) {
        release();
        fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ < 0) return false;
        int rc;
        do rc = ::flock(fd_, op);
        while (rc != 0 && errno == EINTR);
        if (rc != 0) release();
        return held();
    }
    bool held() const { return fd_ >= 0; }
    void release() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

// What a key file holds: PEM, or the URI of a key in a token. Never PEM
// for a token key (PrivateKey::to_pem would throw).
std::string key_file_text(const crypto::PrivateKey& k) { return k.in_token() ? k.pkcs11_uri() + "\n" : k.to_pem(); }

// `gone`, when given, is set when the file names a token key the token (found,
// logged in to) does not hold.
Result<crypto::PrivateKey> key_from_file_text(const std::string& text, const std::string& path,
                                              bool* gone = nullptr) {
    const std::string line = trimmed(text);
    if (!crypto::is_pkcs11_uri(line)) {
        auto key = crypto::PrivateKey::from_pem(text);
        if (!key) return make_error(Code::file_error, "'" + path + "': " + key.error().message);
        return key;
    }
    auto uri = crypto::parse_pkcs11_uri(line);
    if (!uri) return make_error(Code::file_error, "'" + path + "': " + uri.error().message);
    // Whatever keeps the key from loading (the token absent, the PIN file
    // gone or wrong), the store cannot give its key: file_error, as for a
    // PEM file that does not parse.
    Pin pin;
    if (auto r = read_pin(*uri, pin); !r) return make_error(Code::file_error, "'" + path + "': " + r.error().message);
    auto key = crypto::PrivateKey::from_pkcs11("", line, pin.value);
    if (!key && gone) *gone = key.error().code == Code::not_found;  // the token holds no such key
    if (!key) return make_error(Code::file_error, "'" + path + "': " + key.error().message);
    return key;
}

// Which token object a URI names, whatever its module-path and pin-source:
// "" when it is not a key URI.
std::string identity(std::string_view text) {
    auto u = crypto::parse_pkcs11_uri(trimmed(std::string(text)));
    if (!u) return {};
    u->module_path.clear();
    u->pin_source.clear();
    return crypto::format_pkcs11_uri(*u);
}

class DirectoryStorage final : public Storage {
public:
    explicit DirectoryStorage(std::string dir)
        : dir_(std::move(dir)),
          key_(dir_ + "/device.key"),
          crt_(dir_ + "/device.crt"),
          crl_(dir_ + "/crl.der"),
          owned_(dir_ + "/pkcs11.keys"),
          where_(dir_ + "/pkcs11.uri"),
          in_flight_path_(dir_ + "/.keys-in-flight"),
          keys_lock_path_(dir_ + "/.keys-lock") {}

    Result<void> install(const Credentials& c) override {
        if (auto r = platform::make_dirs(dir_, 0700); !r) return r;
        std::string pem = crypto::to_pem(c.certificate, "CERTIFICATE");
        for (const auto& ca : c.chain) pem += crypto::to_pem(ca, "CERTIFICATE");
        if (auto r = own(*c.key); !r) return r;
        if (auto r = platform::write_file_atomic(key_ + ".new", key_file_text(*c.key), 0600); !r) return r;
        if (auto r = platform::write_file_atomic(crt_ + ".new", pem, 0644); !r) return r;
        if (auto r = roll_forward(); !r) return r;
        in_flight_.release();  // the key is named now
        sweep();  // the key replaced, if it was a token key
        return {};
    }

    Result<std::optional<Credentials>> load() override {
        if (auto r = recover(); !r) return r.error();
        if (!platform::file_exists(key_) && !platform::file_exists(crt_)) return std::optional<Credentials>{};
        auto key_pem = platform::read_file(key_);
        if (!key_pem) return key_pem.error();
        auto crt_pem = platform::read_file(crt_);
        if (!crt_pem) return crt_pem.error();
        auto key = key_from_file_text(*key_pem, key_);
        if (!key) return key.error();
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
        if (auto r = own(*p.key); !r) return r;
        // The id file last: a pending.id always has its key beside it.
        if (auto r = platform::write_file_atomic(dir_ + "/pending.key", key_file_text(*p.key), 0600); !r) return r;
        if (auto r = platform::write_file_atomic(dir_ + "/pending.id",
                                                 p.request_id + "\n" + p.device_id + "\n" + p.class_id + "\n", 0600);
            !r)
            return r;
        in_flight_.release();  // the key is named now
        sweep();  // the key of a held request this one replaced
        return {};
    }

    Result<std::optional<PendingEnrollment>> load_pending() override {
        if (!platform::file_exists(dir_ + "/pending.id")) return std::optional<PendingEnrollment>{};
        auto id = platform::read_file(dir_ + "/pending.id", 1024);
        if (!id) return id.error();
        auto pem = platform::read_file(dir_ + "/pending.key");
        if (!pem) return pem.error();
        bool gone = false;
        auto key = key_from_file_text(*pem, dir_ + "/pending.key", &gone);
        if (!key && gone) {
            // Its token key was destroyed: the held request can never
            // complete, so forget it rather than fail every enrollment.
            if (auto r = remove_pending(); !r) return r.error();
            sweep();
            return std::optional<PendingEnrollment>{};
        }
        if (!key) return key.error();
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
        if (auto r = remove_pending(); !r) return r;
        sweep();  // a refused request's key; not one now installed
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
        if (auto r = remove_pending(); !r) return r;
        // The certificate first: a key without a certificate is not an identity.
        for (const std::string& path : {crt_ + ".new", crt_, key_ + ".new", key_, crl_}) {
            if (std::remove(path.c_str()) != 0 && platform::file_exists(path))
                return make_error(Code::file_error, "cannot remove '" + path + "'");
        }
        sync_dir();
        sweep();  // every token key: none is named any more
        return {};
    }

    Result<std::shared_ptr<const crypto::PrivateKey>> generate_key(KeyAlgorithm alg, crypto::Random& rng) override {
        auto where = token_location();
        if (!where) return where.error();
        if (!*where) return Storage::generate_key(alg, rng);
        Pin pin;
        if (auto r = read_pin(**where, pin); !r) return r.error();
        const std::string token_uri = crypto::format_pkcs11_uri(**where);
        // In flight until install, save_pending or discard_key: no sweep
        // (of any store on this directory) destroys it before a file names it.
        const bool was_in_flight = in_flight_.held();
        if (!was_in_flight && !in_flight_.take(in_flight_path_, LOCK_SH))
            return make_error(Code::file_error, "cannot lock '" + in_flight_path_ + "'");
        const auto failed = [&](Error e) {
            if (!was_in_flight) in_flight_.release();
            return e;
        };
        // A fresh label and id; drawn again in the unlikely case the token
        // holds them already (a reused random source).
        for (int attempt = 0;; ++attempt) {
            crypto::Pkcs11Uri key_uri = **where;
            key_uri.id = rng.bytes(8);
            key_uri.object = "device-" + to_hex(key_uri.id);
            // Owned before it exists: a crash right after C_GenerateKeyPair
            // leaves a key the next sweep finds unnamed and destroys.
            // On an error it stays listed: the token may hold it even so, and
            // the sweep's destroy (by label and id) is idempotent.
            if (auto added = add_owned(crypto::format_pkcs11_uri(key_uri)); !added) return failed(added.error());
            auto key = crypto::PrivateKey::generate_in_token("", token_uri, key_uri.object, key_uri.id, alg, pin.value);
            if (key) return std::make_shared<const crypto::PrivateKey>(std::move(key.value()));
            if (key.error().code != Code::already_exists || attempt == 2) return failed(key.error());
        }
    }

    void discard_key(const crypto::PrivateKey& key) override {
        in_flight_.release();
        if (key.in_token()) sweep();
    }

private:
    void sync_dir() {
        const int fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            ::fsync(fd);
            ::close(fd);
        }
    }

    Result<void> remove_pending() {
        for (const char* f : {"/pending.id", "/pending.key"}) {
            const std::string path = dir_ + f;
            if (std::remove(path.c_str()) != 0 && platform::file_exists(path))
                return make_error(Code::file_error, "cannot remove '" + path + "'");
        }
        sync_dir();  // durable before a sweep destroys the key they named
        return {};
    }

    // ---- token keys --------------------------------------------------------

    // Where new keys go: DIR/pkcs11.uri, else the token of the current key;
    // nullopt: in software.
    Result<std::optional<crypto::Pkcs11Uri>> token_location() {
        if (platform::file_exists(where_)) {
            auto text = platform::read_file(where_, 4096);
            if (!text) return text.error();
            auto u = crypto::parse_pkcs11_token_uri(trimmed(*text));
            if (!u) return make_error(Code::file_error, "'" + where_ + "': " + u.error().message);
            return std::optional<crypto::Pkcs11Uri>(std::move(u.value()));
        }
        if (!platform::file_exists(key_)) return std::optional<crypto::Pkcs11Uri>{};
        auto text = platform::read_file(key_);
        if (!text) return text.error();
        if (!crypto::is_pkcs11_uri(trimmed(*text))) return std::optional<crypto::Pkcs11Uri>{};
        auto u = crypto::parse_pkcs11_uri(trimmed(*text));
        if (!u) return make_error(Code::file_error, "'" + key_ + "': " + u.error().message);
        u->object.clear();
        u->id.clear();
        return std::optional<crypto::Pkcs11Uri>(std::move(u.value()));
    }

    // The token keys listed in pkcs11.keys (none without the file).
    Result<std::vector<std::string>> owned() {
        std::vector<std::string> out;
        if (!platform::file_exists(owned_)) return out;
        auto text = platform::read_file(owned_);
        if (!text) return text.error();
        std::size_t start = 0;
        for (std::size_t nl; (nl = text->find('\n', start)) != std::string::npos; start = nl + 1)
            if (nl > start) out.push_back(text->substr(start, nl - start));
        return out;
    }

    Result<void> write_owned(const std::vector<std::string>& uris) {
        if (uris.empty()) {
            if (std::remove(owned_.c_str()) != 0 && platform::file_exists(owned_))
                return make_error(Code::file_error, "cannot remove '" + owned_ + "'");
            return {};
        }
        std::string text;
        for (const auto& u : uris) text += u + "\n";
        return platform::write_file_atomic(owned_, text, 0600);
    }

    // True when it was not listed yet.
    Result<bool> add_owned(const std::string& uri) {
        FileLock lock;
        if (!lock.take(keys_lock_path_, LOCK_EX))
            return make_error(Code::file_error, "cannot lock '" + keys_lock_path_ + "'");
        auto list = owned();
        if (!list) return list.error();
        const std::string id = identity(uri);
        for (const auto& u : *list)
            if (identity(u) == id) return false;
        list->push_back(uri);
        if (auto r = write_owned(*list); !r) return r.error();
        return true;
    }

    Result<void> own(const crypto::PrivateKey& k) {
        if (!k.in_token()) return {};
        if (auto r = add_owned(k.pkcs11_uri()); !r) return r.error();
        return {};
    }

    // Destroys every owned token key no key file names. Failures (token
    // absent, PIN file gone) keep the key listed for the next sweep: the
    // change that called this has happened either way. Skipped while any
    // store has a key in flight (this one included).
    void sweep() {
        FileLock exclusive, keys;
        if (!exclusive.take(in_flight_path_, LOCK_EX | LOCK_NB)) return;
        if (!keys.take(keys_lock_path_, LOCK_EX)) return;
        auto listed = owned();
        if (!listed || listed->empty()) return;
        const auto& list = *listed;
        std::set<std::string> named;
        for (const std::string& f : {key_, key_ + ".new", dir_ + "/pending.key"}) {
            if (!platform::file_exists(f)) continue;
            auto text = platform::read_file(f);
            if (!text) return;  // cannot tell what is named: destroy nothing
            if (const auto id = identity(*text); !id.empty()) named.insert(id);
        }
        std::vector<std::string> keep;
        for (const auto& uri : list) {
            if (named.count(identity(uri))) {
                keep.push_back(uri);
                continue;
            }
            Pin pin;
            auto parsed = crypto::parse_pkcs11_uri(uri);
            if (!parsed || !read_pin(*parsed, pin) || !crypto::destroy_pkcs11_key("", uri, pin.value))
                keep.push_back(uri);
        }
        if (keep.size() != list.size()) (void)write_owned(keep);
    }

    Result<void> rename_durably(const std::string& from, const std::string& to) {
        if (std::rename(from.c_str(), to.c_str()) != 0)
            return make_error(Code::file_error, "cannot rename '" + from + "' to '" + to + "'");
        sync_dir();
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
    std::string owned_;  // pkcs11.keys: the token keys this store owns
    std::string where_;  // pkcs11.uri: the token new keys are made in
    std::string in_flight_path_;
    std::string keys_lock_path_;
    FileLock in_flight_;  // LOCK_SH while a key generate_key made is named by no file
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

Result<std::shared_ptr<const crypto::PrivateKey>> Storage::generate_key(KeyAlgorithm alg, crypto::Random& rng) {
    auto k = crypto::PrivateKey::generate(alg, rng);
    if (!k) return k.error();
    return std::make_shared<const crypto::PrivateKey>(std::move(k.value()));
}

void Storage::discard_key(const crypto::PrivateKey&) {}

Result<void> use_token_keys(const std::string& dir, const TokenKeyOptions& o) {
    auto u = crypto::parse_pkcs11_token_uri(o.token_uri);
    if (!u) return u.error();
    for (auto [given, out] : {std::pair{&o.module, &u->module_path}, std::pair{&o.pin_file, &u->pin_source}}) {
        if (given->empty()) continue;
        std::error_code ec;
        *out = std::filesystem::absolute(*given, ec).string();
        if (ec) return make_error(Code::bad_argument, "cannot make '" + *given + "' absolute: " + ec.message());
    }
    if (u->module_path.empty())
        return make_error(Code::bad_argument, "no PKCS#11 module: give one, or module-path in the token URI");
    if (!platform::file_exists(u->module_path))
        return make_error(Code::file_error, "no PKCS#11 module at '" + u->module_path + "'");
    if (!u->pin_source.empty() && !platform::file_exists(u->pin_source))
        return make_error(Code::file_error, "no PIN file at '" + u->pin_source + "'");
    if (struct stat st{}; !u->pin_source.empty() && ::stat(u->pin_source.c_str(), &st) == 0 && (st.st_mode & 077))
        return make_error(Code::file_error, "the PIN file '" + u->pin_source +
                                                "' is readable or writable by others: chmod 600 it");
    if (auto r = platform::make_dirs(dir, 0700); !r) return r;
    return platform::write_file_atomic(dir + "/pkcs11.uri", crypto::format_pkcs11_uri(*u) + "\n", 0600);
}

std::unique_ptr<Storage> open_memory_storage() { return std::make_unique<MemoryStorage>(); }

std::unique_ptr<Storage> open_directory_storage(const std::string& dir) {
    return std::make_unique<DirectoryStorage>(dir);
}

}  // namespace irp::wallet
