#include "gateway/app/delivery_pump.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace gateway::app {

DeliveryPump::DeliveryPump(asio::io_context& io, kafka_bridge::ProducerSlot& producers)
    : producers_(producers), wakeup_(io) {}

std::error_code DeliveryPump::start() {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        return {errno, std::generic_category()};
    }
    std::error_code ec;
    wakeup_.assign(fd, ec);
    if (ec) {
        ::close(fd);
        return ec;
    }
    producers_.set_wakeup_fd(fd);
    started_ = true;
    // Reports queued before librdkafka knew the fd raised no signal: serve them now.
    const std::uint64_t one = 1;
    static_cast<void>(::write(fd, &one, sizeof(one)));
    arm();
    return {};
}

void DeliveryPump::stop() {
    if (!started_) {
        return;
    }
    started_ = false;
    // librdkafka must stop writing to the fd before it is closed (or reused by another file).
    producers_.set_wakeup_fd(-1);
    std::error_code ec;
    wakeup_.close(ec);
}

void DeliveryPump::arm() {
    wakeup_.async_wait(asio::posix::stream_descriptor::wait_read, [this](const std::error_code& ec) {
        if (ec) {
            return;  // closed: stop()
        }
        std::uint64_t count = 0;
        static_cast<void>(::read(wakeup_.native_handle(), &count, sizeof(count)));
        // Everything queued now; what arrives while this runs signals the fd again.
        producers_.current()->poll(std::chrono::milliseconds(0));
        arm();
    });
}

}  // namespace gateway::app
