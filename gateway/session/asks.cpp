// Ask mode of a Session: a token question written to the operator's request topic, the call
// held (still in flight) until the decision or the deadline, then published and answered
// like any other.
#include "gateway/log/log.hpp"
#include "gateway/session/session.hpp"

namespace gateway::session {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

void Session::ask(ocpp::AcceptedCall accepted, std::optional<std::int64_t> transaction_id,
                  const std::string& received_at, InFlight token, const ReplyPolicy::Question& question) {
    const auto& config = services_.config;
    auto asking = std::make_shared<Asking>(Asking{std::move(accepted), transaction_id, received_at,
                                                  std::move(token), kafka_bridge::new_uuid(),
                                                  Clock::now(), asio::steady_timer(executor_)});
    decisions::AskRequest request;
    request.request_id = asking->request_id;
    request.station_id = info_.station_id;
    request.gateway_id = info_.gateway_id;
    request.session_id = info_.session_id;
    request.ocpp_version = std::string(ocpp::version_label(info_.version));
    request.action = std::string(asking->call.action->name);
    request.message_id = asking->call.call.id.get();
    request.id_token = question.token;
    request.type = question.type;
    request.table_status = question.table_status;
    const auto now_ms = kafka_bridge::unix_now_ms();
    request.requested_at = kafka_bridge::format_time_ms(now_ms);
    request.deadline = kafka_bridge::format_time_ms(now_ms + config.reply.ask_deadline.count());

    // Whichever comes first, the decision (tables thread) or the deadline (this I/O thread),
    // takes the callback; the other finds nothing.
    std::weak_ptr<Session> weak = weak_from_this();
    services_.asks->add(asking->request_id, [weak, asking](std::optional<decisions::TokenEntry> decision) {
        if (auto self = weak.lock()) {
            asio::dispatch(self->executor_, [self, asking, decision = std::move(decision)]() mutable {
                self->on_asked(asking, std::move(decision));
            });
        }
    });
    asking->deadline.expires_after(config.reply.ask_deadline);
    auto* asks = services_.asks;
    asking->deadline.async_wait([asks, id = asking->request_id](const std::error_code& ec) {
        if (!ec) {
            asks->expire(id);
        }
    });
    kafka_bridge::Record record{config.topics.authorization_requests, info_.station_id,
                                decisions::request_record(request),
                                {{"content-type", "application/json"}}};
    // A question Kafka does not take cannot be answered: the fallback answers at once.
    auto queued = services_.producers.current()->produce(
        record, [asks, id = asking->request_id](const kafka_bridge::Delivery& d) {
            if (!d.ok()) {
                asks->expire(id);
            }
        });
    if (!queued.ok()) {
        log::warn("station {}: token question not written ({}); answered from the table or policy",
                  info_.station_id, queued.error().to_string());
        services_.asks->expire(asking->request_id);
    }
}

void Session::on_asked(const std::shared_ptr<Asking>& asking,
                       std::optional<decisions::TokenEntry> decision) {
    asking->deadline.cancel();
    if (decision) {
        services_.metrics.ask_answered(Clock::now() - asking->asked_at);
    } else {
        services_.metrics.ask_timed_out();
    }
    if (closed_) {
        return;  // the station left: no answer to give; it sends the call again
    }
    const ReplyPolicy::Asked asked{asking->request_id, std::move(decision)};
    publish(std::move(asking->call), asking->transaction_id, asking->received_at,
            std::move(asking->token), &asked);
    // The calls read meanwhile, in order, until one of them asks again (or waits for its
    // transaction number).
    asking_ = false;
    release_held();
}

}  // namespace gateway::session
