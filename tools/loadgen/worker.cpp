#include "tools/loadgen/worker.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <variant>

#include <fmt/format.h>

#include "ocpp/frame.hpp"

namespace loadgen {

namespace {

constexpr std::chrono::milliseconds kConnectTimeout{10000};
constexpr long kOpenHandshakeTimeoutMs = 10000;
constexpr long kCloseHandshakeTimeoutMs = 3000;
constexpr std::chrono::milliseconds kHousekeepingPeriod{10};
constexpr std::chrono::seconds kBootRetryDelay{1};
// Sends handled in one go before the loop lets answers in again, when the generator is late.
constexpr int kMaxSendBatch = 256;

std::string short_text(std::string s, std::size_t max = 80) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
        s.pop_back();
    }
    for (auto& c : s) {
        if (c == '\n' || c == '\r') {
            c = ' ';
        }
    }
    if (s.size() > max) {
        s.resize(max);
        s += "...";
    }
    return s;
}

}  // namespace

Worker::Worker(const Options& options, const Target& target, unsigned index, Shared& shared)
    : options_(options),
      index_(index),
      count_(options.threads),
      shared_(shared),
      work_(asio::make_work_guard(io_)),
      connect_timer_(io_),
      send_timer_(io_),
      housekeeping_timer_(io_),
      rng_(index + 1) {
    websocketpp::lib::error_code ec;
    client_.init_asio(&io_, ec);
    if (ec) {
        // Only fails when called twice; nothing the user can act on.
        fmt::print(stderr, "ocpp-loadgen: websocket client init failed: {}\n", ec.message());
    }
    client_.set_target(target.endpoint, options.source_addresses, index, kConnectTimeout);
    client_.set_open_handshake_timeout(kOpenHandshakeTimeoutMs);
    client_.set_close_handshake_timeout(kCloseHandshakeTimeoutMs);
    client_.set_user_agent("ocpp-loadgen");
    stations_.reserve(options.stations / count_ + 1);
    for (std::size_t g = index; g < options.stations; g += count_) {
        Station st;
        st.number = g + 1;
        st.id = station_id(options.id_prefix, st.number);
        st.url = target.base_url + "/" + st.id;
        st.version = station_version(g, options.v201_share);
        st.meter.energy_wh += static_cast<double>(g % 1000) * 37.0;
        st.status_step = static_cast<std::uint32_t>(g);
        stations_.push_back(std::move(st));
    }
}

void Worker::run() {
    while (true) {
        try {
            io_.run();
            return;
        } catch (const std::exception& e) {
            // A handler threw (websocketpp can); keep the other stations going.
            fmt::print(stderr, "ocpp-loadgen: worker {}: {}\n", index_, e.what());
        }
    }
}

void Worker::start_connecting(Clock::time_point start) {
    asio::post(io_, [this, start] {
        connect_start_ = start;
        next_connect_ = 0;
        arm_housekeeping();
        connect_tick();
    });
}

void Worker::start_traffic(Clock::time_point t0) {
    asio::post(io_, [this, t0] {
        const auto secs = [](double s) {
            return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
        };
        t0_ = t0;
        window_start_ = t0 + secs(options_.warmup_s);
        window_end_ = window_start_ + secs(options_.duration_s);
        traffic_ = true;
        next_send_ = 0;
        send_tick();
    });
}

void Worker::close_all() {
    asio::post(io_, [this] {
        closing_ = true;
        connect_timer_.cancel();
        send_timer_.cancel();
        housekeeping_timer_.cancel();
        for (auto& st : stations_) {
            if (st.open && st.con) {
                websocketpp::lib::error_code ec;
                st.con->close(websocketpp::close::status::normal, "load run finished", ec);
            }
        }
    });
}

void Worker::stop() {
    work_.reset();
    io_.stop();
}

// Ramp-up --------------------------------------------------------------------------------

void Worker::connect_tick() {
    if (closing_) {
        return;
    }
    const auto now = Clock::now();
    while (next_connect_ < stations_.size()) {
        // Local station j is station index_ + j * count_ of the run.
        const double g = static_cast<double>(index_ + next_connect_ * count_);
        const auto at = connect_start_ + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(g / options_.connect_rate));
        if (at > now) {
            connect_timer_.expires_at(at);
            connect_timer_.async_wait([this](const asio::error_code& ec) {
                if (!ec) {
                    connect_tick();
                }
            });
            return;
        }
        open_connection(static_cast<std::uint32_t>(next_connect_++));
    }
}

void Worker::open_connection(std::uint32_t j) {
    Station& st = stations_[j];
    ++connections_.attempted;
    st.state = Station::State::connecting;
    websocketpp::lib::error_code ec;
    auto con = client_.get_connection(st.url, ec);
    if (ec) {
        ++connections_.failed;
        ++connections_.errors[fmt::format("cannot create connection: {}", ec.message())];
        st.state = Station::State::failed;
        settle(j, false);
        return;
    }
    con->add_subprotocol(std::string(ocpp::subprotocol(st.version)), ec);
    con->set_open_handler([this, j](websocketpp::connection_hdl) { on_open(j); });
    con->set_fail_handler([this, j](websocketpp::connection_hdl) { on_fail(j); });
    con->set_close_handler([this, j](websocketpp::connection_hdl) { on_close(j); });
    con->set_message_handler([this, j](websocketpp::connection_hdl, Client::message_ptr msg) {
        on_message(j, msg->get_payload());
    });
    st.con = con;
    client_.connect(con);
}

void Worker::on_open(std::uint32_t j) {
    Station& st = stations_[j];
    st.open = true;
    ++shared_.open;
    const std::string wanted(ocpp::subprotocol(st.version));
    const std::string selected = selected_subprotocol(st.con);
    if (selected != wanted) {
        ++connections_.failed;
        ++connections_.errors[fmt::format("subprotocol {} not selected (got '{}')", wanted,
                                          selected)];
        st.state = Station::State::failed;
        settle(j, false);
        websocketpp::lib::error_code ec;
        st.con->close(websocketpp::close::status::protocol_error, "subprotocol not selected", ec);
        return;
    }
    ++connections_.connected;
    st.state = Station::State::booting;
    send_boot(j);
}

void Worker::send_boot(std::uint32_t j) {
    ++stations_[j].boots_sent;
    send_call(j, Action::boot_notification, Clock::now(), false, true);
}

void Worker::boot_failed(std::uint32_t j, Clock::time_point now) {
    Station& st = stations_[j];
    if (st.open && st.boots_sent <= options_.boot_retries) {
        boot_retries_.push_back({j, st.seq, now + kBootRetryDelay});
        return;
    }
    settle(j, false);
}

void Worker::on_fail(std::uint32_t j) {
    Station& st = stations_[j];
    std::string cause;
    const auto code = st.con->get_response_code();
    if (code != websocketpp::http::status_code::uninitialized &&
        code != websocketpp::http::status_code::switching_protocols) {
        cause = fmt::format("HTTP {} {}", static_cast<int>(code),
                            short_text(st.con->get_response().get_body()));
    } else {
        cause = st.con->get_ec().message();
    }
    ++connections_.failed;
    ++connections_.errors[short_text(cause)];
    st.state = Station::State::failed;
    st.con.reset();
    settle(j, false);
}

void Worker::on_close(std::uint32_t j) {
    Station& st = stations_[j];
    if (st.open) {
        st.open = false;
        --shared_.open;
    }
    const bool ours = closing_ || st.state == Station::State::failed;
    if (!ours) {
        ++connections_.closed_by_peer;
        const auto code = st.con->get_remote_close_code();
        const std::string reason = st.con->get_remote_close_reason();
        std::string cause;
        if (code == websocketpp::close::status::no_status ||
            code == websocketpp::close::status::abnormal_close) {
            cause = fmt::format("connection lost ({})", st.con->get_ec().message());
        } else {
            cause = fmt::format("closed by gateway: {} {}", code, reason);
        }
        ++connections_.errors[short_text(cause)];
    }
    if (st.waiting) {
        st.waiting = false;
        if (st.boot) {
            ++connections_.boot_errors;
        } else if (st.measured) {
            ++calls_.lost;
            --measured_open_;
        }
    }
    if (st.state != Station::State::failed) {
        st.state = Station::State::closed;
    }
    settle(j, false);
    maybe_finish();
}

void Worker::settle(std::uint32_t j, bool ready) {
    Station& st = stations_[j];
    if (st.settled) {
        return;
    }
    st.settled = true;
    if (ready) {
        st.state = Station::State::ready;
        free_.push_back(j);
        ++shared_.ready;
    }
    ++shared_.settled;
}

// CALLs ------------------------------------------------------------------------------------

nlohmann::json Worker::payload_for(Station& st, Action action) {
    switch (action) {
        case Action::heartbeat:
            return heartbeat();
        case Action::meter_values:
            st.meter.advance(rng_);
            return meter_values(st.version, st.meter, utc_now());
        case Action::status_notification:
            return status_notification(st.version, st.status_step++, utc_now());
        case Action::authorize:
            return authorize(st.version, token_for(st.number));
        case Action::boot_notification:
            return boot_notification(st.version, st.id);
    }
    return nlohmann::json::object();
}

bool Worker::send_call(std::uint32_t j, Action action, Clock::time_point scheduled, bool measured,
                       bool boot) {
    Station& st = stations_[j];
    ++st.seq;
    const ocpp::Call call{ocpp::MessageId(std::to_string(st.seq)), std::string(action_name(action)),
                          payload_for(st, action)};
    const auto ec = st.con->send(ocpp::serialize(call), websocketpp::frame::opcode::text);
    if (ec) {
        ++connections_.errors[short_text(fmt::format("send failed: {}", ec.message()))];
        if (boot) {
            ++connections_.boot_errors;
            settle(j, false);
        }
        return false;
    }
    st.waiting = true;
    st.measured = measured;
    st.boot = boot;
    st.scheduled = scheduled;
    deadlines_.push_back({j, st.seq, scheduled + options_.timeout});
    return true;
}

void Worker::on_message(std::uint32_t j, const std::string& text) {
    const auto now = Clock::now();
    Station& st = stations_[j];
    auto parsed = ocpp::parse_frame(text);
    if (!parsed) {
        ++oddities_.unparsable;
        return;
    }
    ocpp::Frame& frame = parsed.value();
    if (const auto* call = std::get_if<ocpp::Call>(&frame)) {
        ++oddities_.gateway_calls;
        const auto reply = ocpp::make_call_error(
                call->id.get(), ocpp::CallErrorCode::NotImplemented, st.version,
                "ocpp-loadgen does not handle central-system calls");
        (void)st.con->send(ocpp::serialize(reply), websocketpp::frame::opcode::text);
        return;
    }
    const auto* result = std::get_if<ocpp::CallResult>(&frame);
    const auto* error = std::get_if<ocpp::CallError>(&frame);
    const std::string& id = result != nullptr ? result->id.get() : error->id.get();
    if (!st.waiting || id != std::to_string(st.seq)) {
        // An answer to a CALL that timed out carries an older sequence number.
        std::uint64_t n = 0;
        const auto [ptr, ec] = std::from_chars(id.data(), id.data() + id.size(), n);
        if (ec == std::errc() && ptr == id.data() + id.size() && n >= 1 && n <= st.seq) {
            ++oddities_.late_answers;
        } else {
            ++oddities_.unknown_answers;
        }
        return;
    }
    st.waiting = false;
    if (st.boot) {
        if (error != nullptr) {
            ++connections_.boot_errors;
            ++connections_.errors[fmt::format("BootNotification CALLERROR {}", error->code)];
            boot_failed(j, now);
            return;
        }
        const auto status = result->payload.find("status");
        const bool accepted = status != result->payload.end() && status->is_string() &&
                              status->get_ref<const std::string&>() == "Accepted";
        if (accepted) {
            ++connections_.boot_accepted;
        } else {
            ++connections_.boot_not_accepted;
        }
        settle(j, accepted);
        return;
    }
    if (st.measured) {
        --measured_open_;
        const auto latency = now - st.scheduled;
        if (latency > options_.timeout) {
            // Answered after the deadline, before the sweep noticed: still a timeout.
            ++calls_.timeouts;
            ++oddities_.late_answers;
        } else {
            calls_.latencies_ns.push_back(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count()));
            if (error != nullptr) {
                ++calls_.errors;
                ++calls_.errors_by_code[error->code];
            } else {
                ++calls_.results;
            }
        }
    }
    if (traffic_ && now >= window_start_ && now < window_end_) {
        ++calls_.answered_in_window;
    }
    if (st.state == Station::State::ready && st.open) {
        free_.push_back(j);
    }
    maybe_finish();
}

// Open-loop traffic --------------------------------------------------------------------------

Clock::time_point Worker::send_time(std::uint64_t i) const {
    // The i-th send of this worker is send index_ + i * count_ of the run, every 1/rate s.
    const double n = static_cast<double>(index_) + static_cast<double>(i) * count_;
    return t0_ + std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(n * 1e9 / options_.rate)));
}

void Worker::send_tick() {
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

void Worker::dispatch(Clock::time_point scheduled) {
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
    const Action action =
        options_.mix == Mix::heartbeat ? Action::heartbeat : pick_realistic(rng_);
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

void Worker::arm_housekeeping() {
    housekeeping_timer_.expires_after(kHousekeepingPeriod);
    housekeeping_timer_.async_wait([this](const asio::error_code& ec) {
        if (!ec && !closing_) {
            housekeeping();
            arm_housekeeping();
        }
    });
}

void Worker::housekeeping() {
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
    maybe_finish();
}

void Worker::maybe_finish() {
    if (traffic_ && sending_done_ && !finished_ && measured_open_ == 0) {
        finished_ = true;
        ++shared_.finished;
    }
}

}  // namespace loadgen
