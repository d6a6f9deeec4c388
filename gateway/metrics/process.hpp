#pragma once

#include <optional>
#include <string>

namespace gateway::metrics {

/// What the operating system says about this process, read at scrape time: the standard
/// Prometheus `process_*` metrics, so that an instance's CPU per message and memory per station
/// can be followed in production as docs/benchmarks.md measures them.
struct ProcessStats {
    double cpu_seconds = 0;         ///< user + system CPU time used so far
    double resident_bytes = 0;      ///< resident set size
    double virtual_bytes = 0;       ///< virtual memory size
    double start_time_seconds = 0;  ///< since the Unix epoch
    double threads = 0;
    double open_fds = 0;            ///< open file descriptors (stations are sockets)
    std::optional<double> max_fds;  ///< the soft limit on open file descriptors (none: unlimited)
};

/// The machine's boot time (Unix seconds) from the real-time and boot clocks: what
/// read_process_stats() uses where /proc/stat is hidden.
std::optional<double> boot_time_by_clock();

/// Reads /proc/self (Linux); nullopt where it cannot be read.
std::optional<ProcessStats> read_process_stats();

/// Prometheus text exposition of `stats`, HELP and TYPE lines included.
std::string render_process(const ProcessStats& stats);

}  // namespace gateway::metrics
