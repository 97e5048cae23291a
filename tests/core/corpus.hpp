// Reads the shared bad-input corpus (tests/corpus/, see its README.md). The
// same files seed the fuzzers, so a test that reads them keeps them honest:
// every file must appear in its test's table of expected results.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"

#ifndef IRP_TEST_CORPUS_DIR
#define IRP_TEST_CORPUS_DIR "tests/corpus"
#endif

namespace irp::test {

inline std::filesystem::path corpus_dir(const std::string& sub) {
    return std::filesystem::path(IRP_TEST_CORPUS_DIR) / sub;
}

// The whole file; fails the current test if it cannot be read.
inline Bytes read_corpus(const std::string& sub, const std::string& name) {
    const auto path = corpus_dir(sub) / name;
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open corpus file " << path.string());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The names of the regular files in a corpus folder, sorted.
inline std::vector<std::string> list_corpus(const std::string& sub) {
    std::vector<std::string> names;
    const auto dir = corpus_dir(sub);
    REQUIRE_MESSAGE(std::filesystem::is_directory(dir), "corpus folder missing: " << dir.string());
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_regular_file()) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace irp::test
