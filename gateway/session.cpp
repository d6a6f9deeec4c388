#include "gateway/session.hpp"

#include <climits>

#include "gateway/log.hpp"

namespace gateway {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long a session waits before retrying a record the full producer queue refused.
constexpr auto kBackpressureRetry = 10ms;

}  // namespace

Session::Session(Services& services, std::unique_ptr<StationLink> link, std::string station_id,
                 ocpp::ProtocolVersion version, std::optional<std::string> subprotocol,
                 std::string address)
    : services_(services),
      link_(std::move(link)),
      info_{std::move(station_id), version, services.config.gateway_id, kafka_bridge::new_uuid()},
      subprotocol_(std::move(subprotocol)),
      address_(std::move(address)),
      strand_(services.io),
      keepalive_(services.io),
      retry_(services.io),
      command_timer_(services.io),
      since_(kafka_bridge::now_rfc3339()),
      messages_(services.config.security.messages_per_second, services.config.security.message_burst),
      rpc_(ocpp::RpcState::Limits{services.config.limits.max_pending_calls, 32}) {}

void Session::start() {
    asio::post(strand_, [self = shared_from_this()] {
        self->opened_at_ = Clock::now();
        self->last_activity_ = self->opened_at_;
        kafka_bridge::ConnectionEvent event{kafka_bridge::ConnectionEvent::Type::connected,
                                            self->address_, self->subprotocol_,
                                            self->services_.config.security.profile, {}, 0, 0, 0};
        self->publish_side_record(
            self->services_.config.topics.connections,
            kafka_bridge::connection_event(self->info_, event, kafka_bridge::now_rfc3339()));
        log::debug("station {} connected from {} ({}, session {})", self->info_.station_id,
                  self->address_, ocpp::subprotocol(self->info_.version), self->info_.session_id);
        self->schedule_keepalive();
        if (self->services_.commands != nullptr) {
            self->services_.commands->session_opened(self);
        }
    });
}

void Session::on_message(bool text, std::string payload) {
    if (!text) {
        close(websocketpp::close::status::unsupported_data, "OCPP-J uses text frames only");
        return;
    }
    asio::post(strand_, [self = shared_from_this(), text = std::move(payload)]() mutable {
        self->handle_text(std::move(text));
    });
}

void Session::on_pong() {
    asio::post(strand_, [self = shared_from_this()] { self->last_activity_ = Clock::now(); });
}

void Session::drain() {
    asio::post(strand_, [self = shared_from_this()] {
        self->draining_ = true;
        self->close_if_drained();
    });
}

void Session::close_if_drained() {
    if (draining_ && !closed_ && !closing_ && rpc_.incoming_in_flight() == 0 && blocked_.empty()) {
        close(websocketpp::close::status::going_away, "gateway shutting down");
    }
}

void Session::close(websocketpp::close::status::value code, std::string reason) {
    // Frames that arrive from now on are dropped unanswered (handle_text): the station sends
    // them again after reconnecting.
    closing_ = true;
    link_->close(code, reason);
}

void Session::on_closed(int code, std::string reason) {
    asio::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)] {
        if (self->closed_) {
            --self->services_.closing;
            return;
        }
        self->closed_ = true;
        self->keepalive_.cancel();
        self->retry_.cancel();
        const auto duration = std::chrono::duration_cast<std::chrono::milliseconds>(
            Clock::now() - self->opened_at_);
        kafka_bridge::ConnectionEvent event{kafka_bridge::ConnectionEvent::Type::disconnected,
                                            self->address_,
                                            self->subprotocol_,
                                            self->services_.config.security.profile,
                                            reason,
                                            code,
                                            duration.count(),
                                            self->published_};
        self->publish_side_record(
            self->services_.config.topics.connections,
            kafka_bridge::connection_event(self->info_, event, kafka_bridge::now_rfc3339()));
        // Records still blocked on a full queue were never published and never answered: the
        // station will send them again.
        self->services_.in_flight -= static_cast<std::int64_t>(self->blocked_.size());
        self->blocked_.clear();
        log::debug("station {} disconnected ({} {}), session {}", self->info_.station_id, code,
                  reason, self->info_.session_id);
        self->command_timer_.cancel();
        if (auto* commands = self->services_.commands) {
            if (self->outstanding_) {
                kafka_bridge::CommandOutcome o;
                o.sent = true;
                o.version = self->info_.version;
                o.message_id = self->outstanding_->message_id;
                o.sent_at = self->outstanding_->sent_at;
                if (self->superseded_) {
                    o.status = kafka_bridge::CommandStatus::superseded;
                    o.error_code = "Superseded";
                    o.error_description = "the station connected again while the call was "
                                          "outstanding; whether it acted on it is unknown";
                } else {
                    o.status = kafka_bridge::CommandStatus::not_connected;
                    o.error_code = "ConnectionClosed";
                    o.error_description = "the connection ended (" + std::to_string(code) + " " +
                                          reason + ") while the call was outstanding; whether "
                                          "the station acted on it is unknown";
                }
                commands->finish(self->outstanding_->command, std::move(o));
                self->outstanding_.reset();
            }
            if (!self->commands_.empty()) {
                commands->hand_back({std::make_move_iterator(self->commands_.begin()),
                                     std::make_move_iterator(self->commands_.end())});
                self->commands_.clear();
            }
            commands->session_closed(self, self->superseded_);
        }
        --self->services_.closing;
    });
}

void Session::schedule_keepalive() {
    const auto& limits = services_.config.limits;
    if (limits.ping_interval.count() == 0 && limits.idle_timeout.count() == 0) {
        return;
    }
    const auto period = limits.ping_interval.count() > 0 ? limits.ping_interval
                                                         : limits.idle_timeout;
    keepalive_.expires_after(period);
    keepalive_.async_wait(asio::bind_executor(
        strand_, [self = shared_from_this()](const std::error_code& ec) {
            if (ec || self->closed_) {
                return;
            }
            const auto& l = self->services_.config.limits;
            if (l.idle_timeout.count() > 0 && Clock::now() - self->last_activity_ >= l.idle_timeout) {
                self->close(websocketpp::close::status::going_away, "idle timeout");
                return;
            }
            if (l.ping_interval.count() > 0) {
                self->link_->ping();
            }
            self->schedule_keepalive();
        }));
}

void Session::send(const std::string& text) {
    if (closed_) {
        return;
    }
    const websocketpp::lib::error_code ec = link_->send_text(text);
    if (ec) {
        log::debug("station {}: send failed: {}", info_.station_id, ec.message());
    }
}

void Session::publish_side_record(const std::string& topic, std::string value) {
    kafka_bridge::Record record{topic, info_.station_id, std::move(value),
                                {{"content-type", "application/json"}}};
    auto& metrics = services_.metrics;
    auto result = services_.producers.current()->produce(record, [&metrics, topic](const kafka_bridge::Delivery& d) {
        if (!d.ok()) {
            metrics.delivery_failure(topic);
        }
    });
    if (!result.ok()) {
        metrics.delivery_failure(topic);
        log::warn("record for {} not queued: {}", topic, result.error().to_string());
    }
}

void Session::handle_text(std::string text) {
    if (closing_) {
        log::debug("station {}: frame after close dropped", info_.station_id);
        return;
    }
    last_activity_ = Clock::now();
    const std::string received_at = kafka_bridge::now_rfc3339();
    ocpp::FrameLimits limits;
    limits.max_frame_bytes = services_.config.limits.max_message_bytes;
    limits.max_depth = services_.config.limits.max_json_depth;
    auto frame = ocpp::parse_frame(text, limits);
    if (!frame.ok()) {
        reject(ocpp::reject_frame(info_.version, frame.error()), text, received_at, std::nullopt);
        return;
    }
    if (auto* call = std::get_if<ocpp::Call>(&frame.value()); call && !messages_.try_take(last_activity_)) {
        // Faster than any real station: refused, not queued. The station may send it again.
        reject(ocpp::Rejection{ocpp::Errc::rate_limited, call->id.get(),
                               ocpp::call_error_code(ocpp::Errc::rate_limited, info_.version),
                               fmt::format("more than {} messages per second; slow down",
                                           services_.config.security.messages_per_second),
                               true},
               text, received_at, call->action);
        if (!rate_reported_ && services_.security_event) {
            rate_reported_ = true;
            services_.security_event("RateLimited", info_.station_id, peer_ip_,
                                     "station message rate over the limit; calls refused");
        }
        return;
    }
    if (auto* call = std::get_if<ocpp::Call>(&frame.value())) {
        handle_call(std::move(*call), text, received_at);
    } else if (auto* result = std::get_if<ocpp::CallResult>(&frame.value())) {
        handle_response(result->id, frame.value(), text, received_at);
    } else {
        handle_response(std::get<ocpp::CallError>(frame.value()).id, frame.value(), text,
                        received_at);
    }
}

void Session::handle_response(const ocpp::MessageId& id, const ocpp::Frame& frame,
                              const std::string& raw, const std::string& received_at) {
    const auto response = rpc_.on_response(id);
    if (response.kind == ocpp::RpcState::Response::Kind::matched && outstanding_) {
        command_timer_.cancel();
        if (const auto* result = std::get_if<ocpp::CallResult>(&frame)) {
            finish_command(kafka_bridge::answer_outcome(services_.schemas, info_.version,
                                                        outstanding_->command.action,
                                                        result->payload));
        } else {
            const auto& error = std::get<ocpp::CallError>(frame);
            kafka_bridge::CommandOutcome o;
            o.status = kafka_bridge::CommandStatus::call_error;
            o.sent = true;
            o.version = info_.version;
            o.error_code = error.code;
            o.error_description = error.description;
            o.error_details = error.details;
            finish_command(std::move(o));
        }
        return;
    }
    services_.metrics.unmatched_response();
    ocpp::Rejection rejection{ocpp::Errc::internal_error, id.get(),
                              ocpp::CallErrorCode::GenericError,
                              response.kind == ocpp::RpcState::Response::Kind::late
                                  ? "answer to a call that already timed out"
                                  : "answer to no call the gateway sent",
                              false};
    reject(rejection, raw, received_at, std::nullopt);
}

void Session::supersede(std::string reason) {
    asio::post(strand_, [self = shared_from_this(), reason = std::move(reason)]() mutable {
        if (self->closed_) {
            return;
        }
        self->superseded_ = true;
        self->close(websocketpp::close::status::policy_violation, reason);
    });
}

void Session::deliver(kafka_bridge::Command command) {
    asio::post(strand_, [self = shared_from_this(), command = std::move(command)]() mutable {
        auto* commands = self->services_.commands;
        if (self->closed_ || self->closing_) {
            commands->hand_back({std::move(command)});
            return;
        }
        if (self->commands_.size() >= self->services_.config.commands.queue_limit) {
            kafka_bridge::CommandOutcome o;
            o.status = kafka_bridge::CommandStatus::rejected;
            o.version = self->info_.version;
            o.error_code = "QueueFull";
            o.error_description = fmt::format("{} commands are already waiting for this station",
                                              self->commands_.size());
            commands->finish(command, std::move(o));
            return;
        }
        self->commands_.push_back(std::move(command));
        self->pump_commands();
    });
}

void Session::pump_commands() {
    auto* commands = services_.commands;
    while (!outstanding_ && !commands_.empty() && !closed_ && !closing_) {
        kafka_bridge::Command command = std::move(commands_.front());
        commands_.pop_front();
        if (kafka_bridge::unix_now_ms() >= command.expires_at_ms) {
            kafka_bridge::CommandOutcome o;
            o.status = kafka_bridge::CommandStatus::expired;
            o.version = info_.version;
            o.error_code = "Expired";
            o.error_description = "expiresAt " + kafka_bridge::format_time_ms(command.expires_at_ms) +
                                  " passed before the call could be sent";
            commands->finish(command, std::move(o));
            continue;
        }
        if (auto rejected = kafka_bridge::check_command(services_.schemas, info_.version, command)) {
            commands->finish(command, std::move(*rejected));
            continue;
        }
        const std::string id = kafka_bridge::new_uuid();
        rpc_.begin_outgoing(ocpp::MessageId(id), command.action, Clock::now() + command.timeout);
        send(ocpp::serialize(ocpp::Call{ocpp::MessageId(id), command.action, command.payload}));
        const auto timeout = command.timeout;
        outstanding_ = Outstanding{std::move(command), id, kafka_bridge::now_rfc3339()};
        command_timer_.expires_after(timeout);
        command_timer_.async_wait(asio::bind_executor(
            strand_, [self = shared_from_this(), id](const std::error_code& ec) {
                if (!ec && self->outstanding_ && self->outstanding_->message_id == id) {
                    self->on_command_timeout();
                }
            }));
    }
}

void Session::on_command_timeout() {
    rpc_.expire(Clock::time_point::max());
    kafka_bridge::CommandOutcome o;
    o.status = kafka_bridge::CommandStatus::timeout;
    o.sent = true;
    o.version = info_.version;
    o.error_code = "NoResponse";
    o.error_description = fmt::format("the station did not answer within {} ms",
                                      outstanding_->command.timeout.count());
    finish_command(std::move(o));
}

void Session::finish_command(kafka_bridge::CommandOutcome outcome) {
    outcome.message_id = outstanding_->message_id;
    outcome.sent_at = outstanding_->sent_at;
    outcome.version = info_.version;
    services_.commands->finish(outstanding_->command, std::move(outcome));
    outstanding_.reset();
    pump_commands();
}

void Session::handle_call(ocpp::Call call, const std::string& raw, const std::string& received_at) {
    const std::string action = call.action;
    switch (rpc_.on_incoming_call(call.id)) {
        case ocpp::RpcState::Incoming::duplicate_in_flight: {
            reject(ocpp::Rejection{ocpp::Errc::duplicate_message_id, call.id.get(),
                                   ocpp::call_error_code(ocpp::Errc::duplicate_message_id, info_.version),
                                   "message id reused while the call with it is in flight", true},
                   raw, received_at, action);
            return;
        }
        case ocpp::RpcState::Incoming::too_many_in_flight: {
            reject(ocpp::Rejection{ocpp::Errc::too_many_in_flight, call.id.get(),
                                   ocpp::call_error_code(ocpp::Errc::too_many_in_flight, info_.version),
                                   "a previous call is still being processed; send one call at a time",
                                   true},
                   raw, received_at, action);
            return;
        }
        case ocpp::RpcState::Incoming::accepted:
        case ocpp::RpcState::Incoming::retry:
            break;
    }
    const ocpp::MessageId id = call.id;
    auto accepted = ocpp::accept_station_call(info_.version, std::move(call), services_.schemas);
    if (!accepted.ok()) {
        rpc_.complete_incoming(id);
        reject(accepted.error(), raw, received_at, action);
        return;
    }
    ++services_.in_flight;
    if (ReplyPolicy::needs_transaction_id(info_.version, accepted.value().action->name)) {
        request_transaction_id(std::move(accepted.value()), received_at);
        return;
    }
    publish(std::move(accepted.value()), std::nullopt, received_at);
}

void Session::request_transaction_id(ocpp::AcceptedCall accepted, std::string received_at) {
    // The offset of a record on the single-partition transaction-id topic numbers the
    // transaction: unique across instances and restarts with Kafka as the only state.
    kafka_bridge::Record record{services_.config.topics.transaction_ids, info_.station_id,
                                json{{"stationId", info_.station_id},
                                     {"sessionId", info_.session_id},
                                     {"messageId", accepted.call.id.get()},
                                     {"at", received_at}}
                                    .dump(),
                                {}};
    auto shared = std::make_shared<ocpp::AcceptedCall>(std::move(accepted));
    std::weak_ptr<Session> weak = weak_from_this();
    auto result = services_.producers.current()->produce(
        record, [weak, shared, received_at, &services = services_](const kafka_bridge::Delivery& d) {
            auto self = weak.lock();
            if (!self) {
                --services.in_flight;  // the station left; it will send the call again
                return;
            }
            asio::post(self->strand_, [self, shared, received_at, d] {
                if (d.ok() && d.partition == 0 && d.offset + 1 <= INT32_MAX) {
                    self->publish(std::move(*shared), d.offset + 1, received_at);
                    return;
                }
                log::error("station {}: no transaction id: {}", self->info_.station_id,
                           d.ok() ? std::string("transaction-id topic must have one partition "
                                                "and fewer than 2^31 records")
                                  : d.error->to_string());
                self->fail_call(shared->call.id, shared->call.action);
            });
        });
    if (!result.ok()) {
        log::warn("station {}: no transaction id: {}", info_.station_id,
                  result.error().to_string());
        fail_call(shared->call.id, shared->call.action);
    }
}

void Session::publish(ocpp::AcceptedCall accepted, std::optional<std::int64_t> transaction_id,
                      const std::string& received_at) {
    const ocpp::ActionInfo& action = *accepted.action;
    const ocpp::EventClass event_class = *action.event_class;
    json reply = services_.replies.reply(info_.version, action.name, accepted.call.payload,
                                         transaction_id, kafka_bridge::now_rfc3339());
    auto pending = std::make_shared<Pending>();
    pending->id = accepted.call.id;
    pending->action = std::string(action.name);
    pending->event_class = event_class;
    const std::string value = kafka_bridge::station_event(
        info_, action.name, event_class, accepted.call.id.get(), received_at, ++sequence_,
        accepted.call.payload, reply);
    pending->reply = std::move(reply);
    pending->record = kafka_bridge::Record{
        services_.config.topics.for_class(event_class),
        info_.station_id,
        value,
        {{"ocpp-version", std::string(ocpp::version_label(info_.version))},
         {"ocpp-action", pending->action},
         {"content-type", "application/json"}}};
    pending->started = Clock::now();
    if (!blocked_.empty()) {
        blocked_.push_back(std::move(pending));  // keep the station's order
        return;
    }
    produce(std::move(pending));
}

void Session::produce(std::shared_ptr<Pending> pending) {
    const ReplyMode mode =
        services_.config.reply.modes[static_cast<std::size_t>(pending->event_class)];
    std::weak_ptr<Session> weak = weak_from_this();
    auto& services = services_;
    auto result = services_.producers.current()->produce(
        pending->record, [weak, pending, mode, &services](const kafka_bridge::Delivery& d) {
            services.metrics.produce_ack_latency(Clock::now() - pending->started);
            if (auto self = weak.lock()) {
                asio::post(self->strand_, [self, pending, d, mode] {
                    self->on_delivery(pending, d, mode);
                });
                return;
            }
            // The station left before the ack: nobody to answer. Nothing is lost: the record
            // is stored (or, on failure, never answered, so the station sends it again).
            --services.in_flight;
            if (!d.ok()) {
                services.metrics.delivery_failure(pending->record.topic);
            }
        });
    if (result.ok()) {
        if (mode == ReplyMode::immediate) {
            send(ocpp::serialize(ocpp::CallResult{pending->id, pending->reply}));
            services_.metrics.message(info_.version, pending->action,
                                      Metrics::Outcome::answered_early);
            finish_call(pending->id);
        }
        return;
    }
    if (result.error().is_backpressure()) {
        // The producer queue is full: the record waits here and is retried shortly. The
        // station may have at most max_pending_calls such records; further CALLs are refused
        // with a CALLERROR meanwhile, so memory stays bounded.
        blocked_.push_front(std::move(pending));
        services_.metrics.backpressure_wait();
        retry_blocked_later();
        return;
    }
    services_.metrics.delivery_failure(pending->record.topic);
    log::warn("station {}: {} not published: {}", info_.station_id, pending->action,
              result.error().to_string());
    fail_call(pending->id, pending->action);
}

void Session::fail_call(const ocpp::MessageId& id, const std::string& action) {
    --services_.in_flight;
    send(ocpp::serialize(ocpp::make_call_error(id.get(), ocpp::CallErrorCode::InternalError,
                                               info_.version,
                                               "could not store the message; try again")));
    services_.metrics.message(info_.version, action, Metrics::Outcome::failed);
    finish_call(id);
}

void Session::retry_blocked_later() {
    retry_.expires_after(kBackpressureRetry);
    retry_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](const std::error_code& ec) {
        if (ec || self->closed_) {
            return;
        }
        while (!self->blocked_.empty()) {
            auto next = std::move(self->blocked_.front());
            self->blocked_.pop_front();
            const std::size_t before = self->blocked_.size();
            self->produce(std::move(next));
            if (self->blocked_.size() > before) {
                return;  // still full: produce() scheduled another retry
            }
        }
    }));
}

void Session::on_delivery(const std::shared_ptr<Pending>& pending, const kafka_bridge::Delivery& d,
                          ReplyMode mode) {
    --services_.in_flight;
    if (d.ok()) {
        ++published_;
    } else {
        services_.metrics.delivery_failure(pending->record.topic);
    }
    if (mode == ReplyMode::immediate) {
        if (!d.ok()) {
            services_.metrics.immediate_undelivered(pending->event_class);
        }
        return;  // already answered
    }
    if (!d.ok()) {
        // Never a success for an unacknowledged record: the station retries.
        log::warn("station {}: {} not acknowledged by Kafka: {}", info_.station_id,
                  pending->action, d.error->to_string());
        ++services_.in_flight;  // fail_call counts it down
        fail_call(pending->id, pending->action);
        return;
    }
    send(ocpp::serialize(ocpp::CallResult{pending->id, pending->reply}));
    services_.metrics.message(info_.version, pending->action, Metrics::Outcome::acknowledged);
    finish_call(pending->id);
}

void Session::finish_call(const ocpp::MessageId& id) {
    rpc_.complete_incoming(id);
    close_if_drained();
}

void Session::reject(const ocpp::Rejection& rejection, const std::string& raw,
                     const std::string& received_at, std::optional<std::string> action) {
    std::optional<std::string> code;
    if (rejection.answerable) {
        const ocpp::CallError error = rejection.to_call_error(info_.version);
        code = error.code;
        send(ocpp::serialize(error));
        services_.metrics.validation_failure(info_.version, error.code);
        if (action) {
            services_.metrics.message(info_.version, *action, Metrics::Outcome::rejected);
        }
    }
    services_.metrics.dead_letter();
    kafka_bridge::DeadLetter letter{raw, rejection.description, code, rejection.message_id,
                                    std::move(action)};
    publish_side_record(services_.config.topics.dead_letter,
                        kafka_bridge::dead_letter(info_, letter, received_at));
}

}  // namespace gateway
