#include "kafka_bridge/producer_slot.hpp"

#include <thread>

namespace kafka_bridge {

void ProducerSlot::set_wakeup_fd(int fd) {
    std::lock_guard<std::mutex> lock(mutex_);
    wakeup_fd_ = fd;
    current_->set_wakeup_fd(fd);
}

std::optional<Error> ProducerSlot::poll_and_recover(std::chrono::milliseconds timeout) {
    std::shared_ptr<Producer> producer = current();
    if (wakeup_fd_.load() < 0) {
        producer->poll(timeout);
    } else {
        // Reports are served where the wake-up fd is watched: only the fatal-error check
        // below is this thread's.
        std::this_thread::sleep_for(timeout);
    }
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
    if (!producer->notice_fatal_error()) {
        return std::nullopt;
    }
    std::optional<Error> fatal = producer->fatal_error();
    auto created = Producer::create(config_);
    if (!created.ok()) {
        return created.error();
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        producer->set_wakeup_fd(-1);  // what it still reports is served here, polled above
        current_ = std::move(created.value());
        current_->set_wakeup_fd(wakeup_fd_.load());
        ++replacements_;
        // Kept until no I/O thread holds it any more (see above).
        retired_.push_back(std::move(producer));
    }
    return fatal;
}

}  // namespace kafka_bridge
