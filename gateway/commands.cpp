#include "gateway/commands.hpp"

#include "gateway/log.hpp"
#include "gateway/session.hpp"
#include "kafka_bridge/envelope.hpp"

namespace gateway {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using kafka_bridge::Command;
using kafka_bridge::CommandOutcome;
using kafka_bridge::CommandStatus;

// Commands ids remembered for duplicate detection: a day's worth, like the routes topic.
constexpr std::size_t kSeenCapacity = 1'000'000;
constexpr auto kSeenWindow = std::chrono::hours(24);

json presence_json(const kafka_bridge::Presence& p, bool live) {
    json out = {{"stationId", p.station_id},
                {"connected", p.connected && live},
                {"gatewayId", p.gateway_id},
                {"sessionId", p.session_id},
                {"since", p.since},
                {"epoch", p.epoch}};
    if (p.version) {
        out["ocppVersion"] = ocpp::version_label(*p.version);
    }
    if (p.connected && !live) {
        out["note"] = "its gateway instance is gone";
    }
    return out;
}

/// The status of a result record built by this instance (for metrics and logs).
std::string result_status(const std::string& record) {
    const json doc = json::parse(record, nullptr, false);
    const auto it = doc.is_object() ? doc.find("status") : doc.end();
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string("unknown");
}

}  // namespace

CommandRouter::CommandRouter(const Config& config, const ocpp::SchemaRegistry& schemas,
                             kafka_bridge::ProducerSlot& producers, Metrics& metrics,
                             StationServer& stations)
    : config_(config),
      schemas_(schemas),
      producers_(producers),
      metrics_(metrics),
      stations_(stations),
      defaults_{config.commands.default_timeout, config.commands.max_age},
      presence_(config.commands.instance_timeout),
      seen_(kSeenCapacity, kSeenWindow),
      decided_(kSeenCapacity, kSeenWindow),
      resulted_(kSeenCapacity, kSeenWindow) {}

CommandRouter::~CommandRouter() { stop(); }

std::optional<std::string> CommandRouter::start(std::chrono::milliseconds timeout) {
    auto kafka_log = config_.kafka.log;
    kafka_bridge::ConsumerConfig tables_config;
    tables_config.brokers = config_.kafka.brokers;
    tables_config.properties = config_.kafka.properties;
    tables_config.log = kafka_log;
    // Producer-only settings make librdkafka warn on a consumer: leave them out.
    for (const char* p : {"enable.idempotence", "acks", "max.in.flight.requests.per.connection",
                          "linger.ms", "message.timeout.ms", "queue.buffering.max.messages",
                          "partitioner", "compression.type", "batch.size"}) {
        tables_config.properties.erase(p);
    }
    kafka_bridge::ConsumerConfig intake_config = tables_config;
    intake_config.group_id = config_.commands.group;
    intake_config.session_timeout = config_.commands.group_session_timeout;

    auto tables = kafka_bridge::Consumer::create(tables_config);
    if (!tables.ok()) {
        return tables.error().to_string();
    }
    tables_ = std::move(tables.value());
    using Start = kafka_bridge::Consumer::Start;
    std::vector<std::pair<std::string, Start>> topics = {
        {config_.topics.presence, Start::beginning},
        {config_.topics.command_routes, Start::beginning},
        {config_.topics.command_results, Start::end}};
    for (const auto& [topic, apply] : followed_) {
        topics.emplace_back(topic, Start::beginning);
    }
    auto marks = tables_->assign_all(topics, timeout);
    if (!marks.ok()) {
        return marks.error().to_string();
    }
    for (const auto& [partition, mark] : marks.value()) {
        live_from_[partition] = mark.second;
    }

    // Catch up: presence and routes up to where they ended a moment ago.
    std::map<PartitionKey, std::int64_t> remaining;
    for (const auto& [partition, mark] : marks.value()) {
        if (mark.second > mark.first && partition.first != config_.topics.command_results) {
            remaining[partition] = mark.second;
        }
    }
    const auto deadline = Clock::now() + timeout;
    std::size_t read = 0;
    while (!remaining.empty()) {
        if (Clock::now() > deadline) {
            return "the presence and route topics could not be read to their end in time (" +
                   std::to_string(remaining.size()) + " partitions behind)";
        }
        auto message = tables_->poll(100ms);
        if (!message) {
            continue;
        }
        ++read;
        dispatch(*message);
        const PartitionKey key{message->topic, message->partition};
        if (auto it = remaining.find(key); it != remaining.end() && message->offset + 1 >= it->second) {
            remaining.erase(it);
        }
    }
    log::info("commands: read {} table records; {} command ids remembered", read, seen_.size());

    // Connections a previous run of this instance left in the table have ended.
    heartbeat(true);
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

    auto intake = kafka_bridge::Consumer::create(intake_config);
    if (!intake.ok()) {
        return intake.error().to_string();
    }
    intake_ = std::move(intake.value());
    if (auto subscribed = intake_->subscribe({config_.topics.commands}); !subscribed.ok()) {
        return subscribed.error().to_string();
    }
    running_ = true;
    tables_thread_ = std::thread([this] { tables_loop(); });
    intake_thread_ = std::thread([this] { intake_loop(); });
    return std::nullopt;
}

void CommandRouter::stop() {
    if (!running_.exchange(false)) {
        return;
    }
    intake_thread_.join();
    tables_thread_.join();
    heartbeat(false);
    intake_->close();
    tables_->close();
    std::map<std::string, std::vector<Waiter>> waiters;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        waiters.swap(waiters_);
    }
    for (auto& [id, list] : waiters) {
        for (auto& w : list) {
            w.callback(std::nullopt);
        }
    }
}

void CommandRouter::produce(const std::string& topic, const std::string& key, std::string value,
                            std::function<void(bool)> done) {
    kafka_bridge::Record record{topic, key, std::move(value), {{"content-type", "application/json"}}};
    auto& metrics = metrics_;
    auto result = producers_.current()->produce(
        record, [done, topic, &metrics](const kafka_bridge::Delivery& d) {
            if (!d.ok()) {
                metrics.delivery_failure(topic);
                log::error("record for {} not acknowledged: {}", topic, d.error->to_string());
            }
            if (done) {
                done(d.ok());
            }
        });
    if (!result.ok()) {
        metrics_.delivery_failure(topic);
        log::error("record for {} not queued: {}", topic, result.error().to_string());
        if (done) {
            done(false);
        }
    }
}

// ---------------------------------------------------------------- intake (consumer group)

void CommandRouter::intake_loop() {
    while (running_) {
        if (auto message = intake_->poll(100ms)) {
            const PartitionKey key{message->topic, message->partition};
            pending_[key][message->offset] = false;
            take(*message);
        }
        store_taken();
    }
}

void CommandRouter::mark_taken(const PartitionKey& partition, std::int64_t offset) {
    std::lock_guard<std::mutex> lock(taken_mutex_);
    taken_.emplace_back(partition, offset);
}

void CommandRouter::store_taken() {
    std::vector<std::pair<PartitionKey, std::int64_t>> taken;
    {
        std::lock_guard<std::mutex> lock(taken_mutex_);
        taken.swap(taken_);
    }
    for (const auto& [partition, offset] : taken) {
        pending_[partition][offset] = true;
    }
    // Commit only below the first command whose records Kafka has not yet acknowledged.
    for (auto& [partition, offsets] : pending_) {
        std::int64_t next = -1;
        while (!offsets.empty() && offsets.begin()->second) {
            next = offsets.begin()->first + 1;
            offsets.erase(offsets.begin());
        }
        if (next >= 0) {
            intake_->store(partition.first, partition.second, next);
        }
    }
}

void CommandRouter::take(const kafka_bridge::Message& message) {
    const PartitionKey partition{message.topic, message.partition};
    const std::int64_t offset = message.offset;
    auto taken = [this, partition, offset] { mark_taken(partition, offset); };
    const std::string received_at = kafka_bridge::now_rfc3339();
    auto parsed = kafka_bridge::parse_command(message.key, message.value.value_or(""),
                                              message.timestamp_ms, received_at, defaults_);
    if (!parsed.ok()) {
        const auto& problem = parsed.error();
        if (!problem.command_id) {
            metrics_.command_unusable();
            log::warn("command record {}/{}@{} unusable: {}", message.topic, message.partition,
                      message.offset, problem.reason);
            dead_letter(message, problem.reason);
            taken();
            return;
        }
        Command command;
        command.command_id = *problem.command_id;
        command.station_id = problem.station_id;
        command.action = problem.action;
        command.payload = json::object();
        command.received_at = received_at;
        command.origin = config_.gateway_id;
        command.expires_at_ms = kafka_bridge::unix_now_ms();
        if (!first_sighting(command.command_id)) {
            taken();
            return;
        }
        CommandOutcome o;
        o.status = CommandStatus::rejected;
        o.error_code = "InvalidCommand";
        o.error_description = problem.reason;
        conclude(command, std::move(o), taken);
        return;
    }
    Command command = std::move(parsed.value());
    command.origin = config_.gateway_id;
    if (!first_sighting(command.command_id)) {
        taken();
        return;
    }
    decide(std::move(command), taken);
}

bool CommandRouter::first_sighting(const std::string& command_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (seen_.insert(command_id, kafka_bridge::unix_now_ms())) {
        return true;
    }
    metrics_.command_duplicate();
    log::info("command {} seen before: not delivered again", command_id);
    return false;
}

CommandOutcome CommandRouter::not_connected(const Command& command, std::int64_t now_ms) const {
    CommandOutcome o;
    o.status = CommandStatus::not_connected;
    const auto last = presence_.last(command.station_id);
    if (last && last->connected && !presence_.gateway_alive(last->gateway_id, now_ms)) {
        o.error_code = "GatewayUnavailable";
        o.error_description = "the station's gateway instance " + last->gateway_id +
                              " is gone and the station has not connected elsewhere";
    } else {
        o.error_code = "StationNotConnected";
        o.error_description = "the station is not connected to any gateway instance";
    }
    if (last && last->version) {
        o.version = last->version;
    }
    return o;
}

void CommandRouter::decide(Command command, std::function<void()> taken) {
    const std::int64_t now_ms = kafka_bridge::unix_now_ms();
    if (now_ms >= command.expires_at_ms) {
        CommandOutcome o;
        o.status = CommandStatus::expired;
        o.error_code = "Expired";
        o.error_description = "expiresAt " + kafka_bridge::format_time_ms(command.expires_at_ms) +
                              " passed before the command was read";
        conclude(command, std::move(o), std::move(taken));
        return;
    }
    std::optional<kafka_bridge::Presence> holder;
    CommandOutcome absent;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        holder = presence_.holder(command.station_id, now_ms);
        if (!holder) {
            absent = not_connected(command, now_ms);
        }
    }
    if (!holder) {
        conclude(command, std::move(absent), std::move(taken));
        return;
    }
    if (holder->version) {
        if (auto rejected = kafka_bridge::check_command(schemas_, *holder->version, command)) {
            conclude(command, std::move(*rejected), std::move(taken));
            return;
        }
    }
    if (holder->gateway_id == config_.gateway_id) {
        auto session = stations_.find_station(command.station_id);
        if (!session) {
            CommandOutcome o;
            o.status = CommandStatus::not_connected;
            o.version = holder->version;
            o.error_code = "StationNotConnected";
            o.error_description = "the station's connection has just ended";
            conclude(command, std::move(o), std::move(taken));
            return;
        }
    }
    // Delivered once the route is read back as the decision (apply_route), also when this
    // instance holds the station: another owner may be deciding the same record.
    route(command, holder->gateway_id, std::move(taken));
}

void CommandRouter::redecide(Command command) {
    // Runs where the command was sent but the station is not (any more): it moved on, or left.
    ++command.hop;
    const std::int64_t now_ms = kafka_bridge::unix_now_ms();
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
        absent.error_code = "ConnectionClosed";
        absent.error_description = "the station's connection ended before the call was sent";
    } else {
        absent.error_description = "the station moved between instances too often to follow";
    }
    finish(command, std::move(absent));
}

void CommandRouter::route(const Command& command, const std::string& target,
                          std::function<void()> taken, std::optional<std::string> result) {
    produce(config_.topics.command_routes, kafka_bridge::presence_key(command.station_id),
            kafka_bridge::command_route({command, target, std::move(result)}),
            [taken = std::move(taken)](bool) {
                if (taken) {
                    taken();
                }
            });
}

void CommandRouter::conclude(const Command& command, CommandOutcome outcome,
                             std::function<void()> taken) {
    // Decided at intake: a route naming no target carries the result, which this instance
    // writes when it reads the route back as the command's decision (apply_route).
    route(command, "", std::move(taken), result_record(command, outcome));
}

std::string CommandRouter::result_record(const Command& command,
                                         const CommandOutcome& outcome) const {
    return kafka_bridge::command_result(command.command_id, command.station_id, command.action,
                                        command.received_at, outcome, config_.gateway_id,
                                        kafka_bridge::now_rfc3339());
}

void CommandRouter::finish(const Command& command, CommandOutcome outcome) {
    publish_result(command, kafka_bridge::command_status_name(outcome.status),
                   result_record(command, outcome));
}

void CommandRouter::publish_result(const Command& command, std::string_view status,
                                   std::string record) {
    metrics_.command_result(std::string(status));
    log::debug("command {} for {} ({}): {}", command.command_id, command.station_id,
               command.action, status);
    produce(config_.topics.command_results, command.station_id, std::move(record), nullptr);
}

void CommandRouter::hand_back(std::vector<Command> commands) {
    for (auto& command : commands) {
        if (auto session = stations_.find_station(command.station_id)) {
            session->deliver(std::move(command));  // the newer connection on this instance
        } else {
            redecide(std::move(command));
        }
    }
}

kafka_bridge::Presence CommandRouter::presence_of(const Session& session, bool connected) const {
    kafka_bridge::Presence p;
    p.station_id = session.station_id();
    p.gateway_id = config_.gateway_id;
    p.connected = connected;
    p.epoch = connected ? -1 : session.epoch();
    p.session_id = session.session_id();
    p.version = session.version();
    p.since = session.since();
    p.at = kafka_bridge::now_rfc3339();
    return p;
}

void CommandRouter::session_opened(const std::shared_ptr<Session>& session) {
    const kafka_bridge::Presence p = presence_of(*session, true);
    std::weak_ptr<Session> weak = session;
    const std::string key = kafka_bridge::presence_key(p.station_id);
    auto record = kafka_bridge::Record{config_.topics.presence, key,
                                       kafka_bridge::presence_record(p),
                                       {{"content-type", "application/json"}}};
    auto result = producers_.current()->produce(record, [this, weak](const kafka_bridge::Delivery& d) {
        auto s = weak.lock();
        if (!s || !d.ok()) {
            if (!d.ok()) {
                log::error("presence of a station not written: {}", d.error->to_string());
            }
            return;
        }
        s->set_epoch(d.offset);
        // A connection elsewhere whose record landed after ours replaced this one already.
        std::optional<kafka_bridge::Presence> last;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            last = presence_.last(s->station_id());
        }
        if (last && last->connected && last->gateway_id != config_.gateway_id &&
            last->epoch > d.offset) {
            s->supersede("replaced by a newer connection on gateway " + last->gateway_id);
        }
    });
    if (!result.ok()) {
        log::error("presence of station {} not queued: {}", p.station_id, result.error().to_string());
    }
}

void CommandRouter::session_closed(const std::shared_ptr<Session>& session, bool superseded) {
    if (superseded) {
        return;  // the newer connection's record says where the station is
    }
    const kafka_bridge::Presence p = presence_of(*session, false);
    produce(config_.topics.presence, kafka_bridge::presence_key(p.station_id),
            kafka_bridge::presence_record(p), nullptr);
}

// ---------------------------------------------------------------- tables

void CommandRouter::tables_loop() {
    auto next_heartbeat = Clock::now() + config_.commands.heartbeat;
    auto next_orphan_check = Clock::now() + 1s;
    while (running_) {
        if (auto message = tables_->poll(100ms)) {
            dispatch(*message);
        }
        if (Clock::now() >= next_heartbeat) {
            heartbeat(true);
            next_heartbeat = Clock::now() + config_.commands.heartbeat;
        }
        expire_waiters();
        if (Clock::now() >= next_orphan_check) {
            conclude_orphans();
            next_orphan_check = Clock::now() + 1s;
        }
    }
}

void CommandRouter::conclude_orphans() {
    // A result written by the target just before it went away may still be on its way: the
    // target must have been gone for a whole instance timeout before anyone answers for it.
    // Every instance watches every route; one writes: the route's origin while it is alive,
    // else the live instance with the smallest id. The others keep watching until the result
    // appears, so a writer that dies meanwhile is replaced.
    const auto now = Clock::now();
    const std::int64_t now_ms = kafka_bridge::unix_now_ms();
    std::vector<Routed> orphans;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto alive = presence_.alive_gateways(now_ms);
        for (auto it = routed_.begin(); it != routed_.end();) {
            Routed& r = it->second;
            if (now_ms > r.command.expires_at_ms + r.command.timeout.count() + 300000) {
                // Its target is alive but wrote no result long after every deadline.
                log::warn("command {}: no result from instance {}; no longer watched",
                          r.command.command_id, r.target);
                it = routed_.erase(it);
                continue;
            }
            if (presence_.gateway_alive(r.target, now_ms)) {
                r.target_gone_since.reset();
            } else if (!r.target_gone_since) {
                r.target_gone_since = now;
            } else if (now - *r.target_gone_since >= config_.commands.instance_timeout) {
                const bool origin_alive = r.command.origin != r.target &&
                                          presence_.gateway_alive(r.command.origin, now_ms);
                const std::string writer = origin_alive     ? r.command.origin
                                           : alive.empty() ? std::string()
                                                           : alive.front();
                if (writer == config_.gateway_id) {
                    orphans.push_back(std::move(r));
                    it = routed_.erase(it);
                    continue;
                }
            }
            ++it;
        }
    }
    for (auto& r : orphans) {
        if (r.result) {
            // Decided at intake by an instance that went away before writing it.
            json record = json::parse(*r.result, nullptr, false);
            if (record.is_object()) {
                record["gatewayId"] = config_.gateway_id;
                log::warn("command {} for {}: instance {} went away before writing its result; "
                          "written here", r.command.command_id, r.command.station_id, r.target);
                publish_result(r.command, result_status(*r.result), record.dump());
                continue;
            }
        }
        CommandOutcome o;
        o.status = CommandStatus::not_connected;
        o.sent = true;  // may have been: the station may have acted on it
        o.error_code = "GatewayUnavailable";
        o.error_description = "gateway instance " + r.target +
                              " that held the station went away before the command finished; "
                              "whether the station received the call is unknown";
        log::warn("command {} for {}: instance {} went away; ending it NotConnected",
                  r.command.command_id, r.command.station_id, r.target);
        finish(r.command, std::move(o));
    }
}

void CommandRouter::follow(std::string topic,
                           std::function<void(const kafka_bridge::Message&)> apply) {
    followed_[std::move(topic)] = std::move(apply);
}

void CommandRouter::dispatch(const kafka_bridge::Message& message) {
    if (message.topic == config_.topics.presence) {
        apply_presence(message);
    } else if (message.topic == config_.topics.command_routes) {
        apply_route(message);
    } else if (message.topic == config_.topics.command_results) {
        apply_result(message);
    } else if (const auto it = followed_.find(message.topic); it != followed_.end()) {
        it->second(message);
    }
}

void CommandRouter::heartbeat(bool alive) {
    produce(config_.topics.presence, kafka_bridge::gateway_key(config_.gateway_id),
            kafka_bridge::gateway_record(config_.gateway_id, alive, kafka_bridge::now_rfc3339()),
            nullptr);
}

void CommandRouter::apply_presence(const kafka_bridge::Message& message) {
    if (!message.key) {
        return;
    }
    kafka_bridge::PresenceTable::Change change;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!presence_.apply(*message.key, message.value, message.offset, message.timestamp_ms,
                             &change)) {
            log::warn("presence record {}@{} unreadable; ignored", message.partition, message.offset);
            return;
        }
    }
    // A newer connection on another instance replaces ours, cluster-wide.
    if (change.connected && change.connected->gateway_id != config_.gateway_id && running_) {
        auto session = stations_.find_station(change.connected->station_id);
        if (session && session->epoch() >= 0 && session->epoch() < change.connected->epoch) {
            log::warn("station {} connected on gateway {}; closing its connection here",
                      session->station_id(), change.connected->gateway_id);
            session->supersede("replaced by a newer connection on gateway " +
                               change.connected->gateway_id);
        }
    }
}

void CommandRouter::apply_route(const kafka_bridge::Message& message) {
    if (!message.value) {
        return;
    }
    auto parsed = kafka_bridge::parse_command_route(*message.value);
    if (!parsed.ok()) {
        log::warn("route record {}@{} unreadable ({}); ignored", message.partition,
                  message.offset, parsed.error());
        return;
    }
    kafka_bridge::CommandRoute route = std::move(parsed.value());
    Command& command = route.command;
    const auto live_from = live_from_.find({message.topic, message.partition});
    const bool live = running_ && (live_from == live_from_.end() || message.offset >= live_from->second);
    const bool mine = command.origin == config_.gateway_id;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        seen_.insert(command.command_id, kafka_bridge::unix_now_ms());
        // The first route of a command id and hop is the decision; every instance reads the
        // partition in the same order, so all agree which one it is. A later one comes from a
        // second owner that read the command again after a rebalance, before the first route
        // reached it: nobody acts on it.
        if (!decided_.insert(command.command_id + "#" + std::to_string(command.hop),
                             kafka_bridge::unix_now_ms())) {
            if (live && mine) {
                metrics_.command_duplicate();
                log::info("command {} decided twice; the first decision stands",
                          command.command_id);
            }
            return;
        }
        if (!live) {
            return;  // written before this instance started: remembered, not acted on
        }
        // Every instance watches the decision until the result appears: when the instance
        // that must write it goes away, one other instance writes it instead.
        if (!resulted_.contains(command.command_id)) {
            Command kept = command;
            kept.payload = json::object();  // not needed for the result
            const std::string& writer = route.target.empty() ? command.origin : route.target;
            routed_[command.command_id] = Routed{std::move(kept), writer, std::nullopt, route.result};
        }
    }
    if (route.target.empty()) {
        if (mine && route.result) {
            const std::string status = result_status(*route.result);
            publish_result(command, status, std::move(*route.result));
        }
        return;
    }
    if (route.target != config_.gateway_id) {
        return;
    }
    if (auto session = stations_.find_station(command.station_id)) {
        session->deliver(std::move(command));
    } else {
        redecide(std::move(command));
    }
}

void CommandRouter::apply_result(const kafka_bridge::Message& message) {
    if (!message.value) {
        return;
    }
    const json doc = json::parse(*message.value, nullptr, false);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("commandId") ||
        !doc["commandId"].is_string()) {
        return;
    }
    std::vector<Waiter> waiters;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::string id = doc["commandId"].get<std::string>();
        routed_.erase(id);
        resulted_.insert(id, kafka_bridge::unix_now_ms());
        const auto it = waiters_.find(doc["commandId"].get<std::string>());
        if (it == waiters_.end()) {
            return;
        }
        waiters = std::move(it->second);
        waiters_.erase(it);
    }
    for (auto& w : waiters) {
        w.callback(*message.value);
    }
}

void CommandRouter::expire_waiters() {
    std::vector<ResultCallback> expired;
    const auto now = Clock::now();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = waiters_.begin(); it != waiters_.end();) {
            auto& list = it->second;
            for (auto w = list.begin(); w != list.end();) {
                if (w->deadline <= now) {
                    expired.push_back(std::move(w->callback));
                    w = list.erase(w);
                } else {
                    ++w;
                }
            }
            it = list.empty() ? waiters_.erase(it) : std::next(it);
        }
    }
    for (auto& callback : expired) {
        callback(std::nullopt);
    }
}

void CommandRouter::dead_letter(const kafka_bridge::Message& message, const std::string& reason) {
    const std::string raw = message.value.value_or("");
    kafka_bridge::CommandLetter letter{raw, message.topic, message.partition, message.offset,
                                       message.key, reason};
    produce(config_.topics.dead_letter, message.key.value_or(""),
            kafka_bridge::command_dead_letter(letter, config_.gateway_id, kafka_bridge::now_rfc3339()),
            nullptr);
}

// ---------------------------------------------------------------- REST

std::optional<std::string> CommandRouter::submit(const json& record, ResultCallback on_result,
                                                 std::chrono::milliseconds wait) {
    const std::string command_id = record.at("commandId").get<std::string>();
    if (on_result) {
        std::lock_guard<std::mutex> lock(mutex_);
        waiters_[command_id].push_back(Waiter{Clock::now() + wait, std::move(on_result)});
    }
    kafka_bridge::Record r{config_.topics.commands, record.at("stationId").get<std::string>(),
                           record.dump(), {{"content-type", "application/json"}}};
    auto queued = producers_.current()->produce(r, [](const kafka_bridge::Delivery&) {});
    if (!queued.ok()) {
        std::lock_guard<std::mutex> lock(mutex_);
        waiters_.erase(command_id);
        return queued.error().to_string();
    }
    return std::nullopt;
}

std::optional<json> CommandRouter::station(const std::string& station_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto last = presence_.last(station_id);
    if (!last) {
        return std::nullopt;
    }
    return presence_json(*last, presence_.gateway_alive(last->gateway_id, kafka_bridge::unix_now_ms()));
}

json CommandRouter::stations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    json list = json::array();
    for (const auto& p : presence_.connected(kafka_bridge::unix_now_ms())) {
        list.push_back(presence_json(p, true));
    }
    return json{{"stations", std::move(list)}};
}

}  // namespace gateway
