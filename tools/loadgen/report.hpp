#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/loadgen/options.hpp"
#include "tools/loadgen/payloads.hpp"

namespace loadgen {

/// Connection and BootNotification outcomes (ramp-up, never measured).
struct ConnectionStats {
    std::uint64_t attempted = 0;
    std::uint64_t connected = 0;  ///< WebSocket handshake completed with the right subprotocol
    std::uint64_t failed = 0;     ///< TCP, HTTP or subprotocol failure (after any retries)
    std::uint64_t retried = 0;    ///< attempts that failed and were tried again (--connect-retries)
    std::uint64_t boot_accepted = 0;
    std::uint64_t boot_not_accepted = 0;  ///< Pending or Rejected
    std::uint64_t boot_errors = 0;        ///< CALLERROR
    std::uint64_t boot_timeouts = 0;
    std::uint64_t closed_by_peer = 0;  ///< connections that ended before the generator closed them
    std::map<std::string, std::uint64_t> errors;  ///< connection failures and closes by cause

    void merge(const ConnectionStats& o);
};

/// CALLs scheduled inside the measured window and what became of them.
struct CallStats {
    std::uint64_t sent = 0;
    std::uint64_t results = 0;
    std::uint64_t errors = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t skipped = 0;       ///< scheduled, but no station was free
    std::uint64_t lost = 0;          ///< connection closed or send failed with the CALL open
    std::uint64_t answered_in_window = 0;  ///< answers (any CALL) received inside the window
    std::map<std::string, std::uint64_t> errors_by_code;
    std::array<std::uint64_t, kActionCount> sent_by_action{};
    /// Nanoseconds from scheduled send to answer, CALLRESULT and CALLERROR alike.
    std::vector<std::uint64_t> latencies_ns;

    void merge(CallStats&& o);
};

/// Per-station timings of a storm's way back, and how it went.
struct StormStats {
    std::uint64_t dropped = 0;
    std::uint64_t booted = 0;
    std::uint64_t failed = 0;       ///< never connected or never booted after the drop
    std::uint64_t first_results = 0;
    std::uint64_t first_errors = 0;
    std::uint64_t first_timeouts = 0;
    std::uint64_t first_lost = 0;   ///< connection closed with the first CALL open
    std::uint64_t tls_resumed = 0;  ///< reconnections whose TLS session was resumed
    std::map<std::string, std::uint64_t> first_errors_by_code;
    /// Scheduled reconnection -> BootNotification Accepted.
    std::vector<std::uint64_t> to_booted_ns;
    /// BootNotification sent -> its answer (the accepted one).
    std::vector<std::uint64_t> boot_ns;
    /// The StatusNotification sent right after booting -> its answer.
    std::vector<std::uint64_t> first_call_ns;
    std::chrono::steady_clock::time_point last_booted{};

    void merge(StormStats&& o);
};

/// Things worth a line that are not counted elsewhere.
struct Oddities {
    std::uint64_t late_answers = 0;     ///< answers after the CALL had timed out
    std::uint64_t unknown_answers = 0;  ///< answers to no open CALL
    std::uint64_t unparsable = 0;       ///< text from the gateway that is not an OCPP-J frame
    std::uint64_t gateway_calls = 0;    ///< CALLs from the gateway (answered NotImplemented)

    void merge(const Oddities& o);
};

/// The outcome of a run.
struct Report {
    Options options;
    std::size_t stations_v16 = 0;
    std::size_t stations_v201 = 0;
    double ramp_up_s = 0;
    double window_s = 0;
    bool traffic = false;  ///< the traffic phase ran (some station booted, not --idle)
    ConnectionStats connections;
    CallStats calls;
    Oddities oddities;
    bool storm = false;
    /// Storm: from the drop to the last station booted again.
    double storm_all_booted_s = 0;
    StormStats storm_stats;
};

/// Exact nearest-rank percentiles of the latencies, in milliseconds.
struct Percentiles {
    std::size_t samples = 0;
    double p50 = 0, p95 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};

/// Sorts `ns` in place.
Percentiles percentiles(std::vector<std::uint64_t>& ns);

/// Counts the stations of each version over the whole run (all processes).
void count_versions(Report& r);

/// Prints the report as --json asks: text, or one JSON object. Sorts the latencies.
void print_report(Report& r);

/// A process's report with every sample, for the parent of a --processes run.
nlohmann::json raw_report(const Report& r);
/// Adds a raw_report() of one process to `into` (counts summed, samples appended, the
/// longest ramp-up and storm kept). Throws nlohmann::json::exception on a malformed one.
void merge_raw(Report& into, const nlohmann::json& raw);

/// The human-readable report. Sorts the latencies.
std::string text_report(Report& r);
/// The report as one JSON object. Sorts the latencies.
nlohmann::json json_report(Report& r);

}  // namespace loadgen
