#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include "kafka_bridge/producer_slot.hpp"

namespace gateway::app {

/// Serves the producer's delivery reports on the I/O threads.
///
///   broker ack ─▶ librdkafka queue ─▶ eventfd ─▶ I/O thread: poll(0) ─▶ callbacks ─▶ answer
///
/// Without it a dedicated thread blocks in poll() and every report crosses from it to an I/O
/// thread: one wake-up more per message. One wait is armed at a time, so reports are served by
/// one I/O thread at a time, in the order librdkafka queued them.
class DeliveryPump {
public:
    DeliveryPump(asio::io_context& io, kafka_bridge::ProducerSlot& producers);
    ~DeliveryPump() { stop(); }
    DeliveryPump(const DeliveryPump&) = delete;
    DeliveryPump& operator=(const DeliveryPump&) = delete;

    /// Takes the reports over from the polling thread. Error: no eventfd (the reports stay
    /// with the polling thread).
    std::error_code start();

    /// Gives the reports back to the polling thread (for after the I/O threads have ended).
    void stop();

private:
    void arm();

    kafka_bridge::ProducerSlot& producers_;
    asio::posix::stream_descriptor wakeup_;
    bool started_ = false;
};

}  // namespace gateway::app
