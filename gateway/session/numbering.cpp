// OCPP 1.6 transaction numbering: a StartTransaction's id is the offset + 1 of a record on the
// single-partition transaction-id topic, given once the record is acknowledged and the id
// admitted by the tenant's TransactionIdGuard; the calls read after it wait in held_.
#include <climits>

#include "gateway/log/log.hpp"
#include "gateway/session/session.hpp"

namespace gateway::session {

using json = nlohmann::json;

void Session::request_transaction_id(std::shared_ptr<Numbering> numbering) {
    // Calls read until this one is published wait behind it (publish), so that their records
    // follow its record as the station sent them (max_pending_calls > 1).
    numbering_ = true;
    produce_numbering(std::move(numbering));
}

void Session::numbering_failed(const ocpp::Call& call) {
    fail_call(call.id, call.action);
    numbering_ = false;
    release_held();
}

void Session::produce_numbering(std::shared_ptr<Numbering> numbering) {
    // The offset of a record on the single-partition transaction-id topic numbers the
    // transaction: unique across instances and restarts with Kafka as the only state.
    const ocpp::Call& call = numbering->call.call;
    kafka_bridge::Record record{services_.config.topics.transaction_ids, info_.station_id,
                                json{{"stationId", info_.station_id},
                                     {"sessionId", info_.session_id},
                                     {"messageId", call.id.get()},
                                     {"at", numbering->received_at}}
                                    .dump(-1, ' ', false, json::error_handler_t::replace),
                                {}};
    std::weak_ptr<Session> weak = weak_from_this();
    // A station that left meanwhile gets no answer; its token leaves the count with the
    // callback, and the station sends the call again.
    auto& services = services_;
    auto result = services_.producers.current()->produce(
        record, [weak, numbering, &services, topic = record.topic](const kafka_bridge::Delivery& d) {
            if (!d.ok()) {
                services.metrics.delivery_failure(topic);  // whether or not the station is still here
            }
            // Here, in offset order (TransactionIdGuard::admit), whether or not the station
            // is still here: an id no larger than one given before is never used.
            const bool repeated = d.ok() && d.partition == 0 && !services.transaction_ids.admit_logged(d.offset + 1, services.config.topics.transaction_ids);
            auto self = weak.lock();
            if (!self) {
                return;
            }
            // Inline when the report is served on the session's own I/O thread.
            asio::dispatch(self->executor_, [self, numbering, d, repeated] {
                if (self->closed_ || self->closing_) {
                    // The station left (or is being closed) before it had its number: the
                    // answer could not reach it, and it sends the call again and gets another.
                    // Publishing this one would record a transaction id it was never told.
                    return;
                }
                if (d.ok() && d.partition == 0 && d.offset + 1 <= INT32_MAX && !repeated) {
                    self->numbering_ = false;
                    self->publish(std::move(numbering->call), d.offset + 1, numbering->received_at,
                                  std::move(numbering->token));
                    self->release_held();
                    return;
                }
                if (!repeated) {  // a repeated id is logged by admit_logged
                    log::error("station {}: no transaction id: {}", self->info_.station_id,
                               d.ok() ? std::string("transaction-id topic must have one partition "
                                                    "and fewer than 2^31 records")
                                      : d.error->to_string());
                }
                if (d.ok()) {  // stored, but no number can come of it: a failure as well
                    self->services_.metrics.delivery_failure(self->services_.config.topics.transaction_ids);
                }
                self->numbering_failed(numbering->call.call);
            });
        });
    if (result.ok()) {
        return;
    }
    if (refused_for_now(result.error())) {
        // The producer queue is full (or the producer is being replaced): the call waits for
        // its number like any other record waits for room (retry_blocked_later), bounded by
        // max_pending_calls as they are.
        blocked_numbering_ = std::move(numbering);
        services_.metrics.backpressure_wait();
        retry_blocked_later();
        return;
    }
    log::warn("station {}: no transaction id: {}", info_.station_id, result.error().to_string());
    services_.metrics.delivery_failure(services_.config.topics.transaction_ids);
    numbering_failed(call);
}

}  // namespace gateway::session
