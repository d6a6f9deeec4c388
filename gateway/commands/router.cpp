#include "gateway/commands/router.hpp"

#include <algorithm>
#include <iterator>

#include "gateway/log/log.hpp"
#include "gateway/session/command_checks.hpp"
#include "gateway/session/session.hpp"
#include "kafka_bridge/envelope.hpp"

namespace gateway::commands {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using kafka_bridge::Command;
using kafka_bridge::CommandOutcome;
using kafka_bridge::CommandError;
using kafka_bridge::CommandStatus;

// Commands ids remembered for duplicate detection: a day's worth, like the routes topic, from
// the time of their route record, and an hour more: a command lives at most a day from its own
// record's time, which an operator's clock ahead of the gateway's puts later.
constexpr std::size_t kSeenCapacity = 1'000'000;
constexpr auto kSeenWindow =
    std::chrono::milliseconds(kafka_bridge::kMaxCommandLifetimeMs) + std::chrono::hours(1);
// Results kept for repeated REST calls: an hour of them (read back from the result topic at
// start-up), at most 20,000 and 16 MiB.
constexpr auto kResultsWindow = std::chrono::hours(1);
constexpr std::size_t kResultsKept = 20'000;
static_assert(Router::kLateWatch < kResultsWindow,
              "a route watched from start-up must have its result within the results read back");
constexpr std::size_t kResultsBytes = std::size_t{16} << 20;

}  // namespace

Router::Router(const config::Config& config, const ocpp::SchemaRegistry& schemas,
               kafka_bridge::ProducerSlot& producers, metrics::Metrics& metrics,
               const session::SessionLookup& stations)
    : config_(config),
      schemas_(schemas),
      producers_(producers),
      metrics_(metrics),
      stations_(stations),
      defaults_{config.commands.default_timeout, config.commands.max_age,
                config.limits.max_message_bytes - std::min(kafka_bridge::kCommandRecordRoom, config.limits.max_message_bytes / 2)},
      presence_(config.commands.instance_timeout, config.gateway_id),
      seen_(kSeenCapacity, kSeenWindow),
      uses_(kSeenCapacity, kSeenWindow),
      decided_(kSeenCapacity, kSeenWindow),
      results_(kResultsKept, kResultsBytes, kResultsWindow),
      resulted_(kSeenCapacity, kSeenWindow) {}

Router::~Router() { stop(); }

std::optional<std::string> Router::start(std::chrono::milliseconds timeout) {
    // Before the live marks below: route records written from here on are this run's to watch.
    const std::int64_t started_ms = now_ms();
    // Record timestamps are their writers' clocks (as for the results read back below), not
    // the router's (test) clock.
    late_watch_from_ms_ =
        kafka_bridge::unix_now_ms() - std::chrono::milliseconds(kLateWatch).count();
    // The default fetch wait for the tables too: right after assign_all, partitions whose start
    // offset is still being looked up join the fetch only when the one in flight returns, so a
    // longer wait leaves a new instance blind to presence records for that long.
    const kafka_bridge::ConsumerConfig tables_config = config::consumer_config(config_);
    auto tables = kafka_bridge::Consumer::create(tables_config);
    if (!tables.ok()) {
        return tables.error().to_string();
    }
    tables_ = std::move(tables.value());
    using Start = kafka_bridge::Consumer::Start;
    std::vector<std::pair<std::string, Start>> topics = {
        {config_.topics.presence, Start::beginning},
        {config_.topics.command_routes, Start::beginning},
        {config_.topics.command_results, Start::since}};
    for (const auto& [topic, apply] : followed_) {
        topics.emplace_back(topic, live_only_.count(topic) != 0 ? Start::end : Start::beginning);
    }
    auto marks = tables_->assign_all(
        topics, timeout,
        kafka_bridge::unix_now_ms() - std::chrono::milliseconds(kResultsWindow).count());
    if (!marks.ok()) {
        return marks.error().to_string();
    }
    for (const auto& [partition, mark] : marks.value()) {
        live_from_[partition] = mark.second;
        if (partition.first == config_.topics.command_results) {
            results_read_[partition.second] = mark.first;
        }
    }
    if (auto behind = catch_up(marks.value(), Clock::now() + timeout)) {
        return behind;
    }
    {
        // When this run started, unless a run of this id recorded a later time (a clock that
        // went back): larger than every earlier run's, also once their records are compacted
        // away. The other instances compare it with route records' timestamps too.
        std::lock_guard<std::mutex> lock(mutex_);
        run_ = std::max(presence_.gateway_run(config_.gateway_id) + 1, started_ms);
        presence_.set_self_run(run_);
    }
    alive_acked_ms_ = kafka_bridge::unix_now_ms();  // nothing held yet: the start counts
    heartbeat(true);
    end_previous_connections();

    kafka_bridge::ConsumerConfig intake_config = tables_config;
    intake_config.group_id = config_.commands.group;
    intake_config.session_timeout = config_.commands.group_session_timeout;
    auto intake = kafka_bridge::Consumer::create(intake_config);
    if (!intake.ok()) {
        return intake.error().to_string();
    }
    intake_ = std::move(intake.value());
    if (auto subscribed = intake_->subscribe({config_.topics.commands}); !subscribed.ok()) {
        return subscribed.error().to_string();
    }
    running_ = true;
    tables_thread_ = std::thread([this] {
        log::name_thread("ocpp-cmd-tables");
        tables_loop();
    });
    intake_thread_ = std::thread([this] {
        log::name_thread("ocpp-cmd-intake");
        intake_loop();
    });
    return std::nullopt;
}

std::optional<std::string> Router::catch_up(const kafka_bridge::Watermarks& marks,
                                            Clock::time_point deadline) {
    // Presence, routes, the last hour's results and followed tables up to where they ended a
    // moment ago.
    kafka_bridge::ReadToEnd behind(marks, live_only_);
    std::size_t read = 0;
    while (!behind.done()) {
        if (Clock::now() > deadline) {
            const auto last = tables_->last_error();
            return "the tables could not be read to their end in time; behind: " + behind.describe() +
                   (last ? "; last consumer error: " + last->to_string() : std::string());
        }
        auto message = tables_->poll(100ms);
        if (message) {
            ++read;
            dispatch(*message);
        }
        behind.after_poll(*tables_, message ? &*message : nullptr);
    }
    log::info("commands: read {} table records; {} command ids remembered, {} recent results",
              read, seen_.size(), results_.size());
    return std::nullopt;
}

void Router::end_previous_connections() {
    // Connections a previous run of this instance left in the table have ended.
    std::vector<kafka_bridge::Presence> stale;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stale = presence_.held_by(config_.gateway_id);
    }
    for (auto& p : stale) {
        p.connected = false;
        p.at = kafka_bridge::now_rfc3339();
        produce(config_.topics.presence, kafka_bridge::presence_key(p.station_id),
                kafka_bridge::presence_record(p), nullptr);
    }
    if (!stale.empty()) {
        log::info("commands: {} connections of a previous run of {} marked ended", stale.size(),
                  config_.gateway_id);
    }
}

void Router::stop(std::chrono::milliseconds leave_within) {
    if (!running_.exchange(false)) {
        return;
    }
    intake_thread_.join();
    tables_thread_.join();
    heartbeat(false);
    store_taken();  // what was acknowledged since the intake thread's last round
    if (!intake_->close(leave_within)) {
        log::warn("commands: could not leave the consumer group within {} ms (Kafka unreachable, "
                  "or the group still forming, as right after a start); this instance's command "
                  "partitions move after the group session timeout",
                  leave_within.count());
    }
    tables_->close(1s);
    {
        std::lock_guard<std::mutex> lock(retry_mutex_);
        for (const auto& r : retries_) {
            log::error("stopping with {} not written", r.what);
        }
        retries_.clear();
    }
    {
        std::lock_guard<std::mutex> lock(held_mutex_);
        std::move(held_incoming_.begin(), held_incoming_.end(), std::back_inserter(held_results_));
        held_incoming_.clear();
    }
    for (const auto& held : held_results_) {
        log::error("stopping with the result of command {} not written (held after this instance "
                   "was cut off from Kafka): {}", held.command.command_id, held.record);
    }
    held_results_.clear();
    std::vector<ResultCallback> waiting;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        waiting = waiters_.take_all();
    }
    for (auto& callback : waiting) {
        callback(std::nullopt);
    }
}

// ---------------------------------------------------------------- intake (consumer group)

void Router::intake_loop() {
    while (running_) {
        if (auto message = intake_->poll(100ms)) {
            offsets_.read({message->topic, message->partition}, message->offset);
            take(*message);
        }
        store_taken();
    }
}

void Router::store_taken() {
    // Commit only below the first command whose records Kafka has not yet acknowledged.
    for (const auto& [partition, next] : offsets_.committable()) {
        intake_->store(partition.first, partition.second, next);
    }
}

void Router::take(const kafka_bridge::Message& message) {
    const PartitionKey partition{message.topic, message.partition};
    const std::int64_t offset = message.offset;
    std::function<void()> taken = [this, partition, offset] {
        offsets_.acknowledged(partition, offset);
    };
    const std::string received_at = kafka_bridge::now_rfc3339();
    auto parsed = kafka_bridge::parse_command(message.key, message.value.value_or(""),
                                              message.timestamp_ms, received_at, defaults_);
    if (!parsed.ok()) {
        const auto& problem = parsed.error();
        if (!problem.command_id) {
            metrics_.command_unusable();
            log::warn("command record {}/{}@{} unusable: {}", message.topic, message.partition,
                      message.offset, problem.reason);
            dead_letter(message, problem.reason, std::move(taken));
            return;
        }
        Command command;
        command.command_id = *problem.command_id;
        command.station_id = problem.station_id;
        command.action = problem.action;
        command.payload = json::object();
        command.received_at = received_at;
        command.origin = config_.gateway_id;
        command.expires_at_ms = now_ms();
        if (!first_sighting(command, message, taken)) {
            return;
        }
        conclude(command, CommandOutcome::failure(CommandError::invalid_command, problem.reason),
                 taken);
        return;
    }
    Command command = std::move(parsed.value());
    command.origin = config_.gateway_id;
    if (!first_sighting(command, message, taken)) {
        return;
    }
    decide(std::move(command), std::move(taken));
}

bool Router::first_sighting(const Command& command, const kafka_bridge::Message& message,
                            std::function<void()>& taken) {
    const std::string& command_id = command.command_id;
    bool first = false;
    bool reused = false;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        first = seen_.insert(command_id, now_ms());
        // A reuse is not remembered as a use: read again, it is dead-lettered again.
        const std::string use = command_use_key(command_id, command.station_id, command.action);
        if (first) {
            uses_.insert(use, now_ms());
        } else {
            reused = !uses_.contains(use, now_ms());
        }
    }
    if (first) {
        open_reads_.open(command_id);
        taken = [this, command_id, first_taken = std::move(taken)] {
            first_taken();
            for (auto& held : open_reads_.close(command_id)) {
                held();
            }
        };
        return true;
    }
    if (reused) {
        // Not a retry of the command that took the id: it would get no result and the
        // operator no word of it.
        metrics_.command_id_reused();
        log::warn("command {} for {} ({}): the commandId was taken before for another station "
                  "or action; sent to {}",
                  command_id, command.station_id, command.action, config_.topics.dead_letter);
        dead_letter(message,
                    "commandId " + command_id + " was taken within the last 25 h by a command "
                    "for another station or action; a commandId names one command: this one "
                    "is not carried out and gets no result",
                    std::move(taken));
        return false;
    }
    metrics_.command_duplicate();
    if (open_reads_.join(command_id, std::move(taken))) {
        log::info("command {} read again before its first read was acknowledged: not delivered "
                  "again, committed with the first", command_id);
    } else {
        log::info("command {} seen before: not delivered again", command_id);
    }
    return false;
}

CommandOutcome Router::not_connected(const Command& command, std::int64_t now_ms) const {
    const auto last = presence_.last(command.station_id);
    CommandOutcome o =
        last && last->connected && !presence_.gateway_alive(last->gateway_id, now_ms)
            ? CommandOutcome::failure(CommandError::gateway_unavailable,
                                      "the station's gateway instance " + last->gateway_id +
                                          " is gone and the station has not connected elsewhere")
            : CommandOutcome::failure(CommandError::station_not_connected,
                                      "the station is not connected to any gateway instance");
    if (last && last->version) {
        o.version = last->version;
    }
    return o;
}

void Router::decide(Command command, std::function<void()> taken) {
    const std::int64_t now_ms = this->now_ms();
    if (now_ms >= command.expires_at_ms) {
        conclude(command,
                 CommandOutcome::failure(CommandError::expired,
                                         "expiresAt " + kafka_bridge::format_time_ms(command.expires_at_ms) +
                                             " passed before the command was read"),
                 std::move(taken));
        return;
    }
    // The table lags this instance's own records by a fetch, or by the acknowledgement of the
    // Connected record itself: a station that connected here a moment ago is here, also when
    // the table still names an older connection elsewhere.
    std::optional<kafka_bridge::Presence> holder = held_here(command.station_id);
    CommandOutcome absent;
    if (!holder) {
        std::lock_guard<std::mutex> lock(mutex_);
        holder = presence_.holder(command.station_id, now_ms);
        if (!holder) {
            absent = not_connected(command, now_ms);
        }
    }
    if (!holder) {
        // An action no OCPP version has is refused, not "not connected": the operator hears
        // of the typo now, not once the station is back.
        auto unknown = session::check_action_exists(schemas_, command);
        if (unknown) {
            unknown->version = absent.version;  // the last one known, as NotConnected says
        }
        conclude(command, unknown ? std::move(*unknown) : std::move(absent), std::move(taken));
        return;
    }
    if (holder->version) {
        if (auto rejected = session::check_command(schemas_, *holder->version, command)) {
            conclude(command, std::move(*rejected), std::move(taken));
            return;
        }
    }
    if (holder->gateway_id == config_.gateway_id) {
        auto session = stations_.find_station(command.station_id);
        if (!session) {
            auto o = CommandOutcome::failure(CommandError::station_not_connected,
                                             "the station's connection has just ended");
            o.version = holder->version;
            conclude(command, std::move(o), std::move(taken));
            return;
        }
    }
    // Delivered once the route is read back as the decision (apply_route), also when this
    // instance holds the station: another owner may be deciding the same record.
    route(command, holder->gateway_id, std::move(taken));
}

void Router::redecide(Command command) {
    // Runs where the command was sent but the station is not (any more): it moved on, or left.
    ++command.hop;
    const std::int64_t now_ms = this->now_ms();
    std::optional<kafka_bridge::Presence> holder;
    CommandOutcome absent;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        holder = presence_.holder(command.station_id, now_ms);
        absent = not_connected(command, now_ms);
    }
    if (holder && holder->gateway_id != config_.gateway_id &&
        command.hop <= kafka_bridge::kMaxCommandHops) {
        command.origin = config_.gateway_id;
        route(command, holder->gateway_id, nullptr);
        return;
    }
    if (!holder || holder->gateway_id == config_.gateway_id) {
        const auto version = absent.version;
        absent = CommandOutcome::failure(CommandError::connection_closed,
                                         "the station's connection ended before the call was sent");
        absent.version = version;
    } else {
        absent.error_description = "the station moved between instances too often to follow";
    }
    finish(command, std::move(absent));
}

void Router::route(const Command& command, const std::string& target,
                          std::function<void()> taken, std::optional<std::string> result,
                          int ends) {
    kafka_bridge::CommandRoute decision{command, target, result};
    decision.origin_run = run_;
    decision.ends = ends;
    if (!target.empty()) {
        std::lock_guard<std::mutex> lock(mutex_);
        decision.target_run = presence_.gateway_run(target);
    }
    std::string record = kafka_bridge::command_route(decision);
    produce(config_.topics.command_routes, kafka_bridge::presence_key(command.station_id),
            std::move(record), [this, command, target, taken, result, ends](bool ok) mutable {
                if (ok) {
                    if (taken) {
                        taken();
                    }
                    return;
                }
                // The decision is not on the route topic: written again (a copy that did land
                // after all is a later decision, which every instance ignores). The command's
                // offset stays uncommitted meanwhile, so a new owner would decide it too.
                retry_later("route of command " + command.command_id,
                            [this, command, target, taken, result, ends] {
                                route(command, target, taken, result, ends);
                            });
            });
}

void Router::conclude(const Command& command, CommandOutcome outcome,
                             std::function<void()> taken) {
    // Decided at intake: a route naming no target carries the result, which this instance
    // writes when it reads the route back as the command's decision (apply_route).
    route(command, "", std::move(taken), result_record(command, outcome));
}

std::string Router::result_record(const Command& command,
                                         const CommandOutcome& outcome) const {
    return kafka_bridge::command_result(command.command_id, command.station_id, command.action,
                                        command.received_at, outcome, config_.gateway_id,
                                        kafka_bridge::now_rfc3339());
}

void Router::finish(const Command& command, CommandOutcome outcome) {
    publish_result(command, kafka_bridge::command_status_name(outcome.status),
                   result_record(command, outcome));
}

void Router::dead_letter(const kafka_bridge::Message& message, const std::string& reason,
                         std::function<void()> written) {
    const std::string raw = message.value.value_or("");
    kafka_bridge::CommandLetter letter{raw, message.topic, message.partition, message.offset,
                                       message.key, reason};
    produce(config_.topics.dead_letter, message.key.value_or(""),
            kafka_bridge::command_dead_letter(letter, config_.gateway_id, kafka_bridge::now_rfc3339()),
            [this, message, reason, written = std::move(written)](bool ok) {
                if (ok) {
                    if (written) {
                        written();
                    }
                    return;
                }
                // The command's offset waits meanwhile: a new owner would read it again.
                retry_later("dead-letter record of " + message.topic + "/" +
                                std::to_string(message.partition) + "@" +
                                std::to_string(message.offset),
                            [this, message, reason, written] { dead_letter(message, reason, written); });
            });
}

}  // namespace gateway::commands
