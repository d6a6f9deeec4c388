#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#ifndef ASIO_STANDALONE
#define ASIO_STANDALONE
#endif
#include "gateway/http/websocket_utf8.hpp"  // before websocketpp instantiates its processor
#include <websocketpp/config/asio_no_tls.hpp>
#include <websocketpp/server.hpp>

#include <nlohmann/json.hpp>

#include "gateway/config/config.hpp"

namespace gateway {

namespace commands {
class Router;
}

namespace admin {

/// websocketpp as a small HTTP/1.1 server (upgrades are refused).
struct HttpConfig : websocketpp::config::asio {
    static const websocketpp::log::level elog_level = websocketpp::log::elevel::none;
    static const websocketpp::log::level alog_level = websocketpp::log::alevel::none;
};
using HttpServer = websocketpp::server<HttpConfig>;

/// Sets the response of `con`: `code` with a JSON body.
void reply_json(const HttpServer::connection_ptr& con, int code, const nlohmann::json& body);
/// The same with the body {"error": message}.
void reply_error(const HttpServer::connection_ptr& con, int code, const std::string& message);


/// The admin HTTP listener: /healthz, /readyz, /metrics and the REST API of operator
/// commands (docs/commands.md): POST /v1/stations/{id}/calls/{action}, GET /v1/stations[/{id}].
/// Access follows config::admin_policy(): health always open, /metrics and /v1 by the token.
class AdminServer {
public:
    /// `ready` says whether the gateway should receive stations; `metrics` renders the
    /// Prometheus page; `commands` serves /v1 (empty: /v1 answers 404), one router per tenant
    /// (by name; "" when the gateway serves no tenants: then /v1/stations, else
    /// /v1/tenants/{tenant}/stations).
    /// `inject_fatal` (testing only, with admin.test_hooks): serves POST /test/kafka-fatal and
    /// returns the problem in words when it could not inject.
    /// `policy`: who may use /v1 and /metrics (config::admin_policy(config)).
    AdminServer(const config::Config& config, config::AdminPolicy policy, asio::io_context& io,
                std::function<bool()> ready,
                std::function<std::string()> metrics,
                std::map<std::string, commands::Router*> commands = {},
                std::function<std::optional<std::string>()> inject_fatal = nullptr);

    /// Before listen(), for a gateway that opens its admin listener while it still waits for
    /// Kafka: until serve_commands(), /v1 answers 503 and /readyz says "starting"; /healthz
    /// and /metrics are served.
    void await_commands();
    /// The routers and test hook of await_commands(), handed to the listener's I/O thread
    /// (which must run); returns once that thread serves them.
    void serve_commands(std::map<std::string, commands::Router*> commands,
                        std::function<std::optional<std::string>()> inject_fatal);

    /// Opens the listener. Throws std::runtime_error when the address cannot be bound.
    void listen();
    void stop_listening();
    /// The bound port (admin_listen's, or the one the system chose for port 0); 0 before listen().
    std::uint16_t port();

private:
    using Connection = HttpServer::connection_ptr;
    void on_http(websocketpp::connection_hdl hdl);
    /// Whether `con` may go on under `access`; if not, its 401/403 answer is set.
    bool admitted(const Connection& con, config::AdminAccess access) const;
    bool token_matches(const Connection& con) const;
    void serve_v1(const Connection& con, const std::string& method, const std::string& path,
                  const std::string& query);
    void post_call(const Connection& con, commands::Router& router, const std::string& station,
                   const std::string& action, const std::string& query);

    const config::Config& config_;
    const config::AdminPolicy policy_;
    asio::io_context& io_;
    HttpServer http_;
    std::function<bool()> ready_;
    std::function<std::string()> metrics_;
    std::map<std::string, commands::Router*> commands_;
    std::function<std::optional<std::string>()> inject_fatal_;
    /// await_commands() until serve_commands() (written before listen(), then on io_).
    bool starting_ = false;
};

}  // namespace admin
}  // namespace gateway
