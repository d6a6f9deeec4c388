// The station → Kafka path of a Session: every CALL a station sends is parsed, validated,
// answered by the reply policy, published, and answered once Kafka has it.
#include <algorithm>

#include "gateway/log/log.hpp"
#include "gateway/session/session.hpp"
#include "gateway/session/freshness.hpp"
#include "kafka_bridge/commands.hpp"
#include "ocpp/json_writer.hpp"

namespace gateway::session {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using config::ReplyMode;
using Outcome = metrics::Metrics::Outcome;

// How long a session waits before retrying a record the full producer queue refused.
constexpr auto kBackpressureRetry = 10ms;
// SENDs a session keeps waiting for room in the producer queue. CALLs are bounded by
// max_pending_calls (the station waits for their answers); a SEND is never answered, so a
// station streaming them through a long Kafka outage would otherwise grow its session without
// limit. One more is dropped, counted and logged. The same bound holds, separately, for SENDs
// waiting behind an open token question (ask mode).
constexpr std::size_t kMaxBlockedSends = 32;

}  // namespace

bool Session::refused_for_now(const kafka_bridge::Error& error) {
    return error.is_backpressure() || error.is_fatal();
}

void Session::handle_text(std::string text) {
    if (closing_) {
        log::debug("station {}: frame after close dropped", info_.station_id);
        return;
    }
    last_activity_ = Clock::now();
    const std::string received_at = kafka_bridge::now_rfc3339();
    auto frame = ocpp::parse_frame(text, config::frame_limits(services_.config), info_.version);
    if (!frame.ok()) {
        reject(ocpp::reject_frame(info_.version, frame.error()), text, received_at, std::nullopt);
        return;
    }
    if (auto* call = std::get_if<ocpp::Call>(&frame.value())) {
        if (within_rate(call->id, call->action, true, text, received_at)) {
            handle_call(std::move(*call), text, received_at);
        }
        return;
    }
    if (auto* send = std::get_if<ocpp::Send>(&frame.value())) {
        if (within_rate(send->id, send->action, false, text, received_at)) {
            handle_send(std::move(*send), text, received_at);
        }
        return;
    }
    if (const auto* error = std::get_if<ocpp::CallResultError>(&frame.value())) {
        if (within_rate(error->id, std::nullopt, false, text, received_at)) {
            handle_result_error(*error, text, received_at);
        }
        return;
    }
    const auto* result = std::get_if<ocpp::CallResult>(&frame.value());
    handle_response(result != nullptr ? result->id : std::get<ocpp::CallError>(frame.value()).id,
                    frame.value(), text, received_at);
}

bool Session::within_rate(const ocpp::MessageId& id, const std::optional<std::string>& action, bool answerable,
                          const std::string& raw, const std::string& received_at) {
    if (messages_.try_take(last_activity_)) {
        return true;
    }
    // Faster than any real station: refused, not queued. The station may send it again.
    reject(ocpp::Rejection{ocpp::Errc::rate_limited, id.get(),
                           ocpp::call_error_code(ocpp::Errc::rate_limited, info_.version),
                           fmt::format("more than {} messages per second; slow down",
                                       services_.config.security.messages_per_second),
                           answerable},
           raw, received_at, action);
    if (!rate_reported_) {
        rate_reported_ = true;
        services_.security_events.raise(security::EventType::rate_limited, info_.station_id,
                                        peer_ip_, "station message rate over the limit; calls refused");
    }
    return false;
}

void Session::handle_send(ocpp::Send send, const std::string& raw, const std::string& received_at) {
    const std::string action = send.action;
    auto checked = ocpp::accept_station_call(
        info_.version, ocpp::Call{std::move(send.id), std::move(send.action), std::move(send.payload)},
        services_.schemas, ocpp::Rpc::send);
    std::optional<ocpp::AcceptedCall> accepted;
    if (checked.ok()) {
        accepted = std::move(checked.value());
    } else if (accepted = repair(raw, checked.error(), ocpp::Rpc::send); !accepted) {
        reject(checked.error(), raw, received_at, action);
        return;
    }
    publish(std::move(*accepted), std::nullopt, received_at, InFlight(services_.in_flight));
}

void Session::handle_result_error(const ocpp::CallResultError& error, const std::string& raw,
                                  const std::string& received_at) {
    // Nothing is pending any more: the station only says it could not use an answer. Recorded
    // where refused messages go, so that the operator sees it.
    log::warn("station {}: could not process the answer to its message {}: {} {}", info_.station_id,
              ocpp::quote(error.id.get()), ocpp::quote(error.code), ocpp::quote(error.description, 255));
    reject(ocpp::Rejection{ocpp::Errc::internal_error, error.id.get(), ocpp::CallErrorCode::GenericError,
                           ocpp::truncate_utf8("the station could not process the gateway's answer: " +
                                               error.code + " " + error.description),
                           false},
           raw, received_at, std::nullopt);
}

void Session::handle_call(ocpp::Call call, const std::string& raw, const std::string& received_at) {
    const std::string action = call.action;
    switch (rpc_.on_incoming_call(call.id)) {
        case ocpp::RpcState::Incoming::duplicate_in_flight:
            reject(ocpp::Rejection{ocpp::Errc::duplicate_message_id, call.id.get(),
                                   ocpp::call_error_code(ocpp::Errc::duplicate_message_id, info_.version),
                                   "message id reused while the call with it is in flight", true},
                   raw, received_at, action);
            return;
        case ocpp::RpcState::Incoming::too_many_in_flight:
            reject(ocpp::Rejection{ocpp::Errc::too_many_in_flight, call.id.get(),
                                   ocpp::call_error_code(ocpp::Errc::too_many_in_flight, info_.version),
                                   "a previous call is still being processed; send one call at a time",
                                   true},
                   raw, received_at, action);
            return;
        case ocpp::RpcState::Incoming::accepted:
        case ocpp::RpcState::Incoming::retry:
            break;
    }
    if (action == "BootNotification") {
        learn_model(call.payload);
    }
    const ocpp::MessageId id = call.id;
    auto checked = ocpp::accept_station_call(info_.version, std::move(call), services_.schemas);
    std::optional<ocpp::AcceptedCall> accepted;
    if (checked.ok()) {
        accepted = std::move(checked.value());
    } else if (accepted = repair(raw, checked.error()); !accepted) {
        rpc_.complete_incoming(id);
        reject(checked.error(), raw, received_at, action);
        return;
    }
    InFlight token(services_.in_flight);
    if (ReplyPolicy::needs_transaction_id(info_.version, accepted->action->name)) {
        if (asking_ || numbering_) {
            // Numbered in turn, once the call ahead is published (release_held).
            held_.push_back(Held{std::move(*accepted), std::nullopt, received_at, std::move(token)});
            return;
        }
        request_transaction_id(std::make_shared<Numbering>(
            Numbering{std::move(*accepted), std::move(token), received_at}));
        return;
    }
    publish(std::move(*accepted), std::nullopt, received_at, std::move(token));
}

void Session::release_held() {
    while (!asking_ && !numbering_ && !held_.empty()) {
        Held next = std::move(held_.front());
        held_.pop_front();
        if (!next.transaction_id &&
            ReplyPolicy::needs_transaction_id(info_.version, next.call.action->name)) {
            request_transaction_id(std::make_shared<Numbering>(Numbering{
                std::move(next.call), std::move(next.token), next.received_at, next.since}));
            continue;  // numbering_: the rest wait for this one
        }
        publish(std::move(next.call), next.transaction_id, next.received_at, std::move(next.token));
    }
}

void Session::publish(ocpp::AcceptedCall accepted, std::optional<std::int64_t> transaction_id,
                      const std::string& received_at, InFlight token,
                      const ReplyPolicy::Asked* asked) {
    const ocpp::ActionInfo& action = *accepted.action;
    const ocpp::EventClass event_class = *action.event_class;
    if (asked == nullptr && (asking_ || numbering_)) {
        if (action.rpc == ocpp::Rpc::send && held_sends() >= kMaxBlockedSends) {
            log::warn("station {}: SEND {} {} dropped: {} SENDs already wait behind a token "
                      "question", info_.station_id, action.name, accepted.call.id.get(),
                      kMaxBlockedSends);
            services_.metrics.message(info_.version, action.name, Outcome::failed);
            return;
        }
        held_.push_back(Held{std::move(accepted), transaction_id, received_at, std::move(token)});
        return;
    }
    if (asked == nullptr && services_.asks != nullptr) {
        if (auto question = services_.replies.question(info_.version, action.name, event_class,
                                                       accepted.call.payload)) {
            asking_ = true;
            ask(std::move(accepted), transaction_id, received_at, std::move(token), *question);
            return;
        }
    }
    const std::int64_t now_ms = kafka_bridge::unix_now_ms();
    ReplyPolicy::Answer answer =
        services_.replies.reply(info_.version, action.name, info_.station_id, accepted.call.payload,
                                transaction_id, {kafka_bridge::format_time_ms(now_ms), now_ms}, asked);
    json decision;
    if (answer.decision) {
        services_.metrics.decision(answer.decision->kind, decisions::source_name(answer.decision->source),
                                   answer.decision->status);
        decision = answer.decision->to_json();
    }
    std::string reply = ocpp::write_json(answer.reply);
    auto pending = std::make_shared<Pending>();
    pending->id = accepted.call.id;
    pending->action = std::string(action.name);
    pending->event_class = event_class;
    pending->token = std::move(token);
    if (answer.decision && answer.decision->kind == "boot") {
        pending->boot = answer.decision->status == "Accepted" ? BootState::accepted
                        : answer.decision->status == "Pending" ? BootState::pending
                                                               : BootState::rejected;
        if (const auto it = answer.reply.find("interval"); it != answer.reply.end() && it->is_number_integer()) {
            pending->interval = std::chrono::seconds(it->get<std::int64_t>());
        }
    }
    if (action.rpc == ocpp::Rpc::send) {
        reply.clear();  // never sent: the record says SEND instead
    }
    std::string value = kafka_bridge::station_event(
        info_, action.name, event_class, accepted.call.id.get(), received_at, ++sequence_,
        accepted.call.payload, reply, decision, accepted.repaired.get());
    pending->reply = std::move(reply);
    pending->record = kafka_bridge::Record{
        services_.config.topics.for_class(event_class),
        info_.station_id,
        std::move(value),
        {{"ocpp-version", std::string(ocpp::version_label(info_.version))},
         {"ocpp-action", pending->action},
         {"content-type", "application/json"}}};
    if (accepted.repaired) {
        pending->record.headers.emplace_back("ocpp-tolerance", accepted.repaired->profile);
    }
    pending->received_ms = kafka_bridge::parse_time_ms(received_at).value_or(now_ms);
    pending->station_ms = station_time_ms(accepted.call.payload);
    pending->send = action.rpc == ocpp::Rpc::send;
    if (pending->station_ms) {
        check_station_clock(*pending->station_ms, pending->received_ms, action.name);
    }
    pending->started = Clock::now();
    if (!blocked_.empty()) {
        if (pending->send && blocked_sends() >= kMaxBlockedSends) {
            log::warn("station {}: SEND {} {} dropped: {} SENDs already wait for room in the "
                      "producer queue", info_.station_id, pending->action, pending->id.get(),
                      kMaxBlockedSends);
            services_.metrics.message(info_.version, pending->action, Outcome::failed);
            return;
        }
        blocked_.push_back(std::move(pending));  // keep the station's order
        return;
    }
    produce(std::move(pending));
}

std::size_t Session::blocked_sends() const {
    return static_cast<std::size_t>(
        std::count_if(blocked_.begin(), blocked_.end(), [](const auto& p) { return p->send; }));
}

std::size_t Session::held_sends() const {
    return static_cast<std::size_t>(std::count_if(
        held_.begin(), held_.end(), [](const Held& h) { return h.call.action->rpc == ocpp::Rpc::send; }));
}

void Session::produce(std::shared_ptr<Pending> pending) {
    const ReplyMode mode =
        services_.config.reply.modes[static_cast<std::size_t>(pending->event_class)];
    std::weak_ptr<Session> weak = weak_from_this();
    auto& services = services_;
    const ocpp::ProtocolVersion version = info_.version;
    auto result = services_.producers.current()->produce(
        pending->record, [weak, pending, mode, &services, version](const kafka_bridge::Delivery& d) {
            services.metrics.produce_ack_latency(Clock::now() - pending->started);
            if (d.ok()) {
                record_freshness(services, *pending);
            }
            if (auto self = weak.lock()) {
                // Inline when the report is served on the session's own I/O thread.
                asio::dispatch(self->executor_, [self, pending, d, mode] {
                    self->on_delivery(pending, d, mode);
                });
                return;
            }
            // The station left before the ack: nobody to answer. A stored record is done; an
            // unanswered CALL that failed is sent again by its station. Counted as the session
            // would: an answered one (immediate) or a SEND will not come again.
            if (!d.ok()) {
                services.metrics.delivery_failure(pending->record.topic);
                count_lost(services, version, *pending, mode);
            }
        });
    if (result.ok()) {
        if (mode == ReplyMode::immediate) {
            answer(*pending);
            services_.metrics.message(info_.version, pending->action, Outcome::answered_early);
            finish_pending(*pending);
        }
        return;
    }
    if (refused_for_now(result.error())) {
        // The producer queue is full, or the producer is being replaced after a fatal error:
        // the record waits here and is retried shortly. The station may have at most
        // max_pending_calls such records; further CALLs are refused with a CALLERROR
        // meanwhile, so memory stays bounded.
        blocked_.push_front(std::move(pending));
        services_.metrics.backpressure_wait();
        retry_blocked_later();
        return;
    }
    services_.metrics.delivery_failure(pending->record.topic);
    log::warn("station {}: {} not published: {}", info_.station_id, pending->action,
              result.error().to_string());
    pending->token.release();
    fail_pending(*pending, &result.error());
}

void Session::record_freshness(Services& services, const Pending& pending) {
    const std::int64_t now = kafka_bridge::unix_now_ms();
    std::optional<std::int64_t> late;
    bool over_budget = false;
    if (pending.station_ms) {
        late = now - *pending.station_ms;
        const auto budget = services.config.freshness.budgets[static_cast<std::size_t>(pending.event_class)];
        over_budget = budget.count() > 0 && *late > std::chrono::milliseconds(budget).count();
    }
    services.metrics.event_stored(pending.event_class, now - pending.received_ms, late, over_budget);
}

void Session::check_station_clock(std::int64_t station_ms, std::int64_t received_ms,
                                  std::string_view action) {
    const auto clock = check_clock(station_ms, received_ms, services_.config.freshness);
    if (clock == ClockCheck::fine) {
        return;
    }
    const bool ahead = clock == ClockCheck::ahead;
    services_.metrics.station_clock_off(ahead);
    if (clock_reported_) {
        return;
    }
    clock_reported_ = true;
    services_.security_events.raise(
        security::EventType::station_clock_off, info_.station_id, peer_ip_,
        fmt::format("{} timestamp {} is {} s {} the gateway's clock (message taken)", action,
                    kafka_bridge::format_time_ms(station_ms),
                    (ahead ? station_ms - received_ms : received_ms - station_ms) / 1000,
                    ahead ? "ahead of" : "behind"));
}

void Session::answer(const Pending& pending) {
    if (pending.send) {
        return;
    }
    send(ocpp::serialize_call_result(pending.id, pending.reply));
    if (pending.boot != BootState::none) {
        boot_state_ = pending.boot;
        told_interval_ = pending.interval;
    }
}

void Session::fail_call(const ocpp::MessageId& id, const std::string& action,
                        const char* description) {
    send(ocpp::serialize(ocpp::make_call_error(id.get(), ocpp::CallErrorCode::InternalError,
                                               info_.version, description)));
    services_.metrics.message(info_.version, action, Outcome::failed);
    finish_call(id);
}

void Session::retry_blocked_later() {
    retry_.expires_after(kBackpressureRetry);
    retry_.async_wait(asio::bind_executor(executor_, [self = shared_from_this()](const std::error_code& ec) {
        if (ec || self->closed_) {
            return;
        }
        // A record that waited the delivery timeout for room fails as one Kafka did not take
        // in time would: the station hears within that bound (docs/reliability.md).
        const auto timeout = self->services_.config.kafka.delivery_timeout;
        if (self->blocked_numbering_ &&
            Clock::now() - self->blocked_numbering_->since >= timeout) {
            const auto due = std::move(self->blocked_numbering_);
            const ocpp::Call& call = due->call.call;
            log::warn("station {}: no transaction id: {} {} waited {} ms for the producer to "
                      "take its number", self->info_.station_id, call.action, call.id.get(),
                      timeout.count());
            self->services_.metrics.delivery_failure(self->services_.config.topics.transaction_ids);
            self->numbering_failed(call);
        }
        while (!self->blocked_.empty()) {
            auto next = std::move(self->blocked_.front());
            self->blocked_.pop_front();
            if (Clock::now() - next->started >= timeout) {
                log::warn("station {}: {} {} waited {} ms for the producer to take it; not "
                          "stored", self->info_.station_id, next->action, next->id.get(),
                          timeout.count());
                self->services_.metrics.delivery_failure(next->record.topic);
                next->token.release();
                self->fail_pending(*next);
                continue;
            }
            const std::size_t before = self->blocked_.size();
            self->produce(std::move(next));
            if (self->blocked_.size() > before) {
                return;  // still full: produce() scheduled another retry
            }
        }
        if (self->blocked_numbering_) {
            // After the records ahead of it: if still refused, it is kept and retried again.
            auto next = std::move(self->blocked_numbering_);
            self->produce_numbering(std::move(next));
        }
    }));
}

void Session::on_delivery(const std::shared_ptr<Pending>& pending, const kafka_bridge::Delivery& d,
                          ReplyMode mode) {
    pending->token.release();
    if (d.ok()) {
        ++published_;
    } else {
        services_.metrics.delivery_failure(pending->record.topic);
    }
    if (mode == ReplyMode::immediate) {
        if (!d.ok()) {
            count_lost(services_, info_.version, *pending, mode);
        }
        return;  // already answered
    }
    if (!d.ok()) {
        // Never a success for an unacknowledged record: the station retries.
        log::warn("station {}: {} not acknowledged by Kafka: {}", info_.station_id,
                  pending->action, d.error->to_string());
        fail_pending(*pending, &*d.error);
        return;
    }
    answer(*pending);
    services_.metrics.message(info_.version, pending->action, Outcome::acknowledged);
    finish_pending(*pending);
}

void Session::count_lost(Services& services, ocpp::ProtocolVersion version, const Pending& pending,
                         ReplyMode mode) {
    if (mode == ReplyMode::immediate) {
        services.metrics.immediate_undelivered(pending.event_class);
        log::warn("station {}: {} {} was answered but Kafka did not acknowledge it",
                  pending.record.key, pending.action, pending.id.get());
        return;
    }
    if (pending.send) {
        log::warn("station {}: SEND {} {} not stored", pending.record.key, pending.action,
                  pending.id.get());
        services.metrics.message(version, pending.action, Outcome::failed);
    }
}

void Session::fail_pending(const Pending& pending, const kafka_bridge::Error* error) {
    const bool too_large = error != nullptr && error->is_too_large();
    if (too_large) {
        // Not a passing fault: the station's resends fail the same way. Said to the station
        // and to the operator (limits.max_message_bytes against Kafka's limits, README).
        log::error("station {}: {} {} is a record of {} bytes, more than Kafka takes "
                   "(message.max.bytes, the topic's max.message.bytes); not stored",
                   info_.station_id, pending.action, pending.id.get(),
                   pending.record.value.size());
    }
    if (!pending.send) {
        fail_call(pending.id, pending.action,
                  too_large ? "the message is too large for Kafka; it cannot be stored"
                            : "could not store the message; try again");
        return;
    }
    // A SEND has no answer to carry the failure: the station does not send it again.
    log::warn("station {}: SEND {} {} not stored", info_.station_id, pending.action, pending.id.get());
    services_.metrics.message(info_.version, pending.action, Outcome::failed);
    close_if_drained();
}

void Session::finish_pending(const Pending& pending) {
    if (pending.send) {
        close_if_drained();  // never in the station's calls in flight
        return;
    }
    finish_call(pending.id);
}

void Session::finish_call(const ocpp::MessageId& id) {
    rpc_.complete_incoming(id);
    close_if_drained();
}

void Session::reject(const ocpp::Rejection& rejection, const std::string& raw,
                     const std::string& received_at, std::optional<std::string> action) {
    std::optional<std::string> code;
    if (rejection.answerable) {
        code = std::string(ocpp::wire_name(rejection.code, info_.version));
        send(rejection.answer(info_.version));
        services_.metrics.validation_failure(info_.version, *code);
        if (action) {
            services_.metrics.message(info_.version, *action, Outcome::rejected);
        }
    }
    services_.metrics.dead_letter();
    kafka_bridge::DeadLetter letter{raw, rejection.description, code, rejection.message_id,
                                    std::move(action)};
    if (ocpp::is_schema_violation(rejection.errc)) {
        if (tolerance_ != nullptr) {
            letter.tolerance_profile = tolerance_->name;
        }
        diagnose(raw, letter);
    }
    if (model_) {
        letter.station_model = model_->to_json();
    }
    publish_side_record(services_.config.topics.dead_letter,
                        kafka_bridge::dead_letter(info_, letter, received_at));
}

}  // namespace gateway::session
