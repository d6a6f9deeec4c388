// The storm of ocpp-loadgen --storm: every connection reset at once, the stations connected
// again, their way back measured (worker.hpp).
#include "tools/loadgen/worker.hpp"

namespace loadgen {

template <typename Config>
void Worker<Config>::drop_and_reconnect(Clock::time_point reconnect_start) {
    asio::post(io_, [this, reconnect_start] {
        storm_phase_ = true;
        free_.clear();
        deadlines_.clear();
        boot_retries_.clear();
        connect_retries_.clear();
        for (auto& st : stations_) {
            if (st.open && st.con) {
                ++storm_.dropped;
                if constexpr (kTls) {
                    if (options_.tls_resume) {
                        st.tls_session.reset(
                            SSL_get1_session(st.con->get_socket().native_handle()));
                    }
                }
                // A reset, as when a station loses power or its modem: no close frame, no FIN.
                auto& socket = st.con->get_raw_socket();
                asio::error_code ignored;
                socket.set_option(asio::socket_base::linger(true, 0), ignored);
                socket.close(ignored);
                st.open = false;
                --shared_.open;
            }
            ++st.generation;  // the old connection's handlers are ignored from here on
            st.con.reset();
            st.state = Station::State::pending;
            st.settled = false;
            st.storm_finished = false;
            st.waiting = false;
            st.first = false;
            st.boots_sent = 0;
            st.connect_failures = 0;
        }
        connect_start_ = reconnect_start;
        next_connect_ = 0;
        connect_tick();
    });
}

template <typename Config>
void Worker<Config>::storm_booted(std::uint32_t j, Clock::time_point now) {
    Station& st = stations_[j];
    ++storm_.booted;
    storm_.to_booted_ns.push_back(static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - st.connect_scheduled).count()));
    storm_.last_booted = std::max(storm_.last_booted, now);
    // What firmware sends first after booting: the connector's status.
    if (send_call(j, Action::status_notification, now, false, false)) {
        st.first = true;
    } else {
        ++storm_.first_lost;
        storm_done(j);
    }
}

template <typename Config>
void Worker<Config>::storm_done(std::uint32_t j) {
    Station& st = stations_[j];
    if (!st.storm_finished) {
        st.storm_finished = true;
        ++shared_.storm_done;
    }
}

template void Worker<PlainConfig>::drop_and_reconnect(Clock::time_point);
template void Worker<TlsConfig>::drop_and_reconnect(Clock::time_point);
template void Worker<PlainConfig>::storm_booted(std::uint32_t, Clock::time_point);
template void Worker<TlsConfig>::storm_booted(std::uint32_t, Clock::time_point);
template void Worker<PlainConfig>::storm_done(std::uint32_t);
template void Worker<TlsConfig>::storm_done(std::uint32_t);

}  // namespace loadgen
