#include "irp/platform/files.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace irp::platform {

namespace {

Error os_error(const std::string& what, const std::string& path) {
    return make_error(Code::file_error, what + " '" + path + "': " + std::strerror(errno));
}

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }

private:
    int fd_;
};

}  // namespace

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return os_error("cannot open", path);
    std::string out;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error("cannot read", path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > max_bytes)
            return make_error(Code::file_error, "file '" + path + "' is larger than " + std::to_string(max_bytes) + " bytes");
    }
    return out;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
    const std::filesystem::path target(path);
    const auto dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
    std::string tmpl = (dir / ("." + target.filename().string() + ".XXXXXX")).string();
    // mkstemp creates the file 0600; fchmod sets the requested mode before
    // any byte is written, so a key is never readable by others.
    Fd fd(::mkstemp(tmpl.data()));
    if (fd.get() < 0) return os_error("cannot create a temporary file for", path);
    auto fail = [&](const char* what) {
        Error e = os_error(what, path);
        ::unlink(tmpl.c_str());
        return e;
    };
    if (::fchmod(fd.get(), mode) != 0) return fail("cannot set the mode of");
    std::size_t off = 0;
    while (off < data.size()) {
        const ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail("cannot write");
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return fail("cannot fsync");
    if (::close(fd.release()) != 0) return fail("cannot close");
    if (::rename(tmpl.c_str(), path.c_str()) != 0) return fail("cannot rename into place");
    Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dfd.get() >= 0) ::fsync(dfd.get());  // make the rename durable
    return {};
}

Result<void> make_dirs(const std::string& path, mode_t mode) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) return {};
    std::filesystem::create_directories(path, ec);
    if (ec) return make_error(Code::file_error, "cannot create directory '" + path + "': " + ec.message());
    if (::chmod(path.c_str(), mode) != 0) return os_error("cannot set the mode of", path);
    return {};
}

bool file_exists(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(path, ec);
}

Result<Bytes> read_hex_secret(const std::string& path, std::size_t min_bytes, const std::string& what) {
    auto text = read_file(path);
    if (!text) return text.error();
    std::string hex;
    for (const char c : *text)
        if (c != '\n' && c != '\r' && c != ' ') hex.push_back(c);
    Bytes secret;
    if (!from_hex(hex, secret) || secret.size() < min_bytes)
        return make_error(Code::config_invalid, what + " '" + path + "' must be at least " + std::to_string(min_bytes) +
                                                    " bytes written as hex");
    return secret;
}

}  // namespace irp::platform
