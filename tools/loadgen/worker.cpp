#include "tools/loadgen/worker.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <variant>

#include <fmt/format.h>

#include "ocpp/frame.hpp"
#include "ocpp/json_writer.hpp"

namespace loadgen {

namespace {

constexpr std::chrono::milliseconds kConnectTimeout{10000};
constexpr long kOpenHandshakeTimeoutMs = 10000;
constexpr long kCloseHandshakeTimeoutMs = 3000;
constexpr std::chrono::seconds kBootRetryDelay{1};

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

template <typename Config>
Worker<Config>::Worker(const Options& options, const std::vector<Target>& targets,
                       const TlsClientSetup* tls, unsigned index, Shared& shared)
    : options_(options),
      tls_(tls),
      // Station g of the run belongs to thread g % threads of process g / threads % processes
      // (so a one-process run keeps g % threads).
      index_(options.process_index * options.threads + index),
      count_(options.processes * options.threads),
      shared_(shared),
      work_(asio::make_work_guard(io_)),
      connect_timer_(io_),
      send_timer_(io_),
      housekeeping_timer_(io_),
      rng_(options.process_index * options.threads + index + 1) {
    websocketpp::lib::error_code ec;
    client_.init_asio(&io_, ec);
    if (ec) {
        // Only fails when called twice; nothing the user can act on.
        fmt::print(stderr, "ocpp-loadgen: websocket client init failed: {}\n", ec.message());
    }
    client_.set_targets(transport_targets(targets), options.source_addresses, index_,
                        kConnectTimeout);
    client_.set_open_handshake_timeout(kOpenHandshakeTimeoutMs);
    client_.set_close_handshake_timeout(kCloseHandshakeTimeoutMs);
    client_.set_user_agent("ocpp-loadgen");
    if constexpr (kTls) {
        client_.set_tls_init_handler(
            [this](websocketpp::connection_hdl) { return tls_->context(); });
        client_.set_socket_init_handler([this](websocketpp::connection_hdl,
                                               asio::ssl::stream<asio::ip::tcp::socket>& s) {
            // Runs inside get_connection(), for the station in preparing_.
            Station& st = stations_[preparing_];
            if (auto problem = tls_->prepare(s.native_handle(), st.target->host, st.id,
                                             st.tls_session.get())) {
                ++connections_.errors[short_text(*problem)];
            }
        });
    }
    stations_.reserve(options.stations / count_ + 1);
    for (std::size_t g = index_; g < options.stations; g += count_) {
        Station st;
        st.number = g + 1;
        st.id = station_id(options.id_prefix, st.number);
        // Consecutive blocks, so each gateway gets the run's mix of versions.
        st.target = &targets[g * targets.size() / options.stations];
        st.url = st.target->base_url + "/" + st.id;
        st.version = station_version(g, options.v201_share);
        st.meter.energy_wh += static_cast<double>(g % 1000) * 37.0;
        st.status_step = static_cast<std::uint32_t>(g);
        stations_.push_back(std::move(st));
    }
}

template <typename Config>
void Worker<Config>::run() {
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

template <typename Config>
void Worker<Config>::start_connecting(Clock::time_point start) {
    asio::post(io_, [this, start] {
        connect_start_ = start;
        next_connect_ = 0;
        arm_housekeeping();
        connect_tick();
    });
}

template <typename Config>
void Worker<Config>::start_traffic(Clock::time_point t0) {
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

template <typename Config>
void Worker<Config>::close_all() {
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

template <typename Config>
void Worker<Config>::stop() {
    work_.reset();
    io_.stop();
}

// Ramp-up --------------------------------------------------------------------------------

template <typename Config>
void Worker<Config>::connect_tick() {
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
        stations_[next_connect_].connect_scheduled = at;
        open_connection(static_cast<std::uint32_t>(next_connect_++));
    }
}

template <typename Config>
void Worker<Config>::open_connection(std::uint32_t j) {
    Station& st = stations_[j];
    ++connections_.attempted;
    st.state = Station::State::connecting;
    const std::uint32_t gen = ++st.generation;
    websocketpp::lib::error_code ec;
    preparing_ = j;
    auto con = client_.get_connection(st.url, ec);
    if (ec) {
        ++connections_.failed;
        ++connections_.errors[fmt::format("cannot create connection: {}", ec.message())];
        st.state = Station::State::failed;
        settle(j, false);
        return;
    }
    con->add_subprotocol(std::string(ocpp::subprotocol(st.version)), ec);
    if (!options_.password.empty()) {
        con->append_header("Authorization",
                           "Basic " + websocketpp::base64_encode(st.id + ":" + options_.password));
    }
    // Every handler names the connection it belongs to: after a storm's drop, the old
    // connection's handlers still run and must not touch the new one.
    con->set_open_handler([this, j, gen](websocketpp::connection_hdl) {
        if (stations_[j].generation == gen) {
            on_open(j);
        }
    });
    con->set_fail_handler([this, j, gen](websocketpp::connection_hdl) {
        if (stations_[j].generation == gen) {
            on_fail(j);
        }
    });
    con->set_close_handler([this, j, gen](websocketpp::connection_hdl) {
        if (stations_[j].generation == gen) {
            on_close(j);
        }
    });
    con->set_message_handler(
        [this, j, gen](websocketpp::connection_hdl, typename Client::message_ptr msg) {
            if (stations_[j].generation == gen) {
                on_message(j, msg->get_payload());
            }
        });
    st.con = con;
    client_.connect(con);
}

template <typename Config>
void Worker<Config>::on_open(std::uint32_t j) {
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
    st.connect_failures = 0;
    if constexpr (kTls) {
        SSL* ssl = st.con->get_socket().native_handle();
        if (storm_phase_ && SSL_session_reused(ssl) == 1) {
            ++storm_.tls_resumed;
        }
    }
    st.state = Station::State::booting;
    send_boot(j);
}

template <typename Config>
void Worker<Config>::send_boot(std::uint32_t j) {
    ++stations_[j].boots_sent;
    send_call(j, Action::boot_notification, Clock::now(), false, true);
}

template <typename Config>
void Worker<Config>::boot_failed(std::uint32_t j, Clock::time_point now) {
    Station& st = stations_[j];
    if (st.open && st.boots_sent <= options_.boot_retries) {
        boot_retries_.push_back({j, st.seq, now + kBootRetryDelay});
        return;
    }
    settle(j, false);
}

template <typename Config>
void Worker<Config>::on_fail(std::uint32_t j) {
    Station& st = stations_[j];
    std::string cause;
    const auto code = st.con->get_response_code();
    if (code != websocketpp::http::status_code::uninitialized &&
        code != websocketpp::http::status_code::switching_protocols) {
        cause = fmt::format("HTTP {} {}", static_cast<int>(code),
                            short_text(st.con->get_response().get_body()));
    } else {
        cause = st.con->get_ec().message();
        if constexpr (kTls) {
            const long verdict = SSL_get_verify_result(st.con->get_socket().native_handle());
            if (verdict != X509_V_OK) {
                cause = fmt::format("TLS: server certificate: {}",
                                    X509_verify_cert_error_string(verdict));
            }
        }
    }
    ++connections_.errors[short_text(cause)];
    st.con.reset();
    if (connect_failed(j, Clock::now())) {
        return;  // tried again later
    }
    ++connections_.failed;
    st.state = Station::State::failed;
    settle(j, false);
}

template <typename Config>
bool Worker<Config>::connect_failed(std::uint32_t j, Clock::time_point now) {
    Station& st = stations_[j];
    if (closing_ || st.connect_failures >= options_.connect_retries) {
        return false;
    }
    ++st.connect_failures;
    ++connections_.retried;
    // 1 s, 2 s, 4 s, then 8 s apart.
    const auto delay = std::chrono::seconds(1) * (1u << std::min(st.connect_failures - 1, 3u));
    connect_retries_.push_back({j, st.generation, now + delay});
    return true;
}

template <typename Config>
void Worker<Config>::on_close(std::uint32_t j) {
    Station& st = stations_[j];
    if constexpr (kTls) {
        if (options_.tls_resume && st.con) {
            st.tls_session.reset(SSL_get1_session(st.con->get_socket().native_handle()));
        }
    }
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
        } else if (st.first) {
            ++storm_.first_lost;
            storm_done(j);
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

template <typename Config>
void Worker<Config>::settle(std::uint32_t j, bool ready) {
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
    if (storm_phase_) {
        if (ready) {
            storm_booted(j, Clock::now());
        } else {
            ++storm_.failed;
            storm_done(j);
        }
    }
}

// CALLs ------------------------------------------------------------------------------------

template <typename Config>
std::string Worker<Config>::frame_for(Station& st, Action action, const std::string& id) {
    if (action == Action::boot_notification) {  // once per connection: the tree will do
        return ocpp::serialize(ocpp::Call{ocpp::MessageId(id), std::string(action_name(action)),
                                          boot_notification(st.version, st.id)});
    }
    std::string frame = "[2,";
    ocpp::append_json_string(frame, id);
    frame += ",\"";
    frame += action_name(action);
    frame += "\",";
    switch (action) {
        case Action::heartbeat:
            frame += "{}";
            break;
        case Action::meter_values:
            st.meter.advance(rng_);
            append_meter_values(frame, st.version, st.meter, utc_now());
            break;
        case Action::status_notification:
            append_status_notification(frame, st.version, st.status_step++, utc_now());
            break;
        case Action::authorize:
            append_authorize(frame, st.version, token_for(st.number));
            break;
        case Action::boot_notification:
            break;
    }
    frame += ']';
    return frame;
}

template <typename Config>
bool Worker<Config>::send_call(std::uint32_t j, Action action, Clock::time_point scheduled, bool measured,
                       bool boot) {
    Station& st = stations_[j];
    ++st.seq;
    const auto ec = st.con->send(frame_for(st, action, std::to_string(st.seq)),
                                 websocketpp::frame::opcode::text);
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
    st.first = false;
    st.scheduled = scheduled;
    deadlines_.push_back({j, st.seq, scheduled + options_.timeout});
    return true;
}

template <typename Config>
void Worker<Config>::on_message(std::uint32_t j, const std::string& text) {
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
        if (accepted && storm_phase_) {
            storm_.boot_ns.push_back(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - st.scheduled).count()));
        }
        if (accepted) {
            ++connections_.boot_accepted;
        } else {
            ++connections_.boot_not_accepted;
        }
        settle(j, accepted);
        return;
    }
    if (st.first) {
        st.first = false;
        const auto latency = now - st.scheduled;
        if (latency > options_.timeout) {
            ++storm_.first_timeouts;
        } else {
            storm_.first_call_ns.push_back(static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count()));
            if (error != nullptr) {
                ++storm_.first_errors;
                ++storm_.first_errors_by_code[error->code];
            } else {
                ++storm_.first_results;
            }
        }
        storm_done(j);
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

template class Worker<PlainConfig>;
template class Worker<TlsConfig>;

}  // namespace loadgen
