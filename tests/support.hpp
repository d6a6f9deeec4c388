#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <stdlib.h>

#include "ocpp/schema_registry.hpp"

namespace test_support {

/// The official schemas, compiled once per test binary.
inline const ocpp::SchemaRegistry& official_schemas() {
    static const ocpp::SchemaRegistry instance;
    return instance;
}

inline std::filesystem::path fixtures_dir() { return OCPP_FIXTURES_DIR; }

/// A directory of this test process's own under the system temp directory, for the files its
/// tests write; removed with its contents when the process exits.
inline const std::filesystem::path& scratch_dir() {
    struct Directory {
        std::filesystem::path path;
        Directory() {
            std::string pattern = (std::filesystem::temp_directory_path() / "ocpp-test-XXXXXX").string();
            if (::mkdtemp(pattern.data()) == nullptr) {
                throw std::runtime_error("cannot create a scratch directory: " + pattern);
            }
            path = pattern;
        }
        Directory(const Directory&) = delete;
        Directory& operator=(const Directory&) = delete;
        ~Directory() {
            std::error_code ignored;
            std::filesystem::remove_all(path, ignored);
        }
    };
    static const Directory directory;
    return directory.path;
}

/// Writes `text` to `<scratch_dir>/<name>` and returns the file's path.
inline std::string write_scratch_file(const std::string& name, const std::string& text) {
    const auto path = scratch_dir() / name;
    std::ofstream out(path, std::ios::binary);
    out << text;
    if (!out.flush()) {
        throw std::runtime_error("cannot write " + path.string());
    }
    return path.string();
}

inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read fixture " + path.string());
    }
    std::ostringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

/// Rows of a TAB-separated manifest, without its header line.
inline std::vector<std::vector<std::string>> read_tsv(const std::filesystem::path& path) {
    std::istringstream in(read_file(path));
    std::vector<std::vector<std::string>> rows;
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        if (header) {
            header = false;
            continue;
        }
        if (line.empty() || line[0] == '#') {
            continue;
        }
        std::vector<std::string> fields;
        std::size_t start = 0;
        while (true) {
            const std::size_t tab = line.find('\t', start);
            fields.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
            if (tab == std::string::npos) {
                break;
            }
            start = tab + 1;
        }
        rows.push_back(std::move(fields));
    }
    return rows;
}

/// The `*.json` files of a directory, sorted.
inline std::vector<std::filesystem::path> json_files(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() == ".json") {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace test_support
