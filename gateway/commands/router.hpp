#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "gateway/commands/intake.hpp"
#include "gateway/commands/waiters.hpp"
#include "gateway/config/config.hpp"
#include "gateway/metrics/metrics.hpp"
#include "gateway/commands/presence_table.hpp"
#include "gateway/commands/recent_results.hpp"
#include "gateway/commands/route_log.hpp"
#include "gateway/commands/seen_commands.hpp"
#include "gateway/session/services.hpp"
#include "kafka_bridge/commands.hpp"
#include "kafka_bridge/consumer.hpp"
#include "kafka_bridge/producer_slot.hpp"
#include "ocpp/schema_registry.hpp"

namespace gateway::commands {

/// Operator commands across instances (docs/commands.md).
///
///   intake thread:  ocpp.commands (consumer group) ─▶ take: dedup, expiry, presence, schema
///                     ├─▶ decided here: a route record naming no target, carrying the result
///                     └─▶ a route record naming the instance that holds the station
///   tables thread:  the first route record of a command id (and hop) is the decision, the
///                   same on every instance; later ones (a second owner after a rebalance)
///                   are dropped. The decision's origin writes a decided result; its target
///                   delivers to the session.
///   tables topics:  ocpp.presence, ocpp.command-routes (from the beginning), ocpp.command-results
///                   (from an hour back, for REST callers); liveness records of this instance.
///   sessions:       finish() ─▶ result record; hand_back() ─▶ newer connection or NotConnected.
class Router : public session::CommandSink {
public:
    /// Route records written this long before an instance started are watched by it too
    /// (read back at start-up; their results, if any, are among the hour of results read
    /// back): should their executing instance be gone, it may be the only one left to end
    /// them (conclude_orphans). The same on every instance: they agree who writes.
    static constexpr std::chrono::minutes kLateWatch{55};

    Router(const config::Config& config, const ocpp::SchemaRegistry& schemas,
           kafka_bridge::ProducerSlot& producers, metrics::Metrics& metrics,
           const session::SessionLookup& stations);
    ~Router() override;

    /// Reads presence and routes up to their end, announces this instance, marks connections
    /// a previous run of it left behind as ended, and joins the command group. Returns the
    /// error in words when Kafka does not serve within `timeout`.
    std::optional<std::string> start(std::chrono::milliseconds timeout);
    /// Also reads `topic` (a compacted table) from its beginning, before start() returns and
    /// live afterwards, handing each record to `apply` on the tables thread; `live_only`: only
    /// records written from start() on (answers to this instance's questions). Call before
    /// start().
    void follow(std::string topic, std::function<void(const kafka_bridge::Message&)> apply,
                bool live_only = false);
    /// Announces the stop, joins the threads and leaves the group, waiting at most
    /// `leave_within` for Kafka. Idempotent.
    void stop(std::chrono::milliseconds leave_within = std::chrono::seconds(5));

    // CommandSink
    void finish(const kafka_bridge::Command& command, kafka_bridge::CommandOutcome outcome) override;
    void hand_back(std::vector<kafka_bridge::Command> commands, const session::Session& from) override;
    void session_opened(const std::shared_ptr<session::Session>& session) override;
    void session_closed(const std::shared_ptr<session::Session>& session, bool superseded) override;
    std::optional<std::string> known_spelling(const std::string& station_id) const override;

    /// Called once with the result record (JSON text), or with nothing when none arrived in
    /// time. Runs on the tables thread: must not block.
    using ResultCallback = Waiters::Callback;
    /// Called once when Kafka has taken the command record (nothing) or refused it (the error
    /// in words: the record may still have been written when the error is a time-out). Runs
    /// on the producer's poll thread: must not block.
    using WrittenCallback = std::function<void(std::optional<std::string>)>;
    /// Why submit() wrote nothing; neither callback is called.
    struct SubmitError {
        enum class Kind : std::uint8_t {
            not_queued,   ///< the producer refused the record
            result_gone,  ///< the command ended, and its result is no longer kept here
        };
        Kind kind;
        std::string message;
    };
    /// Writes `record` (a command, already checked) to ocpp.commands; `on_written` learns
    /// whether Kafka took it, and when `on_result` is set it is called once the result appears
    /// or `wait` has passed. A command whose result this instance read within the last
    /// kResultsWindow is not written again: `on_result` gets that result at once (and
    /// `on_written` is not called). When `on_result` is set and the command (same station and
    /// action) is still remembered as taken (kSeenWindow after its route) and its result was
    /// read but is no longer kept (older than kResultsWindow, or pushed out), nothing is
    /// written either (a repeat is never carried out), and the error says so: waiting would
    /// wait for a result that never comes.
    std::optional<SubmitError> submit(const nlohmann::json& record, ResultCallback on_result,
                                      std::chrono::milliseconds wait, WrittenCallback on_written);

    /// The presence of one station, or nothing when it was never seen.
    std::optional<nlohmann::json> station(const std::string& station_id) const;
    /// Every station connected on a live instance.
    nlohmann::json stations() const;
    /// The ids of the instances alive now (this one included), sorted.
    std::vector<std::string> alive_instances() const;

private:
    using PartitionKey = OffsetTracker::Partition;

    std::optional<std::string> catch_up(const kafka_bridge::Watermarks& marks,
                                        std::chrono::steady_clock::time_point deadline);
    void end_previous_connections();
    void intake_loop();
    void tables_loop();
    void take(const kafka_bridge::Message& message);
    /// Remembers `command`'s id and its use (station and action); false when the id was taken
    /// before. The first time, `taken` is wrapped to release the later reads held meanwhile
    /// (OpenReads). A repeat (same station and action) is counted and its `taken` runs with
    /// the first read's; a record reusing the id for another station or action goes to the
    /// dead-letter topic (each time it is read), and `taken` runs once Kafka has taken it.
    bool first_sighting(const kafka_bridge::Command& command, const kafka_bridge::Message& message,
                        std::function<void()>& taken);
    kafka_bridge::Presence presence_of(const session::Session& session, bool connected) const;
    /// Writes the Connected record of a session again after a failed write, unless the session
    /// has closed or been replaced meanwhile.
    void open_again(const std::weak_ptr<session::Session>& weak);
    /// This instance as the station's holder: a connection here whose Connected record is
    /// not acknowledged yet, or is and no newer record was read since. The table may not have
    /// read it back yet.
    std::optional<kafka_bridge::Presence> held_here(const std::string& station_id) const;
    void decide(kafka_bridge::Command command, std::function<void()> taken);
    void redecide(kafka_bridge::Command command);
    void conclude(const kafka_bridge::Command& command, kafka_bridge::CommandOutcome outcome,
                  std::function<void()> taken);
    /// Writes a route record (`ends` > 0: a claim to end a decision, see CommandRoute).
    void route(const kafka_bridge::Command& command, const std::string& target,
               std::function<void()> taken, std::optional<std::string> result = std::nullopt,
               int ends = 0);
    std::string result_record(const kafka_bridge::Command& command,
                              const kafka_bridge::CommandOutcome& outcome) const;
    void publish_result(const kafka_bridge::Command& command, std::string_view status,
                        std::string record);
    /// A liveness record of this instance was acknowledged (the thread serving delivery reports).
    void alive_acknowledged();
    /// Whether the others may have ended `command` for this instance: it has been cut off
    /// from Kafka (no liveness record acknowledged for an instance timeout) since the command
    /// came in.
    bool maybe_ended_elsewhere(const kafka_bridge::Command& command) const;
    /// Writes a result only once this instance is seen alive again and has read the result
    /// topic to its end without finding one for the command (check_held_results).
    void hold_result(const kafka_bridge::Command& command, std::string status, std::string record);
    void check_held_results();  // tables thread
    /// Whether the result read for `command_id` (within the recent window) is this instance's.
    bool written_by_self(const std::string& command_id) const;
    void dispatch(const kafka_bridge::Message& message);
    void apply_presence(const kafka_bridge::Message& message);
    void apply_route(const kafka_bridge::Message& message);
    void apply_result(const kafka_bridge::Message& message);
    /// Writes `message` to the dead-letter topic (again every few seconds while Kafka does not
    /// take it); `written` (may be empty) runs once Kafka has.
    void dead_letter(const kafka_bridge::Message& message, const std::string& reason,
                     std::function<void()> written);
    void heartbeat(bool alive);
    void expire_waiters();
    /// Warns when command ids were forgotten before their window was over (more of them than
    /// the capacity in one window): a repeat of one would be carried out again.
    void report_forgotten_ids();
    /// Claims to end with NotConnected the commands whose target instance is gone, when this
    /// instance is the one to do it: the route's origin if it is alive, else the live instance
    /// with the smallest id among those that watched the route from before it was written,
    /// else the earliest run among those that read it back at start-up (watches_late). The
    /// result is written once the claim is read back as the first one (views of who is alive
    /// can differ for a moment; the route partition's order cannot).
    void conclude_orphans();
    /// This instance's wall clock (unix ms) as the router uses it.
    std::int64_t now_ms() const {
        return kafka_bridge::unix_now_ms() + config_.commands.test_clock_offset.count();
    }
    /// Reads partitions added to the table topics since start-up (from their beginning) and
    /// says what a grown topic means.
    void pick_up_new_partitions();
    /// Queues a record; `done(ok)` runs once Kafka answered (or at once when not queued).
    void produce(const std::string& topic, const std::string& key, std::string value,
                 std::function<void(bool)> done);
    void store_taken();
    void write_presence(const kafka_bridge::Presence& p);
    void write_result(const kafka_bridge::Command& command, std::string record);
    /// Runs `action` on the tables thread a little later: writing a record of the router's own
    /// again after Kafka did not take it. `what` names the record in logs.
    void retry_later(std::string what, std::function<void()> action);
    void run_due_retries();
    using Command = kafka_bridge::Command;
    kafka_bridge::CommandOutcome not_connected(const kafka_bridge::Command& command,
                                               std::int64_t now_ms) const;

    const config::Config& config_;
    const ocpp::SchemaRegistry& schemas_;
    kafka_bridge::ProducerSlot& producers_;
    metrics::Metrics& metrics_;
    const session::SessionLookup& stations_;
    kafka_bridge::CommandDefaults defaults_;

    std::unique_ptr<kafka_bridge::Consumer> intake_;
    std::unique_ptr<kafka_bridge::Consumer> tables_;
    std::thread intake_thread_;
    std::thread tables_thread_;
    std::atomic<bool> running_{false};
    /// This run of the instance (kafka_bridge::gateway_record): larger than any earlier run of
    /// the same gatewayId; set at start once the presence table is read.
    std::atomic<std::int64_t> run_{0};
    /// Route records below these offsets were written before this instance started: they are
    /// remembered (duplicates) but not executed.
    std::map<PartitionKey, std::int64_t> live_from_;
    /// Route records read at start-up written since then (Unix ms) are watched (kLateWatch).
    std::int64_t late_watch_from_ms_ = 0;
    std::map<std::string, std::function<void(const kafka_bridge::Message&)>> followed_;
    std::set<std::string> live_only_;

    mutable std::mutex mutex_;
    PresenceTable presence_;
    SeenCommands seen_;
    /// The uses of those ids (command_use_key): a repeat is told from a reuse.
    SeenCommands uses_;
    /// seen_.forgotten_early() when last reported, and when the next report may come (tables
    /// thread).
    std::uint64_t forgotten_reported_ = 0;
    std::chrono::steady_clock::time_point next_forgotten_report_{};
    /// seen_.forgotten_early() when last added to the metric (tables thread).
    std::uint64_t forgotten_counted_ = 0;
    /// Which route records are decisions and claims that stand.
    RouteLog decided_;
    Waiters waiters_;
    /// Results read lately: a repeated REST call is answered with the first one's result.
    RecentResults results_;
    /// Every command routed since this instance started (or within kLateWatch before), until
    /// its result appears: when its target goes away, one live instance writes the result the
    /// target never will.
    struct Routed {
        Command command;
        /// The instance that must write the result: the route's target, or its origin when the
        /// outcome was decided at intake (then `result` holds it).
        std::string target;
        std::optional<std::chrono::steady_clock::time_point> target_gone_since;
        std::optional<std::string> result;
        /// The runs of `target` and of the origin the route was decided for (0: not known).
        /// A later run of the same id does not finish the command: that counts as gone.
        std::int64_t target_run = 0;
        std::int64_t origin_run = 0;
        /// The route record's timestamp (Unix ms; -1: none).
        std::int64_t routed_ms = -1;
        /// The route record is the n-th claim to end the decision (0: the decision itself).
        int ends = 0;
    };
    /// Whether `gateway_id` has been restarted since `run` (under mutex_).
    bool restarted_since(const std::string& gateway_id, std::int64_t run) const {
        return run > 0 && presence_.gateway_run(gateway_id) > run;
    }
    /// Whether instance `gateway_id` can write the result of `r` for a target that is gone
    /// (`restarted_only`: gone only because a later run of its id is alive): it watches the
    /// route and sees the target gone (under mutex_).
    bool can_conclude(const std::string& gateway_id, const Routed& r, bool restarted_only) const;
    /// Whether instance `gateway_id` read the route of `r` back at start-up and watches it
    /// (kLateWatch): a writer when no instance watched it from before it was written (under
    /// mutex_).
    bool watches_late(const std::string& gateway_id, const Routed& r) const;
    /// By command_key.
    std::map<std::string, Routed> routed_;
    /// Commands whose result was read (command_key): a route read after its result (other
    /// partitions are not ordered with it) is not watched.
    SeenCommands resulted_;

    OffsetTracker offsets_;
    OpenReads open_reads_;

    /// Liveness records acknowledged (Unix ms): the last one, and the end of the last gap of
    /// an instance timeout or more between two (this instance cut off from Kafka, or stalled:
    /// the others may have taken it for gone and ended its commands).
    std::atomic<std::int64_t> alive_acked_ms_{0};
    std::atomic<std::int64_t> gap_ended_ms_{0};
    struct HeldResult {
        Command command;
        std::string status;  ///< empty: a retry, already counted
        std::string record;
        /// The last liveness acknowledgement when it was held: it waits for a later one.
        std::int64_t acked_before_ms = 0;
        /// The result topic's end offsets once asked; written or withheld when read up to them.
        std::map<std::int32_t, std::int64_t> ends;
    };
    std::mutex held_mutex_;
    std::vector<HeldResult> held_incoming_;  // under held_mutex_
    std::vector<HeldResult> held_results_;   // tables thread
    /// Next offset of each result partition the tables thread will read (tables thread).
    std::map<std::int32_t, std::int64_t> results_read_;
    std::chrono::steady_clock::time_point next_end_query_{};  // tables thread

    struct Retry {
        std::chrono::steady_clock::time_point at;
        std::string what;
        std::function<void()> action;
    };
    std::mutex retry_mutex_;
    std::vector<Retry> retries_;  // under retry_mutex_
    // One warning a second at most: a broker failure fails every station's presence at once.
    std::chrono::steady_clock::time_point last_retry_warning_{};  // under retry_mutex_
    std::size_t unreported_retries_ = 0;                          // under retry_mutex_
};

}  // namespace gateway::commands
