#pragma once

#include <sys/stat.h>

#include <string>
#include <tuple>

namespace gateway::security {

/// What tells a file's versions apart when it is checked for changes: its modification time
/// to the nanosecond, size and inode (a file replaced by a rename is another inode; two writes
/// within one second differ in time or size). All zero for a file that cannot be read.
using FileStamp = std::tuple<long long, long long, long long, long long>;

inline FileStamp file_stamp(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        return {};
    }
    return {static_cast<long long>(st.st_mtim.tv_sec), static_cast<long long>(st.st_mtim.tv_nsec),
            static_cast<long long>(st.st_size), static_cast<long long>(st.st_ino)};
}

}  // namespace gateway::security
