#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "gateway/server.hpp"

namespace gateway {

class CommandRouter;

/// The admin HTTP listener: /healthz, /readyz, /metrics and the REST API of operator
/// commands (docs/commands.md): POST /v1/stations/{id}/calls/{action}, GET /v1/stations[/{id}].
class AdminServer {
public:
    /// `ready` says whether the gateway should receive stations; `metrics` renders the
    /// Prometheus page; `commands` serves /v1 (null: /v1 answers 404).
    AdminServer(const Config& config, asio::io_context& io, std::function<bool()> ready,
                std::function<std::string()> metrics, CommandRouter* commands = nullptr);

    /// Opens the listener. Throws std::runtime_error when the address cannot be bound.
    void listen();
    void stop_listening();

private:
    using Connection = WsServer::connection_ptr;
    void on_http(websocketpp::connection_hdl hdl);
    bool authorized(const Connection& con) const;
    void serve_v1(const Connection& con, const std::string& method, const std::string& path,
                  const std::string& query);
    void post_call(const Connection& con, const std::string& station, const std::string& action,
                   const std::string& query);

    const Config& config_;
    asio::io_context& io_;
    WsServer http_;
    std::function<bool()> ready_;
    std::function<std::string()> metrics_;
    CommandRouter* commands_;
};

}  // namespace gateway
