// Test support shared by every suite: a private temporary directory removed
// afterwards, and whole-file reads and writes that fail the test on error.
#pragma once

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "irp/base/bytes.hpp"

namespace irp_test {

class TempDir {
public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "irp-test-XXXXXX").string();
        const char* p = ::mkdtemp(tmpl.data());
        REQUIRE_MESSAGE(p != nullptr, "mkdtemp failed");
        path_ = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    std::string operator/(const std::string& name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

inline void write_file(const std::string& path, const std::string& content) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << content;
    REQUIRE_MESSAGE(f.good(), "cannot write " << path);
}
inline void write_file(const std::string& path, const irp::Bytes& content) {
    write_file(path, std::string(content.begin(), content.end()));
}
inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE_MESSAGE(f.good(), "cannot open " << path);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}
inline irp::Bytes read_bytes(const std::string& path) {
    const std::string s = read_text(path);
    return irp::Bytes(s.begin(), s.end());
}

}  // namespace irp_test
