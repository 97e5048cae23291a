// Runs a libFuzzer target over corpus files without libFuzzer, so CI can
// replay the corpora with the normal (g++) build:
//
//   fuzz_replay_frame fuzz/corpus/frame tests/corpus
//
// Each argument is a file or a directory (walked recursively, in sorted
// order so runs are reproducible). A missing argument, or a directory with
// no files in it, is an error: a replay that silently ran nothing would
// pass for the wrong reason. A target that finds a violated invariant
// aborts, which fails the run.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

bool read_file(const fs::path& path, std::vector<std::uint8_t>& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f) return false;
    out.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
    return !f.bad();
}

bool run_one(const fs::path& path) {
    std::vector<std::uint8_t> data;
    if (!read_file(path, data)) {
        std::fprintf(stderr, "cannot read %s\n", path.c_str());
        return false;
    }
    // The file's name first, so an abort inside the target says which input.
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", path.c_str(), data.size());
    LLVMFuzzerTestOneInput(data.data(), data.size());
    return true;
}

// Returns the number of inputs replayed, or -1 on an error.
long replay(const fs::path& arg) {
    std::error_code ec;
    if (fs::is_regular_file(arg, ec)) return run_one(arg) ? 1 : -1;
    if (!fs::is_directory(arg, ec)) {
        std::fprintf(stderr, "%s: no such file or directory\n", arg.c_str());
        return -1;
    }
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->is_regular_file(ec)) files.push_back(it->path());
    }
    if (ec) {
        std::fprintf(stderr, "%s: %s\n", arg.c_str(), ec.message().c_str());
        return -1;
    }
    std::sort(files.begin(), files.end());
    long n = 0;
    for (const auto& f : files) {
        if (!run_one(f)) return -1;
        ++n;
    }
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    int status = 0;
    for (int i = 1; i < argc; ++i) {
        const long n = replay(argv[i]);
        if (n < 0) {
            status = 1;
        } else if (n == 0) {
            std::fprintf(stderr, "%s: no inputs\n", argv[i]);
            status = 1;
        } else {
            std::printf("replayed %ld inputs from %s\n", n, argv[i]);
        }
    }
    return status;
}
