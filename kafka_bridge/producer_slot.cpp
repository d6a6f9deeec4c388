#include "kafka_bridge/producer_slot.hpp"

namespace kafka_bridge {

std::optional<Error> ProducerSlot::poll_and_recover(std::chrono::milliseconds timeout) {
    std::shared_ptr<Producer> producer = current();
    producer->poll(timeout);
    std::optional<Error> fatal = producer->fatal_error();
    if (!fatal) {
        return std::nullopt;
    }
    auto created = Producer::create(config_);
    if (!created.ok()) {
        return created.error();
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        current_ = std::move(created.value());
        ++replacements_;
    }
    // Records the failed producer still holds are reported as failed when it is destroyed
    // (here, or by the last user still holding it).
    producer.reset();
    return fatal;
}

}  // namespace kafka_bridge
