#include "gateway/metrics/process.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace gateway::metrics {

std::optional<double> boot_time_by_clock() {
    timespec now{};
    timespec since_boot{};
    if (::clock_gettime(CLOCK_REALTIME, &now) != 0 || ::clock_gettime(CLOCK_BOOTTIME, &since_boot) != 0) {
        return std::nullopt;
    }
    const auto seconds = [](const timespec& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9; };
    return seconds(now) - seconds(since_boot);
}

namespace {

/// The fields of /proc/self/stat after the command name (which may hold spaces and
/// parentheses, so the split starts after the last ')'): element 0 is field 3, the state.
std::optional<std::vector<std::string>> stat_fields() {
    std::ifstream in("/proc/self/stat");
    std::string line;
    if (!std::getline(in, line)) {
        return std::nullopt;
    }
    const auto close = line.rfind(')');
    if (close == std::string::npos) {
        return std::nullopt;
    }
    std::istringstream rest(line.substr(close + 1));
    std::vector<std::string> fields;
    for (std::string field; rest >> field;) {
        fields.push_back(std::move(field));
    }
    return fields;
}

/// The machine's boot time (Unix seconds): the `btime` line of /proc/stat, or, where that is
/// hidden (systemd's ProcSubset=pid shows a service only its own processes), the clocks'.
std::optional<double> boot_time() {
    std::ifstream in("/proc/stat");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("btime ", 0) == 0) {
            return std::stod(line.substr(6));
        }
    }
    return boot_time_by_clock();
}

/// Entries of /proc/self/fd, without the one that reads them.
std::optional<double> open_fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        return std::nullopt;
    }
    const std::string own = std::to_string(::dirfd(dir));
    double n = 0;
    while (const dirent* entry = ::readdir(dir)) {
        const std::string_view name = entry->d_name;
        if (name != "." && name != ".." && name != own) {
            ++n;
        }
    }
    ::closedir(dir);
    return n;
}

}  // namespace

std::optional<ProcessStats> read_process_stats() {
    const auto fields = stat_fields();
    // Fields used (proc(5), counted from 1): utime 14, stime 15, num_threads 20, starttime 22,
    // vsize 23, rss 24; here at index field - 3.
    if (!fields || fields->size() < 22) {
        return std::nullopt;
    }
    const auto boot = boot_time();
    const auto fds = open_fds();
    rlimit limit{};
    if (!boot || !fds || ::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
        return std::nullopt;
    }
    try {
        const auto& f = *fields;
        const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
        const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
        ProcessStats s;
        s.cpu_seconds = (std::stod(f[14 - 3]) + std::stod(f[15 - 3])) / ticks;
        s.threads = std::stod(f[20 - 3]);
        s.start_time_seconds = *boot + std::stod(f[22 - 3]) / ticks;
        s.virtual_bytes = std::stod(f[23 - 3]);
        s.resident_bytes = std::stod(f[24 - 3]) * page;
        s.open_fds = *fds;
        if (limit.rlim_cur != RLIM_INFINITY) {
            s.max_fds = static_cast<double>(limit.rlim_cur);
        }
        return s;
    } catch (const std::exception&) {
        return std::nullopt;  // not numbers where proc(5) has them: nothing to export
    }
}

std::string render_process(const ProcessStats& s) {
    std::string out;
    auto one = [&out](std::string_view name, std::string_view type, std::string_view help, double value) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
    };
    one("process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.",
        s.cpu_seconds);
    one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", s.resident_bytes);
    one("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", s.virtual_bytes);
    one("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.",
        s.start_time_seconds);
    one("process_threads", "gauge", "Number of OS threads in the process.", s.threads);
    one("process_open_fds", "gauge", "Number of open file descriptors.", s.open_fds);
    if (s.max_fds) {
        one("process_max_fds", "gauge", "Maximum number of open file descriptors (the soft limit).",
            *s.max_fds);
    }
    return out;
}

}  // namespace gateway::metrics
