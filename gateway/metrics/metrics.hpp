#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string_view>
#include <mutex>
#include <optional>
#include <string>

#include "ocpp/actions.hpp"
#include "ocpp/version.hpp"

namespace gateway::metrics {

/// The gateway's Prometheus metrics. Thread-safe; cheap enough for the per-message path.
class Metrics {
public:
    enum class Outcome : std::uint8_t {
        acknowledged,    ///< published, acked, answered with CALLRESULT
        answered_early,  ///< immediate mode: answered before the ack
        rejected,        ///< refused with a CALLERROR (invalid, RPC rule)
        failed,          ///< publish failed: answered with CALLERROR InternalError
    };

    Metrics();

    void connection_opened(ocpp::ProtocolVersion v);
    void connection_closed(ocpp::ProtocolVersion v);
    void handshake_refused(const std::string& reason);
    /// One station CALL's outcome; lock-free. Actions outside `v`'s catalog are counted as
    /// action "unknown" (a station cannot grow the label set).
    void message(ocpp::ProtocolVersion v, std::string_view action, Outcome outcome);
    void validation_failure(ocpp::ProtocolVersion v, const std::string& code);
    void dead_letter();
    void produce_ack_latency(std::chrono::steady_clock::duration d);
    /// Ask mode: the operator's decision arrived after `d`.
    void ask_answered(std::chrono::steady_clock::duration d);
    /// Ask mode: no decision by the deadline (or the question could not be written).
    void ask_timed_out();
    void delivery_failure(const std::string& topic);
    /// A partition that appeared in a table topic while running (now read as well).
    void partition_added(const std::string& topic);
    void immediate_undelivered(ocpp::EventClass c);
    void backpressure_wait();
    void unmatched_response();
    /// A command ended with `status` (its result record was handed to the producer).
    void command_result(std::string_view status);
    /// A command record whose commandId was already taken: not delivered again.
    void command_duplicate();
    /// A command record without a usable commandId: sent to the dead-letter topic.
    void command_unusable();
    /// A command record reusing a commandId taken for another station or action: sent to the
    /// dead-letter topic.
    void command_id_reused();
    /// `count` more command ids forgotten before their window was over (a router's table of
    /// remembered ids was full).
    void command_ids_forgotten_early(std::uint64_t count);
    /// A result not written: another instance had ended the command while this one was cut
    /// off from Kafka.
    void command_result_withheld();

    /// A station event Kafka acknowledged: `received_ms` after the gateway received it, and
    /// `station_ms` after the moment the station gave it (its own timestamp, when it has one;
    /// negative when the station's clock is ahead). `over_budget`: later than the event
    /// class's freshness budget.
    void event_stored(ocpp::EventClass c, std::int64_t received_ms,
                      std::optional<std::int64_t> station_ms, bool over_budget);
    /// A station event whose timestamp is further ahead of / behind the gateway's clock than
    /// the configured tolerance.
    void station_clock_off(bool ahead);

    /// An answer that carries the operator's decision (authorization, boot): its source
    /// (table, policy, ...) and status. Labels come from the gateway's fixed sets.
    void decision(std::string_view kind, std::string_view source, std::string_view status);
    /// Tolerance profiles: one repair made to an accepted message, and a message the
    /// profile's repairs could not make valid. Profile names come from the configuration.
    void tolerance_repair(std::string_view profile, std::string_view rule);
    void tolerance_refused(std::string_view profile);
    /// A station message refused for its schema, by the station's vendor and model (from its
    /// BootNotification; empty: unknown) and `kind`: a repair that would apply to it, or
    /// "unrepairable" when no allowed repair would make it valid. Vendor and model are
    /// station input: printable ASCII, cut to 64 bytes, and only the first kMaxModels pairs
    /// get labels of their own (later ones count as "other").
    void schema_violation(std::string_view vendor, std::string_view model, std::string_view kind);
    static constexpr std::size_t kMaxModels = 100;

    /// Prometheus text exposition; `gauges` adds values read at scrape time.
    std::string render(const std::map<std::string, double>& gauges) const;

    std::int64_t open_connections() const;

private:
    static constexpr std::array<double, 12> kLatencyBuckets = {
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5};
    /// Station clock to Kafka: seconds for live events, hours for a backlog sent after an
    /// outage.
    static constexpr std::array<double, 12> kFreshnessBuckets = {
        0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400};

    /// A histogram over `Bounds` (seconds); lock-free.
    template <const std::array<double, 12>& Bounds>
    struct Histogram {
        std::array<std::atomic<std::uint64_t>, Bounds.size()> buckets{};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_us{0};
        void observe(std::chrono::steady_clock::duration d) {
            observe_us(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
        }
        void observe_us(std::int64_t us);
        /// `labels`: "event_class=\"status\"" or empty.
        void render(std::string& out, std::string_view name, std::string_view labels = {}) const;
    };
    using LatencyHistogram = Histogram<kLatencyBuckets>;
    using FreshnessHistogram = Histogram<kFreshnessBuckets>;

    std::array<std::atomic<std::int64_t>, ocpp::kAllVersions.size()> open_{};
    std::array<std::atomic<std::uint64_t>, ocpp::kAllVersions.size()> opened_total_{};
    std::atomic<std::uint64_t> dead_letters_{0};
    std::atomic<std::uint64_t> backpressure_waits_{0};
    std::atomic<std::uint64_t> unmatched_responses_{0};
    std::atomic<std::uint64_t> command_duplicates_{0};
    std::atomic<std::uint64_t> commands_unusable_{0};
    std::atomic<std::uint64_t> command_ids_reused_{0};
    std::atomic<std::uint64_t> command_ids_forgotten_early_{0};
    std::atomic<std::uint64_t> command_results_withheld_{0};

    mutable std::mutex mutex_;
    std::map<std::string, std::uint64_t> handshake_refused_;
    /// Per version: a counter per outcome for each catalog action (by its index in
    /// ocpp::actions(v)), then one row for unknown actions.
    using OutcomeCounts = std::array<std::atomic<std::uint64_t>, 4>;
    std::array<std::unique_ptr<OutcomeCounts[]>, ocpp::kAllVersions.size()> messages_;
    std::map<std::string, std::uint64_t> validation_;   // labels → count
    std::map<std::string, std::uint64_t> delivery_failures_;
    std::map<std::string, std::uint64_t> partitions_added_;
    std::map<std::string, std::uint64_t, std::less<>> command_results_;
    std::map<std::string, std::uint64_t, std::less<>> decisions_;  // labels → count
    std::map<std::string, std::uint64_t, std::less<>> tolerance_repairs_;  // labels → count
    std::map<std::string, std::uint64_t, std::less<>> tolerance_refused_;  // profile → count
    std::map<std::string, std::uint64_t, std::less<>> schema_violations_;  // labels → count
    std::set<std::string, std::less<>> violation_models_;                  // vendor/model pairs labelled
    std::array<std::uint64_t, ocpp::kEventClassCount> immediate_undelivered_{};
    // Updated once per record on the producer's poll thread.
    LatencyHistogram produce_ack_;
    LatencyHistogram ask_latency_;
    std::atomic<std::uint64_t> ask_timeouts_{0};
    std::array<LatencyHistogram, ocpp::kEventClassCount> receipt_to_ack_;
    std::array<FreshnessHistogram, ocpp::kEventClassCount> station_to_ack_;
    std::array<std::atomic<std::uint64_t>, ocpp::kEventClassCount> over_budget_{};
    std::array<std::atomic<std::uint64_t>, 2> clock_off_{};  // ahead, behind
};

}  // namespace gateway::metrics
