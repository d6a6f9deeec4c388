// The open-loop traffic and the timeouts of an ocpp-loadgen worker (worker.hpp).
#include "tools/loadgen/worker.hpp"

#include <cmath>

namespace loadgen {

namespace {

// Sends handled in one go before the loop lets answers in again, when the generator is late.
constexpr int kMaxSendBatch = 256;
constexpr std::chrono::milliseconds kHousekeepingPeriod{10};

}  // namespace

// Open-loop traffic --------------------------------------------------------------------------

template <typename Config>
Clock::time_point Worker<Config>::send_time(std::uint64_t i) const {
    // The i-th send of this worker is send index_ + i * count_ of the run, every 1/rate s.
    const double n = static_cast<double>(index_) + static_cast<double>(i) * count_;
    return t0_ + std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(n * 1e9 / options_.rate)));
}

template <typename Config>
void Worker<Config>::send_tick() {
    if (closing_) {
        return;
    }
    const auto now = Clock::now();
    for (int n = 0; n < kMaxSendBatch; ++n) {
        const auto at = send_time(next_send_);
        if (at >= window_end_) {
            sending_done_ = true;
            maybe_finish();
            return;
        }
        if (at > now) {
            send_timer_.expires_at(at);
            send_timer_.async_wait([this](const asio::error_code& ec) {
                if (!ec) {
                    send_tick();
                }
            });
            return;
        }
        ++next_send_;
        dispatch(at);
    }
    // Behind schedule: let answers in, then continue with the overdue sends.
    asio::post(io_, [this] { send_tick(); });
}

template <typename Config>
void Worker<Config>::dispatch(Clock::time_point scheduled) {
    const bool measured = scheduled >= window_start_;
    // Round-robin over the free stations: the FIFO holds them in the order they became free.
    std::uint32_t j = 0;
    bool found = false;
    while (!free_.empty()) {
        j = free_.front();
        free_.pop_front();
        const Station& st = stations_[j];
        if (st.state == Station::State::ready && st.open && !st.waiting) {
            found = true;
            break;
        }
    }
    if (!found) {
        if (measured) {
            ++calls_.skipped;
        }
        return;
    }
    const Action action = options_.mix == Mix::heartbeat   ? Action::heartbeat
                          : options_.mix == Mix::authorize ? Action::authorize
                                                           : pick_realistic(rng_);
    const bool sent = send_call(j, action, scheduled, measured, false);
    if (measured) {
        ++calls_.sent;
        ++calls_.sent_by_action[static_cast<std::size_t>(action)];
        if (sent) {
            ++measured_open_;
        } else {
            ++calls_.lost;
        }
    }
}

// Timeouts -------------------------------------------------------------------------------------

template <typename Config>
void Worker<Config>::arm_housekeeping() {
    housekeeping_timer_.expires_after(kHousekeepingPeriod);
    housekeeping_timer_.async_wait([this](const asio::error_code& ec) {
        if (!ec && !closing_) {
            housekeeping();
            arm_housekeeping();
        }
    });
}

template <typename Config>
void Worker<Config>::housekeeping() {
    const auto now = Clock::now();
    while (!deadlines_.empty() && deadlines_.front().at <= now) {
        const Deadline d = deadlines_.front();
        deadlines_.pop_front();
        Station& st = stations_[d.station];
        if (!st.waiting || st.seq != d.seq) {
            continue;  // answered, or the connection ended
        }
        st.waiting = false;
        if (st.boot) {
            ++connections_.boot_timeouts;
            boot_failed(d.station, now);
            continue;
        }
        if (st.first) {
            st.first = false;
            ++storm_.first_timeouts;
            storm_done(d.station);
            continue;
        }
        if (st.measured) {
            ++calls_.timeouts;
            --measured_open_;
        }
        if (st.state == Station::State::ready && st.open) {
            free_.push_back(d.station);
        }
    }
    while (!boot_retries_.empty() && boot_retries_.front().at <= now) {
        const Deadline r = boot_retries_.front();
        boot_retries_.pop_front();
        const Station& st = stations_[r.station];
        // Skipped when the connection ended meanwhile (settled then).
        if (!st.settled && st.open && !st.waiting && st.seq == r.seq) {
            send_boot(r.station);
        }
    }
    while (!connect_retries_.empty() && connect_retries_.front().at <= now) {
        const Deadline r = connect_retries_.front();
        connect_retries_.pop_front();
        // Skipped when a storm started the station over meanwhile.
        if (stations_[r.station].generation == r.seq && !closing_) {
            open_connection(r.station);
        }
    }
    maybe_finish();
}

template <typename Config>
void Worker<Config>::maybe_finish() {
    if (traffic_ && sending_done_ && !finished_ && measured_open_ == 0) {
        finished_ = true;
        ++shared_.finished;
    }
}

template Clock::time_point Worker<PlainConfig>::send_time(std::uint64_t) const;
template void Worker<PlainConfig>::send_tick();
template void Worker<PlainConfig>::dispatch(Clock::time_point);
template void Worker<PlainConfig>::arm_housekeeping();
template void Worker<PlainConfig>::housekeeping();
template void Worker<PlainConfig>::maybe_finish();
template Clock::time_point Worker<TlsConfig>::send_time(std::uint64_t) const;
template void Worker<TlsConfig>::send_tick();
template void Worker<TlsConfig>::dispatch(Clock::time_point);
template void Worker<TlsConfig>::arm_housekeeping();
template void Worker<TlsConfig>::housekeeping();
template void Worker<TlsConfig>::maybe_finish();

}  // namespace loadgen
