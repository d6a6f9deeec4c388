#include "gateway/server.hpp"

#include <algorithm>
#include <cctype>
#include <future>
#include <stdexcept>
#include <type_traits>

#include "gateway/log.hpp"
#include "gateway/session.hpp"
#include "gateway/auth.hpp"
#include "gateway/tls.hpp"

namespace gateway {

struct Handshake {
    std::string station_id;
    ocpp::ProtocolVersion version;
    std::optional<std::string> subprotocol;
};

/// A connection of websocketpp server type `Server`, as a session sees it.
template <class Server>
class Link final : public StationLink {
public:
    explicit Link(typename Server::connection_ptr con) : con_(std::move(con)) {}
    websocketpp::lib::error_code send_text(const std::string& text) override {
        return con_->send(text, websocketpp::frame::opcode::text);
    }
    void close(websocketpp::close::status::value code, const std::string& reason) override {
        websocketpp::lib::error_code ec;
        con_->close(code, reason, ec);
    }
    void ping() override {
        websocketpp::lib::error_code ec;
        con_->ping("", ec);
    }

private:
    typename Server::connection_ptr con_;
};

/// StationServer over websocketpp server type `Server` (WsServer or WssServer).
template <class Server>
class StationListener final : public StationServer {
public:
    static constexpr bool kTls = std::is_same_v<Server, WssServer>;

    StationListener(const Config& config, const ocpp::SchemaRegistry& schemas,
                    kafka_bridge::ProducerSlot& producers, Metrics& metrics, asio::io_context& io,
                    StationRegistry& registry);

    void listen() override;
    void stop_listening() override;
    void drain_all() override;
    void close_all(const std::string& reason) override;
    std::size_t session_count() const override;
    std::shared_ptr<Session> find_station(const std::string& station_id) const override;
    void set_command_sink(CommandSink* sink) override { services_.commands = sink; }
    std::int64_t in_flight() const override { return services_.in_flight.load(); }
    std::int64_t closing() const override { return services_.closing.load(); }
    std::optional<std::string> reload_tls_if_changed() override;

private:
    bool on_validate(websocketpp::connection_hdl hdl);
    void on_open(websocketpp::connection_hdl hdl);
    void on_close(websocketpp::connection_hdl hdl);
    void on_message(websocketpp::connection_hdl hdl, typename Server::message_ptr msg);
    void on_pong(websocketpp::connection_hdl hdl, const std::string& payload);
    void on_pong_timeout(websocketpp::connection_hdl hdl, const std::string& payload);
    std::shared_ptr<Session> find(const websocketpp::connection_hdl& hdl) const;
    std::optional<Handshake> inspect(typename Server::connection_ptr con, int& status,
                                     std::string& reason) const;
    /// Who may connect: registry, credentials, throttles, admission, flapping. Fills the
    /// refusal (status, reason, Retry-After) and raises security events.
    bool admit(typename Server::connection_ptr con, const Handshake& handshake,
               const std::string& ip, int& status, std::string& reason, int& retry_after);
    void raise(std::string type, std::string station_id, std::string address, std::string detail);
    static std::string peer_ip(const typename Server::connection_ptr& con);

    const Config& config_;
    asio::io_context& io_;
    Server ws_;
    Services services_;
    mutable std::mutex mutex_;
    std::map<websocketpp::connection_hdl, std::shared_ptr<Session>,
             std::owner_less<websocketpp::connection_hdl>>
        sessions_;
    std::map<std::string, std::weak_ptr<Session>> by_identity_;  // lower-case identity

    StationRegistry& registry_;
    AttemptThrottle identity_failures_;
    AttemptThrottle address_failures_;
    RateLimiter admission_;
    /// LimitHit events: at most one per 10 s for each limit, so a storm is reported, not
    /// mirrored.
    RateLimiter admission_events_{0.1, 1};
    RateLimiter address_limit_events_{0.1, 1};
    std::map<std::string, std::size_t> per_address_;  // under mutex_
    std::map<websocketpp::connection_hdl, std::string,
             std::owner_less<websocketpp::connection_hdl>>
        ip_of_;  // under mutex_
    std::map<std::string, std::vector<std::chrono::steady_clock::time_point>> replacements_;  // under mutex_
    std::unique_ptr<TlsContext> tls_;  // TLS listeners only
};

template <class Server>
StationListener<Server>::StationListener(const Config& config, const ocpp::SchemaRegistry& schemas,
                             kafka_bridge::ProducerSlot& producers, Metrics& metrics,
                             asio::io_context& io, StationRegistry& registry)
    : config_(config),
      io_(io),
      services_{config, schemas, producers, metrics, ReplyPolicy(config.reply), io, {0}, {0}},
      registry_(registry),
      identity_failures_({config.security.failures_per_identity, config.security.failure_window,
                          std::chrono::seconds(1), config.security.max_backoff, 100000}),
      address_failures_({config.security.failures_per_address, config.security.failure_window,
                         std::chrono::seconds(1), config.security.max_backoff, 100000}),
      admission_(config.security.handshakes_per_second, config.security.handshakes_per_second * 2) {
    services_.security_event = [this](std::string type, std::string station, std::string address,
                                      std::string detail) {
        raise(std::move(type), std::move(station), std::move(address), std::move(detail));
    };
    if constexpr (kTls) {
        tls_ = std::make_unique<TlsContext>(
            config.tls, config.security.profile,
            [this](const std::string& address, const std::string& detail) {
                services_.metrics.handshake_refused("certificate_rejected");
                log::info("TLS client from {} refused: {}", address, detail);
                raise("CertificateRejected", "", address, detail);
            });
        ws_.set_tls_init_handler([this](websocketpp::connection_hdl) { return tls_->current(); });
        // After accept, before the TLS handshake: the address for certificate events.
        ws_.set_tcp_pre_init_handler([this](websocketpp::connection_hdl hdl) {
            websocketpp::lib::error_code ec;
            auto con = ws_.get_con_from_hdl(hdl, ec);
            if (!ec) {
                TlsContext::remember_peer(con->get_socket().native_handle(), peer_ip(con));
            }
        });
    }
    ws_.init_asio(&io_);
    ws_.set_reuse_addr(true);
    ws_.set_listen_backlog(1024);
    ws_.set_max_message_size(config.limits.max_message_bytes);
    ws_.set_max_http_body_size(0);
    ws_.set_open_handshake_timeout(static_cast<long>(config.limits.handshake_timeout.count()));
    ws_.set_pong_timeout(static_cast<long>(config.limits.pong_timeout.count()));
    ws_.set_close_handshake_timeout(5000);
    using websocketpp::lib::placeholders::_1;
    using websocketpp::lib::placeholders::_2;
    ws_.set_validate_handler([this](websocketpp::connection_hdl hdl) { return on_validate(hdl); });
    ws_.set_open_handler([this](websocketpp::connection_hdl hdl) { on_open(hdl); });
    ws_.set_close_handler([this](websocketpp::connection_hdl hdl) { on_close(hdl); });
    ws_.set_message_handler(
        [this](websocketpp::connection_hdl hdl, typename Server::message_ptr msg) { on_message(hdl, msg); });
    ws_.set_pong_handler([this](websocketpp::connection_hdl hdl, std::string payload) {
        on_pong(hdl, payload);
    });
    ws_.set_pong_timeout_handler([this](websocketpp::connection_hdl hdl, std::string payload) {
        on_pong_timeout(hdl, payload);
    });
    ws_.set_http_handler([this](websocketpp::connection_hdl hdl) {
        // Plain HTTP on the station port: only WebSocket upgrades are served here.
        websocketpp::lib::error_code ec;
        auto con = ws_.get_con_from_hdl(hdl, ec);
        if (!ec) {
            con->set_status(websocketpp::http::status_code::upgrade_required);
            con->replace_header("Connection", "close");
            con->replace_header("Upgrade", "websocket");
            con->set_body("OCPP stations connect with a WebSocket upgrade to " +
                          config_.path_prefix + "/{stationId}\n");
        }
    });
}

template <class Server>
void StationListener<Server>::listen() {
    std::error_code ec;
    const auto address = asio::ip::make_address(config_.listen.host, ec);
    if (ec) {
        throw std::runtime_error("listen address \"" + config_.listen.host +
                                 "\" is not an IP address");
    }
    websocketpp::lib::error_code wec;
    ws_.listen(asio::ip::tcp::endpoint(address, config_.listen.port), wec);
    if (wec) {
        throw std::runtime_error("cannot listen on " + config_.listen.to_string() + ": " +
                                 wec.message());
    }
    ws_.start_accept(wec);
    if (wec) {
        throw std::runtime_error("cannot accept on " + config_.listen.to_string() + ": " +
                                 wec.message());
    }
}

template <class Server>
void StationListener<Server>::stop_listening() {
    // websocketpp re-arms its acceptor in the accept handler on an I/O thread without a lock;
    // closing the acceptor from another thread can race with that. Closing it on an I/O
    // thread leaves only the (much smaller) window of a handler running on the other one.
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    asio::post(io_, [this, done] {
        websocketpp::lib::error_code ec;
        ws_.stop_listening(ec);
        done->set_value();
    });
    if (finished.wait_for(std::chrono::seconds(5)) == std::future_status::ready) {
        return;
    }
    websocketpp::lib::error_code ec;  // no I/O thread runs (start-up failure): close here
    ws_.stop_listening(ec);
}

template <class Server>
std::optional<Handshake> StationListener<Server>::inspect(typename Server::connection_ptr con,
                                                               int& status,
                                                               std::string& reason) const {
    auto path = parse_station_path(con->get_resource(), config_.path_prefix);
    if (!path.ok()) {
        status = path.error().status;
        reason = path.error().reason;
        return std::nullopt;
    }
    const auto decoded = std::optional<std::string>(std::move(path.value()));
    if (!config_.allowed_stations.empty() && config_.allowed_stations.count(ocpp::ascii_lower(*decoded)) == 0) {
        status = 404;
        reason = "unknown_station";
        return std::nullopt;
    }
    const auto negotiation = ocpp::negotiate(con->get_requested_subprotocols(), config_.versions,
                                             config_.missing_subprotocol);
    using Outcome = ocpp::Negotiation::Outcome;
    switch (negotiation.outcome) {
        case Outcome::selected:
            return Handshake{*decoded, *negotiation.version,
                             std::string(ocpp::subprotocol(*negotiation.version))};
        case Outcome::defaulted:
            return Handshake{*decoded, *negotiation.version, std::nullopt};
        case Outcome::missing_refused:
            status = 400;
            reason = "no_subprotocol";
            return std::nullopt;
        case Outcome::none_supported:
            status = 400;
            reason = "unsupported_subprotocol";
            return std::nullopt;
    }
    return std::nullopt;
}

template <class Server>
bool StationListener<Server>::on_validate(websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = ws_.get_con_from_hdl(hdl, ec);
    if (ec) {
        return false;
    }
    int status = 0;
    std::string reason;
    int retry_after = 0;
    const std::string ip = peer_ip(con);
    std::optional<Handshake> handshake;
    if (!admission_.try_take(std::chrono::steady_clock::now())) {
        // A reconnect storm: spread it over time instead of starving connected stations.
        status = 503;
        reason = "admission_rate";
        retry_after = 1;
        if (admission_events_.try_take(std::chrono::steady_clock::now())) {
            raise("LimitHit", "", ip,
                  fmt::format("handshake admission rate ({}/s) exceeded: refused with 503",
                              config_.security.handshakes_per_second));
        }
    } else {
        handshake = inspect(con, status, reason);
        if (handshake && !admit(con, *handshake, ip, status, reason, retry_after)) {
            handshake.reset();
        }
    }
    if (handshake && session_count() >= config_.limits.max_connections) {
        handshake.reset();
        status = 503;
        reason = "too_many_connections";
    }
    if (!handshake) {
        services_.metrics.handshake_refused(reason);
        con->set_status(static_cast<websocketpp::http::status_code::value>(status));
        con->replace_header("Connection", "close");
        if (status == 401) {
            con->replace_header("WWW-Authenticate", "Basic realm=\"OCPP\", charset=\"UTF-8\"");
        }
        if (retry_after > 0) {
            con->replace_header("Retry-After", std::to_string(retry_after));
        }
        con->set_body(reason + "\n");
        log::debug("handshake from {} for {} refused: {} {}", con->get_remote_endpoint(),
                   con->get_resource(), status, reason);
        return false;
    }
    if (handshake->subprotocol) {
        con->select_subprotocol(*handshake->subprotocol, ec);
    }
    return !ec;
}

template <class Server>
std::string StationListener<Server>::peer_ip(const typename Server::connection_ptr& con) {
    std::error_code ec;
    const auto endpoint = con->get_raw_socket().remote_endpoint(ec);
    if (ec) {
        return "unknown";
    }
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    return address.to_string();
}

template <class Server>
void StationListener<Server>::raise(std::string type, std::string station_id, std::string address,
                          std::string detail) {
    kafka_bridge::SecurityEvent event{std::move(type), std::move(station_id), std::move(address),
                                      std::move(detail)};
    const std::string key = event.station_id.empty() ? event.address : event.station_id;
    kafka_bridge::Record record{config_.topics.for_class(ocpp::EventClass::security), key,
                                kafka_bridge::security_event(event, config_.gateway_id,
                                                             kafka_bridge::now_rfc3339()),
                                {{"content-type", "application/json"}, {"ocpp-source", "gateway"}}};
    auto& metrics = services_.metrics;
    auto queued = services_.producers.current()->produce(record, [&metrics, topic = record.topic](const kafka_bridge::Delivery& d) {
        if (!d.ok()) {
            metrics.delivery_failure(topic);
        }
    });
    if (!queued.ok()) {
        metrics.delivery_failure(record.topic);
    }
}

template <class Server>
bool StationListener<Server>::admit(typename Server::connection_ptr con, const Handshake& handshake,
                          const std::string& ip, int& status, std::string& reason,
                          int& retry_after) {
    const auto now = std::chrono::steady_clock::now();
    const std::string identity = ocpp::ascii_lower(handshake.station_id);
    const auto& sec = config_.security;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = per_address_.find(ip);
        if (it != per_address_.end() && it->second >= sec.connections_per_address) {
            status = 503;
            reason = "too_many_from_address";
            retry_after = 10;
        }
    }
    if (status == 503) {
        if (address_limit_events_.try_take(now)) {
            raise("LimitHit", handshake.station_id, ip,
                  "connections per address (" + std::to_string(sec.connections_per_address) +
                      ") reached: refused with 503");
        }
        return false;
    }
    // Throttled keys are refused before any password work.
    const auto wait = std::max(identity_failures_.retry_after("id:" + identity, now),
                               address_failures_.retry_after("ip:" + ip, now));
    if (wait.count() > 0) {
        status = 429;
        reason = "auth_throttled";
        retry_after = static_cast<int>(wait.count());
        return false;
    }
    const auto fail = [&](int code, std::string why, std::string type, std::string detail) {
        const bool identity_blocked = identity_failures_.failure("id:" + identity, now);
        const bool address_blocked = address_failures_.failure("ip:" + ip, now);
        status = code;
        reason = std::move(why);
        log::info("station {} from {} refused: {}", handshake.station_id, ip, detail);
        raise(std::move(type), handshake.station_id, ip, std::move(detail));
        // Each refusal period is reported once, not each attempt it refuses.
        if (identity_blocked) {
            raise("AuthThrottled", handshake.station_id, ip,
                  "too many failed authentications for this identity: refused with 429 for a while");
        }
        if (address_blocked) {
            raise("AuthThrottled", "", ip,
                  "too many failed authentications from this address: refused with 429 for a while");
        }
        return false;
    };
    if (sec.profile >= 1 || !registry_.empty()) {
        const auto credential = registry_.find(handshake.station_id);
        if (!credential) {
            return fail(404, "unknown_station", "UnknownStation", "identity not in the station registry");
        }
        if (!credential->enabled) {
            return fail(404, "unknown_station", "UnknownStation", "identity disabled in the station registry");
        }
    }
    if constexpr (kTls) {
        if (sec.profile >= 3) {
            if (auto problem = tls_->check_client(con->get_socket().native_handle(), handshake.station_id)) {
                services_.metrics.handshake_refused("certificate_rejected");
                return fail(401, "certificate_mismatch", "CertificateRejected", *problem);
            }
        }
    }
    if (sec.profile == 1 || sec.profile == 2) {
        const std::string& header = con->get_request_header("Authorization");
        if (header.empty()) {
            return fail(401, "unauthorized", "AuthFailed", "no Authorization header");
        }
        auto credentials = parse_basic_authorization(header);
        if (!credentials.ok()) {
            return fail(401, "unauthorized", "AuthFailed", credentials.error());
        }
        if (ocpp::ascii_lower(credentials.value().user) != identity) {
            return fail(401, "unauthorized", "AuthFailed", "Basic user differs from the URL identity");
        }
        const auto verdict =
            registry_.verify(handshake.station_id, credentials.value().password, handshake.version);
        if (verdict != StationRegistry::Verdict::ok) {
            return fail(401, "unauthorized", "AuthFailed",
                        verdict == StationRegistry::Verdict::bad_credentials ? "wrong password"
                                                                             : "not allowed");
        }
        identity_failures_.success("id:" + identity);
    }
    // The newcomer is authenticated. Two devices taking turns with one identity?
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (by_identity_.count(identity) != 0) {
            auto& history = replacements_[identity];
            history.erase(std::remove_if(history.begin(), history.end(),
                                         [&](auto t) { return now - t > std::chrono::minutes(1); }),
                          history.end());
            if (history.size() >= sec.max_replacements_per_minute) {
                status = 429;
                reason = "identity_flapping";
                retry_after = 60;
            } else {
                history.push_back(now);
            }
        }
    }
    if (status == 429) {
        log::warn("station {}: connections keep replacing each other; newcomer from {} refused",
                  handshake.station_id, ip);
        raise("DuplicateIdentityFlapping", handshake.station_id, ip,
              "more than " + std::to_string(sec.max_replacements_per_minute) +
                  " connections of this identity replaced each other within a minute");
        return false;
    }
    return true;
}

template <class Server>
void StationListener<Server>::on_open(websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = ws_.get_con_from_hdl(hdl, ec);
    if (ec) {
        return;
    }
    int status = 0;
    std::string reason;
    const auto handshake = inspect(con, status, reason);
    if (!handshake) {
        con->close(websocketpp::close::status::policy_violation, reason, ec);
        return;
    }
    auto session = std::make_shared<Session>(services_, std::make_unique<Link<Server>>(con),
                                             handshake->station_id,
                                             handshake->version, handshake->subprotocol,
                                             con->get_remote_endpoint());
    std::shared_ptr<Session> replaced;
    const std::string ip = peer_ip(con);
    session->set_peer_ip(ip);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        sessions_[hdl] = session;
        ++per_address_[ip];
        ip_of_[hdl] = ip;
        auto& slot = by_identity_[ocpp::ascii_lower(handshake->station_id)];
        replaced = slot.lock();
        slot = session;
    }
    services_.metrics.connection_opened(handshake->version);
    // Per-connection handlers reach the session without the registry lookup (and its lock)
    // on every frame; a weak handle, so the connection does not keep its session alive.
    std::weak_ptr<Session> weak = session;
    con->set_message_handler([weak](websocketpp::connection_hdl, typename Server::message_ptr msg) {
        if (auto s = weak.lock()) {
            s->on_message(msg->get_opcode() == websocketpp::frame::opcode::text,
                          std::move(msg->get_raw_payload()));
        }
    });
    con->set_pong_handler([weak](websocketpp::connection_hdl, std::string) {
        if (auto s = weak.lock()) {
            s->on_pong();
        }
    });
    session->start();
    if (replaced) {
        log::warn("station {} connected again; closing its previous session",
                  handshake->station_id);
        replaced->supersede("replaced by a newer connection of the same station");
        raise("DuplicateIdentity", handshake->station_id, ip,
              "an authenticated newer connection replaced the existing one");
    }
}

template <class Server>
void StationListener<Server>::on_close(websocketpp::connection_hdl hdl) {
    std::shared_ptr<Session> session;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto it = sessions_.find(hdl);
        if (it == sessions_.end()) {
            return;
        }
        session = it->second;
        sessions_.erase(it);
        if (const auto ip = ip_of_.find(hdl); ip != ip_of_.end()) {
            if (auto count = per_address_.find(ip->second); count != per_address_.end() && --count->second == 0) {
                per_address_.erase(count);
            }
            ip_of_.erase(ip);
        }
        const auto id = by_identity_.find(ocpp::ascii_lower(session->station_id()));
        if (id != by_identity_.end() && id->second.lock() == session) {
            by_identity_.erase(id);
        }
    }
    websocketpp::lib::error_code ec;
    auto con = ws_.get_con_from_hdl(hdl, ec);
    int code = websocketpp::close::status::abnormal_close;
    std::string reason = "connection lost";
    if (!ec) {
        if (con->get_remote_close_code() != websocketpp::close::status::no_status &&
            con->get_remote_close_code() != websocketpp::close::status::abnormal_close) {
            code = con->get_remote_close_code();
            reason = con->get_remote_close_reason().empty() ? "closed by station"
                                                            : con->get_remote_close_reason();
        } else if (con->get_local_close_code() != websocketpp::close::status::no_status &&
                   con->get_local_close_code() != websocketpp::close::status::abnormal_close) {
            code = con->get_local_close_code();
            reason = con->get_local_close_reason();
        } else if (con->get_ec()) {
            reason = con->get_ec().message();
        }
    }
    services_.metrics.connection_closed(session->version());
    ++services_.closing;  // counted down once the Disconnected record is queued
    session->on_closed(code, reason);
}

template <class Server>
void StationListener<Server>::on_message(websocketpp::connection_hdl hdl, typename Server::message_ptr msg) {
    if (auto session = find(hdl)) {
        session->on_message(msg->get_opcode() == websocketpp::frame::opcode::text,
                            std::move(msg->get_raw_payload()));
    }
}

template <class Server>
void StationListener<Server>::on_pong(websocketpp::connection_hdl hdl, const std::string&) {
    if (auto session = find(hdl)) {
        session->on_pong();
    }
}

template <class Server>
void StationListener<Server>::on_pong_timeout(websocketpp::connection_hdl hdl, const std::string&) {
    if (auto session = find(hdl)) {
        log::info("station {}: no pong, closing", session->station_id());
        session->close(websocketpp::close::status::going_away, "pong timeout");
    }
}

template <class Server>
std::shared_ptr<Session> StationListener<Server>::find(const websocketpp::connection_hdl& hdl) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = sessions_.find(hdl);
    return it == sessions_.end() ? nullptr : it->second;
}

template <class Server>
std::shared_ptr<Session> StationListener<Server>::find_station(const std::string& station_id) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = by_identity_.find(ocpp::ascii_lower(station_id));
    return it == by_identity_.end() ? nullptr : it->second.lock();
}

template <class Server>
std::size_t StationListener<Server>::session_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return sessions_.size();
}

template <class Server>
void StationListener<Server>::drain_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [hdl, session] : sessions_) {
        session->drain();
    }
}

template <class Server>
void StationListener<Server>::close_all(const std::string& reason) {
    std::vector<std::shared_ptr<Session>> all;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& [hdl, session] : sessions_) {
            all.push_back(session);
        }
    }
    for (auto& session : all) {
        session->close(websocketpp::close::status::going_away, reason);
    }
}

template <class Server>
std::optional<std::string> StationListener<Server>::reload_tls_if_changed() {
    if constexpr (kTls) {
        return tls_->reload_if_changed();
    }
    return std::nullopt;
}

std::unique_ptr<StationServer> StationServer::create(const Config& config,
                                                     const ocpp::SchemaRegistry& schemas,
                                                     kafka_bridge::ProducerSlot& producers,
                                                     Metrics& metrics, asio::io_context& io,
                                                     StationRegistry& registry) {
    if (config.security.profile >= 2) {
        return std::make_unique<StationListener<WssServer>>(config, schemas, producers, metrics,
                                                            io, registry);
    }
    return std::make_unique<StationListener<WsServer>>(config, schemas, producers, metrics, io,
                                                       registry);
}

}  // namespace gateway
