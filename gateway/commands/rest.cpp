// The Router's side of the REST API: submitting commands and reading presence.
#include "gateway/commands/router.hpp"

#include "gateway/log/log.hpp"
#include "gateway/session/session.hpp"
#include "kafka_bridge/envelope.hpp"
#include "ocpp/json_writer.hpp"

namespace gateway::commands {
namespace {

using json = nlohmann::json;
using kafka_bridge::Command;
using Clock = std::chrono::steady_clock;

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

}  // namespace

std::optional<Router::SubmitError> Router::submit(const json& record, ResultCallback on_result,
                                                  std::chrono::milliseconds wait,
                                                  WrittenCallback on_written) {
    const std::string command_id = record.at("commandId").get<std::string>();
    const std::string station_id = record.at("stationId").get<std::string>();
    std::optional<std::uint64_t> waiter;
    if (on_result) {
        std::optional<std::string> known;
        ResultCallback answer_now;
        {
            // One lock for the look-up and the waiter: a result read in between reaches either.
            std::lock_guard<std::mutex> lock(mutex_);
            // Record timestamps are their writers' clocks, not the router's (test) clock.
            known = results_.find(command_id, kafka_bridge::unix_now_ms());
            if (known) {
                answer_now = std::move(on_result);
            } else if (resulted_.contains(command_key(command_id, station_id), now_ms()) &&
                       uses_.contains(command_use_key(command_id, station_id,
                                                      record.at("action").get<std::string>()),
                                      now_ms())) {
                // A repeat that intake would drop as such (its route is remembered): waiting
                // would wait for a result that never comes.
                return SubmitError{
                    SubmitError::Kind::result_gone,
                    "command " + command_id + " for " + station_id +
                        " has ended and is not carried out again; its result was written more "
                        "than an hour ago, or pushed out by newer ones, and is no longer kept "
                        "here: read it from " + config_.topics.command_results + " by commandId"};
            } else {
                waiter = waiters_.add(command_id, Clock::now() + wait, std::move(on_result));
            }
        }
        if (answer_now) {
            log::info("command {} has a result already: answered with it, not sent again",
                      command_id);
            answer_now(std::move(known));
            return std::nullopt;
        }
    }
    kafka_bridge::Record r{config_.topics.commands, station_id, ocpp::write_json(record),
                           {{"content-type", "application/json"}}};
    auto queued = producers_.current()->produce(
        r, [on_written = std::move(on_written)](const kafka_bridge::Delivery& d) {
            if (!on_written) {
                return;
            }
            if (d.ok()) {
                on_written(std::nullopt);
            } else {
                on_written(d.error->to_string());
            }
        });
    if (!queued.ok()) {
        if (waiter) {
            std::lock_guard<std::mutex> lock(mutex_);
            waiters_.remove(command_id, *waiter);  // another call waiting for the same id stays
        }
        return SubmitError{SubmitError::Kind::not_queued, queued.error().to_string()};
    }
    return std::nullopt;
}

std::optional<json> Router::station(const std::string& station_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto last = presence_.last(station_id);
    if (!last) {
        return std::nullopt;
    }
    return presence_json(*last, presence_.gateway_alive(last->gateway_id, now_ms()));
}

json Router::stations() const {
    std::lock_guard<std::mutex> lock(mutex_);
    json list = json::array();
    for (const auto& p : presence_.connected(now_ms())) {
        list.push_back(presence_json(p, true));
    }
    return json{{"stations", std::move(list)}};
}

std::vector<std::string> Router::alive_instances() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return presence_.alive_gateways(now_ms());
}

}  // namespace gateway::commands
