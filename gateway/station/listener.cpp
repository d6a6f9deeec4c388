#include "gateway/station/listener.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include "gateway/log/log.hpp"
#include "gateway/security/forwarded_certificate.hpp"
#include "gateway/security/tls.hpp"
#include "gateway/session/session.hpp"
#include "gateway/station/acceptor.hpp"
#include "gateway/station/admission.hpp"
#include "gateway/station/handshake.hpp"
#include "gateway/station/password_pool.hpp"
#include "gateway/station/session_table.hpp"
#include "gateway/station/transport.hpp"

namespace gateway::station {
namespace {

using security::EventType;
using session::Session;

/// Connections the kernel completes before the gateway accepts them (capped by
/// net.core.somaxconn, 4096 by default since Linux 5.4). When a storm's resets arrive the I/O
/// threads spend a second or more closing sessions; with 1,024 the returning stations' SYNs
/// overflowed the queue meanwhile and waited a second for their retransmission
/// (docs/benchmarks.md, "Reconnect storms: the generator's ports and the listen queue").
constexpr int kListenBacklog = 4096;
/// The longest a password check may wait in the pool: the request head, the TLS handshake
/// and the check all fall under websocketpp's 5 s post-init timeout, after which nobody
/// waits for the answer. A check that would start later is refused at once (503
/// password_budget, Retry-After 1).
constexpr std::chrono::milliseconds kPasswordQueueWait{3000};

/// The listener over websocketpp server type `Server` (WsServer or WssServer): websocketpp's
/// callbacks, handing each decision to read_handshake, Admission and the SessionTable.
template <class Server>
class WsListener final : public Listener {
public:
    static constexpr bool kTls = std::is_same_v<Server, WssServer>;
    using Connection = typename Server::connection_ptr;

    WsListener(const config::Config& config, const ocpp::SchemaRegistry& schemas,
               metrics::Metrics& metrics, const std::vector<asio::io_context*>& contexts,
               const std::vector<TenantParts>& tenants, security::EventSink& events);

    void listen() override;
    void stop_listening() override;
    void drain_all() override;
    void close_all(const std::string& reason) override;
    std::size_t session_count() const override { return sessions_.size(); }
    std::size_t upgrading() const override { return sessions_.reserved(); }
    const session::SessionLookup& stations_of(std::size_t tenant) const override {
        return sides_.at(tenant)->lookup;
    }
    std::vector<TenantStats> tenant_stats() const override;
    session::TransactionIdGuard& transaction_ids(std::size_t tenant) override {
        return sides_.at(tenant)->services.transaction_ids;
    }
    void set_command_sink(std::size_t tenant, session::CommandSink* sink) override {
        sides_.at(tenant)->services.commands = sink;
    }
    void set_ask_table(std::size_t tenant, decisions::AskTable* asks) override {
        sides_.at(tenant)->services.asks = asks;
    }
    std::int64_t in_flight() const override {
        std::int64_t n = 0;
        for (const auto& side : sides_) {
            n += side->services.in_flight.load();
        }
        return n;
    }
    std::int64_t closing() const override {
        std::int64_t n = 0;
        for (const auto& side : sides_) {
            n += side->services.closing.load();
        }
        return n;
    }
    std::optional<std::string> reload_tls_if_changed() override;

private:
    /// Password checks before the request is decided (station_socket.hpp, "A look at the
    /// upgrade request first"), run on password_pool_.
    class Preview final : public UpgradePreview {
    public:
        explicit Preview(WsListener& owner) : owner_(owner) {}
        void preview(const Head& head, std::function<void(std::optional<PasswordPrecheck>)> done) override {
            owner_.preview(head, std::move(done));
        }

    private:
        WsListener& owner_;
    };
    void preview(const UpgradePreview::Head& head, std::function<void(std::optional<PasswordPrecheck>)> done);

    void set_handlers();
    bool on_validate(websocketpp::connection_hdl hdl);
    std::optional<Refusal> check(const websocketpp::connection_hdl& hdl, const Connection& con,
                                 const std::string& ip, std::optional<Handshake>& handshake);
    void on_open(websocketpp::connection_hdl hdl);
    void on_close(websocketpp::connection_hdl hdl);
    static std::pair<int, std::string> close_reason(const Connection& con);
    /// The station's address (a trusted proxy's PROXY header, else the peer's) without and
    /// with its port.
    static std::string peer_ip(const Connection& con);
    static std::string peer_endpoint(const Connection& con);
    /// Whether `con`'s TCP peer is one of tls.offload_from (the PROXY header aside).
    bool from_tls_offloader(const Connection& con) const;

    /// The sessions of one tenant, as the command machinery looks them up.
    class Lookup final : public session::SessionLookup {
    public:
        Lookup(const SessionTable<Session>& table, std::string tenant)
            : table_(table), tenant_(std::move(tenant)) {}
        std::shared_ptr<Session> find_station(const std::string& station_id) const override {
            return table_.find_station(station_id, tenant_);
        }

    private:
        const SessionTable<Session>& table_;
        std::string tenant_;
    };

    /// One tenant's side: what its sessions share, its admission rules and figures.
    struct Side {
        Side(const TenantParts& parts, const ocpp::SchemaRegistry& schemas, metrics::Metrics& metrics,
             const SessionTable<Session>& table)
            : services{parts.config, schemas, parts.producers, metrics,
                       session::ReplyPolicy(parts.config.reply, &parts.tokens, &parts.registry),
                       parts.events, {0}, {0}, nullptr, nullptr, parts.name},
              registry(parts.registry),
              admission(parts.config.security, parts.registry, parts.events, metrics),
              max_stations(parts.max_stations),
              lookup(table, parts.name) {
            services.violations = &parts.violations;
            services.transaction_ids.start(parts.transaction_ids_end);
        }
        session::Services services;
        security::StationRegistry& registry;
        Admission admission;
        std::size_t max_stations;
        Lookup lookup;
        std::atomic<std::uint64_t> connections{0};
        std::atomic<std::uint64_t> refused{0};
    };

    Side& side_of(const std::string& tenant) const {
        for (const auto& side : sides_) {
            if (side->services.tenant == tenant) {
                return *side;
            }
        }
        throw std::logic_error("no tenant " + tenant);  // sessions are only made for sides_
    }

    /// The station id its records are written under: identities match without regard to
    /// letter case, so a station keeps one key (one partition, one order) whichever case it
    /// connects with: the registry's spelling, else the one the cluster knows it by, else as
    /// typed.
    static std::string record_key(const Side& side, const std::string& typed) {
        if (auto entry = side.registry.find(typed)) {
            return entry->station_id;
        }
        if (side.services.commands != nullptr) {
            if (auto known = side.services.commands->known_spelling(typed)) {
                return *known;
            }
        }
        return typed;
    }

    const config::Config& config_;
    asio::io_context& io_;
    metrics::Metrics& metrics_;
    /// Security events no tenant can be named for.
    security::EventSink& events_;
    Server ws_;
    Acceptor<Server> acceptor_{io_, ws_};
    /// The upgrade rate, before any tenant is known: the gateway's (its registry unused).
    security::StationRegistry no_registry_;
    Admission upgrades_{config_.security, no_registry_, events_, metrics_};
    SessionTable<Session> sessions_;
    /// Set when the drain begins (stop_listening): upgrades still under way are refused, and
    /// one that opened anyway (validated just before) is drained at once.
    std::atomic<bool> draining_{false};
    std::vector<std::unique_ptr<Side>> sides_;
    std::unique_ptr<security::TlsContext> tls_;  // TLS listeners only
    /// Profile 3 with tls.offload: the station certificates the load balancer forwards.
    std::unique_ptr<security::ForwardedCertificates> forwarded_;
    /// Profiles 1 and 2: where password checks run (after sides_, whose Admissions its jobs
    /// use: it stops first).
    std::unique_ptr<PasswordPool> password_pool_;
};

template <class Server>
WsListener<Server>::WsListener(const config::Config& config, const ocpp::SchemaRegistry& schemas,
                               metrics::Metrics& metrics, const std::vector<asio::io_context*>& contexts,
                               const std::vector<TenantParts>& tenants,
                               security::EventSink& events)
    : config_(config), io_(*contexts.at(0)), metrics_(metrics), events_(events) {
    for (const auto& parts : tenants) {
        sides_.push_back(std::make_unique<Side>(parts, schemas, metrics, sessions_));
    }
    if constexpr (kTls) {
        tls_ = std::make_unique<security::TlsContext>(
            config.tls, config.security.profile,
            [this](const std::string& address, const std::string& detail) {
                metrics_.handshake_refused("certificate_rejected");
                log::info("TLS client from {} refused: {}", address, detail);
                events_.raise(EventType::certificate_rejected, "", address, detail);
            });
        ws_.set_tls_init_handler([this](websocketpp::connection_hdl) { return tls_->current(); });
        // After accept, before the TLS handshake: the address for certificate events.
        ws_.set_tcp_pre_init_handler([this](websocketpp::connection_hdl hdl) {
            websocketpp::lib::error_code ec;
            auto con = ws_.get_con_from_hdl(hdl, ec);
            if (!ec) {
                SSL* ssl = con->get_socket().native_handle();
                security::TlsContext::remember_peer(ssl, peer_ip(con));
                // No TLS close_notify exchange when the connection ends: the WebSocket close
                // handshake has already ended it, and waiting for the station's close_notify
                // (which many never send) held every closed connection, its session and its
                // per-address slot for websocketpp's 5 s shutdown timeout.
                SSL_set_quiet_shutdown(ssl, 1);
            }
        });
    }
    if (config.tls.offload && config.security.profile == 3) {
        forwarded_ = std::make_unique<security::ForwardedCertificates>(config.tls);
    }
    // Basic credentials anywhere: their PBKDF2 checks run on threads of their own, one per
    // core. The budget is what bounds their CPU (its saved-up part lets a cold fleet use every
    // core for a while, as the I/O threads could when they computed the checks); idle, the
    // threads cost nothing.
    const bool basic_auth = std::any_of(tenants.begin(), tenants.end(), [](const TenantParts& parts) {
        return parts.config.security.profile == 1 || parts.config.security.profile == 2;
    });
    if (basic_auth) {
        const auto threads = std::max<std::size_t>(1, std::thread::hardware_concurrency());
        password_pool_ = std::make_unique<PasswordPool>(threads, kPasswordQueueWait);
        ws_.set_preview(std::make_shared<Preview>(*this));
    }
    if (!config.proxy_protocol.trusted.empty()) {
        auto proxy = std::make_shared<ProxySettings>();
        proxy->trusted = config.proxy_protocol.trusted;
        proxy->timeout = config.proxy_protocol.timeout;
        proxy->refused = [this](const std::string& peer, const std::string& problem) {
            metrics_.handshake_refused("proxy_header");
            log::debug("connection from proxy {} closed: {}", peer, problem);
        };
        ws_.set_proxy_settings(std::move(proxy));
    }
    ws_.init_asio(&io_);
    if (contexts.size() > 1) {
        ws_.set_contexts(contexts);
    }
    ws_.set_max_message_size(config.limits.max_message_bytes);
    ws_.set_max_http_body_size(0);
    ws_.set_open_handshake_timeout(static_cast<long>(config.limits.handshake_timeout.count()));
    ws_.set_pong_timeout(static_cast<long>(config.limits.pong_timeout.count()));
    ws_.set_close_handshake_timeout(5000);
    set_handlers();
}

template <class Server>
void WsListener<Server>::set_handlers() {
    ws_.set_validate_handler([this](websocketpp::connection_hdl hdl) { return on_validate(hdl); });
    ws_.set_open_handler([this](websocketpp::connection_hdl hdl) { on_open(hdl); });
    ws_.set_close_handler([this](websocketpp::connection_hdl hdl) { on_close(hdl); });
    // An upgrade accepted by on_validate that never opened (its 101 could not be written).
    ws_.set_fail_handler([this](websocketpp::connection_hdl hdl) { sessions_.release(hdl); });
    ws_.set_pong_timeout_handler([this](websocketpp::connection_hdl hdl, std::string) {
        if (auto session = sessions_.find(hdl)) {
            log::info("station {}: no pong, closing", session->station_id());
            session->close(session::CloseCode::going_away, "pong timeout");
        }
    });
    ws_.set_http_handler([this](websocketpp::connection_hdl hdl) {
        // Plain HTTP on the station port: only WebSocket upgrades are served here.
        websocketpp::lib::error_code ec;
        auto con = ws_.get_con_from_hdl(hdl, ec);
        if (!ec) {
            con->set_status(websocketpp::http::status_code::upgrade_required);
            con->replace_header("Connection", "close");
            con->replace_header("Upgrade", "websocket");
            con->set_body("OCPP stations connect with a WebSocket upgrade to " + config_.path_prefix +
                          (config_.tenants.empty() ? "" : "/{tenant}") + "/{stationId}\n");
        }
    });
}

template <class Server>
void WsListener<Server>::listen() {
    std::error_code ec;
    const auto address = asio::ip::make_address(config_.listen.host, ec);
    if (ec) {
        throw std::runtime_error("listen address \"" + config_.listen.host +
                                 "\" is not an IP address");
    }
    acceptor_.listen(asio::ip::tcp::endpoint(address, config_.listen.port), kListenBacklog,
                     config_.listen.to_string());
}

template <class Server>
void WsListener<Server>::stop_listening() {
    draining_ = true;  // before the acceptor closes: whoever sees it closed sees this
    acceptor_.stop();
}

template <class Server>
std::optional<Refusal> WsListener<Server>::check(const websocketpp::connection_hdl& hdl,
                                                 const Connection& con, const std::string& ip,
                                                 std::optional<Handshake>& handshake) {
    const auto now = Admission::Clock::now();
    if (draining_) {
        // Accepted before the drain began, upgrading after: the station goes elsewhere.
        return Refusal{503, "draining", 1};
    }
    if (config_.tls.offload && !from_tls_offloader(con)) {
        // TLS is the load balancer's: a connection around it has had none.
        return Refusal{403, "not_from_tls_offloader", 0};
    }
    if (auto refused = upgrades_.take_upgrade(ip, now)) {
        return refused;
    }
    auto read = read_handshake(config_, con->get_resource(), con->get_requested_subprotocols());
    if (!read.ok()) {
        return read.error();
    }
    handshake = std::move(read.value());
    Side& side = *sides_.at(handshake->tenant);
    const std::string& tenant = side.services.tenant;
    // Counted from here until it is refused, fails or closes (see SessionTable::reserve).
    const std::size_t others = sessions_.reserve(hdl, ip, tenant) - 1;
    Admission::Candidate candidate{*handshake, ip, con->get_request_header("Authorization"),
                                   others, sessions_.has_station(handshake->station_id.get(), tenant),
                                   nullptr, std::nullopt, false};
    if (const auto pre = con->take_precheck();
        pre && pre->station == handshake->station_id.get() && pre->tenant == handshake->tenant &&
        pre->version == handshake->version && pre->authorization == candidate.authorization) {
        candidate.prechecked = pre->verdict;
        candidate.precheck_over_budget = !pre->verdict;
    }
    if constexpr (kTls) {
        candidate.certificate_problem = [this, &con, &handshake] {
            return tls_->check_client(con->get_socket().native_handle(), handshake->station_id.get());
        };
    } else {
        if (forwarded_) {
            candidate.certificate_problem = [this, &con, &handshake] {
                return forwarded_->check(con->get_request_header(config_.tls.client_cert_header),
                                         handshake->station_id.get());
            };
        }
    }
    if (auto refused = side.admission.admit(candidate, now)) {
        return refused;
    }
    if (sessions_.size_with_reserved() > config_.limits.max_connections) {
        return Refusal{503, "too_many_connections", 0};
    }
    if (side.max_stations > 0 && sessions_.tenant_size(tenant) > side.max_stations) {
        return Refusal{503, "tenant_full", 0};
    }
    return std::nullopt;
}

template <class Server>
void WsListener<Server>::preview(const UpgradePreview::Head& head,
                                 std::function<void(std::optional<PasswordPrecheck>)> done) {
    auto read = read_handshake(config_, head.resource, head.subprotocols);
    if (!read.ok()) {
        done(std::nullopt);
        return;
    }
    const Handshake& handshake = read.value();
    auto check = sides_.at(handshake.tenant)->admission.password_check(handshake, head.peer_ip, head.authorization,
                                                                     Admission::Clock::now());
    if (!check) {
        done(std::nullopt);
        return;
    }
    PasswordPrecheck precheck{handshake.station_id.get(), handshake.tenant, head.authorization, handshake.version,
                              std::nullopt};
    auto finish = std::make_shared<std::function<void(std::optional<PasswordPrecheck>)>>(std::move(done));
    const bool queued = password_pool_->submit([check = std::move(*check), precheck, finish]() mutable {
        precheck.verdict = check(Admission::Clock::now());
        (*finish)(std::move(precheck));
    });
    if (!queued) {
        (*finish)(std::move(precheck));  // no verdict: over the budget
    }
}

template <class Server>
bool WsListener<Server>::on_validate(websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = ws_.get_con_from_hdl(hdl, ec);
    if (ec) {
        return false;
    }
    std::optional<Handshake> handshake;
    if (auto refused = check(hdl, con, peer_ip(con), handshake)) {
        sessions_.release(hdl);
        metrics_.handshake_refused(refused->reason);
        if (handshake) {
            ++sides_.at(handshake->tenant)->refused;
        }
        con->set_status(static_cast<websocketpp::http::status_code::value>(refused->status));
        con->replace_header("Connection", "close");
        if (refused->status == 401) {
            con->replace_header("WWW-Authenticate", "Basic realm=\"OCPP\", charset=\"UTF-8\"");
        }
        if (refused->retry_after > 0) {
            con->replace_header("Retry-After", std::to_string(refused->retry_after));
        }
        con->set_body(refused->reason + "\n");
        log::debug("handshake from {} for {} refused: {} {}", peer_endpoint(con),
                   con->get_resource(), refused->status, refused->reason);
        return false;
    }
    if (handshake->subprotocol) {
        con->select_subprotocol(*handshake->subprotocol, ec);
    }
    if (ec) {
        sessions_.release(hdl);
    }
    return !ec;
}

template <class Server>
bool WsListener<Server>::from_tls_offloader(const Connection& con) const {
    std::error_code ec;
    const auto endpoint = con->get_raw_socket().remote_endpoint(ec);
    if (ec) {
        return false;
    }
    return std::any_of(config_.tls.offload_from.begin(), config_.tls.offload_from.end(),
                       [&](const config::Network& n) { return n.contains(endpoint.address()); });
}

template <class Server>
std::string WsListener<Server>::peer_endpoint(const Connection& con) {
    if (const auto& source = con->proxied()) {
        const auto ip = source->address.to_string();
        return (source->address.is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(source->port);
    }
    return con->get_remote_endpoint();
}

template <class Server>
std::string WsListener<Server>::peer_ip(const Connection& con) {
    return station_address(con->proxied(), con->get_raw_socket());
}

template <class Server>
void WsListener<Server>::on_open(websocketpp::connection_hdl hdl) {
    websocketpp::lib::error_code ec;
    auto con = ws_.get_con_from_hdl(hdl, ec);
    if (ec) {
        return;
    }
    auto handshake = read_handshake(config_, con->get_resource(), con->get_requested_subprotocols());
    if (!handshake.ok()) {
        con->close(websocketpp::close::status::policy_violation, handshake.error().reason, ec);
        return;
    }
    const Handshake& h = handshake.value();
    const std::string ip = peer_ip(con);
    Side& side = *sides_.at(h.tenant);
    auto session = std::make_shared<Session>(side.services, con->context(),
                                             std::make_unique<Link<Server>>(con),
                                             record_key(side, h.station_id.get()), h.version,
                                             h.subprotocol, peer_endpoint(con), ip);
    const auto replaced = sessions_.add(hdl, session, ip);
    metrics_.connection_opened(h.version);
    ++side.connections;
    // Per-connection handlers reach the session without the table lookup (and its lock) on
    // every frame; a weak handle, so the connection does not keep its session alive.
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
    con->set_ping_handler([weak](websocketpp::connection_hdl, std::string) {
        auto s = weak.lock();
        return s != nullptr && s->on_ping();
    });
    const auto& limits = side.services.config.limits;
    const auto keepalive = security::keepalive_for(side.registry.find(h.station_id.get()),
                                                   {limits.ping_interval, limits.pong_timeout});
    con->set_pong_timeout(static_cast<long>(keepalive.pong_timeout.count()));
    session->set_ping_interval(keepalive.ping_interval);
    session->start();
    // Validated just before the drain began and opened after drain_all() went through the
    // table: drained here (it is in the table first, so one of the two always sees it; the
    // drain waits for upgrades under way too, upgrading()).
    if (draining_) {
        session->drain();
    }
    if (replaced) {
        log::warn("station {} connected again; closing its previous session", h.station_id.get());
        replaced->supersede("replaced by a newer connection of the same station");
        side.services.security_events.raise(EventType::duplicate_identity, h.station_id.get(), ip,
                                        "an authenticated newer connection replaced the existing one");
    }
}

template <class Server>
std::pair<int, std::string> WsListener<Server>::close_reason(const Connection& con) {
    using websocketpp::close::status::abnormal_close;
    using websocketpp::close::status::no_status;
    if (con->get_remote_close_code() != no_status && con->get_remote_close_code() != abnormal_close) {
        return {con->get_remote_close_code(), con->get_remote_close_reason().empty()
                                                  ? "closed by station"
                                                  : con->get_remote_close_reason()};
    }
    if (con->get_local_close_code() != no_status && con->get_local_close_code() != abnormal_close) {
        return {con->get_local_close_code(), con->get_local_close_reason()};
    }
    return {abnormal_close, con->get_ec() ? con->get_ec().message() : "connection lost"};
}

template <class Server>
void WsListener<Server>::on_close(websocketpp::connection_hdl hdl) {
    auto session = sessions_.remove(hdl);
    if (!session) {
        return;
    }
    websocketpp::lib::error_code ec;
    auto con = ws_.get_con_from_hdl(hdl, ec);
    const auto [code, reason] = ec ? std::pair<int, std::string>{websocketpp::close::status::abnormal_close,
                                                                 "connection lost"}
                                   : close_reason(con);
    metrics_.connection_closed(session->version());
    ++side_of(session->tenant()).services.closing;  // counted down once the Disconnected record is queued
    session->on_closed(code, reason);
}

template <class Server>
std::vector<TenantStats> WsListener<Server>::tenant_stats() const {
    std::vector<TenantStats> stats;
    for (const auto& side : sides_) {
        const std::string& name = side->services.tenant;
        stats.push_back(TenantStats{name, sessions_.tenant_size(name),
                                    side->services.messages_received.load(std::memory_order_relaxed),
                                    side->connections.load(), side->refused.load()});
    }
    return stats;
}

template <class Server>
void WsListener<Server>::drain_all() {
    for (auto& session : sessions_.all()) {
        session->drain();
    }
}

template <class Server>
void WsListener<Server>::close_all(const std::string& reason) {
    for (auto& session : sessions_.all()) {
        session->close(session::CloseCode::going_away, reason);
    }
}

template <class Server>
std::optional<std::string> WsListener<Server>::reload_tls_if_changed() {
    if constexpr (kTls) {
        return tls_->reload_if_changed();
    }
    if (forwarded_) {
        return forwarded_->reload_if_changed();  // profile 3 behind a load balancer
    }
    return std::nullopt;
}

}  // namespace

std::unique_ptr<Listener> Listener::create(const config::Config& config,
                                           const ocpp::SchemaRegistry& schemas,
                                           metrics::Metrics& metrics,
                                           const std::vector<asio::io_context*>& contexts,
                                           const std::vector<TenantParts>& tenants,
                                           security::EventSink& events) {
    if (config.security.profile >= 2 && !config.tls.offload) {
        return std::make_unique<WsListener<WssServer>>(config, schemas, metrics, contexts, tenants, events);
    }
    return std::make_unique<WsListener<WsServer>>(config, schemas, metrics, contexts, tenants, events);
}

}  // namespace gateway::station
