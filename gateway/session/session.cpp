#include "gateway/session/session.hpp"

#include <algorithm>

#include "gateway/log/log.hpp"

namespace gateway::session {
namespace {

using Clock = std::chrono::steady_clock;
// RFC 6455's code for a connection that ended without a close frame back.
constexpr int kAbnormalClose = 1006;
using kafka_bridge::CommandError;
using kafka_bridge::CommandOutcome;

}  // namespace

Session::Session(Services& services, asio::io_context& io, std::unique_ptr<StationLink> link,
                 std::string station_id, ocpp::ProtocolVersion version,
                 std::optional<std::string> subprotocol, std::string address, std::string peer_ip)
    : services_(services),
      link_(std::move(link)),
      info_{std::move(station_id), version, services.config.gateway_id, kafka_bridge::new_uuid()},
      subprotocol_(std::move(subprotocol)),
      address_(std::move(address)),
      executor_(io.get_executor()),
      keepalive_(io),
      ping_interval_(services.config.limits.ping_interval),
      retry_(io),
      command_timer_(io),
      since_(kafka_bridge::now_rfc3339()),
      peer_ip_(std::move(peer_ip)),
      messages_(services.config.security.messages_per_second, services.config.security.message_burst),
      rpc_(ocpp::RpcState::Limits{services.config.limits.max_pending_calls, 32}),
      commands_(rpc_, services.config.commands.queue_limit) {}

void Session::start() {
    asio::post(executor_, [self = shared_from_this()] {
        self->opened_at_ = Clock::now();
        self->last_activity_ = self->opened_at_;
        // A station that booted here before keeps its model (and profile) without booting again.
        if (auto model = self->services_.boot_models.find(self->info_.station_id)) {
            self->model_ = std::make_unique<StationModel>(std::move(*model));
        }
        if (!self->services_.config.tolerance.empty()) {
            self->tolerance_ = match_profile(self->services_.config.tolerance, self->info_.station_id,
                                             self->model_ ? *self->model_ : StationModel{});
        }
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
    services_.messages_received.fetch_add(1, std::memory_order_relaxed);
    if (!text) {
        close(CloseCode::unsupported_data, "OCPP-J uses text frames only");
        return;
    }
    // Deferred, not posted: this runs on the I/O thread that read the frame, and a post would
    // wake another I/O thread to handle it; deferred, the frame is handled by this thread as
    // soon as the read handler returns (the other thread stays asleep unless it is idle
    // anyway and picks the work up).
    asio::defer(executor_, [self = shared_from_this(), text = std::move(payload)]() mutable {
        self->handle_text(std::move(text));
    });
}

void Session::on_pong() {
    asio::post(executor_, [self = shared_from_this()] { self->last_activity_ = Clock::now(); });
}

void Session::drain() {
    asio::post(executor_, [self = shared_from_this()] {
        self->draining_ = true;
        self->close_if_drained();
    });
}

void Session::close_if_drained() {
    if (draining_ && !closed_ && !closing_ && rpc_.incoming_in_flight() == 0 && blocked_.empty() &&
        held_.empty()) {
        close(CloseCode::going_away, "gateway shutting down");
    }
}

void Session::close(CloseCode code, std::string reason) {
    // The connection is touched on its own I/O thread only (websocketpp runs without locks):
    // inline there, posted from anywhere else (the drain's deadline, on the main thread).
    asio::dispatch(executor_, [self = shared_from_this(), code, reason = std::move(reason)] {
        // Frames that arrive from now on are dropped unanswered (handle_text): the station
        // sends them again after reconnecting.
        self->closing_ = true;
        if (self->close_reason_.empty()) {
            self->close_reason_ = reason;
        }
        self->link_->close(code, reason);
    });
}

void Session::on_closed(int code, std::string reason) {
    asio::post(executor_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
        if (self->closed_) {
            --self->services_.closing;
            return;
        }
        self->closed_ = true;
        // A close of ours the station never answered ends as a lost connection (1006); the
        // record says why we closed it.
        if (code == kAbnormalClose && !self->close_reason_.empty()) {
            reason = self->close_reason_ + "; the station did not answer the close (" + reason + ")";
        }
        self->keepalive_.cancel();
        self->retry_.cancel();
        self->command_timer_.cancel();
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
        // Records still blocked on a full queue were never published and never answered (their
        // tokens leave the in-flight count here): the station will send a CALL again, not a
        // SEND, so those are counted as failed.
        if (const std::size_t sends = self->blocked_sends() + self->held_sends(); sends > 0) {
            log::warn("station {}: {} SENDs waiting for room in the producer queue or behind a "
                      "token question not stored (the station left)", self->info_.station_id, sends);
            auto& metrics = self->services_.metrics;
            for (const auto& pending : self->blocked_) {
                if (pending->send) {
                    metrics.message(self->info_.version, pending->action,
                                    metrics::Metrics::Outcome::failed);
                }
            }
            for (const auto& held : self->held_) {
                if (held.call.action->rpc == ocpp::Rpc::send) {
                    metrics.message(self->info_.version, held.call.action->name,
                                    metrics::Metrics::Outcome::failed);
                }
            }
        }
        self->blocked_.clear();
        self->blocked_numbering_.reset();  // an unanswered CALL: the station sends it again
        self->held_.clear();
        log::debug("station {} disconnected ({} {}), session {}", self->info_.station_id, code,
                   reason, self->info_.session_id);
        self->end_commands(code, reason);
        --self->services_.closing;
    });
}

void Session::end_commands(int code, const std::string& reason) {
    auto* sink = services_.commands;
    if (sink == nullptr) {
        return;
    }
    auto left = commands_.take_all();
    if (left.outstanding) {
        auto outcome = superseded_
            ? CommandOutcome::failure(CommandError::superseded,
                                      "the station connected again while the call was "
                                      "outstanding; whether it acted on it is unknown")
            : CommandOutcome::failure(CommandError::connection_closed,
                                      "the connection ended (" + std::to_string(code) + " " +
                                          reason + ") while the call was outstanding; whether "
                                          "the station acted on it is unknown");
        outcome.sent = true;
        finish_command(std::move(*left.outstanding), std::move(outcome));
    }
    if (!left.waiting.empty()) {
        sink->hand_back(std::move(left.waiting), *this);
    }
    sink->session_closed(shared_from_this(), superseded_);
}

std::chrono::seconds Session::idle_bound() const {
    const auto idle = services_.config.limits.idle_timeout;
    if (idle.count() == 0) {
        return idle;
    }
    if (ping_interval_.count() > 0) {
        return std::max(idle, ping_interval_ * 2);  // a pong is activity
    }
    const auto told = told_interval_.count() > 0 ? told_interval_
                                                 : services_.replies.heartbeat_interval(info_.station_id);
    return std::max(idle, told * 3 / 2);
}

void Session::schedule_keepalive() {
    const auto& limits = services_.config.limits;
    if (ping_interval_.count() == 0 && limits.idle_timeout.count() == 0) {
        return;
    }
    if (ping_interval_.count() > 0) {
        keepalive_.expires_after(ping_interval_);
    } else {
        keepalive_.expires_at(last_activity_ + idle_bound());  // when the silence would be one
    }
    keepalive_.async_wait(asio::bind_executor(
        executor_, [self = shared_from_this()](const std::error_code& ec) {
            if (ec || self->closed_) {
                return;
            }
            const auto idle = self->idle_bound();
            if (idle.count() > 0 && Clock::now() - self->last_activity_ >= idle) {
                self->close(CloseCode::going_away, "idle timeout");
                return;
            }
            if (self->ping_interval_.count() > 0) {
                self->link_->ping();
            }
            self->schedule_keepalive();
        }));
}

void Session::send(const std::string& text) {
    if (closed_) {
        return;
    }
    if (const std::error_code ec = link_->send_text(text)) {
        log::debug("station {}: send failed: {}", info_.station_id, ec.message());
        return;
    }
    send_stalled(text.size());
}

bool Session::on_ping() { return !closed_ && !send_stalled(); }

bool Session::send_stalled(std::size_t just_queued) {
    const std::size_t limit = std::max<std::size_t>(4 * services_.config.limits.max_message_bytes, 1U << 20U);
    // What waited before the frame just queued: one large frame alone is no sign.
    const std::size_t all = link_->unsent_bytes();
    const std::size_t unsent = all - std::min(all, just_queued);
    if (unsent <= limit) {
        return false;
    }
    if (!stalled_ && !closing_) {
        stalled_ = true;
        log::warn("station {}: {} bytes sent to it wait unread (over {}); closing the connection",
                  info_.station_id, unsent, limit);
        close(CloseCode::policy_violation, "not reading what it is sent");
    }
    return true;
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

// ---------------------------------------------------------------- operator commands

void Session::handle_response(const ocpp::MessageId& id, const ocpp::Frame& frame,
                              const std::string& raw, const std::string& received_at) {
    ocpp::RpcState::Response::Kind kind{};
    if (auto done = commands_.answered(id, kind)) {
        command_timer_.cancel();
        if (const auto* result = std::get_if<ocpp::CallResult>(&frame)) {
            auto outcome = answer_outcome(services_.schemas, info_.version, done->command.action,
                                          result->payload, tolerance_);
            if (info_.version == ocpp::ProtocolVersion::v21 && !outcome.response_violations.empty()) {
                // 2.1 tells the station its answer broke the schema; the result says how.
                const auto& first = outcome.response_violations.front();
                send(ocpp::Rejection{first.errc, id.get(), ocpp::call_error_code(first.errc, info_.version),
                                     ocpp::truncate_utf8(first.path + ": " + first.message), true, true}
                         .answer(info_.version));
            } else if (outcome.response_violations.empty()) {
                // The interval the station agreed to keeps it from being closed as idle.
                if (const auto agreed = heartbeat_interval_agreed(info_.version, done->command, result->payload)) {
                    told_interval_ = *agreed;
                }
            }
            finish_command(std::move(*done), std::move(outcome));
        } else {
            const auto& error = std::get<ocpp::CallError>(frame);
            finish_command(std::move(*done), CommandOutcome::station_error(
                                                 error.code, error.description, error.details));
        }
        pump_commands();
        return;
    }
    services_.metrics.unmatched_response();
    ocpp::Rejection rejection{ocpp::Errc::internal_error, id.get(),
                              ocpp::CallErrorCode::GenericError,
                              kind == ocpp::RpcState::Response::Kind::late
                                  ? "answer to a call that already timed out"
                                  : "answer to no call the gateway sent",
                              false};
    if (info_.version == ocpp::ProtocolVersion::v21 && std::holds_alternative<ocpp::CallResult>(frame)) {
        rejection.answerable = true;  // 2.1: a CALLRESULTERROR says so
        rejection.about_result = true;
    }
    reject(rejection, raw, received_at, std::nullopt);
}

void Session::supersede(std::string reason) {
    asio::post(executor_, [self = shared_from_this(), reason = std::move(reason)]() mutable {
        if (self->closed_) {
            return;
        }
        self->superseded_ = true;
        self->close(CloseCode::policy_violation, reason);
    });
}

void Session::deliver(kafka_bridge::Command command) {
    asio::post(executor_, [self = shared_from_this(), command = std::move(command)]() mutable {
        auto* sink = self->services_.commands;
        // Superseded, the station's newer connection has it (here or elsewhere: never back to
        // this session); closed, so has the station's entry. Closing otherwise (a drain, an idle or unread station), this session is still
        // the station's own until the connection ends: handed back now, the command would
        // come straight back here, round and round on this thread. It waits in the queue,
        // which on_closed hands on.
        if (self->closed_ || (self->closing_ && self->superseded_)) {
            sink->hand_back({std::move(command)}, *self);
            return;
        }
        if (self->commands_.waiting() >= self->commands_.limit()) {
            auto outcome = CommandOutcome::failure(
                CommandError::queue_full,
                fmt::format("{} commands are already waiting for this station",
                            self->commands_.waiting()));
            outcome.version = self->info_.version;
            sink->finish(command, std::move(outcome));
            return;
        }
        self->commands_.push(std::move(command));
        self->pump_commands();
    });
}

void Session::pump_commands() {
    auto* sink = services_.commands;
    while (!closed_ && !closing_) {
        auto command = commands_.next_to_send();
        if (!command) {
            return;
        }
        if (kafka_bridge::unix_now_ms() >= command->expires_at_ms) {
            auto outcome = CommandOutcome::failure(
                CommandError::expired, "expiresAt " + kafka_bridge::format_time_ms(command->expires_at_ms) +
                                           " passed before the call could be sent");
            outcome.version = info_.version;
            sink->finish(*command, std::move(outcome));
            continue;
        }
        if (auto rejected = check_command(services_.schemas, info_.version, *command)) {
            sink->finish(*command, std::move(*rejected));
            continue;
        }
        // Not booted on this connection (a station reconnecting does not boot again): held
        // to what its boot would be answered now, so a station the registry rejects or has
        // not approved yet is not sent more than OCPP allows it.
        BootState boot = boot_state_.load();
        if (boot == BootState::none) {
            const std::string status = services_.replies.boot_status(info_.station_id);
            boot = status == "Pending" ? BootState::pending : status == "Rejected" ? BootState::rejected
                                                                                   : BootState::none;
        }
        if (auto refused = check_boot_state(info_.version, boot == BootState::pending,
                                            boot == BootState::rejected, *command)) {
            sink->finish(*command, std::move(*refused));
            continue;
        }
        const ocpp::MessageId id(kafka_bridge::new_uuid());
        log::debug("station {}: command {} ({}) sent as CALL {}", info_.station_id,
                   command->command_id, command->action, id.get());
        send(ocpp::serialize(ocpp::Call{id, command->action, command->payload}));
        const auto timeout = command->timeout;
        commands_.sent(std::move(*command), id, kafka_bridge::now_rfc3339(), Clock::now());
        command_timer_.expires_after(timeout);
        command_timer_.async_wait(asio::bind_executor(
            executor_, [self = shared_from_this(), id](const std::error_code& ec) {
                if (!ec) {
                    self->on_command_timeout(id);
                }
            }));
    }
}

void Session::on_command_timeout(const ocpp::MessageId& id) {
    const auto* outstanding = commands_.outstanding();
    if (outstanding == nullptr || outstanding->message_id != id) {
        return;  // answered meanwhile
    }
    auto done = commands_.expire(Clock::now());
    if (!done) {
        return;
    }
    auto outcome = CommandOutcome::failure(
        CommandError::no_response,
        fmt::format("the station did not answer within {} ms", done->command.timeout.count()));
    outcome.sent = true;
    finish_command(std::move(*done), std::move(outcome));
    pump_commands();
}

void Session::finish_command(CommandQueue::Outstanding done, CommandOutcome outcome) {
    outcome.message_id = done.message_id.get();
    outcome.sent_at = std::move(done.sent_at);
    outcome.version = info_.version;
    services_.commands->finish(done.command, std::move(outcome));
}

}  // namespace gateway::session
