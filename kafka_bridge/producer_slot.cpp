#include "kafka_bridge/producer_slot.hpp"

namespace kafka_bridge {

std::optional<Error> ProducerSlot::poll_and_recover(std::chrono::milliseconds timeout) {
    std::shared_ptr<Producer> producer = current();
    producer->poll(timeout);
    // Replaced producers nobody else holds any more end here, on the polling thread.
    std::vector<std::shared_ptr<Producer>> done;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto it = retired_.begin(); it != retired_.end();) {
            if (it->use_count() == 1) {  // only this slot: no one can take it again
                done.push_back(std::move(*it));
                it = retired_.erase(it);
            } else {
                ++it;
            }
        }
    }
    done.clear();  // destroyed outside the lock: reports what they held as failed
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
        // Kept until no I/O thread holds it any more (see above).
        retired_.push_back(std::move(producer));
    }
    return fatal;
}

}  // namespace kafka_bridge
