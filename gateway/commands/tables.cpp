// The tables thread of the Router: presence, routes and results as every instance sees them,
// liveness of this instance, REST waiters, and commands whose executing instance went away.
#include "gateway/commands/router.hpp"

#include <algorithm>

#include <fmt/ranges.h>

#include "gateway/log/log.hpp"
#include "kafka_bridge/record_json.hpp"
#include "gateway/session/session.hpp"
#include "ocpp/json_writer.hpp"

namespace gateway::commands {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using kafka_bridge::Command;
using kafka_bridge::CommandError;
using kafka_bridge::CommandOutcome;

/// How often the table topics are checked for partitions added while running.
constexpr auto kPartitionCheckPeriod = 5s;

/// The status of a result record built by this instance (for metrics and logs).
std::string result_status(const std::string& record) {
    const json doc = kafka_bridge::parse_record_json(record);
    const auto it = doc.is_object() ? doc.find("status") : doc.end();
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string("unknown");
}

}  // namespace

void Router::tables_loop() {
    auto next_heartbeat = Clock::now() + config_.commands.heartbeat;
    auto next_orphan_check = Clock::now() + 1s;
    auto next_partition_check = Clock::now() + kPartitionCheckPeriod;
    while (running_) {
        if (auto message = tables_->poll(100ms)) {
            dispatch(*message);
        }
        if (Clock::now() >= next_heartbeat) {
            heartbeat(true);
            next_heartbeat = Clock::now() + config_.commands.heartbeat;
        }
        expire_waiters();
        run_due_retries();
        check_held_results();
        if (Clock::now() >= next_orphan_check) {
            conclude_orphans();
            next_orphan_check = Clock::now() + 1s;
        }
        if (Clock::now() >= next_partition_check) {
            pick_up_new_partitions();
            report_forgotten_ids();
            next_partition_check = Clock::now() + kPartitionCheckPeriod;
        }
    }
    report_forgotten_ids();  // what was forgotten since the last check counts too
}

void Router::report_forgotten_ids() {
    std::uint64_t forgotten = 0;
    std::size_t kept = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        forgotten = seen_.forgotten_early();
        kept = seen_.size();
    }
    // Every tenant's router counts into the same metric: each adds what it forgot since.
    metrics_.command_ids_forgotten_early(forgotten - forgotten_counted_);
    forgotten_counted_ = forgotten;
    if (forgotten == forgotten_reported_ || Clock::now() < next_forgotten_report_) {
        return;  // the log: once a minute at most
    }
    log::warn("commands: {} command ids forgotten before their 25 h were over, {} kept (the most "
              "this instance keeps): a command record repeating one of them would be carried "
              "out again",
              forgotten - forgotten_reported_, kept);
    forgotten_reported_ = forgotten;
    next_forgotten_report_ = Clock::now() + 60s;
}

void Router::pick_up_new_partitions() {
    auto added = tables_->assign_new_partitions(5s);
    if (!added.ok()) {
        log::debug("commands: partition check: {}", added.error().to_string());
        return;
    }
    std::map<std::string, std::vector<std::int32_t>> by_topic;
    for (const auto& [topic, partition] : added.value()) {
        by_topic[topic].push_back(partition);
        metrics_.partition_added(topic);
    }
    for (const auto& [topic, partitions] : by_topic) {
        if (topic == config_.topics.presence || topic == config_.topics.command_routes) {
            // Both rely on every record of one station landing in one partition, in order.
            log::error("topic {} gained partitions {} while gateways run: records of a station "
                       "can now sit in two partitions, so presence and command decisions for "
                       "stations whose key moved are no longer ordered; this topic must keep its "
                       "partition count (docs/reliability.md)",
                       topic, fmt::join(partitions, ", "));
        } else {
            log::warn("topic {} gained partitions {}: now read as well", topic,
                      fmt::join(partitions, ", "));
        }
    }
}

void Router::conclude_orphans() {
    // A result written by the target just before it went away may still be on its way: the
    // target must have been gone for a whole instance timeout before anyone answers for it.
    // Every instance watches every route (read since it started, or back to kLateWatch before);
    // one claims to end it: the route's origin while it is alive, else the live instance with
    // the smallest id among those that watched it from before it was written, else the
    // earliest run among those that read it back at start-up. The others keep watching until
    // the result appears, so a writer that dies meanwhile is replaced. Instances judge from
    // what they have read, and a reader that lags sees the others' liveness records late: so
    // liveness is judged as of this instance's own last liveness record read back (plus a
    // heartbeat), never later, and two instances that still pick different writers write two
    // claims, of which the route partition keeps the first (RouteLog).
    const auto now = Clock::now();
    std::int64_t now_ms = this->now_ms();
    std::vector<Routed> orphans;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        now_ms = std::min(now_ms, presence_.last_liveness_ms(config_.gateway_id) +
                                      config_.commands.heartbeat.count());
        const auto alive = presence_.alive_gateways(now_ms);
        for (auto it = routed_.begin(); it != routed_.end();) {
            Routed& r = it->second;
            // A run of the target's id started since the decision is not the run that holds
            // the command: it never finishes it (apply_route), so the target counts as gone.
            const bool target_alive =
                presence_.gateway_alive(r.target, now_ms) && !restarted_since(r.target, r.target_run);
            // The latest its result is due: sent by its expiry, it times out after its own
            // timeout; waiting behind a call sent just before that, it ends (Expired) once that
            // call is answered or times out. Either way within the longest timeout a command
            // may have after its expiry.
            const std::int64_t deadline = r.command.expires_at_ms + kafka_bridge::kMaxCommandTimeoutMs;
            // A route that carries its result (decided at intake, or a claim) is often read
            // long after the command's deadline: its writer has the result at hand, and is
            // replaced should it go away before writing it, however late.
            const bool executing = target_alive && !r.result;
            if (now_ms > deadline + (executing ? 300000 : kafka_bridge::kMaxCommandLifetimeMs)) {
                // Its target is alive but wrote no result long after every deadline (or nobody
                // wrote one for a day, the routes topic's retention).
                log::warn("command {}: no result from instance {}; no longer watched",
                          r.command.command_id, r.target);
                it = routed_.erase(it);
                continue;
            }
            if (target_alive) {
                r.target_gone_since.reset();
            } else if (!r.target_gone_since) {
                r.target_gone_since = now;
            } else if (now - *r.target_gone_since >= config_.commands.instance_timeout) {
                const bool restarted_only = presence_.gateway_alive(r.target, now_ms);
                const bool origin_alive = r.command.origin != r.target &&
                                          presence_.gateway_alive(r.command.origin, now_ms) &&
                                          can_conclude(r.command.origin, r, restarted_only);
                std::string fallback;
                for (const auto& id : alive) {
                    if (can_conclude(id, r, restarted_only)) {
                        fallback = id;
                        break;
                    }
                }
                if (!origin_alive && fallback.empty()) {
                    // No instance watched it from before it was written (every one started
                    // since, a single instance restarted after a crash among them): the
                    // earliest run of those that read it back at start-up writes. An instance
                    // that starts later never takes over from it (while its write may still
                    // be on the way); one that crashes and starts again loses the turn.
                    std::int64_t earliest = 0;
                    for (const auto& id : alive) {
                        const std::int64_t run = presence_.gateway_run(id);
                        if (watches_late(id, r) && (earliest == 0 || run < earliest)) {
                            earliest = run;
                            fallback = id;
                        }
                    }
                }
                const std::string writer = origin_alive ? r.command.origin : fallback;
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
        if (r.ends >= kafka_bridge::kMaxRouteClaims) {
            log::error("command {} for {}: {} claims to end it, each by an instance that went "
                       "away; no further claim",
                       r.command.command_id, r.command.station_id, r.ends);
            continue;
        }
        std::optional<std::string> result;
        if (r.result) {
            // Decided at intake (or claimed) by an instance that went away before writing it.
            json record = kafka_bridge::parse_record_json(*r.result);
            if (record.is_object()) {
                record["gatewayId"] = config_.gateway_id;
                log::warn("command {} for {}: instance {} went away before writing its result; "
                          "writing it here",
                          r.command.command_id, r.command.station_id, r.target);
                result = ocpp::write_json(record);
            }
        }
        if (!result) {
            auto o = CommandOutcome::failure(
                CommandError::gateway_unavailable,
                "gateway instance " + r.target +
                    " that held the station went away before the command finished; whether "
                    "the station received the call is unknown");
            o.sent = true;  // may have been: the station may have acted on it
            log::warn("command {} for {}: instance {} went away; ending it NotConnected",
                      r.command.command_id, r.command.station_id, r.target);
            result = result_record(r.command, o);
        }
        // Written when the claim is read back as the first one (apply_route).
        Command claim = std::move(r.command);
        claim.origin = config_.gateway_id;
        route(claim, "", nullptr, std::move(result), r.ends + 1);
    }
}

bool Router::can_conclude(const std::string& gateway_id, const Routed& r, bool restarted_only) const {
    // Every watcher decides from the same records (liveness runs, the route's timestamp), so
    // all pick the same writer.
    if ((gateway_id == r.target && restarted_since(gateway_id, r.target_run)) ||
        (gateway_id == r.command.origin && restarted_since(gateway_id, r.origin_run))) {
        return false;  // a later run of the target or origin: the route is not its own
    }
    const std::int64_t run = presence_.gateway_run(gateway_id);
    if (run == 0) {
        // An earlier version, without runs: it sees a target restarted in place as alive.
        return !restarted_only;
    }
    // A run started after the route was written does not watch it.
    return r.routed_ms < 0 || run <= r.routed_ms;
}

bool Router::watches_late(const std::string& gateway_id, const Routed& r) const {
    const std::int64_t run = presence_.gateway_run(gateway_id);
    // Its run is its start time: it read back the routes written since kLateWatch before.
    return run > 0 && r.routed_ms >= 0 &&
           r.routed_ms >= run - std::chrono::milliseconds(kLateWatch).count();
}

void Router::follow(std::string topic, std::function<void(const kafka_bridge::Message&)> apply,
                    bool live_only) {
    if (live_only) {
        live_only_.insert(topic);
    }
    followed_[std::move(topic)] = std::move(apply);
}

void Router::dispatch(const kafka_bridge::Message& message) {
    if (message.topic == config_.topics.command_results) {
        auto& read = results_read_[message.partition];
        read = std::max(read, message.offset + 1);
    }
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

void Router::heartbeat(bool alive) {
    produce(config_.topics.presence, kafka_bridge::gateway_key(config_.gateway_id),
            kafka_bridge::gateway_record(config_.gateway_id, alive, kafka_bridge::now_rfc3339(), run_),
            [this, alive](bool ok) {
                if (ok && alive) {
                    alive_acknowledged();
                }
            });
}

void Router::apply_presence(const kafka_bridge::Message& message) {
    if (!message.key) {
        return;
    }
    PresenceTable::Change change;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        // Liveness is judged on this host's clock alone: a record read live counts from when
        // it arrived, so another host's clock skew cannot make a live instance look gone (or
        // a dead one alive). Only records read while catching up at start-up, which arrive all
        // at once, are dated by their timestamps.
        const auto live_from = live_from_.find({message.topic, message.partition});
        const bool live = live_from == live_from_.end() || message.offset >= live_from->second;
        if (!presence_.apply(*message.key, message.value, message.offset,
                             live ? now_ms() : message.timestamp_ms, &change)) {
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

void Router::apply_route(const kafka_bridge::Message& message) {
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
    bool resulted = false;  // a result for the command was read already
    // This station's command of that id: a reuse of the id for another station is in another
    // partition, read in no fixed order with this one, and never decides this one's fate.
    const std::string key = command_key(command.command_id, command.station_id);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        // The id (and the decision) is remembered for a day from when it was read; a route read
        // back at start-up counts from its record's time, so that a restarted instance judges
        // as a running one does (retention deletes whole segments: the topic holds more than a
        // day). Read live, the writer's clock plays no part.
        const std::int64_t now = now_ms();
        const std::int64_t at =
            live || message.timestamp_ms < 0 ? now : std::min(message.timestamp_ms, now);
        seen_.insert(command.command_id, now, at);
        uses_.insert(command_use_key(command.command_id, command.station_id, command.action), now,
                     at);
        // Every instance reads the partition in the same order, so all agree which records
        // are taken (RouteLog). One not taken comes from a second owner that read the
        // command again after a rebalance before the first route reached it, from a second
        // instance claiming to end a decision, or re-routes a decision another instance has
        // claimed to end meanwhile: nobody acts on it.
        if (!decided_.take(key, command.hop, route.ends, now, at)) {
            if (live && mine) {
                metrics_.command_duplicate();
                if (route.ends > 0) {
                    log::info("command {}: another instance ended it first", command.command_id);
                } else {
                    log::info("command {} decided twice, or ended by another instance meanwhile; "
                              "the first decision stands",
                              command.command_id);
                }
            }
            return;
        }
        // Written before this instance started: remembered, not acted on, but watched when
        // recent (kLateWatch), as every route written since is: every instance watches the
        // decision until the result appears, so that when the instance that must write it
        // goes away, another one writes it instead.
        const bool watched = live || (message.timestamp_ms >= late_watch_from_ms_);
        resulted = resulted_.contains(key);
        if (watched && !resulted) {
            Command kept = command;
            kept.payload = json::object();  // not needed for the result
            const std::string& writer = route.target.empty() ? command.origin : route.target;
            const std::int64_t writer_run = route.target.empty() ? route.origin_run : route.target_run;
            Routed routed{std::move(kept), writer, std::nullopt, route.result,
                          writer_run, route.origin_run, message.timestamp_ms, route.ends};
            routed_[key] = std::move(routed);
        }
        if (!live) {
            return;
        }
    }
    // A route for an earlier run of this instance's id (a restart in place) is left to the
    // others, who end it as they would for a run that is gone.
    const auto this_run = [this](std::int64_t run) { return run == 0 || run == run_; };
    if (route.target.empty()) {
        if (route.ends > 0 && resulted) {
            // The target's own result arrived after all, while the claim was on its way.
            if (mine) {
                log::info("command {}: its result appeared before the claim to end it was read "
                          "back; nothing written",
                          command.command_id);
            }
            return;
        }
        if (mine && route.result && this_run(route.origin_run)) {
            const std::string status = result_status(*route.result);
            publish_result(command, status, std::move(*route.result));
        }
        return;
    }
    if (route.target != config_.gateway_id) {
        return;
    }
    if (!this_run(route.target_run)) {
        log::info("command {} for {} was routed to an earlier run of {}; left to the other instances",
                  command.command_id, command.station_id, config_.gateway_id);
        return;
    }
    log::debug("command {} for {} (hop {}, decided by {}): delivering here", command.command_id,
               command.station_id, command.hop, command.origin);
    if (auto session = stations_.find_station(command.station_id)) {
        session->deliver(std::move(command));
    } else {
        redecide(std::move(command));
    }
}

void Router::apply_result(const kafka_bridge::Message& message) {
    if (!message.value) {
        return;
    }
    const json doc = kafka_bridge::parse_record_json(*message.value);
    if (doc.is_discarded() || !doc.is_object() || !doc.contains("commandId") ||
        !doc["commandId"].is_string()) {
        return;
    }
    std::vector<ResultCallback> waiting;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::string id = doc["commandId"].get<std::string>();
        const auto station = doc.find("stationId");
        const std::string key = command_key(
            id, station != doc.end() && station->is_string() ? station->get<std::string>() : "");
        routed_.erase(key);
        resulted_.insert(key, now_ms());
        results_.insert(id, *message.value,
                        message.timestamp_ms >= 0 ? message.timestamp_ms : kafka_bridge::unix_now_ms());
        waiting = waiters_.take(id);
    }
    for (auto& callback : waiting) {
        callback(*message.value);
    }
}

void Router::expire_waiters() {
    std::vector<ResultCallback> expired;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        expired = waiters_.take_expired(Clock::now());
    }
    for (auto& callback : expired) {
        callback(std::nullopt);
    }
}

}  // namespace gateway::commands
